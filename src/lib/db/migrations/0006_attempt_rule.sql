-- 0006_attempt_rule: every state write names its attempt, one lock order, arrivals counted once,
-- deadline and callback jobs removed with their node, retry as one transition function.
--
-- Lock order (docs/architecture.md): 1. the run's advisory lock — shared by node transitions,
-- exclusive for run-level transitions (abort, retry/reopen) — 2. node rows, 3. the run row
-- (stitch_maybe_finish_run, abort). A node transition never waits for the run row while another
-- transaction holding that row waits for its node rows, because the only holders of the run row
-- who then lock node rows (abort, retry) hold the run's advisory lock exclusively and so run alone.
-- Advisory locks live in the lock table only: shared ones cost no WAL and no tuple write, so
-- 10,000 concurrent item settles do not contend on anything new.

-- How many times an instance settled: arrivals and item ticks are delivered on the first settle
-- only, so a re-settle after a manual retry (a continueOnError node) never counts twice downstream.
ALTER TABLE stitch_node_runs ADD COLUMN settle_count smallint NOT NULL DEFAULT 0;

-- The run's lock: shared for node transitions, exclusive for abort and retry.
CREATE FUNCTION stitch_lock_run(p_run_id uuid, p_exclusive boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_exclusive THEN
    PERFORM pg_advisory_xact_lock(57174, hashtext(p_run_id::text));
  ELSE
    PERFORM pg_advisory_xact_lock_shared(57174, hashtext(p_run_id::text));
  END IF;
END $$;

-- Job keys of the jobs that belong to one node instance (one of each kind at a time): added with
-- the key (a redelivered attempt replaces its own job) and removed in the commit that settles it.
CREATE FUNCTION stitch_job_key(p_kind text, p_run_id uuid, p_instance_id text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'stitch:' || p_kind || ':' || p_run_id || ':' || p_instance_id $$;

-- Only jobs not running are removed: a locked one is the job settling this node right now, or one
-- held by a runner that died. graphile's remove_job would make such a job unrunnable and leave it
-- in the queue for good; left alone, it ends normally, or runs again once released and finds its
-- node settled.
CREATE FUNCTION stitch_remove_node_jobs(p_run_id uuid, p_instance_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM graphile_worker.remove_job(j.key)
  FROM graphile_worker.jobs j
  WHERE j.key IN (stitch_job_key('deadline', p_run_id, p_instance_id), stitch_job_key('ux_deadline', p_run_id, p_instance_id),
                  stitch_job_key('callback', p_run_id, p_instance_id))
    AND j.locked_at IS NULL;
END $$;

-- Settle an instance (see 0004 for the arguments). New here: the run's shared lock first; the
-- arrivals and ticks of a re-settle are not delivered again; the node's keyed jobs go with it.
CREATE OR REPLACE FUNCTION stitch_settle_node(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text,
  p_output jsonb, p_error text, p_input jsonb, p_started_at timestamptz, p_merge boolean,
  p_downstream jsonb, p_output_nodes text[], p_completion_hash text, p_extra jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  arr jsonb := '{"ready": [], "touched": false}';
  rel jsonb := '{"ready": [], "touched": false}';
  ready jsonb;
  run_status text;
  settles smallint;
  had_deadline boolean;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
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
      metadata = n.metadata || coalesce(p_extra -> 'metadata', '{}')
                 || CASE WHEN p_completion_hash IS NULL THEN '{}'::jsonb
                         ELSE jsonb_build_object('completionHash', p_completion_hash) END
  FROM (SELECT deadline_at IS NOT NULL AS had FROM stitch_node_runs
        WHERE run_id = p_run_id AND instance_id = p_instance_id) AS before
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND (n.status IN ('pending', 'running', 'waiting_for_user') AND p_status IN ('completed', 'failed')
         OR n.status = 'pending' AND p_status = 'skipped')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING n.settle_count, before.had INTO settles, had_deadline;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;
  IF had_deadline THEN
    PERFORM stitch_remove_node_jobs(p_run_id, p_instance_id);
  END IF;

  IF settles = 1 THEN
    arr := stitch_arrive(p_run_id, p_downstream);
    rel := stitch_release_items(p_run_id, p_extra -> 'ticks');
  END IF;
  ready := (arr -> 'ready') || (rel -> 'ready');
  run_status := stitch_after_settle(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:' || p_status,
      'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt, 'status', p_status, 'error', p_error,
                   'case', p_extra #> '{metadata,case}')))),
    ready, (arr ->> 'touched')::boolean OR (rel ->> 'touched')::boolean, p_output_nodes,
    coalesce((p_extra ->> 'notify')::boolean, true));
  RETURN jsonb_build_object('ok', true, 'ready', ready, 'run', run_status);
END $$;

-- pending → running for one attempt, or running → running when the same attempt's execute job is
-- delivered again (its process died between this commit and the end of the job: the worker runs
-- again, at least once, as sync workers do). Stores the input; for async workers (re)schedules the
-- keyed callback-deadline job. Returns false when the compare-and-set failed.
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
    PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_deadline',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      NULL, deadline, 5, stitch_job_key('deadline', p_run_id, p_instance_id), NULL, NULL)::graphile_worker.job_spec]);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:running', 'payload', jsonb_build_object('attempt', p_attempt, 'deadlineAt', deadline))));
  RETURN true;
END $$;

-- A failed attempt with attempts left: back to pending as the next attempt, run again after a delay.
CREATE OR REPLACE FUNCTION stitch_schedule_retry(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_error text, p_delay_ms integer
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  had_deadline boolean;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  UPDATE stitch_node_runs n
  SET status = 'pending', attempt = p_attempt + 1, error = p_error, deadline_at = NULL, updated_at = now()
  FROM (SELECT deadline_at IS NOT NULL AS had FROM stitch_node_runs
        WHERE run_id = p_run_id AND instance_id = p_instance_id) AS before
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND n.status IN ('pending', 'running')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING before.had INTO had_deadline;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF had_deadline THEN
    PERFORM stitch_remove_node_jobs(p_run_id, p_instance_id);
  END IF;
  PERFORM stitch_enqueue_execute(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('i', p_instance_id, 'a', p_attempt + 1)),
    now() + make_interval(secs => p_delay_ms / 1000.0));
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:retrying', 'payload', jsonb_build_object('attempt', p_attempt, 'error', p_error,
          'nextAttempt', p_attempt + 1, 'delayMs', p_delay_ms))));
  RETURN true;
