-- 0001_init: flows, immutable versions, runs, one row per node instance, the event log, runner liveness.
-- Every state transition of a node instance is a compare-and-set on its row; the functions at the end
-- perform a whole transition (state change + downstream instances + queue jobs + events + NOTIFY)
-- in one statement, so a hop costs one round trip and one commit.

CREATE TABLE stitch_settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stitch_flows (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name               text NOT NULL,
  current_version_id uuid,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  -- Flows are soft-deleted: their runs and versions stay readable.
  deleted_at         timestamptz
);

CREATE TABLE stitch_flow_versions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  flow_id         uuid REFERENCES stitch_flows (id),
  version         integer NOT NULL,
  visual_graph    jsonb NOT NULL,
  execution_graph jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (flow_id, version)
);

ALTER TABLE stitch_flows
  ADD CONSTRAINT stitch_flows_current_version_fk FOREIGN KEY (current_version_id) REFERENCES stitch_flow_versions (id);

CREATE TABLE stitch_runs (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  flow_id     uuid REFERENCES stitch_flows (id),
  version_id  uuid NOT NULL REFERENCES stitch_flow_versions (id),
  status      text NOT NULL DEFAULT 'running'
              CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  input       jsonb NOT NULL DEFAULT '{}',
  output      jsonb,
  error       text,
  trigger     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  finished_at timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stitch_runs_flow_idx ON stitch_runs (flow_id, created_at DESC);
CREATE INDEX stitch_runs_status_idx ON stitch_runs (status, created_at DESC);

CREATE TABLE stitch_node_runs (
  run_id      uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  -- `nodeId` for top-level nodes; `nodeId[i]` (nested: `nodeId[i][j]`) for splitter items.
  -- Node ids may not contain '[' (validated), so an instance id can never collide with a node id.
  instance_id text NOT NULL,
  node_id     text NOT NULL,
  item_path   integer[] NOT NULL DEFAULT '{}',
  status      text NOT NULL
              CHECK (status IN ('pending', 'running', 'waiting_for_user', 'completed', 'failed', 'cancelled', 'skipped')),
  attempt     integer NOT NULL DEFAULT 1,
  -- Fan-in bookkeeping: upstream edges settled so far, and how many of them delivered data.
  -- The transaction whose arrival brings `arrived` to the node's in-degree enqueues it: exactly once.
  arrived     integer NOT NULL DEFAULT 0,
  live        integer NOT NULL DEFAULT 0,
  input       jsonb,
  output      jsonb,
  error       text,
  progress    real,
  metadata    jsonb NOT NULL DEFAULT '{}',
  deadline_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  finished_at timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, instance_id)
);
-- "Is anything in this run still open?" is asked when a run may be finishing.
CREATE INDEX stitch_node_runs_open_idx ON stitch_node_runs (run_id)
  WHERE status IN ('pending', 'running', 'waiting_for_user');

