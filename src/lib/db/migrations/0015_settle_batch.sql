-- Several settles in one statement and one commit (src/lib/engine/settle-batch.ts): a process
-- whose settles queue up behind the one in flight sends them together. Items are settled in run
-- order (then in the order given), so that concurrent batches touching the same runs take their
-- locks in the same order; the results come back in the order given. Each item is exactly the
-- arguments of stitch_settle_node; a key left out is SQL NULL.
CREATE FUNCTION stitch_settle_batch(p_items jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  x record;
  results jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_items)]);
BEGIN
  FOR x IN SELECT value AS v, ordinality AS n FROM jsonb_array_elements(p_items) WITH ORDINALITY
           ORDER BY value ->> 'run', ordinality LOOP
    results[x.n] := stitch_settle_node(
      (x.v ->> 'run')::uuid, (x.v ->> 'version')::uuid, x.v ->> 'instance', (x.v ->> 'attempt')::integer,
      x.v ->> 'status', x.v -> 'output', x.v ->> 'error', x.v -> 'input', (x.v ->> 'startedAt')::timestamptz,
      (x.v ->> 'merge')::boolean, x.v -> 'arrivals', ARRAY(SELECT jsonb_array_elements_text(x.v -> 'outputNodes')),
      x.v ->> 'hash', x.v -> 'extra');
  END LOOP;
  RETURN to_jsonb(results);
END $$;
