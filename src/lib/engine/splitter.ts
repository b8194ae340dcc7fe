/**
 * Splitter and collector instances. A splitter reads its array (`config.arrayPath`, a dot path, or
 * the whole input when that is an array) and fans the scope out in one statement: item rows, the
 * collector instance, the first items' child instances and their jobs (`stitch_fan_out`). A
 * collector gathers its items' results in SQL (`stitch_collect`): the outputs never pass through
 * this process, so 10,000 items cost one query, not 10,000.
 */
import type { ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { collect, fanOut } from '@/lib/db/queries/fan-out';
import { failAttempt } from './complete-node';
import { outputNodesOf } from './output-nodes';
import { downstreamArrivals, itemTicks, parseInstanceId } from './instances';
import { readPath } from './merge-input';
import { retryTransient } from '@/lib/db/transient';
import type { NodeRef, SettleResult } from './transitions';

function itemsOf(node: ExecutionNode, input: unknown): unknown[] {
  const path: string | undefined = node.config.arrayPath;
  const value = path ? readPath(input, path) : input;
  if (Array.isArray(value)) return value;
  const arrays =
    typeof input === 'object' && input !== null && !Array.isArray(input)
      ? Object.entries(input).filter(([, v]) => Array.isArray(v)).map(([k]) => k)
      : [];
  const got = value === undefined ? 'nothing' : Array.isArray(value) ? 'an array' : typeof value;
  throw new NonRetriableError(
    `Splitter "${node.id}": ${path ? `config.arrayPath "${path}"` : 'its input'} is not an array (found ${got}).` +
      (arrays.length ? ` Array fields in its input: ${arrays.join(', ')} — set config.arrayPath to one of them.` : ' Set config.arrayPath to the array to split.'),
  );
}

export async function runSplitter(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, input: unknown, jobId?: string): Promise<void> {
  let items: unknown[];
  try {
    items = itemsOf(node, input);
  } catch (error) {
    await failAttempt(graph, ref, error as Error, { input });
    return;
  }
  const scope = graph.scopes![node.id];
  const spec = {
    splitter: node.id,
    collector: scope.collector,
    children: scope.children.map((c) => ({ n: c.node, c: c.edges, d: graph.inEdges[c.node].length })),
    direct: scope.directEdges,
    collectorIn: graph.inEdges[scope.collector].length,
    window: scope.concurrency ?? null,
  };
  await retryTransient('fan-out', () =>
    fanOut(getPool(), ref, {
      itemsJson: JSON.stringify(items),
      itemKey: node.config.as ?? null,
      inputJson: JSON.stringify(input ?? null),
      spec,
      outputNodes: outputNodesOf(graph),
      jobIds: jobId ? [jobId] : [],
    }),
  );
}

/** The collector of `node`'s scope settles with every item's result, in item order. */
export async function runCollector(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, jobId?: string): Promise<SettleResult> {
  const scope = Object.values(graph.scopes ?? {}).find((s) => s.collector === node.id)!;
  const { itemPath } = parseInstanceId(ref.instanceId);
  const spec = {
    splitter: scope.splitter,
    results: scope.resultNodes,
    field: scope.resultField ? scope.resultField.split('.') : null,
    policy: scope.onItemError,
    members: scope.members.filter((id) => !graph.nodes[id].continueOnError),
    as: typeof node.config.as === 'string' && node.config.as ? node.config.as : null,
  };
  return retryTransient('collect', () =>
    collect<SettleResult>(getPool(), ref, {
      spec,
      arrivals: downstreamArrivals(graph, node.id, itemPath),
      outputNodes: outputNodesOf(graph),
      extra: { ticks: itemTicks(graph, node.id, itemPath) },
      jobIds: jobId ? [jobId] : [],
    }),
  );
}