END $$;

-- End a run early: failed or cancelled. The run's exclusive lock first (so no node transition of
-- this run is between its node rows and the run row), then the run row, then node rows.
CREATE OR REPLACE FUNCTION stitch_abort_run(
  p_run_id uuid, p_status text, p_error text, p_instance_id text, p_attempt integer, p_node_ids text[],
  p_node_error text
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  events jsonb := '[]';
BEGIN
  PERFORM stitch_lock_run(p_run_id, true);
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

  -- Every keyed job of the run's nodes goes with it (deadlines, UX deadlines, scheduled callbacks).
  PERFORM stitch_remove_node_jobs(p_run_id, instance_id)
  FROM stitch_node_runs WHERE run_id = p_run_id AND deadline_at IS NOT NULL;

  WITH closed AS (
    UPDATE stitch_node_runs
    SET status = CASE WHEN status = 'pending' THEN 'skipped' ELSE 'cancelled' END,
        metadata = metadata || jsonb_build_object('closedBy', p_status),
        deadline_at = NULL, finished_at = now(), updated_at = now()
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

-- pending → waiting_for_user for a UX gate (see 0004); the answer deadline job is keyed.
CREATE OR REPLACE FUNCTION stitch_wait_for_user(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb, p_metadata jsonb,
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
  SET status = 'waiting_for_user', input = p_input, metadata = metadata || p_metadata,
      started_at = coalesce(started_at, now()), deadline_at = deadline, updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt AND status = 'pending'
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running');
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF deadline IS NOT NULL THEN
    PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_ux_deadline',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      NULL, deadline, 5, stitch_job_key('ux_deadline', p_run_id, p_instance_id), NULL, NULL)::graphile_worker.job_spec]);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:waiting', 'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt,
          'prompt', p_metadata -> 'prompt', 'deadlineAt', deadline)))));
  RETURN true;
END $$;

