-- A leaner hop (issue 11): fewer rows, index entries and locks per node settle, measured with
-- pg_waldump over the benchmark's chain phase (docs/benchmarks.md).
--
-- 1. Fingerprints are set by the statements that complete a node, not by a BEFORE UPDATE trigger:
--    any BEFORE ROW trigger makes every UPDATE of stitch_node_runs lock the old tuple first (one
--    Heap/LOCK WAL record and its CPU per settle), whether or not its WHEN clause then matches.
-- 2. The fingerprint index holds splitter items only: a top-level instance is found by its
--    instance id (the primary key), so only content matching across items needs the index.
-- 3. A successor claimed for eager dispatch gets no `node:pending` event: it is executed at once by
--    the runner that claimed it, and its next event (completed, failed, running) follows within
--    the same moment. Its settle also does not force a NOTIFY: the settle that ends the chain does.
-- 4. Two function calls fewer in every settle (pg_stat_statements.track = all over the chain
--    phase): the run lock is taken inline, and item releases are looked at only when the settle
--    carries ticks (items of a windowed fan-out).

DROP TRIGGER stitch_node_runs_fingerprint ON stitch_node_runs;
DROP FUNCTION stitch_set_fingerprint();

-- The fingerprint of a node instance completing with `p_input`, when its version's static hashes
-- were stored (src/lib/rerun/fingerprint.ts); else NULL (the instance is then never reused).
CREATE FUNCTION stitch_fingerprint_of(p_version_id uuid, p_node_id text, p_input jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT stitch_input_fingerprint(f.static_hash, p_input)
  FROM stitch_node_fingerprints f WHERE f.version_id = p_version_id AND f.node_id = p_node_id
$$;

DROP INDEX stitch_node_runs_fingerprint_idx;
CREATE INDEX stitch_node_runs_item_fingerprint_idx ON stitch_node_runs (run_id, node_id, fingerprint)
  WHERE fingerprint IS NOT NULL AND item_path <> '{}';

CREATE OR REPLACE FUNCTION stitch_after_settle(
  p_run_id uuid, p_version_id uuid, p_events jsonb, p_ready jsonb, p_touched boolean, p_output_nodes text[],
  p_notify boolean DEFAULT true
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  queued jsonb := coalesce((SELECT jsonb_agg(r) FROM jsonb_array_elements(p_ready) AS r WHERE NOT r ? 'e'), '[]');
BEGIN
  PERFORM stitch_enqueue_execute(p_run_id, p_version_id, queued, NULL);
  PERFORM stitch_emit(p_run_id, p_events
            || coalesce((SELECT jsonb_agg(jsonb_build_object('instanceId', r ->> 'i', 'type', 'node:pending',
                           'payload', jsonb_build_object('attempt', 1)))
                         FROM jsonb_array_elements(queued) AS r), '[]'),
          p_notify OR jsonb_array_length(queued) > 0 OR NOT p_touched);
  -- An instance that just received an arrival is open: the run cannot be finishing, and the run
  -- row lock stitch_maybe_finish_run takes would only serialise concurrent settles.
  IF jsonb_array_length(p_ready) = 0 AND NOT p_touched THEN
    RETURN stitch_maybe_finish_run(p_run_id, p_output_nodes);
  END IF;
  RETURN NULL;
END $$;

-- Changed: the fingerprint is set here (1. above), the lock and the item releases (4.).
CREATE OR REPLACE FUNCTION stitch_settle_node(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text, p_output jsonb, p_error text, p_input jsonb, p_started_at timestamp with time zone, p_merge boolean, p_downstream jsonb, p_output_nodes text[], p_completion_hash text, p_extra jsonb)
RETURNS jsonb
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
  -- stitch_lock_run(p_run_id, false), inlined: it runs for every settle.
  PERFORM pg_advisory_xact_lock_shared(57174, hashtext(p_run_id::text));
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
      fingerprint = CASE WHEN p_status = 'completed' AND n.fingerprint IS NULL
                         THEN stitch_fingerprint_of(p_version_id, n.node_id, coalesce(n.input, p_input))
                         ELSE n.fingerprint END,
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
    IF jsonb_array_length(coalesce(p_extra -> 'ticks', '[]')) > 0 THEN -- items of a windowed fan-out only
      rel := stitch_release_items(p_run_id, p_extra -> 'ticks');
    END IF;
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


-- Unchanged but for the splitter's fingerprint, set here now (see 1. above).
CREATE OR REPLACE FUNCTION stitch_fan_out(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_items jsonb, p_item_key text, p_input jsonb, p_started_at timestamp with time zone, p_spec jsonb, p_output_nodes text[])
RETURNS jsonb
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
      progress = 1, item_count = n, released = win, metadata = metadata || jsonb_build_object('fanout', p_spec),
      fingerprint = coalesce(fingerprint, stitch_fingerprint_of(p_version_id, node_id, coalesce(input, p_input)))
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

