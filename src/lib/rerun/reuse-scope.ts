/**
 * The re-run shortcut for a whole splitter scope. When a re-run reaches a splitter whose input,
 * settings and whole scope (every node inside, nested scopes included, and its collector) are
 * unchanged from the source run, and every instance of that scope completed there, the items are
 * not walked one queue hop at a time: in one transaction the source's item instances are copied
 * (`origin: "reused"`), the splitter completes, and the collector settles with the source
 * collector's output — so downstream starts at once. 10,000 reused items cost a few statements,
 * not 10,000 hops. Anything else falls back to per-instance reuse (reuse.ts).
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { getPool, withTransaction } from '@/lib/db/pool';
import { runSettingsOf } from '@/lib/db/run-settings';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import { instanceIdOf, parseInstanceId } from '@/lib/engine/instances';
import { settleNode, type NodeRef } from '@/lib/engine/transitions';
import { staticHashOf, staticHashes } from './fingerprint';

/** The nodes inside a splitter's scope (nested ones included), and its collector. */
function scopeOf(graph: ExecutionGraph, splitterId: string): { members: string[]; collector: string } | undefined {
  const collector = graph.scopes?.[splitterId]?.collector;
  if (!collector) return undefined;
  const members = Object.values(graph.nodes)
    .filter((n) => n.scope?.includes(splitterId))
    .map((n) => n.id)
    .sort();
  return { members, collector };
}

/** Same nodes inside, same static fingerprints (settings, mappings, worker versions) in both versions. */
function scopeUnchanged(graph: ExecutionGraph, sourceGraph: ExecutionGraph, splitterId: string): { members: string[]; collector: string } | undefined {
  const now = scopeOf(graph, splitterId);
  const before = sourceGraph.nodes[splitterId] ? scopeOf(sourceGraph, splitterId) : undefined;
  if (!now || !before || now.collector !== before.collector || now.members.join('\u0000') !== before.members.join('\u0000')) return undefined;
  const [a, b] = [staticHashes(graph), staticHashes(sourceGraph)];
  return [splitterId, now.collector, ...now.members].every((id) => a[id] === b[id]) ? now : undefined;
}

let copyColumns: Promise<string[]> | undefined;

