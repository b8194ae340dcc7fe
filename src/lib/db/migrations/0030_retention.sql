-- Retention (src/lib/runs/retention.ts): finished runs older than their policy are deleted, a few
-- root runs (each with its sub-flow runs) per transaction, by the `stitch_prune` queue job and
-- `stitch prune`.

-- A flow's own policy: {"completed": days, "failed": days, "cancelled": days}; a status it names
-- with null is kept for ever, one it leaves out follows STITCH_RETENTION. NULL: all from STITCH_RETENTION.
ALTER TABLE stitch_flows ADD COLUMN retention jsonb CHECK (retention IS NULL OR jsonb_typeof(retention) = 'object');

-- Local media files of pruned runs that nothing kept refers to, written in the commit that deletes
-- the runs and removed from disk after it: a crash between the two leaves the list, not a lost file
-- nor a dangling reference, and the next pass removes them.
CREATE TABLE stitch_media_trash (
  key text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A pruned run's step-cache flights are found by run (only those the cache no longer serves go).
CREATE INDEX stitch_cache_run_idx ON stitch_cache (run_id) WHERE run_id IS NOT NULL;
