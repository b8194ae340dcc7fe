-- 0004_node_vocabulary: splitter/collector scopes, switch routing (skipped branches), UX gates.
--
-- Item instances. A splitter instance `s` (item path p) that fans out N items writes, in one
-- statement: one completed *item row* per item (`s[i]`, node s, path p||i, output = the item),
-- the collector's instance `c` (path p) with `needed` = N × in-degree(c), every per-item instance of
-- the splitter's children that may start, and one add_jobs for all of them. Nodes inside the scope
-- read the item from the item row exactly as they read any upstream output (same item path).
--
-- Arrivals carry `live`: an edge of a switch case not taken, or out of a skipped node, arrives
-- without data. An instance whose arrivals are complete but none live is skipped (it settles as
-- `skipped`, passing dead arrivals on); with at least one live arrival it runs on what arrived.
--
-- Concurrency window (`config.concurrency`): only the first k items are released at fan-out. Each
-- item row counts its branch's arrivals at the collector; when an item's count is complete, the
-- same transaction releases the next item (the splitter row's `released` counter, under the
-- collector row's lock that every such arrival takes first).

-- Fan-in shards. 10,000 items arriving at one collector row would serialise every item's commit
-- on that row's lock (each waits for the previous commit's WAL flush: ~250 items/s measured).
-- Item i's arrivals count on shard i % 32 of its collector instance instead; only a shard that
-- completes arrives at the collector row (needed = number of shards), so concurrent items commit
-- in parallel and the collector still becomes ready in exactly one transaction.
CREATE TABLE stitch_fan_in (
  run_id      uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  -- the collector instance
  instance_id text NOT NULL,
  shard       integer NOT NULL,
  arrived     integer NOT NULL DEFAULT 0,
  needed      integer NOT NULL,
  PRIMARY KEY (run_id, instance_id, shard)
);

ALTER TABLE stitch_node_runs
  -- Arrivals before the instance can run, when not the node's in-degree (collectors: items × in-degree).
  ADD COLUMN needed integer,
  -- Splitter instances: how many items the fan-out produced, and how many were released so far.
  ADD COLUMN item_count integer,
  ADD COLUMN released integer;

-- `node`, `node[3]`, `node[3][0]`: the same rule as instanceIdOf() in src/lib/engine/instances.ts.
CREATE FUNCTION stitch_instance_id(p_node text, p_path integer[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_node || coalesce((SELECT string_agg('[' || x || ']', '' ORDER BY o)
                             FROM unnest(p_path) WITH ORDINALITY AS u(x, o)), '')
$$;

-- Shallow merge of JSON objects in aggregation order (the input-merge rule, for collector results).
CREATE AGGREGATE stitch_jsonb_merge(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb, INITCOND = '{}');

-- Deliver arrivals: [{i, n, p, c, l?, d?, k?}] (instance, node, item path, arrivals, live arrivals
-- (default c), needed (NULL: the row's `needed`), item index for arrivals at a collector from
-- inside its scope: counted on fan-in shard k % 32 first). Returns {ready: [{i}], touched}:
-- `touched` when any pending instance or shard received an arrival (the run still has open work).
CREATE FUNCTION stitch_arrive(p_run_id uuid, p_arrivals jsonb) RETURNS jsonb
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
           (x ->> 'd')::int AS needed
    FROM jsonb_array_elements(direct) AS x
  ), up AS (
    INSERT INTO stitch_node_runs AS t (run_id, instance_id, node_id, item_path, status, arrived, live)
    SELECT p_run_id, d.instance_id, d.node_id, d.item_path, 'pending', d.arrive, d.live FROM d
    ON CONFLICT (run_id, instance_id) DO UPDATE
      SET arrived = t.arrived + excluded.arrived, live = t.live + excluded.live, updated_at = now()
      WHERE t.status = 'pending'
    RETURNING t.instance_id, t.arrived, t.needed
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('i', up.instance_id))
                    FILTER (WHERE up.arrived >= coalesce(up.needed, d.needed)), '[]'),
         count(*) > 0
    INTO ready, touched
  FROM up JOIN d USING (instance_id);
  RETURN jsonb_build_object('ready', ready, 'touched', touched OR shard_touched);
END $$;

-- The arrivals that start item `j` of a fanned-out splitter instance (its children at path p||j,
-- plus direct splitter → collector edges), from the fan-out spec stored on the splitter row.
CREATE FUNCTION stitch_item_arrivals(p_spec jsonb, p_path integer[], p_from integer, p_to integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('i', stitch_instance_id(ch ->> 'n', p_path || j), 'n', ch ->> 'n',
                    'p', to_jsonb(p_path || j), 'c', (ch ->> 'c')::int, 'd', (ch ->> 'd')::int) ORDER BY j), '[]')
  FROM generate_series(p_from, p_to) AS j, jsonb_array_elements(p_spec -> 'children') AS ch