/** The node-run columns a copy carries over (every column but the run id and the row's timestamps). */
function columnsToCopy(): Promise<string[]> {
  copyColumns ??= getPool()
    .query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'stitch_node_runs'
         AND column_name NOT IN ('run_id', 'metadata', 'created_at', 'updated_at') ORDER BY ordinal_position`,
    )
    .then(({ rows }) => rows.map((r) => r.column_name));
  return copyColumns;
}

/**
 * For a splitter of a re-run: reuse its whole scope from the source run when nothing in it
 * changed. True when done (the collector has settled and downstream is under way).
 */
export async function reuseWholeScope(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, input: unknown, jobId?: string): Promise<boolean> {
  const plan = (await runSettingsOf(ref.runId)).rerun;
  if (!plan) return false;
  const source = await getPool().query<{ version_id: string }>('SELECT version_id FROM stitch_runs WHERE id = $1', [plan.of]);
  if (!source.rows[0]) return false;
  const scope = scopeUnchanged(graph, await getExecutionGraph(source.rows[0].version_id), node.id);
  if (!scope || [node.id, scope.collector, ...scope.members].some((id) => plan.forced.includes(id))) return false;

  const { itemPath } = parseInstanceId(ref.instanceId);
  const collectorId = instanceIdOf(scope.collector, itemPath);
  const columns = await columnsToCopy();
  return withTransaction(async (client) => {
    // The source splitter instance, matched by fingerprint; its whole scope completed; the collector too.
    const found = await client.query<{ output: unknown; item_count: number | null; released: number | null; fanout: unknown }>(
      `SELECT s.output, s.item_count, s.released, s.metadata -> 'fanout' AS fanout
       FROM stitch_node_runs s
       WHERE s.run_id = $1 AND s.instance_id = $2 AND s.status = 'completed'
         AND s.fingerprint = stitch_input_fingerprint($3, $4::jsonb)
         AND EXISTS (SELECT 1 FROM stitch_node_runs c WHERE c.run_id = $1 AND c.instance_id = $5 AND c.status = 'completed')
         AND NOT EXISTS (SELECT 1 FROM stitch_node_runs m WHERE m.run_id = $1 AND m.node_id = ANY ($6::text[])
                           AND m.item_path[1:$7] = $8::int[] AND cardinality(m.item_path) > $7
                           AND m.status NOT IN ('completed', 'skipped'))`,
      [plan.of, ref.instanceId, staticHashOf(graph, ref.versionId, node.id), JSON.stringify(input ?? null), collectorId, [node.id, ...scope.members], itemPath.length, itemPath],
    );
    const splitter = found.rows[0];
    if (!splitter) return false;
    const done = await client.query(
      `UPDATE stitch_node_runs
       SET status = 'completed', output = $4::jsonb, input = $5::jsonb, item_count = $6, released = $7,
           metadata = metadata || jsonb_build_object('fanout', $8::jsonb, 'origin', 'reused', 'reusedFrom', jsonb_build_object('runId', $9::text, 'instanceId', $2::text)),
           started_at = now(), finished_at = now(), progress = 1, updated_at = now(),
           fingerprint = coalesce(fingerprint, stitch_fingerprint_of($10, node_id, $5::jsonb))
       WHERE run_id = $1 AND instance_id = $2 AND attempt = $3 AND status IN ('pending', 'running')`,
      [ref.runId, ref.instanceId, ref.attempt, JSON.stringify(splitter.output), JSON.stringify(input ?? null), splitter.item_count, splitter.released, JSON.stringify(splitter.fanout ?? null), plan.of, ref.versionId],
    );
    if (done.rowCount !== 1) return true; // settled by a concurrent delivery of this job
    // Every item instance of the scope, as it completed in the source, marked reused; worker items
    // carry what they cost there as savedUsd.
    const list = columns.join(', ');
    await client.query(
      `INSERT INTO stitch_node_runs (run_id, ${list}, metadata)
       SELECT $1, ${columns.map((c) => `m.${c}`).join(', ')},
              (m.metadata - 'cacheKey' - 'completionHash' - 'cacheWait') || jsonb_build_object(
                'origin', 'reused', 'reusedFrom', jsonb_build_object('runId', m.run_id, 'instanceId', m.instance_id),
                'savedUsd', coalesce((SELECT sum(u.usd) FROM stitch_node_usage u WHERE u.run_id = m.run_id AND u.instance_id = m.instance_id), 0)
                            + coalesce((m.metadata ->> 'savedUsd')::float8, 0))
       FROM stitch_node_runs m
       WHERE m.run_id = $2 AND m.node_id = ANY ($3::text[]) AND m.item_path[1:$4] = $5::int[] AND cardinality(m.item_path) > $4`,
      [ref.runId, plan.of, [node.id, ...scope.members], itemPath.length, itemPath],
    );
    await client.query(
      `INSERT INTO stitch_node_runs (run_id, instance_id, node_id, item_path, status, arrived, live)
       VALUES ($1, $2, $3, $4::int[], 'pending', 0, 1)`,
      [ref.runId, collectorId, scope.collector, itemPath],
    );
    await client.query(
      `SELECT stitch_emit($1, jsonb_build_array(jsonb_build_object('instanceId', $2::text, 'type', 'node:completed',
         'payload', jsonb_build_object('attempt', $3::int, 'status', 'completed', 'reusedScope', true))))`,
      [ref.runId, ref.instanceId, ref.attempt],
    );
    const collected = await client.query<{ output: unknown; input: unknown }>('SELECT output, input FROM stitch_node_runs WHERE run_id = $1 AND instance_id = $2', [plan.of, collectorId]);
    await settleNode(graph, { ...ref, instanceId: collectorId, attempt: 1 }, {
      status: 'completed',
      output: collected.rows[0].output,
      input: collected.rows[0].input ?? undefined,
      merge: false,
      jobId,
      db: client,
      metadata: { origin: 'reused', reusedFrom: { runId: plan.of, instanceId: collectorId } },
    });
    return true;
  });
}
