-- Fair share (issue 22): per-key concurrency and rate limits on nodes, shared by every process on
-- the database, with waiting work parked in Stitch's own tables rather than in graphile-worker's
-- queue (its documentation warns against a queue name per key, and a parked node re-polling the
-- queue would put a burst of 2,000 jobs in front of everyone else's work).
--
-- A *scope* is one limit: a node's concurrency (`node:<flow>:<node>`), a node's rate
-- (`rate:<flow>:<node>`) or a flow's runs (`flow:<flow>`). Within a scope each *key* value (the
-- rendered `key` template, '' without one) has its own `lim` slots.
--   * A slot is a row of stitch_fair_slots. A concurrency slot counts while what holds it is open
--     (the node instance pending or running at that attempt; the run running), so a slot whose holder
--     settled, failed or died frees itself without anyone having to release it. A rate slot counts
--     while it is younger than the window (a sliding window over clock_timestamp(), taken under the
--     scope's lock, so it holds across processes exactly).
--   * Work over its limit waits as a row of stitch_fair_waiting and holds no queue job. When a slot
--     frees, a dispatch (stitch_fair_dispatch) grants waiters in turn: per key, higher priority
--     first, then first come; across keys, round-robin from the key served last (`cursor`). A granted
--     waiter gets its slot and its stitch_execute job in the same commit.
--   * Dispatch runs right after a limited node's attempt ends (the engine calls it) and, as long as
--     anything waits, from a keyed `stitch_fair_dispatch` job (the sweep: at the next rate token, or
--     every few seconds), so a wake-up lost with a killed process or a database restart is only late.
-- Everything here is touched only by nodes and flows that have a limit: the hot path of every other
-- flow is unchanged.

CREATE TABLE stitch_fair_scopes (
  scope text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('concurrency', 'rate')),
  flow_id uuid,
  -- Null: the scope is the flow's runs.
  node_id text,
  lim integer NOT NULL CHECK (lim > 0),
  -- Rate: the window in seconds.
  per_seconds double precision,
  -- How the key is named in a reason (`customer` in "concurrency customer=acme 2/2"); null: no key.
  key_name text,
  -- The key served last (round-robin across keys).
  cursor text NOT NULL DEFAULT '',
  -- When the scope's sweep job is due, if one is queued.
  sweep_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stitch_fair_slots (
  scope text NOT NULL REFERENCES stitch_fair_scopes ON DELETE CASCADE,
  key text NOT NULL,
  run_id uuid NOT NULL,
  -- '' for a flow's run slot.
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (scope, run_id, instance_id, attempt)
);
CREATE INDEX stitch_fair_slots_key_idx ON stitch_fair_slots (scope, key, acquired_at);

CREATE TABLE stitch_fair_waiting (
  scope text NOT NULL REFERENCES stitch_fair_scopes ON DELETE CASCADE,
  key text NOT NULL,
  run_id uuid NOT NULL,
  version_id uuid NOT NULL,
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  reason text NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (scope, run_id, instance_id, attempt)
);
-- The next waiter of a key, and the next key after the cursor (a loose index scan).
CREATE INDEX stitch_fair_waiting_next_idx ON stitch_fair_waiting (scope, key, priority DESC, queued_at);

-- Slots of a key in use now. Stale concurrency slots (their holder closed) are deleted on the way.
CREATE FUNCTION stitch_fair_used(s stitch_fair_scopes, p_key text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  used integer;
BEGIN
  IF s.kind = 'rate' THEN
    -- Kept a minute at least: /api/queues and the tests read recent starts from here.
    DELETE FROM stitch_fair_slots WHERE scope = s.scope AND key = p_key
      AND acquired_at <= clock_timestamp() - make_interval(secs => greatest(s.per_seconds, 60));
    SELECT count(*) INTO used FROM stitch_fair_slots WHERE scope = s.scope AND key = p_key
      AND acquired_at > clock_timestamp() - make_interval(secs => s.per_seconds);
    RETURN used;
  END IF;
  IF s.node_id IS NULL THEN
    DELETE FROM stitch_fair_slots sl WHERE sl.scope = s.scope AND sl.key = p_key
      AND NOT EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = sl.run_id AND r.status IN ('pending', 'running'));
  ELSE
    DELETE FROM stitch_fair_slots sl WHERE sl.scope = s.scope AND sl.key = p_key
      AND NOT EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id = sl.run_id AND n.instance_id = sl.instance_id
                        AND n.attempt = sl.attempt AND n.status IN ('pending', 'running'));
  END IF;
  SELECT count(*) INTO used FROM stitch_fair_slots WHERE scope = s.scope AND key = p_key;
  RETURN used;
END $$;

