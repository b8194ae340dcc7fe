-- Run tags and priority (issue 22). A run carries `tags` (a small object of string → string given at
-- start, never a secret: what concurrency keys, searches and experiments read) and `priority` (an
-- integer, higher first, 0 by default). Both are set once by the one start path (startRun), inherited
-- by sub-flows and re-runs, and never change. The checks keep other writers honest; the API says
-- which tag is wrong first (src/lib/fair/run-tags.ts).
ALTER TABLE stitch_runs
  ADD COLUMN tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
  ADD COLUMN priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 100);

-- What a webhook trigger or a schedule gives the runs it starts: a trigger's tags are templates over
-- the delivery's payload (`{"customer": "{{account.id}}"}`), a schedule's are constants.
ALTER TABLE stitch_triggers
  ADD COLUMN tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
  ADD COLUMN priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 100);
ALTER TABLE stitch_schedules
  ADD COLUMN tags jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
  ADD COLUMN priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 100);

-- Priority orders backed-up work without starving anyone: a run's execute jobs are placed as if they
-- had been queued `priority` minutes earlier (graphile-worker takes due jobs by run_at, then id). So a
-- priority-10 node overtakes up to ten minutes of waiting priority-0 work, and a priority-0 node
-- waits at most ten minutes behind priority-10 work queued after it. A job with its own run_at (a
-- retry's backoff) keeps it. Priority 0 changes nothing: the job is due now, as before. There is no
-- negative priority: a run_at in the future would delay work even on an idle queue.
CREATE FUNCTION stitch_priority_run_at(p_priority integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_priority <> 0 THEN now() - make_interval(mins => p_priority) END
$$;

CREATE OR REPLACE FUNCTION stitch_enqueue_execute(p_run_id uuid, p_version_id uuid, p_instances jsonb, p_run_at timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  specs graphile_worker.job_spec[];
  run_at timestamptz := p_run_at;
BEGIN
  IF p_instances IS NULL OR jsonb_array_length(p_instances) = 0 THEN
    RETURN 0;
  END IF;
  IF run_at IS NULL THEN
    -- One primary-key read, only when a job is queued (eager dispatch queues nothing).
    SELECT stitch_priority_run_at(r.priority) INTO run_at FROM stitch_runs r WHERE r.id = p_run_id;
  END IF;
  specs := array(
    SELECT ROW('stitch_execute',
               json_build_object('r', p_run_id, 'v', p_version_id, 'i', x ->> 'i', 'a', coalesce((x ->> 'a')::int, 1)),
               NULL, run_at, 5, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM jsonb_array_elements(p_instances) AS x
    WHERE NOT x ? 'e'
  );
  IF cardinality(specs) > 0 THEN
    PERFORM graphile_worker.add_jobs(specs);
  END IF;
  RETURN jsonb_array_length(p_instances);
END $$;
