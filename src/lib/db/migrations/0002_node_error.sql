-- 0002_node_error: a node that fails a run keeps its own error message; the run's error names the node.
DROP FUNCTION stitch_abort_run(uuid, text, text, text, integer, text[]);

-- End a run early: failed (a node failed for good) or cancelled. The failing node (if any) is
-- compare-and-set to failed first; open work is cancelled; nodes never reached become skipped.
-- Returns false when nothing changed (node not at that attempt, or run no longer running).
CREATE FUNCTION stitch_abort_run(
  p_run_id uuid, p_status text, p_error text, p_instance_id text, p_attempt integer, p_node_ids text[],
  p_node_error text
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  events jsonb := '[]';
BEGIN
  PERFORM 1 FROM stitch_runs WHERE id = p_run_id AND status IN ('pending', 'running') FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF p_instance_id IS NOT NULL THEN
    UPDATE stitch_node_runs
    SET status = 'failed', error = coalesce(p_node_error, p_error), finished_at = now(), updated_at = now(),
        started_at = coalesce(started_at, now())
    WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
      AND status IN ('pending', 'running', 'waiting_for_user');
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    events := events || jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:failed',
                'payload', jsonb_build_object('attempt', p_attempt, 'status', 'failed', 'error', coalesce(p_node_error, p_error))));
  END IF;

  UPDATE stitch_runs SET status = p_status, error = p_error, finished_at = now(), updated_at = now()
  WHERE id = p_run_id;

  WITH closed AS (
    UPDATE stitch_node_runs
    SET status = CASE WHEN status = 'pending' THEN 'skipped' ELSE 'cancelled' END,
        metadata = metadata || jsonb_build_object('closedBy', p_status),
        finished_at = now(), updated_at = now()
    WHERE run_id = p_run_id AND status IN ('pending', 'running', 'waiting_for_user')
    RETURNING instance_id, status
  ), unreached AS (
    INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status, metadata, finished_at)
    SELECT p_run_id, id, id, 'skipped', jsonb_build_object('closedBy', p_status), now()
    FROM unnest(p_node_ids) AS id
    ON CONFLICT (run_id, instance_id) DO NOTHING
    RETURNING instance_id, status
  )
  SELECT events || coalesce(jsonb_agg(jsonb_build_object('instanceId', instance_id, 'type', 'node:' || status,
           'payload', jsonb_build_object('reason', 'run ' || p_status))), '[]')
    INTO events
  FROM (SELECT * FROM closed UNION ALL SELECT * FROM unreached) AS c;

  events := events || jsonb_build_array(jsonb_build_object('type', 'run:' || p_status,
              'payload', jsonb_build_object('status', p_status, 'error', p_error)));
  PERFORM stitch_emit(p_run_id, events);
  RETURN true;
END $$;