-- When a rate key may start again: when the oldest start that keeps it full leaves the window.
CREATE FUNCTION stitch_fair_rate_free_at(s stitch_fair_scopes, p_key text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT acquired_at + make_interval(secs => s.per_seconds) FROM stitch_fair_slots
                   WHERE scope = s.scope AND key = p_key AND acquired_at > clock_timestamp() - make_interval(secs => s.per_seconds)
                   ORDER BY acquired_at DESC OFFSET s.lim - 1 LIMIT 1), clock_timestamp())
$$;

-- Queue the scope's sweep for `p_at` unless one is due sooner already. Caller holds the scope's lock.
CREATE FUNCTION stitch_fair_sweep_at(s stitch_fair_scopes, p_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF s.sweep_at IS NOT NULL AND s.sweep_at > now() AND s.sweep_at <= p_at THEN
    RETURN;
  END IF;
  PERFORM graphile_worker.add_job('stitch_fair_dispatch', json_build_object('s', s.scope),
    run_at => p_at, max_attempts => 25, job_key => 'stitch_fair:' || s.scope, job_key_mode => 'replace');
  UPDATE stitch_fair_scopes SET sweep_at = p_at WHERE scope = s.scope;
END $$;

-- The scope row, created or updated to the limit given, locked: one scope's acquisitions and
-- dispatches go one at a time, so no two of them count the same free slot.
CREATE FUNCTION stitch_fair_lock_scope(p_scope text, p_kind text, p_flow_id uuid, p_node_id text, p_lim integer,
                                       p_per_seconds double precision, p_key_name text) RETURNS stitch_fair_scopes
LANGUAGE plpgsql AS $$
DECLARE
  s stitch_fair_scopes;
BEGIN
  SELECT * INTO s FROM stitch_fair_scopes WHERE scope = p_scope FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO stitch_fair_scopes (scope, kind, flow_id, node_id, lim, per_seconds, key_name)
    VALUES (p_scope, p_kind, p_flow_id, p_node_id, p_lim, p_per_seconds, p_key_name)
    ON CONFLICT (scope) DO NOTHING;
    SELECT * INTO s FROM stitch_fair_scopes WHERE scope = p_scope FOR UPDATE;
  END IF;
  -- A new flow version may change the limit: the latest one seen applies.
  IF s.lim IS DISTINCT FROM p_lim OR s.per_seconds IS DISTINCT FROM p_per_seconds OR s.key_name IS DISTINCT FROM p_key_name THEN
    UPDATE stitch_fair_scopes SET lim = p_lim, per_seconds = p_per_seconds, key_name = p_key_name, updated_at = now()
    WHERE scope = p_scope RETURNING * INTO s;
  END IF;
  RETURN s;
END $$;

CREATE FUNCTION stitch_fair_reason(s stitch_fair_scopes, p_key text, p_used integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN s.kind = 'rate' THEN 'rate' ELSE 'concurrency' END
         || CASE WHEN s.key_name IS NULL THEN '' ELSE ' ' || s.key_name || '=' || p_key END
         || ' ' || p_used || '/' || s.lim
         || CASE WHEN s.kind = 'rate' THEN ' per ' || s.per_seconds || 's' ELSE '' END
$$;

-- Take a slot of a key if one is free and nobody of that key waits for it (they go first): null
-- when taken, else how many are in use (for the reason). Caller holds the scope's lock.
CREATE FUNCTION stitch_fair_try(s stitch_fair_scopes, p_key text, p_run_id uuid, p_instance_id text, p_attempt integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  used integer := stitch_fair_used(s, p_key);
BEGIN
  IF used < s.lim AND NOT EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = s.scope AND key = p_key) THEN
    INSERT INTO stitch_fair_slots (scope, key, run_id, instance_id, attempt) VALUES (s.scope, p_key, p_run_id, p_instance_id, p_attempt);
    RETURN NULL;
  END IF;
  RETURN used;
END $$;

-- A node attempt asks for a slot before its worker executes. ok: go on. Otherwise the attempt is
-- parked (a waiting row, the node marked queued with its reason, a node:queued event) and its job
-- ends: a dispatch gives it a new stitch_execute job once it has its slot.
CREATE FUNCTION stitch_fair_acquire(p_scope text, p_kind text, p_flow_id uuid, p_node_id text, p_lim integer,
                                    p_per_seconds double precision, p_key_name text, p_key text,
                                    p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  s stitch_fair_scopes;
  used integer;
  reason text;
BEGIN
  -- The same attempt executing again (granted by a dispatch, or its runner died) keeps its slot.
  IF EXISTS (SELECT 1 FROM stitch_fair_slots WHERE scope = p_scope AND run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt) THEN
    RETURN '{"ok": true}';
  END IF;
  s := stitch_fair_lock_scope(p_scope, p_kind, p_flow_id, p_node_id, p_lim, p_per_seconds, p_key_name);
  IF EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = p_scope AND run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt) THEN
    RETURN '{"ok": false, "already": true}';
  END IF;
  used := stitch_fair_try(s, p_key, p_run_id, p_instance_id, p_attempt);
  IF used IS NULL THEN
    RETURN '{"ok": true}';
  END IF;
  reason := stitch_fair_reason(s, p_key, used);
  INSERT INTO stitch_fair_waiting (scope, key, run_id, version_id, instance_id, attempt, priority, reason)
  SELECT p_scope, p_key, p_run_id, p_version_id, p_instance_id, p_attempt, r.priority, reason FROM stitch_runs r WHERE r.id = p_run_id;
  UPDATE stitch_node_runs
  SET metadata = metadata || jsonb_build_object('queued', true, 'queuedReason', reason, 'message', 'queued: ' || reason), updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:queued',
          'payload', jsonb_build_object('attempt', p_attempt, 'queued', true, 'reason', reason))));
  PERFORM stitch_fair_sweep_at(s, CASE WHEN s.kind = 'rate' AND used >= s.lim THEN stitch_fair_rate_free_at(s, p_key)
                                       ELSE now() + interval '5 seconds' END);
  RETURN jsonb_build_object('ok', false, 'reason', reason);
