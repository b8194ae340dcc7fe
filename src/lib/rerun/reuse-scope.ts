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
import {
  completeSplitterAsReused,
  copyScopeInstances,
  findReusableSplitter,
  nodeRunColumnsToCopy,
  openCollectorAfterReuse,
  readInstanceResult,
} from '@/lib/db/queries/scope-reuse';
import { runVersionOf } from '@/lib/db/queries/node-attempt';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import { instanceIdOf, parseInstanceId } from '@/lib/engine/instances';
import { settleNode, type NodeRef } from '@/lib/engine/transitions';
import { credentialIdentity } from '@/lib/workers/integration-keys';
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

/** The node-run columns a copy carries over, read once per process. */
function columnsToCopy(): Promise<string[]> {
  copyColumns ??= nodeRunColumnsToCopy(getPool());
  return copyColumns;
}

/**
 * For a splitter of a re-run: reuse its whole scope from the source run when nothing in it
 * changed. True when done (the collector has settled and downstream is under way).
 */
export async function reuseWholeScope(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, input: unknown, jobId?: string): Promise<boolean> {
  const plan = (await runSettingsOf(ref.runId)).rerun;
  if (!plan) return false;
  const sourceVersion = await runVersionOf(getPool(), plan.of);
  if (!sourceVersion) return false;
  const scope = scopeUnchanged(graph, await getExecutionGraph(sourceVersion), node.id);
  if (!scope || [node.id, scope.collector, ...scope.members].some((id) => plan.forced.includes(id))) return false;

  const { itemPath } = parseInstanceId(ref.instanceId);
  const collectorId = instanceIdOf(scope.collector, itemPath);
  const columns = await columnsToCopy();
  const location = { nodeIds: [node.id, ...scope.members], itemPath };
  return withTransaction(async (client) => {
    const fingerprint = { staticPart: staticHashOf(graph, ref.versionId, node.id), input };
    // A mock result inside the scope is not reused by a real run (reuse.ts matches the same way).
    const credentials = Object.fromEntries(scope.members.map((id) => [id, credentialIdentity(graph.nodes[id].workerType)]));
    const splitter = await findReusableSplitter(client, plan.of, ref.instanceId, fingerprint, collectorId, location, credentials);
    if (!splitter) return false;
    if (!(await completeSplitterAsReused(client, ref, splitter, input, plan.of))) return true; // settled by a concurrent delivery of this job
    await copyScopeInstances(client, ref.runId, plan.of, columns, location);
    await openCollectorAfterReuse(client, ref, { instanceId: collectorId, nodeId: scope.collector, itemPath });
    const collected = await readInstanceResult(client, plan.of, collectorId);
    await settleNode(graph, { ...ref, instanceId: collectorId, attempt: 1 }, {
      status: 'completed',
      output: collected.output,
      input: collected.input ?? undefined,
      merge: false,
      jobId,
      db: client,
      metadata: { origin: 'reused', reusedFrom: { runId: plan.of, instanceId: collectorId } },
    });
    return true;
  });
}
