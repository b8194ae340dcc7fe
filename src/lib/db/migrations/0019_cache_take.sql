-- Step-cache hits without a round trip of their own (src/lib/cache/step-cache.ts,
-- src/lib/engine/cached-chain.ts).
--
-- 1. The key is computed here: a prefix from the engine (the node's static fingerprint and the
--    identity of the credentials it reads, src/lib/cache/cache-key.ts) and the input's jsonb text
--    (canonical), so that a settle statement can compute the key of a successor it makes ready.
-- 2. stitch_cache_take: a hit is one statement and one commit — the lookup, the `node:cached`
--    event, the settle with the stored output (the JSON item stitch_settle_batch takes) and the
--    completion of the queue job that executed it. A miss claims the flight, as before.
-- 3. stitch_settle_batch continues an item's settle down its `chain`: successors claimed for eager
--    dispatch that are cached workers taking their one upstream's output as input. Each one whose
--    entry is ready is settled from it in the same statement; the first miss stays claimed and the
--    runner executes it.

CREATE FUNCTION stitch_cache_key(p_prefix text, p_input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(p_prefix || '|' || coalesce(p_input, 'null'::jsonb)::text, 'UTF8')), 'hex')
$$;

-- The ready, unexpired entry for a key, and the metadata a node completed from it carries.
CREATE TYPE stitch_cache_hit AS (output jsonb, origin jsonb);
CREATE FUNCTION stitch_cache_lookup(p_key text) RETURNS stitch_cache_hit
LANGUAGE sql STABLE AS $$
  SELECT ROW(c.output, jsonb_build_object('origin', 'cached', 'reusedFrom', jsonb_build_object('runId', c.run_id, 'instanceId', c.instance_id),
                                      'savedUsd', c.usd))::stitch_cache_hit
  FROM stitch_cache c
  WHERE c.key = p_key AND c.status = 'ready' AND (c.expires_at IS NULL OR c.expires_at > now())
$$;

-- Settle one item (the arguments of stitch_settle_node as JSON), completed from a cache entry when
-- `p_hit` is given (the `node:cached` event first, the origin in the node's metadata); then the
-- item's chain of cached successors, if it has one.
CREATE FUNCTION stitch_settle_item(p_item jsonb, p_hit stitch_cache_hit = NULL) RETURNS jsonb
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
    (x ->> 'merge')::boolean, x -> 'arrivals', ARRAY(SELECT jsonb_array_elements_text(x -> 'outputNodes')),
    x ->> 'hash', x -> 'extra');
  IF x ? 'chain' THEN
    result := stitch_settle_chain(x, result);
  END IF;
  RETURN result;
END $$;

-- After an item's settle: its chain of cached successors (3. above). Returns the last settle's
-- result, with `last` naming the instance it settled when the chain went past the item.
CREATE FUNCTION stitch_settle_chain(p_item jsonb, p_result jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  result jsonb := p_result;
  step jsonb;
  input jsonb;
  hit stitch_cache_hit;
  settled jsonb;
BEGIN
  -- A re-run's nodes look for the source run's output first (src/lib/rerun): not here.
  IF (SELECT rerun FROM stitch_runs WHERE id = (p_item ->> 'run')::uuid) IS NOT NULL THEN
    RETURN p_result;
  END IF;
  FOR step IN SELECT value FROM jsonb_array_elements(p_item -> 'chain') LOOP
    EXIT WHEN NOT coalesce((result ->> 'ok')::boolean, false)
           OR NOT jsonb_path_exists(result -> 'ready', '$[*] ? (@.i == $i && exists(@.e))', jsonb_build_object('i', step -> 'i'));
    -- The input as mergeInput makes it from one upstream without a mapping (engine/merge-input.ts).
    input := CASE WHEN jsonb_typeof(result -> 'output') = 'object' THEN result -> 'output'
                  WHEN result -> 'output' IS NULL OR result -> 'output' = 'null' THEN '{}'
                  ELSE jsonb_build_object(step ->> 'from', result -> 'output') END;
    hit := stitch_cache_lookup(stitch_cache_key(step ->> 'prefix', input));
    EXIT WHEN hit.origin IS NULL;
    settled := stitch_settle_item(jsonb_build_object(
      'run', p_item -> 'run', 'version', p_item -> 'version', 'instance', step -> 'i', 'attempt', 1,
      'status', 'completed', 'input', input, 'merge', false, 'arrivals', step -> 'arrivals',
      'outputNodes', p_item -> 'outputNodes', 'extra', jsonb_build_object('notify', false)), hit);
    EXIT WHEN NOT (settled ->> 'ok')::boolean;
    result := settled || jsonb_build_object('last', step -> 'i');
  END LOOP;
  RETURN result;
END $$;

CREATE OR REPLACE FUNCTION stitch_settle_batch(p_items jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  x record;
  results jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_items)]);
BEGIN
  FOR x IN SELECT value AS v, ordinality AS n FROM jsonb_array_elements(p_items) WITH ORDINALITY
           ORDER BY value ->> 'run', ordinality LOOP
    results[x.n] := stitch_settle_item(x.v);
  END LOOP;
  RETURN to_jsonb(results);
END $$;

-- Returns {claimed: true} (this node executes and its settle fills the entry), {settled: <the
-- settle's result>} for a hit, or the entry's state ({status: 'running', ...}: another node's
-- flight, to wait for).
CREATE FUNCTION stitch_cache_take(
  p_prefix text, p_input jsonb, p_worker_type text, p_run_id uuid, p_instance_id text, p_attempt integer,
  p_ttl_seconds double precision, p_settle jsonb, p_job_id bigint, p_async_commit boolean
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  k text := stitch_cache_key(p_prefix, p_input);
  claimed boolean;
  hit stitch_cache_hit;
  settled jsonb;
  flight stitch_cache%ROWTYPE;
BEGIN
  INSERT INTO stitch_cache AS c (key, worker_type, status, run_id, instance_id, attempt, ttl_seconds)
  VALUES (k, p_worker_type, 'running', p_run_id, p_instance_id, p_attempt, p_ttl_seconds)
  ON CONFLICT (key) DO UPDATE
    SET status = 'running', output = NULL, usd = 0, run_id = excluded.run_id, instance_id = excluded.instance_id,
        attempt = excluded.attempt, ttl_seconds = excluded.ttl_seconds, created_at = now(), expires_at = NULL
    WHERE (c.status = 'ready' AND c.expires_at <= now())
       OR (c.status = 'running' AND c.run_id = excluded.run_id AND c.instance_id = excluded.instance_id)
  RETURNING true INTO claimed;
  IF claimed THEN
    -- The flight ends with this node's settle (stitch_end_cache_flight finds it by this key).
    UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('cacheKey', k)
    WHERE run_id = p_run_id AND instance_id = p_instance_id;
    RETURN jsonb_build_object('claimed', true);
  END IF;

  hit := stitch_cache_lookup(k);
  IF hit.origin IS NOT NULL THEN
    settled := stitch_settle_item(p_settle, hit);
    IF (settled ->> 'ok')::boolean AND p_job_id IS NOT NULL THEN
      PERFORM graphile_worker.complete_jobs(ARRAY[p_job_id]);
    END IF;
    IF p_async_commit THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    RETURN jsonb_build_object('claimed', false, 'status', 'ready', 'settled', settled);
  END IF;
  SELECT * INTO flight FROM stitch_cache WHERE key = k;
  RETURN jsonb_build_object('claimed', false, 'status', flight.status, 'runId', flight.run_id, 'instanceId', flight.instance_id);
END $$;