END $$;

-- Grant one waiter of a key its slot and its job; false when none of the key's waiters is still
-- open (dead ones are dropped on the way).
CREATE FUNCTION stitch_fair_grant(s stitch_fair_scopes, p_key text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  w stitch_fair_waiting;
  ready jsonb;
BEGIN
  LOOP
    DELETE FROM stitch_fair_waiting WHERE (scope, run_id, instance_id, attempt) IN (
      SELECT scope, run_id, instance_id, attempt FROM stitch_fair_waiting
      WHERE scope = s.scope AND key = p_key ORDER BY priority DESC, queued_at LIMIT 1)
    RETURNING * INTO w;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    IF w.instance_id = '' THEN
      -- A flow's run: its entry instances, pending and without jobs since it started.
      SELECT jsonb_agg(jsonb_build_object('i', n.instance_id, 'a', n.attempt)) INTO ready
      FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
      WHERE n.run_id = w.run_id AND n.status = 'pending' AND r.status = 'running';
    ELSE
      SELECT jsonb_build_array(jsonb_build_object('i', n.instance_id, 'a', n.attempt)) INTO ready
      FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
      WHERE n.run_id = w.run_id AND n.instance_id = w.instance_id AND n.attempt = w.attempt
        AND n.status = 'pending' AND r.status = 'running';
    END IF;
    IF ready IS NOT NULL THEN
      INSERT INTO stitch_fair_slots (scope, key, run_id, instance_id, attempt) VALUES (s.scope, p_key, w.run_id, w.instance_id, w.attempt)
      ON CONFLICT DO NOTHING;
      PERFORM stitch_enqueue_execute(w.run_id, w.version_id, ready, stitch_priority_run_at(w.priority));
      IF w.instance_id <> '' THEN
        UPDATE stitch_node_runs SET metadata = (metadata - 'queuedReason' - 'message') || '{"queued": false}', updated_at = now()
        WHERE run_id = w.run_id AND instance_id = w.instance_id AND attempt = w.attempt;
      END IF;
      PERFORM stitch_emit(w.run_id, jsonb_build_array(jsonb_build_object('instanceId', nullif(w.instance_id, ''),
              'type', CASE WHEN w.instance_id = '' THEN 'run:queued' ELSE 'node:queued' END,
              'payload', jsonb_build_object('attempt', w.attempt, 'queued', false, 'waitedMs',
                round(extract(epoch FROM clock_timestamp() - w.queued_at) * 1000)))));
      RETURN true;
    END IF;
  END LOOP;
END $$;

-- Serve a scope's waiters while slots are free: one per key in turn, from the key after the cursor
-- (round-robin), so a key with 2,000 waiting gets a slot no more often than a key with one.
-- p_key: only that key (its slot was just released). Returns how many were granted.
CREATE FUNCTION stitch_fair_dispatch(p_scope text, p_key text DEFAULT NULL, p_sweep boolean DEFAULT false) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  s stitch_fair_scopes;
  k text;
  start_key text;
  wrapped boolean;
  granted integer := 0;
  in_round integer;
  used integer;
  next_at timestamptz;
BEGIN
  SELECT * INTO s FROM stitch_fair_scopes WHERE scope = p_scope FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF p_sweep THEN
    UPDATE stitch_fair_scopes SET sweep_at = NULL WHERE scope = p_scope;
    s.sweep_at := NULL;
  END IF;
  IF p_key IS NOT NULL THEN
    WHILE granted < 1000 AND stitch_fair_used(s, p_key) < s.lim AND stitch_fair_grant(s, p_key) LOOP
      granted := granted + 1;
    END LOOP;
  ELSE
    LOOP
      -- One round: the keys after the cursor, then from the first key up to the cursor.
      in_round := 0;
      start_key := s.cursor;
      k := start_key;
      wrapped := false;
      LOOP
        IF NOT wrapped THEN
          SELECT w.key INTO k FROM stitch_fair_waiting w WHERE w.scope = p_scope AND w.key > k ORDER BY w.key LIMIT 1;
          IF NOT FOUND THEN
            wrapped := true;
            SELECT w.key INTO k FROM stitch_fair_waiting w WHERE w.scope = p_scope AND w.key <= start_key ORDER BY w.key LIMIT 1;
            EXIT WHEN NOT FOUND;
          END IF;
        ELSE
          SELECT w.key INTO k FROM stitch_fair_waiting w WHERE w.scope = p_scope AND w.key > k AND w.key <= start_key ORDER BY w.key LIMIT 1;
          EXIT WHEN NOT FOUND;
        END IF;
        IF stitch_fair_used(s, k) < s.lim AND stitch_fair_grant(s, k) THEN
          in_round := in_round + 1;
          s.cursor := k;
        END IF;
        EXIT WHEN granted + in_round >= 1000;
      END LOOP;
      granted := granted + in_round;
      EXIT WHEN in_round = 0 OR granted >= 1000;
    END LOOP;
    UPDATE stitch_fair_scopes SET cursor = s.cursor WHERE scope = p_scope AND cursor IS DISTINCT FROM s.cursor;
  END IF;
  -- Work still waiting: sweep again at the next rate token, else in a few seconds.
  IF EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = p_scope) THEN
    IF s.kind = 'rate' THEN
      SELECT min(stitch_fair_rate_free_at(s, x.key)) INTO next_at
      FROM (SELECT DISTINCT key FROM stitch_fair_waiting WHERE scope = p_scope LIMIT 100) x;
    END IF;
    PERFORM stitch_fair_sweep_at(s, least(coalesce(next_at, now() + interval '5 seconds'), now() + interval '5 seconds'));
  END IF;
  RETURN granted;
