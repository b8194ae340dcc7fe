-- Bulk actions on runs (POST /api/runs/bulk, src/lib/runs/bulk.ts): a job and the snapshot of the
-- runs it acts on, taken when it is posted (so the dry run's count is the job's total), worked
-- through in batches by its keyed `stitch_bulk` queue job. Jobs are a bounded collection
-- (STITCH_MAX_BULK_JOBS: the oldest finished ones go first), and each holds at most
-- STITCH_MAX_BULK_RUNS items.
CREATE TABLE stitch_bulk_jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  action text NOT NULL CHECK (action IN ('cancel', 'retry', 'rerun')),
  -- The filter as posted (relative times kept as written), for people reading the job.
  filter jsonb NOT NULL,
  -- Action + canonical filter as posted: an identical request within a day returns this job.
  request_hash text NOT NULL,
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed')),
  total integer NOT NULL,
  done integer NOT NULL DEFAULT 0,
  succeeded integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX stitch_bulk_jobs_request_idx ON stitch_bulk_jobs (request_hash, created_at DESC);
CREATE INDEX stitch_bulk_jobs_created_idx ON stitch_bulk_jobs (created_at DESC, id DESC);

-- One row per run the job acts on. No foreign key to the run: retention may delete a run before
-- its item is worked, and the item then says so.
CREATE TABLE stitch_bulk_items (
  job_id uuid NOT NULL REFERENCES stitch_bulk_jobs (id) ON DELETE CASCADE,
  run_id uuid NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped', 'failed')),
  -- done: {runId} of a re-run, {retried: [instances]}; skipped/failed: {reason}
  result jsonb,
  PRIMARY KEY (job_id, run_id)
);
CREATE INDEX stitch_bulk_items_pending_idx ON stitch_bulk_items (job_id, run_id) WHERE state = 'pending';
