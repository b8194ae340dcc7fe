-- Run search (GET /api/runs filters, bulk actions): what a filtered page needs to stay fast at a
-- million runs. Each equality filter has a btree that ends in (created_at DESC, id DESC), the
-- list's order and keyset, so a page is read in order from the index; the JSON and text filters
-- have GIN indexes the planner combines with them. Plans and timings: docs/operations.md.

-- A run's own recorded spend, kept with the usage rows that make it (queries/usage.ts insertUsage
-- adds to it in the same statement), so "cost above" is an index range, not a sum per run.
ALTER TABLE stitch_runs ADD COLUMN cost_usd double precision NOT NULL DEFAULT 0;
UPDATE stitch_runs r SET cost_usd = u.usd
FROM (SELECT run_id, sum(usd) AS usd FROM stitch_node_usage GROUP BY run_id) u
WHERE u.run_id = r.id;

-- The list's order ends every index, so keyset pages of one flow or status read in order.
DROP INDEX stitch_runs_flow_idx;
CREATE INDEX stitch_runs_flow_idx ON stitch_runs (flow_id, created_at DESC, id DESC);
DROP INDEX stitch_runs_status_idx;
CREATE INDEX stitch_runs_status_idx ON stitch_runs (status, created_at DESC, id DESC);
-- "This flow's failed runs": without it, a flow whose runs rarely fail is read run by run.
CREATE INDEX stitch_runs_flow_status_idx ON stitch_runs (flow_id, status, created_at DESC, id DESC);
CREATE INDEX stitch_runs_trigger_idx ON stitch_runs ((trigger ->> 'type'), created_at DESC, id DESC);
-- Finished-time ranges; retention walks it from the oldest finished run.
CREATE INDEX stitch_runs_finished_idx ON stitch_runs (finished_at) WHERE finished_at IS NOT NULL;
-- Only runs that spent anything: most runs of most flows cost nothing and never enter it.
CREATE INDEX stitch_runs_cost_idx ON stitch_runs (cost_usd) WHERE cost_usd > 0;
-- input.<path>=<value> is containment (input @> {"path": value}); jsonb_path_ops is the small,
-- containment-only GIN (one hashed entry per leaf), with fastupdate's pending list absorbing inserts.
CREATE INDEX stitch_runs_input_idx ON stitch_runs USING gin (input jsonb_path_ops);
-- tag.<key>=<value> likewise: tags @> {"key": "value"} (stitch_runs.tags, 0021_run_tags.sql).
CREATE INDEX stitch_runs_tags_idx ON stitch_runs USING gin (tags jsonb_path_ops);

-- Deleting a run (retention) looks these up by run: without an index each delete scans the table.
CREATE INDEX stitch_runs_rerun_of_idx ON stitch_runs (rerun_of) WHERE rerun_of IS NOT NULL;
CREATE INDEX stitch_idempotency_keys_run_idx ON stitch_idempotency_keys (run_id);

-- Error text (ILIKE '%…%') through trigrams, where the pg_trgm extension can be installed (it is
-- a trusted extension, shipped with PostgreSQL and the embedded server). Without it the filter
-- still works, read alongside the other conditions.
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX stitch_runs_error_idx ON stitch_runs USING gin (error gin_trgm_ops) WHERE error IS NOT NULL;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pg_trgm is not available (%): error-text search reads without an index', SQLERRM;
END $$;