-- A worker's own state write (the seed's updateNodeState with status 'running'): output, progress,
-- metadata. It names its attempt: a write from attempt N never changes attempt N+1. Without a known
-- attempt (a caller outside the execution) it may only touch a node that is running — never flip a
-- pending next attempt to running. Returns {ok, attempt, status} of the row as found.
CREATE FUNCTION stitch_update_node_state(
  p_run_id uuid, p_instance_id text, p_attempt integer, p_set_output boolean, p_output jsonb,
  p_progress real, p_metadata jsonb, p_message text
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  cur record;
  new_attempt integer;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  UPDATE stitch_node_runs
  SET status = 'running',
      output = CASE WHEN p_set_output THEN p_output ELSE output END,
      progress = coalesce(p_progress, progress),
      metadata = metadata || coalesce(p_metadata, '{}'),
      started_at = coalesce(started_at, now()),
      updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id
    AND CASE WHEN p_attempt IS NULL THEN status = 'running'
             ELSE attempt = p_attempt AND status IN ('pending', 'running') END
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING attempt INTO new_attempt;
  IF NOT FOUND THEN
    SELECT n.attempt, n.status, r.status AS run_status INTO cur
    FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
    WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id;
    IF NOT FOUND THEN
      RETURN jsonb_build_object('ok', false, 'found', false);
    END IF;
    RETURN jsonb_build_object('ok', false, 'found', true, 'attempt', cur.attempt,
                              'status', cur.status, 'runStatus', cur.run_status);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type',
            CASE WHEN p_progress IS NULL AND p_message IS NULL THEN 'node:running' ELSE 'node:progress' END,
            'payload', jsonb_build_object('attempt', new_attempt, 'progress', p_progress, 'message', p_message))));
  RETURN jsonb_build_object('ok', true, 'attempt', new_attempt);
END $$;

-- Retry a failed node instance as a new attempt (manual retry). In a failed run, what the failure
-- closed is reopened: rows it skipped without any arrival go (except collectors waiting for items,
-- whose `needed` was set at fan-out); the rest wait again, and those whose arrivals are complete are
-- enqueued. p_in_degree: {nodeId: in-degree}. Returns {attempt} or {error: code, status?}.
CREATE FUNCTION stitch_retry_node(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_entry_nodes text[], p_in_degree jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  run_status text;
  node record;
  new_attempt integer;
  enqueue jsonb;
BEGIN
  PERFORM stitch_lock_run(p_run_id, true);
  SELECT status INTO run_status FROM stitch_runs WHERE id = p_run_id FOR UPDATE;
  IF run_status IS NULL THEN
    RETURN jsonb_build_object('error', 'run_not_found');
  END IF;
  IF run_status NOT IN ('failed', 'running') THEN
    RETURN jsonb_build_object('error', 'run_not_retryable', 'status', run_status);
  END IF;
  SELECT status, metadata INTO node FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('error', 'node_not_found');
  END IF;
  IF node.metadata ->> 'itemError' = 'collected' THEN
    RETURN jsonb_build_object('error', 'item_error_collected');
  END IF;
  IF node.status <> 'failed' THEN
    RETURN jsonb_build_object('error', 'node_not_failed', 'status', node.status);
  END IF;

  UPDATE stitch_node_runs SET status = 'pending', attempt = attempt + 1, error = NULL, output = NULL,
         finished_at = NULL, deadline_at = NULL, updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id
  RETURNING attempt INTO new_attempt;
  enqueue := jsonb_build_array(jsonb_build_object('i', p_instance_id, 'a', new_attempt));

  IF run_status = 'failed' THEN
    DELETE FROM stitch_node_runs WHERE run_id = p_run_id AND status = 'skipped' AND arrived = 0
      AND metadata ->> 'closedBy' = 'failed' AND NOT (node_id = ANY (p_entry_nodes)) AND needed IS NULL;
    WITH reopened AS (
      UPDATE stitch_node_runs
      SET status = 'pending', attempt = CASE WHEN started_at IS NULL THEN attempt ELSE attempt + 1 END,
          metadata = metadata - 'closedBy', finished_at = NULL, updated_at = now()
      WHERE run_id = p_run_id AND status IN ('skipped', 'cancelled') AND metadata ->> 'closedBy' = 'failed'
      RETURNING instance_id, node_id, attempt, arrived, needed
    )
    SELECT enqueue || coalesce(jsonb_agg(jsonb_build_object('i', instance_id, 'a', attempt)), '[]') INTO enqueue
    FROM reopened
    WHERE arrived >= coalesce(needed, (p_in_degree ->> node_id)::int, 0);
    UPDATE stitch_runs SET status = 'running', error = NULL, output = NULL, finished_at = NULL, updated_at = now()
    WHERE id = p_run_id;
  END IF;

  PERFORM stitch_enqueue_execute(p_run_id, p_version_id, enqueue, NULL);
  PERFORM stitch_emit(p_run_id, (SELECT jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
            'payload', jsonb_build_object('attempt', (x ->> 'a')::int, 'retry', true))) FROM jsonb_array_elements(enqueue) x));
  RETURN jsonb_build_object('attempt', new_attempt);
END $$;
