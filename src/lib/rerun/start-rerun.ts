/**
 * `POST /api/runs/:runId/rerun`: run a run again, reusing what did not change. The new run goes
 * through the one start path (startRun) with `rerunOf` and its plan; the source run is never
 * changed. A dry run predicts, from the source run's instances, which worker and UX instances will
 * execute and which will be reused, and starts nothing.
 */
import type { ExecutionGraph } from '@/types/stitch';
import { NotFoundError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { listSourceInstances, type SourceInstance } from '@/lib/db/queries/rerun';
import { findCurrentVersion } from '@/lib/db/queries/start-run';
import { getRun } from '@/lib/db/runs';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import { startRun, type StartedRun, type StartRunOptions } from '@/lib/engine/start-run';
import { closestName } from '@/lib/engine/suggest';
import { credentialIdentity } from '@/lib/workers/integration-keys';
import { canonicalJson, staticHashes } from './fingerprint';

export interface RerunOptions {
  /** Force this node and everything downstream of it to execute. */
  fromNode?: string;
  /** `latest` (default): the flow's current version; `same`: the source run's version. */
  version?: 'same' | 'latest';
  /** Default: the source run's input. */
  input?: unknown;
  dryRun?: boolean;
  budgetUsd?: number;
  /** Default: the source run's tags and priority (a re-run is the same customer's work). */
  tags?: Record<string, string>;
  priority?: number;
  trigger?: Record<string, unknown>;
  /** A start that may be repeated (a bulk job's batch after a crash): the same key returns the same run. */
  idempotency?: StartRunOptions['idempotency'];
}

export interface RerunPrediction {
  versionId: string;
  /** Worker and UX instances that will execute (source instance ids; node ids for nodes the source never reached). */
  execute: string[];
  /** Source instances whose output will be reused. */
  reuse: string[];
}

const REUSABLE = new Set(['worker', 'ux']);

/** The node and everything downstream of it. */
export function downstreamOf(graph: ExecutionGraph, nodeId: string): string[] {
  const seen = new Set([nodeId]);
  const queue = [nodeId];
  while (queue.length) for (const next of graph.adjacency[queue.shift()!] ?? []) if (!seen.has(next) && seen.add(next)) queue.push(next);
  return [...seen];
}

/**
 * The version the re-run runs. A deleted flow's runs are not run again, whichever version is asked
 * for: 404, as starting the flow answers (a run of a detached version, with no flow, may be).
 */
async function resolveVersion(source: { id: string; flowId: string | null; versionId: string }, version: RerunOptions['version']): Promise<string> {
  if (!source.flowId) return source.versionId;
  const live = await findCurrentVersion(getPool(), source.flowId);
  if (!live) throw new NotFoundError(`Flow ${source.flowId} (of run ${source.id})`);
  return version === 'same' ? source.versionId : live.versionId;
}

/**
 * Which nodes keep the source run's output: same static fingerprint (settings, mappings, worker
 * version), every upstream unchanged (entry nodes: the same run input), not forced, and every
 * source instance completed with a fingerprint and the credential identity the node has now. Switches, splitters and collectors re-evaluate;
 * they keep their output when their inputs do.
 */
export function predict(
  graph: ExecutionGraph,
  sourceGraph: ExecutionGraph,
  instances: SourceInstance[],
  forced: Set<string>,
  sameInput: boolean,
): { execute: string[]; reuse: string[] } {
  const now = staticHashes(graph);
  const before = staticHashes(sourceGraph);
  const byNode = new Map<string, SourceInstance[]>();
  for (const i of instances) byNode.set(i.node_id, [...(byNode.get(i.node_id) ?? []), i]);
  const unchanged = new Set<string>();
  const execute: string[] = [];
  const reuse: string[] = [];
  for (const id of graph.order) {
    const own = byNode.get(id) ?? [];
    const upstream = graph.reverseAdjacency[id] ?? [];
    const keeps =
      !forced.has(id) &&
      now[id] === before[id] &&
      (upstream.length ? upstream.every((u) => unchanged.has(u)) : sameInput) &&
      own.length > 0 &&
      own.every((i) => i.status === 'completed' && (i.fingerprint !== null || !REUSABLE.has(graph.nodes[id].type))) &&
      own.every((i) => i.credentials === credentialIdentity(graph.nodes[id].workerType)); // as reuse.ts matches
    if (keeps) unchanged.add(id);
    if (!REUSABLE.has(graph.nodes[id].type)) continue;
    const ids = own.length ? own.map((i) => i.instance_id) : [id];
    (keeps ? reuse : execute).push(...ids);
  }
  return { execute, reuse };
}

export async function rerun(runId: string, options: RerunOptions = {}): Promise<StartedRun & { rerunOf: string }> {
  return (await prepare(runId, options)).start();
}

export async function dryRun(runId: string, options: RerunOptions = {}): Promise<RerunPrediction> {
  return (await prepare(runId, options)).prediction();
}

async function prepare(runId: string, options: RerunOptions) {
  const source = await getRun(runId);
  const versionId = await resolveVersion(source, options.version);
  const graph = await getExecutionGraph(versionId);
  let forced: string[] = [];
  if (options.fromNode !== undefined) {
    if (!graph.nodes[options.fromNode]) {
      const hint = closestName(options.fromNode, Object.keys(graph.nodes));
      throw new ValidationError(`fromNode "${options.fromNode}" is not a node of the flow version being run${hint ? ` (did you mean "${hint}"?)` : ''}`, {
        field: 'fromNode',
      });
    }
    forced = downstreamOf(graph, options.fromNode);
  }
  const input = options.input === undefined ? source.input : options.input;
  return {
    async prediction(): Promise<RerunPrediction> {
      const sourceGraph = await getExecutionGraph(source.versionId);
      const rows = await listSourceInstances(getPool(), runId);
      const sameInput = canonicalJson(input) === canonicalJson(source.input);
      return { versionId, ...predict(graph, sourceGraph, rows, new Set(forced), sameInput) };
    },
    async start() {
      const started = await startRun(
        { versionId },
        {
          input,
          trigger: options.trigger ?? { type: 'rerun', of: runId, ...(options.fromNode ? { fromNode: options.fromNode } : {}) },
          rerun: { of: runId, forced },
          budgetUsd: options.budgetUsd,
          idempotency: options.idempotency,
          tags: options.tags ?? source.tags,
          priority: options.priority ?? source.priority,
        },
      );
      return { ...started, rerunOf: runId };
    },
  };
}