CREATE TABLE stitch_events (
  id          bigserial PRIMARY KEY,
  run_id      uuid NOT NULL,
  instance_id text,
  type        text NOT NULL,
  payload     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stitch_events_run_idx ON stitch_events (run_id, id);

-- Queue runners announce themselves here; a runner silent for longer than the stale threshold is
-- presumed dead and its graphile-worker pools' jobs are force-unlocked (graphile waits 4 h otherwise).
CREATE TABLE stitch_runners (
  id           text PRIMARY KEY,
  pool_ids     text[] NOT NULL DEFAULT '{}',
  hostname     text,
  pid          integer,
  started_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Append events and wake listeners. One NOTIFY per transition carries the highest event id;
-- listeners read the rows (payloads stay small and nothing is lost when NOTIFY is missed).
CREATE FUNCTION stitch_emit(p_run_id uuid, p_events jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  last_id bigint;
BEGIN
  IF p_events IS NULL OR jsonb_array_length(p_events) = 0 THEN
    RETURN NULL;
  END IF;
  WITH ins AS (
    INSERT INTO stitch_events (run_id, instance_id, type, payload)
    SELECT p_run_id, e ->> 'instanceId', e ->> 'type', coalesce(e -> 'payload', '{}')
    FROM jsonb_array_elements(p_events) AS e
    RETURNING id
  )
  SELECT max(id) INTO last_id FROM ins;
  PERFORM pg_notify('stitch_events', json_build_object('runId', p_run_id, 'id', last_id)::text);
  RETURN last_id;
END $$;

-- Enqueue `stitch_execute` jobs for node instances (no-op for an empty list).
CREATE FUNCTION stitch_enqueue_execute(p_run_id uuid, p_version_id uuid, p_instances jsonb, p_run_at timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  n := coalesce(jsonb_array_length(p_instances), 0);
  IF n = 0 THEN
    RETURN 0;
  END IF;
  PERFORM graphile_worker.add_jobs(array(
    SELECT ROW('stitch_execute',
               json_build_object('r', p_run_id, 'v', p_version_id, 'i', x ->> 'i', 'a', coalesce((x ->> 'a')::int, 1)),
               NULL, p_run_at, 5, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM jsonb_array_elements(p_instances) AS x
  ));
  RETURN n;
END $$;

-- If nothing in the run is open any more, settle the run. Called by transitions that made nothing
-- runnable. The run row lock serialises concurrent callers; the check after it runs on a fresh
-- snapshot (READ COMMITTED, new statement), so the last settler always sees every other settle.
CREATE FUNCTION stitch_maybe_finish_run(p_run_id uuid, p_output_nodes text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  run_status text;
  out jsonb;
  failed_count integer;
BEGIN
  SELECT status INTO run_status FROM stitch_runs WHERE id = p_run_id FOR UPDATE;
  IF run_status IS DISTINCT FROM 'running' THEN
    RETURN run_status;
  END IF;
  IF EXISTS (SELECT 1 FROM stitch_node_runs
             WHERE run_id = p_run_id AND status IN ('pending', 'running', 'waiting_for_user')) THEN
    RETURN 'running';
  END IF;
  -- The run's output: one output node → its output; several → keyed by node id.
  SELECT CASE WHEN count(*) = 1 THEN (array_agg(output))[1]
              ELSE coalesce(jsonb_object_agg(node_id, output), '{}') END
    INTO out
  FROM stitch_node_runs
  WHERE run_id = p_run_id AND node_id = ANY (p_output_nodes) AND item_path = '{}'
    AND status IN ('completed', 'failed');
  UPDATE stitch_runs SET status = 'completed', output = out, finished_at = now(), updated_at = now()
  WHERE id = p_run_id;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('type', 'run:completed', 'payload',
          jsonb_build_object('status', 'completed'))));
  RETURN 'completed';
END $$;

-- A node instance settles with data for downstream (completed, or failed with continueOnError).
--   p_downstream: [{i: instanceId, n: nodeId, p: itemPath int[], c: arrivals from this node, d: in-degree}]
-- Returns {ok, status?, ready:[instanceIds], run: runStatus?}; ok=false when the compare-and-set
-- failed (the node was not running/pending at that attempt): nothing changed.
CREATE FUNCTION stitch_settle_node(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text,
  p_output jsonb, p_error text, p_input jsonb, p_started_at timestamptz, p_merge boolean,
  p_downstream jsonb, p_output_nodes text[], p_completion_hash text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  settled_output jsonb;
  ready jsonb;
  events jsonb;
  run_status text;
BEGIN
  UPDATE stitch_node_runs n
  SET status = p_status,
      output = CASE WHEN p_merge AND jsonb_typeof(n.output) = 'object' AND jsonb_typeof(p_output) = 'object'
                    THEN n.output || p_output ELSE p_output END,
      error = p_error,
      input = coalesce(n.input, p_input),
      started_at = coalesce(n.started_at, p_started_at, now()),
      finished_at = now(),
      updated_at = now(),
      progress = CASE WHEN p_status = 'completed' THEN 1 ELSE n.progress END,
      -- Remembered so that an identical repeat of this callback is recognised as a duplicate.
      metadata = CASE WHEN p_completion_hash IS NULL THEN n.metadata
                      ELSE n.metadata || jsonb_build_object('completionHash', p_completion_hash) END
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND n.status IN ('pending', 'running')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING n.output INTO settled_output;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;

  WITH d AS (
    SELECT x ->> 'i' AS instance_id, x ->> 'n' AS node_id,
           coalesce(ARRAY(SELECT jsonb_array_elements_text(x -> 'p'))::int[], '{}') AS item_path,
           (x ->> 'c')::int AS arrive, (x ->> 'd')::int AS needed
    FROM jsonb_array_elements(coalesce(p_downstream, '[]')) AS x
  ), up AS (
    INSERT INTO stitch_node_runs AS t (run_id, instance_id, node_id, item_path, status, arrived, live)
    SELECT p_run_id, d.instance_id, d.node_id, d.item_path, 'pending', d.arrive, d.arrive FROM d
    ON CONFLICT (run_id, instance_id) DO UPDATE
      SET arrived = t.arrived + excluded.arrived, live = t.live + excluded.live, updated_at = now()
      WHERE t.status = 'pending'
    RETURNING t.instance_id, t.arrived
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('i', up.instance_id)), '[]') INTO ready
  FROM up JOIN d USING (instance_id)
  WHERE up.arrived >= d.needed;

  PERFORM stitch_enqueue_execute(p_run_id, p_version_id, ready, NULL);

  events := jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
              'type', CASE WHEN p_status = 'completed' THEN 'node:completed' ELSE 'node:failed' END,
              'payload', jsonb_build_object('attempt', p_attempt, 'status', p_status, 'error', p_error)))
            || coalesce((SELECT jsonb_agg(jsonb_build_object('instanceId', r ->> 'i', 'type', 'node:pending',
                           'payload', jsonb_build_object('attempt', 1)))
                         FROM jsonb_array_elements(ready) AS r), '[]');
  PERFORM stitch_emit(p_run_id, events);

  IF jsonb_array_length(ready) = 0 THEN
    run_status := stitch_maybe_finish_run(p_run_id, p_output_nodes);
  END IF;
  RETURN jsonb_build_object('ok', true, 'ready', ready, 'run', run_status);
END $$;

-- pending → running for one attempt. Stores the merged input; for async workers also schedules the
-- callback-deadline job in the same transaction. Returns false when the compare-and-set failed.
CREATE FUNCTION stitch_mark_running(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb,
  p_deadline_seconds double precision
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz;
BEGIN
  deadline := CASE WHEN p_deadline_seconds IS NULL THEN NULL
                   ELSE now() + make_interval(secs => p_deadline_seconds) END;
  UPDATE stitch_node_runs
  SET status = 'running', input = p_input, started_at = coalesce(started_at, now()),
      deadline_at = deadline, updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt AND status = 'pending';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF deadline IS NOT NULL THEN
    PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_deadline',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      NULL, deadline, 5, NULL, NULL, NULL)::graphile_worker.job_spec]);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:running', 'payload', jsonb_build_object('attempt', p_attempt, 'deadlineAt', deadline))));
  RETURN true;
