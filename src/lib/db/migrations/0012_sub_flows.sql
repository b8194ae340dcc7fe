-- 0011_sub_flows: a `flow` node runs another flow as an ordinary child run.
--
-- The child run carries its parent (run, node instance, attempt) and its nesting depth. At most one
-- child exists per parent attempt (unique index): an execute job that runs twice (at-least-once)
-- finds the child it already started instead of starting another.
--
-- A child run reaching a final status adds, in that same commit, a `stitch_child_settled` job that
-- settles the parent node from the child's output or error (sub-flow.ts): nothing polls, and a
-- crash after the child's commit cannot lose the parent's completion. A parent run that ends
-- failed or cancelled adds, in its commit, one `stitch_cancel_run` job per child still running.
-- Both are triggers on the run row's status, so they hold whichever function moved it.

ALTER TABLE stitch_runs
  ADD COLUMN parent_run_id uuid REFERENCES stitch_runs (id) ON DELETE CASCADE,
  ADD COLUMN parent_instance_id text,
  ADD COLUMN parent_attempt integer,
  -- 0 for a top-level run; a child's is its parent's + 1 (checked against STITCH_MAX_FLOW_DEPTH).
  ADD COLUMN depth integer NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX stitch_runs_parent_idx ON stitch_runs (parent_run_id, parent_instance_id, parent_attempt)
  WHERE parent_run_id IS NOT NULL;

CREATE FUNCTION stitch_child_run_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_job('stitch_child_settled',
    json_build_object('r', NEW.parent_run_id, 'i', NEW.parent_instance_id, 'a', NEW.parent_attempt, 'c', NEW.id),
    max_attempts => 5);
  RETURN NULL;
END $$;

CREATE TRIGGER stitch_child_run_finished
  AFTER UPDATE OF status ON stitch_runs
  FOR EACH ROW
  WHEN (NEW.parent_run_id IS NOT NULL AND OLD.status IN ('pending', 'running')
        AND NEW.status IN ('completed', 'failed', 'cancelled'))
  EXECUTE FUNCTION stitch_child_run_finished();

CREATE FUNCTION stitch_cancel_child_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- The job key makes a repeated request for the same child one job.
  PERFORM graphile_worker.add_job('stitch_cancel_run', json_build_object('r', c.id, 'parent', NEW.id),
            job_key => 'stitch_cancel_run:' || c.id, max_attempts => 5)
  FROM stitch_runs c
  WHERE c.parent_run_id = NEW.id AND c.status IN ('pending', 'running');
  RETURN NULL;
END $$;

CREATE TRIGGER stitch_cancel_child_runs
  AFTER UPDATE OF status ON stitch_runs
  FOR EACH ROW
  WHEN (OLD.status IN ('pending', 'running') AND NEW.status IN ('failed', 'cancelled'))
  EXECUTE FUNCTION stitch_cancel_child_runs();

-- Flows saved or deleted change the list of MCP tools: listeners in any process (src/lib/mcp)
-- hear it at commit. Statement-level: one notification per saving statement.
CREATE FUNCTION stitch_notify_flows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('stitch_flows', '');
  RETURN NULL;
END $$;

CREATE TRIGGER stitch_flows_changed
  AFTER INSERT OR UPDATE OR DELETE ON stitch_flows
  FOR EACH STATEMENT EXECUTE FUNCTION stitch_notify_flows_changed();
