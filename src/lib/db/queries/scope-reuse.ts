/**
 * Reusing a whole splitter scope from a re-run's source run (src/lib/rerun/reuse-scope.ts): each
 * statement here runs inside that one transaction.
 */
import type { AttemptRef, Queryable } from './queryable';

/** The node-run columns a copy carries over (every column but the run id, the metadata and the row's timestamps). */
export async function nodeRunColumnsToCopy(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'stitch_node_runs'
       AND column_name NOT IN ('run_id', 'metadata', 'created_at', 'updated_at') ORDER BY ordinal_position`,
  );
  return rows.map((r) => r.column_name);
}

export interface ScopeLocation {
  /** Node ids of the splitter and the scope's members. */
  nodeIds: string[];
  /** The splitter instance's item path: scope instances are below it. */
  itemPath: number[];
}

export interface SourceSplitter {
  output: unknown;
  item_count: number | null;
  released: number | null;
  fanout: unknown;
}

/**
 * The source splitter instance, matched by fingerprint, when its whole scope completed (or was
 * skipped) with the credential identities its nodes have now (`credentials`: node id → identity,
 * absent: `none`), and its collector completed.
 */
export async function findReusableSplitter(
  db: Queryable,
  sourceRunId: string,
  instanceId: string,
  fingerprint: { staticPart: string; input: unknown },
  collectorInstanceId: string,
  scope: ScopeLocation,
  credentials: Record<string, string>,
): Promise<SourceSplitter | undefined> {
  const { rows } = await db.query<SourceSplitter>(
    `SELECT s.output, s.item_count, s.released, s.metadata -> 'fanout' AS fanout
     FROM stitch_node_runs s
     WHERE s.run_id = $1 AND s.instance_id = $2 AND s.status = 'completed'
       AND s.fingerprint = stitch_input_fingerprint($3, $4::jsonb)
       AND EXISTS (SELECT 1 FROM stitch_node_runs c WHERE c.run_id = $1 AND c.instance_id = $5 AND c.status = 'completed')
       AND NOT EXISTS (SELECT 1 FROM stitch_node_runs m WHERE m.run_id = $1 AND m.node_id = ANY ($6::text[])
                         AND m.item_path[1:$7] = $8::int[] AND cardinality(m.item_path) > $7
                         AND (m.status NOT IN ('completed', 'skipped')
                              OR m.status = 'completed' AND coalesce(m.metadata ->> 'credentials', 'none') <> coalesce($9::jsonb ->> m.node_id, 'none')))`,
    [
      sourceRunId,
      instanceId,
      fingerprint.staticPart,
      JSON.stringify(fingerprint.input ?? null),
      collectorInstanceId,
      scope.nodeIds,
      scope.itemPath.length,
      scope.itemPath,
      JSON.stringify(credentials),
    ],
  );
  return rows[0];
}

/** Complete the splitter attempt as the source's (reused), with its fingerprint. False: settled by a concurrent delivery. */
export async function completeSplitterAsReused(
  db: Queryable,
  ref: AttemptRef,
  splitter: SourceSplitter,
  input: unknown,
  sourceRunId: string,
): Promise<boolean> {
  const done = await db.query(
    `UPDATE stitch_node_runs
     SET status = 'completed', output = $4::jsonb, input = $5::jsonb, item_count = $6, released = $7,
         metadata = metadata || jsonb_build_object('fanout', $8::jsonb, 'origin', 'reused', 'reusedFrom', jsonb_build_object('runId', $9::text, 'instanceId', $2::text)),
         started_at = now(), finished_at = now(), progress = 1, updated_at = now(),
         fingerprint = coalesce(fingerprint, stitch_fingerprint_of($10, node_id, $5::jsonb))
     WHERE run_id = $1 AND instance_id = $2 AND attempt = $3 AND status IN ('pending', 'running')`,
    [
      ref.runId,
      ref.instanceId,
      ref.attempt,
      JSON.stringify(splitter.output),
      JSON.stringify(input ?? null),
      splitter.item_count,
      splitter.released,
      JSON.stringify(splitter.fanout ?? null),
      sourceRunId,
      ref.versionId,
    ],
  );
  return done.rowCount === 1;
}

/**
 * Every item instance of the scope, as it completed in the source, marked reused; worker items
 * carry what they cost there as savedUsd.
 */
export async function copyScopeInstances(db: Queryable, runId: string, sourceRunId: string, columns: string[], scope: ScopeLocation): Promise<void> {
  const list = columns.join(', ');
  await db.query(
    `INSERT INTO stitch_node_runs (run_id, ${list}, metadata)
     SELECT $1, ${columns.map((c) => `m.${c}`).join(', ')},
            (m.metadata - 'cacheKey' - 'completionHash' - 'cacheWait') || jsonb_build_object(
              'origin', 'reused', 'reusedFrom', jsonb_build_object('runId', m.run_id, 'instanceId', m.instance_id),
              'savedUsd', coalesce((SELECT sum(u.usd) FROM stitch_node_usage u WHERE u.run_id = m.run_id AND u.instance_id = m.instance_id), 0)
                          + coalesce((m.metadata ->> 'savedUsd')::float8, 0))
     FROM stitch_node_runs m
     WHERE m.run_id = $2 AND m.node_id = ANY ($3::text[]) AND m.item_path[1:$4] = $5::int[] AND cardinality(m.item_path) > $4`,
    [runId, sourceRunId, scope.nodeIds, scope.itemPath.length, scope.itemPath],
  );
}

/** The collector instance, pending with every arrival in (it settles next), and the splitter's `node:completed` event. */
export async function openCollectorAfterReuse(
  db: Queryable,
  ref: { runId: string; instanceId: string; attempt: number },
  collector: { instanceId: string; nodeId: string; itemPath: number[] },
): Promise<void> {
  await db.query(
    `INSERT INTO stitch_node_runs (run_id, instance_id, node_id, item_path, status, arrived, live)
     VALUES ($1, $2, $3, $4::int[], 'pending', 0, 1)`,
    [ref.runId, collector.instanceId, collector.nodeId, collector.itemPath],
  );
  await db.query(
    `SELECT stitch_emit($1, jsonb_build_array(jsonb_build_object('instanceId', $2::text, 'type', 'node:completed',
       'payload', jsonb_build_object('attempt', $3::int, 'status', 'completed', 'reusedScope', true))))`,
    [ref.runId, ref.instanceId, ref.attempt],
  );
}

/** An instance's output and input. */
export async function readInstanceResult(db: Queryable, runId: string, instanceId: string): Promise<{ output: unknown; input: unknown }> {
  const { rows } = await db.query<{ output: unknown; input: unknown }>('SELECT output, input FROM stitch_node_runs WHERE run_id = $1 AND instance_id = $2', [
    runId,
    instanceId,
  ]);
  return rows[0];
}
