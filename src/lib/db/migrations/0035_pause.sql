-- Pause and resume (docs/api.md, "Pause and resume"). A paused run keeps status 'running' in its
-- row, so nodes already running finish through the usual transitions; `paused_at` stops new ones:
-- an execute job of a paused run parks its node attempt here instead of running it, and resume
-- enqueues every parked attempt again, in the commit that clears `paused_at`.
ALTER TABLE stitch_runs ADD COLUMN paused_at timestamptz;

CREATE TABLE stitch_parked_nodes (
  run_id      uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  instance_id text NOT NULL,
  attempt     integer NOT NULL,
  version_id  uuid NOT NULL,
  parked_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, instance_id)
);

-- The execute job's one read: a paused run reads as 'paused' (same row, no extra work). 0032's body.
CREATE OR REPLACE FUNCTION stitch_execution_state(p_run_id uuid, p_instance_id text, p_upstream text[], p_entry boolean)
 RETURNS TABLE(run_status text, run_input jsonb, rerun jsonb, budget_usd double precision, experiment_id uuid, status text, attempt integer, live integer, upstream jsonb)
 LANGUAGE plpgsql
 STABLE
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
#variable_conflict use_column
BEGIN
  -- The run input only for entry nodes: inside a fan-out it is the whole array of items.
  RETURN QUERY
  SELECT CASE WHEN r.paused_at IS NOT NULL AND r.status = 'running' THEN 'paused' ELSE r.status END,
         CASE WHEN p_entry THEN r.input END, r.rerun, r.budget_usd, r.experiment_id, n.status, n.attempt, n.live,
         (SELECT coalesce(jsonb_object_agg(u.node_id, jsonb_build_object('status', u.status, 'output', u.output)), '{}')
          FROM unnest(p_upstream) AS w(id),
               LATERAL (SELECT u.node_id, u.status, u.output FROM stitch_node_runs u
                        WHERE u.run_id = r.id AND u.instance_id = w.id OFFSET 0) AS u)
  FROM stitch_runs r JOIN stitch_node_runs n ON n.run_id = r.id
  WHERE r.id = p_run_id AND n.instance_id = p_instance_id;
END $function$;

-- The run and its running descendants (sub-flows), parents first.
CREATE FUNCTION stitch_run_tree(p_run_id uuid) RETURNS TABLE(id uuid, depth integer)
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE tree AS (
    SELECT r.id, 0 AS depth FROM stitch_runs r WHERE r.id = p_run_id
    UNION ALL
    SELECT c.id, t.depth + 1 FROM stitch_runs c JOIN tree t ON c.parent_run_id = t.id WHERE c.status IN ('pending', 'running')
  )
  SELECT id, depth FROM tree ORDER BY depth, id
$$;

-- Pause a run and its running child runs. Returns the run's status as a client sees it
-- ('paused', or its final status), NULL when there is no such run. Idempotent.
CREATE FUNCTION stitch_pause_run(p_run_id uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  cur record;
  ids uuid[];
  t record;
BEGIN
  FOR t IN SELECT id FROM stitch_run_tree(p_run_id) LOOP
    PERFORM stitch_lock_run(t.id, true);
  END LOOP;
  SELECT status, paused_at INTO cur FROM stitch_runs WHERE id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  ELSIF cur.status NOT IN ('pending', 'running') THEN
    RETURN cur.status;
  END IF;
  WITH paused AS (
    UPDATE stitch_runs r SET paused_at = now()
    WHERE r.id IN (SELECT id FROM stitch_run_tree(p_run_id)) AND r.paused_at IS NULL AND r.status IN ('pending', 'running')
    RETURNING r.id
  )
  SELECT array_agg(id) INTO ids FROM paused;
  IF ids IS NOT NULL THEN
    FOR t IN SELECT unnest(ids) AS id LOOP
      PERFORM stitch_emit(t.id, '[{"type": "run:paused"}]'::jsonb);
    END LOOP;
    PERFORM pg_notify('stitch_control', json_build_object('k', 'pause', 'r', ids)::text);
  END IF;
  RETURN 'paused';
END $$;

-- Resume a paused run and its child runs: every parked node attempt is enqueued again. Returns
-- the run's status as a client sees it ('running', or its final status), NULL without such a run.
CREATE FUNCTION stitch_resume_run(p_run_id uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  cur record;
  ids uuid[];
  t record;
BEGIN
  -- Exclusive on every run of the tree: no node of it is between "paused?" and parking.
  FOR t IN SELECT id FROM stitch_run_tree(p_run_id) LOOP
    PERFORM stitch_lock_run(t.id, true);
  END LOOP;
  SELECT status, paused_at INTO cur FROM stitch_runs WHERE id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  ELSIF cur.status NOT IN ('pending', 'running') THEN
    RETURN cur.status;
  END IF;
  WITH resumed AS (
    UPDATE stitch_runs r SET paused_at = NULL
    WHERE r.id IN (SELECT id FROM stitch_run_tree(p_run_id)) AND r.paused_at IS NOT NULL
    RETURNING r.id
  )
  SELECT array_agg(id) INTO ids FROM resumed;
  IF ids IS NULL THEN
    RETURN 'running';
  END IF;
  FOR t IN
    WITH parked AS (
      DELETE FROM stitch_parked_nodes p WHERE p.run_id = ANY (ids) RETURNING p.run_id, p.version_id, p.instance_id, p.attempt
    )
    SELECT run_id, version_id, jsonb_agg(jsonb_build_object('i', instance_id, 'a', attempt)) AS instances FROM parked GROUP BY run_id, version_id
  LOOP
    PERFORM stitch_enqueue_execute(t.run_id, t.version_id, t.instances, NULL);
  END LOOP;
  FOR t IN SELECT unnest(ids) AS id LOOP
    PERFORM stitch_emit(t.id, '[{"type": "run:resumed"}]'::jsonb);
  END LOOP;
  PERFORM pg_notify('stitch_control', json_build_object('k', 'resume', 'r', ids)::text);
  RETURN 'running';
END $$;

-- An execute job of a paused run parks its attempt (true), unless the run was resumed meanwhile
-- (false: run it). Under the run's lock, so a resume either sees the parked row or came first.
CREATE FUNCTION stitch_park_node(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  IF NOT EXISTS (SELECT 1 FROM stitch_runs WHERE id = p_run_id AND paused_at IS NOT NULL AND status IN ('pending', 'running')) THEN
    RETURN false;
  END IF;
  INSERT INTO stitch_parked_nodes (run_id, instance_id, attempt, version_id)
  VALUES (p_run_id, p_instance_id, p_attempt, p_version_id)
  ON CONFLICT (run_id, instance_id) DO UPDATE SET attempt = EXCLUDED.attempt, version_id = EXCLUDED.version_id, parked_at = now();
  RETURN true;
END $$;
