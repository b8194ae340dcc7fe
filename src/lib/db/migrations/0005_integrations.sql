-- 0005_integrations: per-integration limits shared by every process on this database.
--
-- A slot is taken by one attempt of one node instance before its worker executes. It counts as
-- "in flight" while that node instance is still pending or running at that attempt — so an async
-- job waiting for its vendor's callback holds its slot, and nothing ever needs releasing: settling,
-- retrying (attempt + 1), cancelling or a crash-and-rerun of the same attempt are all read from
-- stitch_node_runs. Slots also date the executions that the requests-per-interval limit counts.
CREATE TABLE stitch_integration_slots (
  id          bigserial PRIMARY KEY,
  worker_type text NOT NULL,
  run_id      uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  instance_id text NOT NULL,
  attempt     integer NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_id, instance_id, attempt)
);
CREATE INDEX stitch_integration_slots_type_idx ON stitch_integration_slots (worker_type, acquired_at);

-- Take a slot for (run, instance, attempt) of worker type p_type, or refuse. Serialised per worker
-- type by a transaction-scoped advisory lock, so concurrent processes never overshoot a limit.
-- A limit of NULL or 0 is no limit. On refusal the same `stitch_execute` job is enqueued again
-- for later (when the oldest request leaves the interval, or after p_recheck_seconds when the
-- in-flight limit is reached), and the node is marked {throttled: true} with a `node:pending`
-- event (throttled: true) the first time it waits. Returns {ok, reason?, waitSeconds?, inFlight, recent}.
CREATE FUNCTION stitch_acquire_integration_slot(
  p_type text, p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer,
  p_max_in_flight integer, p_max_requests integer, p_interval_seconds double precision, p_recheck_seconds double precision
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  in_flight integer;
  recent integer;
  wait double precision;
  reason text;
  was_throttled boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('stitch_integration_limit'), hashtext(p_type));
  -- The same attempt executing again (its runner died mid-way) keeps the slot it had.
  IF EXISTS (SELECT 1 FROM stitch_integration_slots
             WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt) THEN
    RETURN jsonb_build_object('ok', true, 'reused', true);
  END IF;

  SELECT count(*) INTO in_flight
  FROM stitch_integration_slots s JOIN stitch_node_runs n ON n.run_id = s.run_id AND n.instance_id = s.instance_id
  WHERE s.worker_type = p_type AND n.attempt = s.attempt AND n.status IN ('pending', 'running');
  SELECT count(*) INTO recent
  FROM stitch_integration_slots
  WHERE worker_type = p_type AND acquired_at > now() - make_interval(secs => coalesce(p_interval_seconds, 60));

  IF coalesce(p_max_in_flight, 0) > 0 AND in_flight >= p_max_in_flight THEN
    reason := format('%s of %s %s jobs in flight', in_flight, p_max_in_flight, p_type);
    wait := p_recheck_seconds;
  ELSIF coalesce(p_max_requests, 0) > 0 AND recent >= p_max_requests THEN
    reason := format('%s %s requests in the last %ss (limit %s)', recent, p_type, p_interval_seconds, p_max_requests);
    -- When the oldest counted request leaves the window (the (recent - max + 1)-th oldest, in general).
    SELECT greatest(0.05, extract(epoch FROM (acquired_at + make_interval(secs => p_interval_seconds) - now())))
      INTO wait
    FROM stitch_integration_slots
    WHERE worker_type = p_type AND acquired_at > now() - make_interval(secs => p_interval_seconds)
    ORDER BY acquired_at OFFSET (recent - p_max_requests) LIMIT 1;
  END IF;

  IF reason IS NOT NULL THEN
    PERFORM graphile_worker.add_job('stitch_execute',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      run_at => now() + make_interval(secs => wait), max_attempts => 5);
    SELECT coalesce(metadata ->> 'throttled' = 'true', false) INTO was_throttled
    FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id;
    UPDATE stitch_node_runs
    SET metadata = metadata || jsonb_build_object('throttled', true, 'throttledReason', reason, 'message', 'throttled: ' || reason),
        updated_at = now()
    WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt;
    IF NOT was_throttled THEN
      PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:pending',
              'payload', jsonb_build_object('attempt', p_attempt, 'throttled', true, 'reason', reason, 'retryInSeconds', wait))));
    END IF;
    RETURN jsonb_build_object('ok', false, 'reason', reason, 'waitSeconds', wait);
  END IF;

  INSERT INTO stitch_integration_slots (worker_type, run_id, instance_id, attempt) VALUES (p_type, p_run_id, p_instance_id, p_attempt);
  UPDATE stitch_node_runs SET metadata = metadata || '{"throttled": false}'
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND metadata ->> 'throttled' = 'true';
  -- Forget slots that neither hold a job in flight nor count for the interval any more.
  DELETE FROM stitch_integration_slots s
  WHERE s.worker_type = p_type
    AND s.acquired_at < now() - make_interval(secs => greatest(coalesce(p_interval_seconds, 60), 60))
    AND NOT EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id = s.run_id AND n.instance_id = s.instance_id
                    AND n.attempt = s.attempt AND n.status IN ('pending', 'running'));
  RETURN jsonb_build_object('ok', true, 'inFlight', in_flight + 1, 'recent', recent + 1);
END $$;
