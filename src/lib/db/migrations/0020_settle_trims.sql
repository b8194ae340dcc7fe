-- The settle every node goes through, trimmed of two function calls (issue 11, measured with
-- pg_stat_statements.track = all over the benchmark's chain phase): the run lock is taken inline,
-- and item releases are looked at only when the settle carries ticks (items of a windowed fan-out).
-- Otherwise unchanged from 0016_lean_hop.sql.
CREATE OR REPLACE FUNCTION stitch_settle_node(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text, p_output jsonb, p_error text, p_input jsonb, p_started_at timestamp with time zone, p_merge boolean, p_downstream jsonb, p_output_nodes text[], p_completion_hash text, p_extra jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  arr jsonb := '{"ready": [], "touched": false}';
  rel jsonb := '{"ready": [], "touched": false}';
  ready jsonb;
  run_status text;
  settles smallint;
  had_deadline boolean;
  stored jsonb;
BEGIN
  -- stitch_lock_run(p_run_id, false), inlined: it runs for every settle.
  PERFORM pg_advisory_xact_lock_shared(57174, hashtext(p_run_id::text));
  UPDATE stitch_node_runs n
  SET status = p_status,
      output = CASE WHEN p_merge AND jsonb_typeof(n.output) = 'object' AND jsonb_typeof(p_output) = 'object'
                    THEN n.output || p_output ELSE p_output END,
      error = p_error,
      input = coalesce(n.input, p_input),
      started_at = CASE WHEN p_status = 'skipped' THEN n.started_at ELSE coalesce(n.started_at, p_started_at, now()) END,
      finished_at = now(),
      updated_at = now(),
      deadline_at = NULL,
      settle_count = n.settle_count + 1,
      progress = CASE WHEN p_status = 'completed' THEN 1 ELSE n.progress END,
      fingerprint = CASE WHEN p_status = 'completed' AND n.fingerprint IS NULL
                         THEN stitch_fingerprint_of(p_version_id, n.node_id, coalesce(n.input, p_input))
                         ELSE n.fingerprint END,
      metadata = n.metadata || coalesce(p_extra -> 'metadata', '{}')
                 || CASE WHEN p_completion_hash IS NULL THEN '{}'::jsonb
                         ELSE jsonb_build_object('completionHash', p_completion_hash) END
  FROM (SELECT deadline_at IS NOT NULL AS had FROM stitch_node_runs
        WHERE run_id = p_run_id AND instance_id = p_instance_id) AS before
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND (n.status IN ('pending', 'running', 'waiting_for_user') AND p_status IN ('completed', 'failed')
         OR n.status = 'pending' AND p_status = 'skipped')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING n.settle_count, before.had, n.output INTO settles, had_deadline, stored;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;
  IF had_deadline THEN
    PERFORM stitch_remove_node_jobs(p_run_id, p_instance_id);
  END IF;

  IF settles = 1 THEN
    arr := stitch_arrive(p_run_id, p_downstream);
    IF jsonb_array_length(coalesce(p_extra -> 'ticks', '[]')) > 0 THEN -- items of a windowed fan-out only
      rel := stitch_release_items(p_run_id, p_extra -> 'ticks');
    END IF;
  END IF;
  ready := (arr -> 'ready') || (rel -> 'ready');
  run_status := stitch_after_settle(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:' || p_status,
      'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt, 'status', p_status, 'error', p_error,
                   'case', p_extra #> '{metadata,case}')))),
    ready, (arr ->> 'touched')::boolean OR (rel ->> 'touched')::boolean, p_output_nodes,
    coalesce((p_extra ->> 'notify')::boolean, true));
  -- A successor claimed for eager dispatch gets the output as stored: it is that successor's input.
  RETURN jsonb_build_object('ok', true, 'ready', ready, 'run', run_status)
         || CASE WHEN jsonb_path_exists(ready, '$[*] ? (exists(@.e))') THEN jsonb_build_object('output', stored) ELSE '{}' END;
END $$;