END $$;

-- A flow's concurrency: the run's slot is taken in its start statement. A run over its key's limit
-- starts `running` with its entry instances pending and no jobs, waiting (instance '') until a
-- dispatch grants it and queues them. stitch_runs.fair_scope/fair_key say which slot a run holds or
-- waits for, so the run's end can free it (the trigger below) at no cost to runs of other flows.
ALTER TABLE stitch_runs ADD COLUMN fair_scope text, ADD COLUMN fair_key text;

CREATE FUNCTION stitch_fair_admit(p_scope text, p_flow_id uuid, p_lim integer, p_key_name text, p_key text,
                                  p_run_id uuid, p_version_id uuid, p_priority integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  s stitch_fair_scopes;
  used integer;
  reason text;
BEGIN
  s := stitch_fair_lock_scope(p_scope, 'concurrency', p_flow_id, NULL, p_lim, NULL, p_key_name);
  used := stitch_fair_try(s, p_key, p_run_id, '', 0);
  IF used IS NULL THEN
    RETURN true;
  END IF;
  reason := stitch_fair_reason(s, p_key, used);
  INSERT INTO stitch_fair_waiting (scope, key, run_id, version_id, instance_id, attempt, priority, reason)
  VALUES (p_scope, p_key, p_run_id, p_version_id, '', 0, p_priority, reason);
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('type', 'run:queued',
          'payload', jsonb_build_object('queued', true, 'reason', reason))));
  PERFORM stitch_fair_sweep_at(s, now() + interval '5 seconds');
  RETURN false;
END $$;

CREATE FUNCTION stitch_fair_run_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Only when a run of its key waits: a limit that does not bind costs a run one index probe.
  IF EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = NEW.fair_scope AND key = NEW.fair_key) THEN
    PERFORM graphile_worker.add_job('stitch_fair_dispatch', json_build_object('s', NEW.fair_scope, 'k', NEW.fair_key), max_attempts => 25);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER stitch_fair_run_ended
  AFTER UPDATE OF status ON stitch_runs
  FOR EACH ROW
  WHEN (OLD.fair_scope IS NOT NULL AND OLD.status IN ('pending', 'running') AND NEW.status NOT IN ('pending', 'running'))
  EXECUTE FUNCTION stitch_fair_run_ended();
