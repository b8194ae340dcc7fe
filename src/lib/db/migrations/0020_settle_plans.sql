-- Less work for PostgreSQL on every settle, found with `perf` on the chain benchmark: about a tenth
-- of the backends' CPU was the planner (1–3), and a fifth starting executors for small statements (4).
--
-- 1. The settle statement (src/lib/db/queries/settle.ts) completed its queue jobs in a CASE around
--    a subquery on graphile_worker.complete_jobs. For a statement without jobs (most of them) the
--    custom plan drops that subquery, so its cost stayed below the generic plan's and the plan
--    cache chose a custom plan — a new plan — for every execution (pg_prepared_statements showed
--    custom_plans only). One function call has one plan, generic after five executions: the
--    batch function now completes the jobs and chooses the commit's durability itself.
-- 2. stitch_fingerprint_of, a SQL function that reads a table, cannot be inlined, and a SQL
--    function's body is planned again for every execution of the statement calling it (the settle's
--    UPDATE). As PL/pgSQL its query plan is kept for the session.

DROP FUNCTION stitch_settle_batch(jsonb);
CREATE FUNCTION stitch_settle_batch(p_items jsonb, p_job_ids bigint[], p_async_commit boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  x record;
  results jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_items)]);
BEGIN
  FOR x IN SELECT value AS v, ordinality AS n FROM jsonb_array_elements(p_items) WITH ORDINALITY
           ORDER BY value ->> 'run', ordinality LOOP
    results[x.n] := stitch_settle_item(x.v);
  END LOOP;
  -- The queue jobs that executed these settles end in the same commit.
  IF p_job_ids IS NOT NULL THEN
    PERFORM graphile_worker.complete_jobs(p_job_ids);
  END IF;
  IF p_async_commit THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  RETURN to_jsonb(results);
END $$;

CREATE OR REPLACE FUNCTION stitch_fingerprint_of(p_version_id uuid, p_node_id text, p_input jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT stitch_input_fingerprint(f.static_hash, p_input)
          FROM stitch_node_fingerprints f WHERE f.version_id = p_version_id AND f.node_id = p_node_id);
END $$;

-- 3. What a queued execution reads before it runs (src/lib/db/queries/execution-state.ts). As a
--    prepared statement it was planned anew for every execution, too: with the upstream ids as a
--    constant the planner counts their rows exactly, so a custom plan always looked cheaper than
--    the generic one (about 0.2 ms of planning per run's entry node). Here the generic plan is
--    forced, and written so that it stays right for any run: one primary-key lookup per upstream
--    instance (OFFSET 0 keeps the lateral subquery a loop), never a scan of the run's rows, which
--    inside a 10,000-item fan-out are many.
CREATE FUNCTION stitch_execution_state(p_run_id uuid, p_instance_id text, p_upstream text[], p_entry boolean)
RETURNS TABLE (run_status text, run_input jsonb, rerun jsonb, budget_usd double precision, status text,
               attempt integer, live integer, upstream jsonb)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
  -- The run input only for entry nodes: inside a fan-out it is the whole array of items.
  RETURN QUERY
  SELECT r.status, CASE WHEN p_entry THEN r.input END, r.rerun, r.budget_usd, n.status, n.attempt, n.live,
         (SELECT coalesce(jsonb_object_agg(u.node_id, jsonb_build_object('status', u.status, 'output', u.output)), '{}')
          FROM unnest(p_upstream) AS w(id),
               LATERAL (SELECT u.node_id, u.status, u.output FROM stitch_node_runs u
                        WHERE u.run_id = r.id AND u.instance_id = w.id OFFSET 0) AS u)
  FROM stitch_runs r JOIN stitch_node_runs n ON n.run_id = r.id
  WHERE r.id = p_run_id AND n.instance_id = p_instance_id;
END $$;

-- 4. A subquery in PL/pgSQL (`x := (SELECT ...)`) is a statement: an executor is started for it,
--    every time. The ones each settle ran only to filter or convert a small JSON array are now plain
--    expressions: jsonpath filters, and stitch_text_array for the output nodes. A settle that makes
--    nothing ready for the queue (a claimed successor, or none) no longer calls
--    stitch_enqueue_execute nor builds `node:pending` events.
CREATE TYPE stitch_text_list AS (v text[]);
-- A JSON array of strings as text[], inlined where it is called (no subquery).
CREATE FUNCTION stitch_text_array(p jsonb) RETURNS text[]
LANGUAGE sql STABLE AS $$ SELECT (jsonb_populate_record(NULL::stitch_text_list, jsonb_build_object('v', p))).v $$;

CREATE OR REPLACE FUNCTION stitch_settle_item(p_item jsonb, p_hit stitch_cache_hit = NULL) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  x jsonb := p_item;
  result jsonb;
BEGIN
  IF p_hit IS NOT NULL THEN
    PERFORM stitch_emit((x ->> 'run')::uuid, jsonb_build_array(jsonb_build_object('instanceId', x ->> 'instance',
              'type', 'node:cached', 'payload', p_hit.origin - 'origin')), false);
    x := x || jsonb_build_object('output', p_hit.output,
           'extra', coalesce(x -> 'extra', '{}') || jsonb_build_object('metadata', coalesce(x #> '{extra,metadata}', '{}') || p_hit.origin));
  END IF;
  result := stitch_settle_node(
    (x ->> 'run')::uuid, (x ->> 'version')::uuid, x ->> 'instance', (x ->> 'attempt')::integer,
    x ->> 'status', x -> 'output', x ->> 'error', x -> 'input', (x ->> 'startedAt')::timestamptz,
    (x ->> 'merge')::boolean, x -> 'arrivals', stitch_text_array(x -> 'outputNodes'),
    x ->> 'hash', x -> 'extra');
  IF x ? 'chain' THEN
    result := stitch_settle_chain(x, result);
  END IF;
  RETURN result;
END $$;

CREATE OR REPLACE FUNCTION stitch_after_settle(
  p_run_id uuid, p_version_id uuid, p_events jsonb, p_ready jsonb, p_touched boolean, p_output_nodes text[],
  p_notify boolean DEFAULT true
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  queued jsonb := jsonb_path_query_array(p_ready, '$[*] ? (!exists(@.e))');
  events jsonb := p_events;
BEGIN
  IF jsonb_array_length(queued) > 0 THEN
    PERFORM stitch_enqueue_execute(p_run_id, p_version_id, queued, NULL);
    -- Queued instances are pending until a runner takes their job.
    events := events || (SELECT jsonb_agg(jsonb_build_object('instanceId', r ->> 'i', 'type', 'node:pending',
                                   'payload', jsonb_build_object('attempt', 1)))
                         FROM jsonb_array_elements(queued) AS r);
  END IF;
  PERFORM stitch_emit(p_run_id, events, p_notify OR jsonb_array_length(queued) > 0 OR NOT p_touched);
  IF jsonb_array_length(p_ready) = 0 AND NOT p_touched THEN
    RETURN stitch_maybe_finish_run(p_run_id, p_output_nodes);
  END IF;
  RETURN NULL;
END $$;

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
  direct := jsonb_path_query_array(p_arrivals, '$[*] ? (!exists(@.k))');
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
