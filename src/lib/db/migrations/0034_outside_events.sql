-- Events from outside (`POST /api/events/:name {key, payload}`) and the `event` nodes waiting for
-- them (docs/nodes.md, "event"). Both are rows: a wait and an event awaited survive a restart
-- (design §10). Matching is by (name, key) under a transaction advisory lock on that pair (names hold no space), taken
-- by both sides, so an event and a wait that commit at the same moment always meet.

-- Received events, kept for STITCH_EVENT_RETENTION_SECONDS so that a node that starts waiting
-- shortly after its event arrived still gets it; at most STITCH_MAX_STORED_EVENTS at once.
CREATE TABLE stitch_outside_events (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  key         text NOT NULL,
  payload     jsonb NOT NULL DEFAULT 'null',
  received_at timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX stitch_outside_events_match_idx ON stitch_outside_events (name, key, received_at DESC);
CREATE INDEX stitch_outside_events_expiry_idx ON stitch_outside_events (expires_at);

-- One row per event node attempt that waits; removed by the event that completes it, its timeout,
-- or (lazily) once its node is no longer waiting at that attempt (a cancelled run).
CREATE TABLE stitch_event_waits (
  run_id      uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  instance_id text NOT NULL,
  attempt     integer NOT NULL,
  version_id  uuid NOT NULL,
  name        text NOT NULL,
  key         text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  deadline_at timestamptz,
  PRIMARY KEY (run_id, instance_id)
);
CREATE INDEX stitch_event_waits_match_idx ON stitch_event_waits (name, key, created_at);

CREATE FUNCTION stitch_lock_event_key(p_name text, p_key text) RETURNS void
LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock(57175, hashtext(p_name || ' ' || p_key)) $$;

-- An event node starts waiting: the newest stored event of (name, key) received since its run was
-- created completes it at once (returned; the engine settles the node with it); otherwise the
-- node goes pending → running with its wait row, its timeout job and a node:running event, in one
-- transaction. Returns 'matched' (with the event), 'waiting', 'gone' (the attempt moved on, or
-- the run is not running) or 'full' (STITCH_MAX_EVENT_WAITS live waits).
CREATE FUNCTION stitch_wait_for_event(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb,
  p_name text, p_key text, p_deadline_seconds double precision, p_max_waits integer,
  OUT outcome text, OUT event_id bigint, OUT payload jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz;
  run_created timestamptz;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  PERFORM stitch_lock_event_key(p_name, p_key);
  SELECT r.created_at INTO run_created FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running';
  IF run_created IS NULL OR NOT EXISTS (
    SELECT 1 FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt AND status = 'pending') THEN
    outcome := 'gone';
    RETURN;
  END IF;
  SELECT e.id, e.payload INTO event_id, payload FROM stitch_outside_events e
  WHERE e.name = p_name AND e.key = p_key AND e.received_at >= run_created AND e.expires_at > now()
  ORDER BY e.received_at DESC LIMIT 1;
  IF event_id IS NOT NULL THEN
    outcome := 'matched';
    RETURN;
  END IF;
  IF (SELECT count(*) FROM stitch_event_waits) >= p_max_waits THEN
    -- Waits whose node no longer waits (a cancelled run) make room first.
    DELETE FROM stitch_event_waits w WHERE NOT EXISTS (
      SELECT 1 FROM stitch_node_runs n WHERE n.run_id = w.run_id AND n.instance_id = w.instance_id AND n.attempt = w.attempt AND n.status = 'running');
    IF (SELECT count(*) FROM stitch_event_waits) >= p_max_waits THEN
      outcome := 'full';
      RETURN;
    END IF;
  END IF;
  deadline := CASE WHEN p_deadline_seconds IS NULL THEN NULL ELSE now() + make_interval(secs => p_deadline_seconds) END;
  UPDATE stitch_node_runs
  SET status = 'running', input = p_input, started_at = coalesce(started_at, now()), deadline_at = deadline,
      metadata = metadata || jsonb_build_object('waitingFor', jsonb_build_object('event', p_name, 'key', p_key)), updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt AND status = 'pending';
  INSERT INTO stitch_event_waits (run_id, instance_id, attempt, version_id, name, key, deadline_at)
  VALUES (p_run_id, p_instance_id, p_attempt, p_version_id, p_name, p_key, deadline)
  ON CONFLICT (run_id, instance_id) DO UPDATE SET attempt = EXCLUDED.attempt, version_id = EXCLUDED.version_id,
    name = EXCLUDED.name, key = EXCLUDED.key, created_at = now(), deadline_at = EXCLUDED.deadline_at;
  IF deadline IS NOT NULL THEN
    PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_event_timeout',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      NULL, deadline, 5, stitch_job_key('event_timeout', p_run_id, p_instance_id), NULL, NULL)::graphile_worker.job_spec]);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:running', 'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt, 'deadlineAt', deadline,
          'waitingFor', jsonb_build_object('event', p_name, 'key', p_key))))));
  outcome := 'waiting';
END $$;

-- An event arrives: stored (expired ones pruned first; refused, returning NULL, when
-- p_max_stored are kept), and every node waiting for (name, key) gets a `stitch_event_deliver`
-- job carrying the payload, in the same commit as the wait rows' removal: a crash loses nothing.
CREATE FUNCTION stitch_receive_event(p_name text, p_key text, p_payload jsonb, p_retention_seconds double precision, p_max_stored integer,
  OUT event_id bigint, OUT delivered integer)
LANGUAGE plpgsql AS $$
DECLARE
  specs graphile_worker.job_spec[];
BEGIN
  PERFORM stitch_lock_event_key(p_name, p_key);
  DELETE FROM stitch_outside_events WHERE expires_at <= now();
  IF (SELECT count(*) FROM stitch_outside_events) >= p_max_stored THEN
    delivered := 0;
    RETURN;
  END IF;
  INSERT INTO stitch_outside_events (name, key, payload, expires_at)
  VALUES (p_name, p_key, p_payload, now() + make_interval(secs => p_retention_seconds))
  RETURNING id INTO event_id;
  WITH taken AS (
    DELETE FROM stitch_event_waits w WHERE w.name = p_name AND w.key = p_key
    RETURNING w.run_id, w.version_id, w.instance_id, w.attempt
  )
  SELECT array_agg(ROW('stitch_event_deliver',
           json_build_object('r', t.run_id, 'v', t.version_id, 'i', t.instance_id, 'a', t.attempt, 'e', event_id, 'n', p_name, 'k', p_key, 'p', p_payload),
           NULL, NULL, 5, NULL, NULL, NULL)::graphile_worker.job_spec),
         count(*)::int
  INTO specs, delivered
  FROM taken t JOIN stitch_node_runs n
    ON n.run_id = t.run_id AND n.instance_id = t.instance_id AND n.attempt = t.attempt AND n.status = 'running';
  IF delivered > 0 THEN
    PERFORM graphile_worker.add_jobs(specs);
  END IF;
END $$;