$$;

-- Item ticks from settling instances that arrive at a windowed collector:
--   [{item: item row id, c: arrivals, s: splitter instance id, d: arrivals that complete an item}]
-- Each completed item releases the next held one. Returns {ready, touched}.
CREATE FUNCTION stitch_release_items(p_run_id uuid, p_ticks jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  t jsonb;
  a integer;
  j integer;
  s_path integer[];
  spec jsonb;
  direct integer;
  res jsonb;
  ready jsonb := '[]';
  touched boolean := false;
BEGIN
  FOR t IN SELECT x FROM jsonb_array_elements(coalesce(p_ticks, '[]')) AS x LOOP
    UPDATE stitch_node_runs SET arrived = arrived + (t ->> 'c')::int
    WHERE run_id = p_run_id AND instance_id = t ->> 'item' RETURNING arrived INTO a;
    CONTINUE WHEN NOT FOUND OR a < (t ->> 'd')::int;
    UPDATE stitch_node_runs SET released = released + 1, updated_at = now()
    WHERE run_id = p_run_id AND instance_id = t ->> 's' AND released < item_count
    RETURNING released - 1, item_path, metadata -> 'fanout' INTO j, s_path, spec;
    CONTINUE WHEN NOT FOUND;
    direct := coalesce((spec ->> 'direct')::int, 0);
    res := stitch_arrive(p_run_id, stitch_item_arrivals(spec, s_path, j, j)
             || CASE WHEN direct > 0 THEN jsonb_build_array(jsonb_build_object(
                  'i', stitch_instance_id(spec ->> 'collector', s_path), 'n', spec ->> 'collector',
                  'p', to_jsonb(s_path), 'c', direct, 'k', j)) ELSE '[]' END);
    IF direct > 0 THEN
      UPDATE stitch_node_runs SET arrived = arrived + direct
      WHERE run_id = p_run_id AND instance_id = stitch_instance_id(spec ->> 'splitter', s_path || j);
    END IF;
    ready := ready || (res -> 'ready');
    touched := touched OR (res ->> 'touched')::boolean;
  END LOOP;
  RETURN jsonb_build_object('ready', ready, 'touched', touched);
END $$;

-- Append events, with or without the NOTIFY. NOTIFY takes a database-wide lock from pre-commit to
-- the end of commit, so notifying transactions commit one at a time: 10,000 item settles that each
-- notified ran at half the speed of ones that did not (35 s vs 17 s measured). Item settles append
-- their events silently and the process notifies once per run shortly after (notify-soon.ts).
CREATE FUNCTION stitch_emit(p_run_id uuid, p_events jsonb, p_notify boolean) RETURNS bigint
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
  IF p_notify THEN
    PERFORM pg_notify('stitch_events', json_build_object('runId', p_run_id, 'id', last_id)::text);
  END IF;
  RETURN last_id;
END $$;

-- 0001's two-argument form: append and notify (one implementation).
CREATE OR REPLACE FUNCTION stitch_emit(p_run_id uuid, p_events jsonb) RETURNS bigint
LANGUAGE sql AS $$ SELECT stitch_emit(p_run_id, p_events, true) $$;

-- Enqueue ready instances, append the settle's events, and finish the run when nothing is open.
-- Anything that becomes ready, and a finishing run, always notify at commit.
CREATE FUNCTION stitch_after_settle(
  p_run_id uuid, p_version_id uuid, p_events jsonb, p_ready jsonb, p_touched boolean, p_output_nodes text[],
  p_notify boolean DEFAULT true
) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM stitch_enqueue_execute(p_run_id, p_version_id, p_ready, NULL);
  PERFORM stitch_emit(p_run_id, p_events
            || coalesce((SELECT jsonb_agg(jsonb_build_object('instanceId', r ->> 'i', 'type', 'node:pending',
                           'payload', jsonb_build_object('attempt', 1)))
                         FROM jsonb_array_elements(p_ready) AS r), '[]'),
          p_notify OR jsonb_array_length(p_ready) > 0 OR NOT p_touched);
  -- An instance that just received an arrival is open: the run cannot be finishing, and the run
  -- row lock stitch_maybe_finish_run takes would only serialise concurrent settles.
  IF jsonb_array_length(p_ready) = 0 AND NOT p_touched THEN
    RETURN stitch_maybe_finish_run(p_run_id, p_output_nodes);
  END IF;
  RETURN NULL;
END $$;

-- Settle an instance: completed, failed (continueOnError, or an item error a collector collects),
-- or skipped (every arrival dead). One statement: compare-and-set, arrivals, item releases, jobs,
-- events, run completion. p_extra: {metadata?: merged into the row, ticks?: item ticks,
-- notify?: false to leave the NOTIFY to the caller (item instances; see stitch_emit above)}.
-- Returns {ok, ready, run}; ok=false when the compare-and-set refused (nothing changed).
CREATE FUNCTION stitch_settle_node(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text,
  p_output jsonb, p_error text, p_input jsonb, p_started_at timestamptz, p_merge boolean,
  p_downstream jsonb, p_output_nodes text[], p_completion_hash text, p_extra jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  arr jsonb;
  rel jsonb;
  ready jsonb;
  run_status text;
BEGIN
  UPDATE stitch_node_runs n
  SET status = p_status,
      output = CASE WHEN p_merge AND jsonb_typeof(n.output) = 'object' AND jsonb_typeof(p_output) = 'object'
                    THEN n.output || p_output ELSE p_output END,
      error = p_error,
      input = coalesce(n.input, p_input),
      started_at = CASE WHEN p_status = 'skipped' THEN n.started_at ELSE coalesce(n.started_at, p_started_at, now()) END,
      finished_at = now(),
      updated_at = now(),
      progress = CASE WHEN p_status = 'completed' THEN 1 ELSE n.progress END,
      metadata = n.metadata || coalesce(p_extra -> 'metadata', '{}')
                 || CASE WHEN p_completion_hash IS NULL THEN '{}'::jsonb
                         ELSE jsonb_build_object('completionHash', p_completion_hash) END
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND (n.status IN ('pending', 'running', 'waiting_for_user') AND p_status IN ('completed', 'failed')
         OR n.status = 'pending' AND p_status = 'skipped')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running');
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;

  arr := stitch_arrive(p_run_id, p_downstream);
  rel := stitch_release_items(p_run_id, p_extra -> 'ticks');
  ready := (arr -> 'ready') || (rel -> 'ready');
  run_status := stitch_after_settle(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:' || p_status,
      'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt, 'status', p_status, 'error', p_error,
                   'case', p_extra #> '{metadata,case}')))),
    ready, (arr ->> 'touched')::boolean OR (rel ->> 'touched')::boolean, p_output_nodes,
    coalesce((p_extra ->> 'notify')::boolean, true));
  RETURN jsonb_build_object('ok', true, 'ready', ready, 'run', run_status);
END $$;

-- 0001's signature, kept for callers that pass no extras: one implementation of settling.
CREATE OR REPLACE FUNCTION stitch_settle_node(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text,
  p_output jsonb, p_error text, p_input jsonb, p_started_at timestamptz, p_merge boolean,
  p_downstream jsonb, p_output_nodes text[], p_completion_hash text
) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT stitch_settle_node(p_run_id, p_version_id, p_instance_id, p_attempt, p_status, p_output, p_error, p_input,
                            p_started_at, p_merge, p_downstream, p_output_nodes, p_completion_hash, NULL::jsonb)
$$;

-- A splitter instance fans out its items (see the top of this file). p_spec:
--   {splitter, collector, children: [{n, c, d}], direct, collectorIn, window}
-- p_item_key: put each item under this field (NULL: the item itself is the item row's output).
-- Returns {ok, items, ready: count, run}.
CREATE FUNCTION stitch_fan_out(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_items jsonb, p_item_key text,
  p_input jsonb, p_started_at timestamptz, p_spec jsonb, p_output_nodes text[]
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  n integer := jsonb_array_length(p_items);
  direct integer := coalesce((p_spec ->> 'direct')::int, 0);
  win integer;
  s_node text;
  s_path integer[];
  c_id text;
  c_ready boolean;
  arr jsonb;
  ready jsonb;
  run_status text;
BEGIN
  win := CASE WHEN jsonb_array_length(p_spec -> 'children') = 0 THEN n
              ELSE least(n, coalesce((p_spec ->> 'window')::int, n)) END;
  UPDATE stitch_node_runs
  SET status = 'completed', output = jsonb_build_object('count', n), input = coalesce(input, p_input),
      started_at = coalesce(started_at, p_started_at, now()), finished_at = now(), updated_at = now(),
      progress = 1, item_count = n, released = win, metadata = metadata || jsonb_build_object('fanout', p_spec)
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
    AND status IN ('pending', 'running')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING node_id, item_path INTO s_node, s_path;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;

  INSERT INTO stitch_node_runs (run_id, instance_id, node_id, item_path, status, output, arrived,
                                started_at, finished_at, progress)
  SELECT p_run_id, stitch_instance_id(s_node, s_path || (x.ord - 1)::int), s_node, s_path || (x.ord - 1)::int,
         'completed', CASE WHEN p_item_key IS NULL THEN x.value ELSE jsonb_build_object(p_item_key, x.value) END,
         CASE WHEN x.ord <= win THEN direct ELSE 0 END, now(), now(), 1
  FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(value, ord);

  -- The collector waits for every shard; `live` = 1: it runs (even on no items) unless the
  -- splitter itself was skipped.
  -- Shard s counts items i ≡ s (mod 32): ceil((n - s) / 32) of them, of which the first `win` are
  -- released (their direct splitter → collector edges have arrived already).
  c_id := stitch_instance_id(p_spec ->> 'collector', s_path);
  WITH shards AS (
    INSERT INTO stitch_fan_in (run_id, instance_id, shard, arrived, needed)
    SELECT p_run_id, c_id, sh, greatest(0, (win - sh + 31) / 32) * direct, ((n - sh + 31) / 32) * (p_spec ->> 'collectorIn')::int
    FROM generate_series(0, least(n, 32) - 1) AS sh
    RETURNING arrived >= needed AS done
  )
  INSERT INTO stitch_node_runs (run_id, instance_id, node_id, item_path, status, arrived, live, needed)
  SELECT p_run_id, c_id, p_spec ->> 'collector', s_path, 'pending', count(*) FILTER (WHERE done), 1, least(n, 32)
  FROM shards
  RETURNING arrived >= needed INTO c_ready;

  arr := stitch_arrive(p_run_id, CASE WHEN win > 0 THEN stitch_item_arrivals(p_spec, s_path, 0, win - 1) ELSE '[]' END);
  ready := (arr -> 'ready') || CASE WHEN c_ready THEN jsonb_build_array(jsonb_build_object('i', c_id)) ELSE '[]' END;
  run_status := stitch_after_settle(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:completed',
      'payload', jsonb_build_object('attempt', p_attempt, 'status', 'completed', 'items', n, 'released', win))),
    ready, true, p_output_nodes);
  RETURN jsonb_build_object('ok', true, 'items', n, 'ready', jsonb_array_length(ready), 'run', run_status);
END $$;

-- A collector instance settles with its items' results in item order. p_spec:
--   {splitter, results: [node ids, edge order], field: text[] | null, policy: 'fail'|'collect',
--    members: [scope nodes whose failures are item errors], as: text | null}
-- Output: the results array (or {<as>: results}); with policy `collect`, {<as|results>: results,
-- errors: [{index, instanceId, nodeId, error}]} where a failed item's result is null.
CREATE FUNCTION stitch_collect(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_spec jsonb,
  p_started_at timestamptz, p_downstream jsonb, p_output_nodes text[], p_extra jsonb
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  c_path integer[];
  k integer;
  result_nodes text[] := ARRAY(SELECT jsonb_array_elements_text(p_spec -> 'results'));
  field text[] := CASE WHEN p_spec -> 'field' IS NULL OR p_spec -> 'field' = 'null' THEN NULL
                       ELSE ARRAY(SELECT jsonb_array_elements_text(p_spec -> 'field')) END;
  results jsonb;
  errors jsonb;
  out jsonb;
BEGIN
  SELECT item_path INTO c_path FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id;
  k := cardinality(c_path);
  -- One grouped scan: the splitter's item rows give every index (an item whose branch delivered
  -- nothing gets null); the result nodes' rows give the values, merged in edge order.
  SELECT coalesce(jsonb_agg(CASE WHEN field IS NULL THEN v ELSE v #> field END ORDER BY idx), '[]')
    INTO results
  FROM (
    SELECT r.item_path[k + 1] AS idx,
           CASE WHEN count(*) FILTER (WHERE r.delivered) = 0 THEN NULL
                WHEN cardinality(result_nodes) = 1 THEN (array_agg(r.output) FILTER (WHERE r.delivered))[1]
                ELSE stitch_jsonb_merge(CASE WHEN jsonb_typeof(r.output) = 'object' THEN r.output
                                             ELSE jsonb_build_object(r.node_id, r.output) END
                                        ORDER BY array_position(result_nodes, r.node_id)) FILTER (WHERE r.delivered) END AS v
    FROM (
      SELECT item_path, node_id, output,
             node_id = ANY (result_nodes)
               AND (status = 'completed' OR (status = 'failed' AND metadata ->> 'itemError' IS NULL)) AS delivered
      FROM stitch_node_runs
      WHERE run_id = p_run_id AND (node_id = ANY (result_nodes) OR node_id = p_spec ->> 'splitter')
        AND cardinality(item_path) = k + 1 AND item_path[1:k] = c_path
    ) AS r
    GROUP BY 1
  ) AS per_item;

  IF p_spec ->> 'policy' = 'collect' THEN
    SELECT coalesce(jsonb_agg(jsonb_build_object('index', item_path[k + 1], 'instanceId', instance_id,
                                                 'nodeId', node_id, 'error', error)
                              ORDER BY item_path[k + 1], instance_id), '[]')
      INTO errors
    FROM stitch_node_runs
    WHERE run_id = p_run_id AND node_id IN (SELECT jsonb_array_elements_text(p_spec -> 'members'))
      AND status = 'failed' AND metadata ->> 'itemError' = 'collected'
      AND cardinality(item_path) = k + 1 AND item_path[1:k] = c_path;
    out := jsonb_build_object(coalesce(p_spec ->> 'as', 'results'), results, 'errors', errors);
  ELSE
    out := CASE WHEN p_spec ->> 'as' IS NULL THEN results ELSE jsonb_build_object(p_spec ->> 'as', results) END;
  END IF;
  RETURN stitch_settle_node(p_run_id, p_version_id, p_instance_id, p_attempt, 'completed', out, NULL, NULL,
                            p_started_at, false, p_downstream, p_output_nodes, NULL, p_extra);
END $$;

-- pending → waiting_for_user for a UX gate: stores its input and prompt, schedules the optional
-- answer deadline (`stitch_ux_deadline` job) and announces `node:waiting`.
CREATE FUNCTION stitch_wait_for_user(
  p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb, p_metadata jsonb,
  p_deadline_seconds double precision
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz;
BEGIN
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
      NULL, deadline, 5, NULL, NULL, NULL)::graphile_worker.job_spec]);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:waiting', 'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt,
          'prompt', p_metadata -> 'prompt', 'deadlineAt', deadline)))));
  RETURN true;
END $$;
