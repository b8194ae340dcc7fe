-- Remote workers: processes on other machines (any language) that announce worker types over HTTP
-- and pull their tasks (POST /api/tasks/poll). See docs/remote-workers.md.

-- A remote worker type: its definition (the WorkerDefinition shape), as last announced.
CREATE TABLE stitch_remote_types (
  type          text PRIMARY KEY,
  definition    jsonb NOT NULL,
  lease_seconds integer NOT NULL CHECK (lease_seconds BETWEEN 2 AND 3600),
  registered_at timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A remote worker process (its own id), the types it serves and when it was last heard from.
CREATE TABLE stitch_remote_workers (
  worker_id    text PRIMARY KEY,
  types        text[] NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- One row per attempt of a remote node instance, written in the commit that marked it running.
--   ready ──poll──▶ leased ──complete/fail──▶ done
--     │               └──lease or deadline past──▶ expired   (the attempt fails; retry policy)
--     └──deadline past──▶ expired;  ready with the node no longer at this attempt ──poll──▶ stale
CREATE TABLE stitch_remote_tasks (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  run_id        uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  version_id    uuid NOT NULL,
  instance_id   text NOT NULL,
  attempt       integer NOT NULL,
  type          text NOT NULL,
  config        jsonb NOT NULL,
  input         jsonb NOT NULL,
  state         text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'done', 'expired', 'stale')),
  lease_seconds integer NOT NULL,
  -- The node's timeout: no lease extends past it.
  deadline_at   timestamptz NOT NULL,
  worker_id     text,
  leased_until  timestamptz,
  -- clock_timestamp(), not now(): the pickup latency (bench remote_pickup_ms) is measured from it.
  ready_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_at    timestamptz,
  UNIQUE (run_id, instance_id, attempt)
);
CREATE INDEX stitch_remote_tasks_ready ON stitch_remote_tasks (type, ready_at) WHERE state = 'ready';

-- A remote node's attempt becomes a task: pending → running (the engine's own transition, without a
-- callback-deadline job: the task's lease job enforces the timeout), the task row, a lease job at
-- the deadline and a NOTIFY that wakes long-polls for the type, all in one commit.
CREATE FUNCTION stitch_enqueue_remote_task(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb,
  p_type text, p_config jsonb, p_lease_seconds integer, p_timeout_seconds double precision
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  task_id uuid;
  deadline timestamptz := now() + make_interval(secs => p_timeout_seconds);
BEGIN
  IF NOT stitch_mark_running(p_run_id, p_version_id, p_instance_id, p_attempt, p_input, NULL) THEN
    RETURN false;
  END IF;
  INSERT INTO stitch_remote_tasks (run_id, version_id, instance_id, attempt, type, config, input, lease_seconds, deadline_at)
  VALUES (p_run_id, p_version_id, p_instance_id, p_attempt, p_type, p_config, p_input, p_lease_seconds, deadline)
  ON CONFLICT (run_id, instance_id, attempt) DO NOTHING
  RETURNING id INTO task_id;
  IF task_id IS NOT NULL THEN
    PERFORM graphile_worker.add_job('stitch_remote_lease', json_build_object('t', task_id), run_at => deadline, max_attempts => 5);
    PERFORM pg_notify('stitch_tasks', p_type);
  END IF;
  RETURN true;
END $$;
