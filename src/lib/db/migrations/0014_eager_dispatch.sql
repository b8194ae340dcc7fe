-- Eager dispatch (docs/architecture.md, "The hot path"): when a settle makes a cheap successor
-- ready, the runner that settled it may claim it in the same commit and execute it at once, without
-- a queue job. The claim is a lease on the node row: `leased_by` names the runner (its heartbeat
-- row in stitch_runners). If that runner dies, the sweeper turns the lease back into an ordinary
-- `stitch_execute` job; only attempt 1 of a new instance is ever claimed.
ALTER TABLE stitch_node_runs ADD COLUMN leased_by text;
-- Only open, leased rows: a settled row leaves the index with its status change.
CREATE INDEX stitch_node_runs_leased_idx ON stitch_node_runs (leased_by)
  WHERE leased_by IS NOT NULL AND status IN ('pending', 'running');

-- As in 0004, plus: an arrival carrying `e` (a runner id) creates its instance leased to that
-- runner, and the instance, once ready, is reported with `e` so that no job is added for it.
CREATE OR REPLACE FUNCTION stitch_arrive(p_run_id uuid, p_arrivals jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  ready jsonb;
  touched boolean;
  shard_touched boolean := false;
  direct jsonb;
BEGIN
  IF p_arrivals IS NULL OR jsonb_array_length(p_arrivals) = 0 THEN
    RETURN jsonb_build_object('ready', '[]'::jsonb, 'touched', false);
  END IF;
  direct := coalesce((SELECT jsonb_agg(x) FROM jsonb_array_elements(p_arrivals) AS x WHERE NOT x ? 'k'), '[]');
  IF jsonb_array_length(direct) < jsonb_array_length(p_arrivals) THEN
    WITH k AS (
      SELECT x ->> 'i' AS instance_id, x ->> 'n' AS node_id, x -> 'p' AS p, (x ->> 'k')::int % 32 AS shard,
             (x ->> 'c')::int AS arrive
      FROM jsonb_array_elements(p_arrivals) AS x WHERE x ? 'k'
    ), upd AS (
      UPDATE stitch_fan_in f SET arrived = f.arrived + k.arrive
      FROM k WHERE f.run_id = p_run_id AND f.instance_id = k.instance_id AND f.shard = k.shard
      RETURNING f.instance_id, f.shard, f.arrived >= f.needed AS done
    )
    SELECT count(*) > 0,
           direct || coalesce(jsonb_agg(jsonb_build_object('i', k.instance_id, 'n', k.node_id, 'p', k.p, 'c', 1, 'l', 0))
                                FILTER (WHERE upd.done), '[]')
      INTO shard_touched, direct
    FROM upd JOIN k USING (instance_id, shard);
  END IF;
  IF jsonb_array_length(direct) = 0 THEN
    RETURN jsonb_build_object('ready', '[]'::jsonb, 'touched', shard_touched);
  END IF;
  WITH d AS (
    SELECT x ->> 'i' AS instance_id, x ->> 'n' AS node_id,
           coalesce(ARRAY(SELECT jsonb_array_elements_text(x -> 'p'))::int[], '{}') AS item_path,
           (x ->> 'c')::int AS arrive, coalesce((x ->> 'l')::int, (x ->> 'c')::int) AS live,
           (x ->> 'd')::int AS needed, x ->> 'e' AS lease
    FROM jsonb_array_elements(direct) AS x
  ), up AS (
    INSERT INTO stitch_node_runs AS t (run_id, instance_id, node_id, item_path, status, arrived, live, leased_by)
    SELECT p_run_id, d.instance_id, d.node_id, d.item_path, 'pending', d.arrive, d.live, d.lease FROM d
    ON CONFLICT (run_id, instance_id) DO UPDATE
      SET arrived = t.arrived + excluded.arrived, live = t.live + excluded.live, updated_at = now(),
          leased_by = coalesce(excluded.leased_by, t.leased_by)
      WHERE t.status = 'pending'
    RETURNING t.instance_id, t.arrived, t.needed, t.leased_by
  )
  SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('i', up.instance_id, 'e', d.lease)))
                    FILTER (WHERE up.arrived >= coalesce(up.needed, d.needed)), '[]'),
         count(*) > 0
    INTO ready, touched
  FROM up JOIN d USING (instance_id);
  RETURN jsonb_build_object('ready', ready, 'touched', touched OR shard_touched);