END $$;

-- A failed attempt with attempts left: back to pending as the next attempt, run again after a delay.
CREATE FUNCTION stitch_schedule_retry(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_error text, p_delay_ms integer
) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stitch_node_runs
  SET status = 'pending', attempt = p_attempt + 1, error = p_error, deadline_at = NULL, updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
    AND status IN ('pending', 'running')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running');
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM stitch_enqueue_execute(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('i', p_instance_id, 'a', p_attempt + 1)),
    now() + make_interval(secs => p_delay_ms / 1000.0));
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:retrying', 'payload', jsonb_build_object('attempt', p_attempt, 'error', p_error,
          'nextAttempt', p_attempt + 1, 'delayMs', p_delay_ms))));
  RETURN true;
END $$;

-- End a run early: failed (a node failed for good) or cancelled. The failing node (if any) is
-- compare-and-set to failed first; open work is cancelled; nodes never reached become skipped.
-- Returns false when nothing changed (node not at that attempt, or run no longer running).
CREATE FUNCTION stitch_abort_run(
  p_run_id uuid, p_status text, p_error text, p_instance_id text, p_attempt integer, p_node_ids text[]
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
    SET status = 'failed', error = p_error, finished_at = now(), updated_at = now(),
        started_at = coalesce(started_at, now())
    WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
      AND status IN ('pending', 'running', 'waiting_for_user');
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    events := events || jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:failed',
                'payload', jsonb_build_object('attempt', p_attempt, 'status', 'failed', 'error', p_error)));
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
