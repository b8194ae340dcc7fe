-- A step-cache hit in one statement and one commit (src/lib/cache/step-cache.ts): the lookup, the
-- `node:cached` event, the settle with the stored output (the same JSON item stitch_settle_batch
-- takes) and the completion of the queue job that executed it. A miss claims the flight, as before.
--
-- Returns {claimed: true} (this node executes and its settle fills the entry), {settled: <the
-- settle's result>, ...} for a hit, or the entry's state ({status: 'running', ...}: another node's
-- flight, to wait for).
CREATE FUNCTION stitch_cache_take(
  p_key text, p_worker_type text, p_run_id uuid, p_instance_id text, p_attempt integer, p_ttl_seconds double precision,
  p_settle jsonb, p_job_id bigint, p_async_commit boolean
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  claimed boolean;
  entry stitch_cache%ROWTYPE;
  origin jsonb;
  settled jsonb;
BEGIN
  INSERT INTO stitch_cache AS c (key, worker_type, status, run_id, instance_id, attempt, ttl_seconds)
  VALUES (p_key, p_worker_type, 'running', p_run_id, p_instance_id, p_attempt, p_ttl_seconds)
  ON CONFLICT (key) DO UPDATE
    SET status = 'running', output = NULL, usd = 0, run_id = excluded.run_id, instance_id = excluded.instance_id,
        attempt = excluded.attempt, ttl_seconds = excluded.ttl_seconds, created_at = now(), expires_at = NULL
    WHERE (c.status = 'ready' AND c.expires_at <= now())
       OR (c.status = 'running' AND c.run_id = excluded.run_id AND c.instance_id = excluded.instance_id)
  RETURNING true INTO claimed;
  IF claimed THEN
    -- The flight ends with this node's settle (stitch_end_cache_flight finds it by this key).
    UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('cacheKey', p_key)
    WHERE run_id = p_run_id AND instance_id = p_instance_id;
    RETURN jsonb_build_object('claimed', true);
  END IF;

  SELECT * INTO entry FROM stitch_cache WHERE key = p_key;
  IF entry.status = 'ready' AND (entry.expires_at IS NULL OR entry.expires_at > now()) THEN
    origin := jsonb_build_object('origin', 'cached', 'reusedFrom', jsonb_build_object('runId', entry.run_id, 'instanceId', entry.instance_id),
                                 'savedUsd', entry.usd);
    -- Announced before the settle's own event; the settle decides whether to NOTIFY.
    PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:cached',
              'payload', origin - 'origin')), false);
    settled := stitch_settle_batch(jsonb_build_array(p_settle || jsonb_build_object(
                 'output', entry.output,
                 'extra', coalesce(p_settle -> 'extra', '{}') || jsonb_build_object('metadata', coalesce(p_settle #> '{extra,metadata}', '{}') || origin)))) -> 0;
    IF (settled ->> 'ok')::boolean AND p_job_id IS NOT NULL THEN
      PERFORM graphile_worker.complete_jobs(ARRAY[p_job_id]);
    END IF;
    IF p_async_commit THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    RETURN jsonb_build_object('claimed', false, 'status', 'ready', 'settled', settled);
  END IF;
  RETURN jsonb_build_object('claimed', false, 'status', entry.status, 'runId', entry.run_id, 'instanceId', entry.instance_id,
                            'expired', entry.expires_at <= now());
END $$;