END $$;

-- As in 0006, plus: when a successor was claimed (`e` in ready), the settled output as stored
-- (merged over what the attempt stored before) is returned for the claimed execution.
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
  stored jsonb;
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
  RETURNING n.settle_count, before.had, n.output INTO settles, had_deadline, stored;
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
  -- A successor claimed for eager dispatch gets the output as stored: it is that successor's input.
  RETURN jsonb_build_object('ok', true, 'ready', ready, 'run', run_status)
         || CASE WHEN jsonb_path_exists(ready, '$[*] ? (exists(@.e))') THEN jsonb_build_object('output', stored) ELSE '{}' END;
END $$;

-- As in 0001, except that an instance claimed by a runner (`e`) gets no job: that runner runs it.
-- add_jobs is not called for an empty list: even empty, it costs about as much as a settle.
CREATE OR REPLACE FUNCTION stitch_enqueue_execute(p_run_id uuid, p_version_id uuid, p_instances jsonb, p_run_at timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  specs graphile_worker.job_spec[];
BEGIN
  IF p_instances IS NULL OR jsonb_array_length(p_instances) = 0 THEN
    RETURN 0;
  END IF;
  specs := array(
    SELECT ROW('stitch_execute',
               json_build_object('r', p_run_id, 'v', p_version_id, 'i', x ->> 'i', 'a', coalesce((x ->> 'a')::int, 1)),
               NULL, p_run_at, 5, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM jsonb_array_elements(p_instances) AS x
    WHERE NOT x ? 'e'
  );
  IF cardinality(specs) > 0 THEN
    PERFORM graphile_worker.add_jobs(specs);
  END IF;
  RETURN jsonb_array_length(p_instances);
END $$;

-- Leases whose holder cannot run them become ordinary jobs again: those of runners without a
-- heartbeat row (dead and swept, or stopped), at once, and — `p_own` — this runner's own that it no
-- longer holds in memory (`p_held`; e.g. a claim whose commit succeeded but whose answer was lost)
-- once older than `p_min_age_seconds` (a younger one may be between its commit and `p_held`).
-- Only attempt 1 is ever leased: a retry (attempt 2+) already has its own job.
CREATE FUNCTION stitch_requeue_leases(p_own text, p_held text[], p_min_age_seconds double precision) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  WITH freed AS (
    UPDATE stitch_node_runs n SET leased_by = NULL
    FROM stitch_runs r
    WHERE r.id = n.run_id AND r.status = 'running'
      AND n.leased_by IS NOT NULL AND n.status IN ('pending', 'running') AND n.attempt = 1
      AND (n.leased_by = p_own AND NOT (n.run_id::text || '/' || n.instance_id = ANY (p_held))
             AND n.updated_at < now() - make_interval(secs => p_min_age_seconds)
           OR n.leased_by <> p_own AND NOT EXISTS (SELECT 1 FROM stitch_runners w WHERE w.id = n.leased_by))
    RETURNING n.run_id, r.version_id, n.instance_id
  )
  SELECT coalesce(sum(stitch_enqueue_execute(run_id, version_id, instances, NULL)), 0)
    INTO n
  FROM (SELECT run_id, version_id, jsonb_agg(jsonb_build_object('i', instance_id)) AS instances
        FROM freed GROUP BY run_id, version_id) q;
  RETURN n;
END $$;

-- One lease given back by its own runner (its execution could not finish: the database went away,
-- or the runner is stopping): the instance becomes an ordinary queue job.
CREATE FUNCTION stitch_hand_back_lease(p_run_id uuid, p_instance_id text, p_runner text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  version uuid;
BEGIN
  UPDATE stitch_node_runs n SET leased_by = NULL
  FROM stitch_runs r
  WHERE r.id = n.run_id AND r.status = 'running' AND n.run_id = p_run_id AND n.instance_id = p_instance_id
    AND n.leased_by = p_runner AND n.status IN ('pending', 'running') AND n.attempt = 1
  RETURNING r.version_id INTO version;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM stitch_enqueue_execute(p_run_id, version, jsonb_build_array(jsonb_build_object('i', p_instance_id)), NULL);
  RETURN true;
END $$;
