-- One place for the `stitch_deadline` job (an async attempt's callback deadline): its payload, its
-- key (one deadline job per instance: a newer one replaces it) and its attempts. Marking a node
-- running, a poll that extends the deadline and a vendor's "poll now" all add it through here.
CREATE FUNCTION stitch_add_deadline_job(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_run_at timestamptz
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_deadline',
    json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
    NULL, p_run_at, 5, stitch_job_key('deadline', p_run_id, p_instance_id), NULL, NULL)::graphile_worker.job_spec]);
END $$;

-- 0006's body, with the deadline job added through stitch_add_deadline_job.
CREATE OR REPLACE FUNCTION stitch_mark_running(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb,
  p_deadline_seconds double precision
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  deadline := CASE WHEN p_deadline_seconds IS NULL THEN NULL
                   ELSE now() + make_interval(secs => p_deadline_seconds) END;
  UPDATE stitch_node_runs
  SET status = 'running', input = p_input, started_at = coalesce(started_at, now()),
      deadline_at = coalesce(deadline, deadline_at), updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
    AND (status = 'pending' OR status = 'running' AND deadline IS NOT NULL)
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running');
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF deadline IS NOT NULL THEN
    PERFORM stitch_add_deadline_job(p_run_id, p_version_id, p_instance_id, p_attempt, deadline);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:running', 'payload', jsonb_build_object('attempt', p_attempt, 'deadlineAt', deadline))));
  RETURN true;
END $$;
