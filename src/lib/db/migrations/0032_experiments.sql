-- 0032_experiments: a flow's variants run over a dataset's rows, each cell an ordinary run (issue 26).

-- An experiment: the flow, the dataset version it runs over, its variants (each a flow version:
-- a saved one, or a detached one holding the current graph with node overrides), how it is scored,
-- how many runs it keeps in flight and its budget. `status` is the experiment's own: it ends when
-- every cell has ended and been scored, or when its budget or a cancel stops it.
CREATE TABLE stitch_experiments (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  flow_id         uuid REFERENCES stitch_flows (id) ON DELETE SET NULL,
  dataset_id      uuid NOT NULL,
  dataset_version integer NOT NULL,
  status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  -- [{label, versionId, version?, overrides?}]
  variants        jsonb NOT NULL,
  -- {assertions: ["output.x >= 3"], judge: {flowId}}
  scoring         jsonb NOT NULL DEFAULT '{}',
  concurrency     integer NOT NULL CHECK (concurrency > 0),
  budget_usd      double precision,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  -- A dataset version an experiment ran over stays (0025's pruning asks stitch_dataset_version_in_use).
  FOREIGN KEY (dataset_id, dataset_version) REFERENCES stitch_dataset_versions (dataset_id, version)
);
CREATE INDEX stitch_experiments_created_idx ON stitch_experiments (created_at DESC, id DESC);

-- One cell per dataset row and variant: its run (once started), what the run came to, and its score.
CREATE TABLE stitch_experiment_cells (
  experiment_id uuid NOT NULL REFERENCES stitch_experiments (id) ON DELETE CASCADE,
  row_idx       integer NOT NULL,
  variant       integer NOT NULL,
  run_id        uuid REFERENCES stitch_runs (id) ON DELETE SET NULL,
  -- pending (not started), then the run's status; `scored` once the assertions and judge have spoken
  status        text NOT NULL DEFAULT 'pending',
  cost_usd      double precision,
  saved_usd     double precision,
  duration_ms   double precision,
  scored        boolean NOT NULL DEFAULT false,
  judge_run_id  uuid REFERENCES stitch_runs (id) ON DELETE SET NULL,
  passed        boolean,
  score         double precision,
  -- {assertions: [{expression, passed, error?}], reason?, judgeError?}
  score_detail  jsonb,
  PRIMARY KEY (experiment_id, row_idx, variant)
);
CREATE INDEX stitch_experiment_cells_open_idx ON stitch_experiment_cells (experiment_id) WHERE NOT scored;

-- The run of a cell (or of a judge) names its experiment: the engine shares identical work between
-- an experiment's runs through the step cache under a key scoped to it (src/lib/cache/step-cache.ts),
-- and a run's end wakes the experiment's job at once.
ALTER TABLE stitch_runs ADD COLUMN experiment_id uuid REFERENCES stitch_experiments (id) ON DELETE SET NULL;
CREATE INDEX stitch_runs_experiment_idx ON stitch_runs (experiment_id) WHERE experiment_id IS NOT NULL;

CREATE FUNCTION stitch_experiment_run_finished() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_job('stitch_experiment', json_build_object('x', NEW.experiment_id),
    job_key => 'stitch:experiment:' || NEW.experiment_id, job_key_mode => 'replace', max_attempts => 25);
  RETURN NULL;
END $$;
CREATE TRIGGER stitch_experiment_run_finished AFTER UPDATE OF status ON stitch_runs FOR EACH ROW
  WHEN (NEW.experiment_id IS NOT NULL AND OLD.status IN ('pending', 'running') AND NEW.status IN ('completed', 'failed', 'cancelled'))
  EXECUTE FUNCTION stitch_experiment_run_finished();

CREATE OR REPLACE FUNCTION stitch_dataset_version_in_use(p_dataset_id uuid, p_version integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM stitch_experiments WHERE dataset_id = p_dataset_id AND dataset_version = p_version)
$$;

-- The engine's first read of a node also gives the run's experiment (run-settings.ts): 0020's body
-- with one more column.
DROP FUNCTION stitch_execution_state(uuid, text, text[], boolean);
CREATE FUNCTION stitch_execution_state(p_run_id uuid, p_instance_id text, p_upstream text[], p_entry boolean)
RETURNS TABLE(run_status text, run_input jsonb, rerun jsonb, budget_usd double precision, experiment_id uuid, status text, attempt integer, live integer, upstream jsonb)
LANGUAGE plpgsql STABLE
SET plan_cache_mode TO 'force_generic_plan'
AS $$
#variable_conflict use_column
BEGIN
  -- The run input only for entry nodes: inside a fan-out it is the whole array of items.
  RETURN QUERY
  SELECT r.status, CASE WHEN p_entry THEN r.input END, r.rerun, r.budget_usd, r.experiment_id, n.status, n.attempt, n.live,
         (SELECT coalesce(jsonb_object_agg(u.node_id, jsonb_build_object('status', u.status, 'output', u.output)), '{}')
          FROM unnest(p_upstream) AS w(id),
               LATERAL (SELECT u.node_id, u.status, u.output FROM stitch_node_runs u
                        WHERE u.run_id = r.id AND u.instance_id = w.id OFFSET 0) AS u)
  FROM stitch_runs r JOIN stitch_node_runs n ON n.run_id = r.id
  WHERE r.id = p_run_id AND n.instance_id = p_instance_id;
END $$;
