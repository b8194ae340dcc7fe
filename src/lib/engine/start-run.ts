/**
 * The engine façade the server, CLI and tests call: start, cancel and retry runs.
 */
import type { RunStatus } from '@/types/stitch';
import { ConflictError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { runtimeConfig } from '@/lib/runtime';
import { retryTransient } from '@/lib/db/transient';
import { getRun, isUuid } from '@/lib/db/runs';
import { getExecutionGraph } from './graph-cache';
import { abortRun } from './transitions';
import { checkPriority, checkRunTags } from '@/lib/fair/run-tags';
import { runAdmission } from '@/lib/fair/limits';
import { readRunFairFacts } from '@/lib/db/queries/fair';
import { retryNode as retryNodeTransition } from '@/lib/db/queries/retry-node';
import {
  deleteExpiredIdempotencyKeys,
  findChildRun,
  findCurrentVersion,
  findIdempotentRun as findIdempotentRunRow,
  findVersionFlow,
  insertRun,
  type RerunPlan,
} from '@/lib/db/queries/start-run';

export type RunTarget = string | { flowId: string } | { versionId: string };

export interface StartRunOptions {
  input?: unknown;
  /** Who or what started the run (`{type:'api'}`, `{type:'webhook', slug}`, …). */
  trigger?: Record<string, unknown>;
  /**
   * The client's `Idempotency-Key`: a start with a key seen before (same scope) returns that run
   * (`duplicate: true`) when the request is the same, and is refused (409) when it differs.
   */
  idempotency?: { scope: string; key: string; requestHash: string };
  /** A sub-flow's child run: the parent node attempt that starts it (at most one child per attempt). */
  parent?: { runId: string; instanceId: string; attempt: number; depth: number };
  /** A re-run: the source run and the nodes it forces to execute (src/lib/rerun). */
  rerun?: RerunPlan;
  /** Spend cap in USD; default: the flow's `budgetUsd`, if any (src/lib/budget). A sub-flow passes what is left of its parent's, and its flow's own caps it. */
  budgetUsd?: number;
  /**
   * The run's tags (`{customer: "acme"}`: string values, checked here — a bad one is a 400 that
   * starts nothing). Default: a sub-flow's parent's tags, else none (src/lib/fair/run-tags.ts).
   */
  tags?: unknown;
  /** Higher first, from 0 to 100. Default: a sub-flow's parent's priority, else 0. */
  priority?: unknown;
  /** A run of an experiment (src/lib/experiments): its work identical to another run's of the experiment is shared. Default: a sub-flow's parent's. */
  experimentId?: string;
}

export interface StartedRun {
  runId: string;
  versionId: string;
  flowId: string | null;
  /** `running` for a new run; a duplicate (idempotency key) reports the earlier run's status now. */
  status: RunStatus;
  /** True when an idempotency key named a run started earlier: nothing new was started. */
  duplicate?: boolean;
  /** True when a child run for this parent attempt existed already (an execute job ran twice). */
  existing?: boolean;
}

async function resolveTarget(target: RunTarget): Promise<{ versionId: string; flowId: string | null }> {
  const flowId = typeof target === 'string' ? target : 'flowId' in target ? target.flowId : undefined;
  if (flowId !== undefined && isUuid(flowId)) {
    const current = await findCurrentVersion(getPool(), flowId);
    if (current) return current;
  }
  const versionId = typeof target === 'string' ? target : 'versionId' in target ? target.versionId : undefined;
  if (versionId !== undefined && isUuid(versionId)) {
    const version = await findVersionFlow(getPool(), versionId);
    if (version) return version;
  }
  throw new NotFoundError(`Flow or version ${typeof target === 'string' ? target : JSON.stringify(target)}`);
}

/** Create a run of a flow's current version (or of a given version) and enqueue its entry nodes. */
export async function startRun(target: RunTarget, options: StartRunOptions = {}): Promise<StartedRun> {
  const tags = options.tags === undefined ? undefined : checkRunTags(options.tags, runtimeConfig().limits.runTags);
  const priority = checkPriority(options.priority);
  if (options.idempotency) {
    const earlier = await findIdempotentRun(options.idempotency);
    if (earlier) return earlier;
  }
  const { versionId, flowId } = await resolveTarget(target);
  const graph = await getExecutionGraph(versionId);
  const input = options.input === undefined ? {} : options.input;
  let inputJson: string;
  try {
    inputJson = JSON.stringify(input);
  } catch {
    throw new ValidationError('The run input must be JSON-serialisable');
  }
  const key = options.idempotency;
  const parent = options.parent;
  // Two concurrent starts with one key: the second fails on the key's primary key and then
  // answers with the first run (insertRun).
  try {
    const runId = await insertRun(getPool(), {
      flowId,
      versionId,
      inputJson,
      trigger: options.trigger ?? { type: 'api' },
      entryNodes: graph.entryNodes,
      idempotency: key,
      parent,
      rerun: options.rerun,
      budgetUsd: options.budgetUsd ?? null,
      tags: tags ?? null,
      priority: priority ?? null,
      experimentId: options.experimentId,
      admission: graph.concurrency && runAdmission(graph, flowId, versionId, input, tags ?? (await parentTags(parent))),
    });
    if (!runId && parent) {
      const existing = (await findChildRun(getPool(), parent))!;
      return { runId: existing, versionId, flowId, status: 'running', existing: true };
    }
    return { runId: runId!, versionId, flowId, status: 'running' };
  } catch (error) {
    if (key && (error as { code?: string }).code === '23505') {
      const earlier = await findIdempotentRun(key);
      if (earlier) return earlier;
    }
    throw error;
  }
}

/** A child run's tags are its parent's (the key of a flow's concurrency may read them). */
async function parentTags(parent: StartRunOptions['parent']): Promise<Record<string, string>> {
  return parent ? ((await readRunFairFacts(getPool(), parent.runId))?.tags ?? {}) : {};
}

/**
 * The run an idempotency key started, if any; a different request under the same key is a conflict.
 * Keys are remembered STITCH_IDEMPOTENCY_HOURS (24); one is kept per run started with a key.
 */
async function findIdempotentRun(key: NonNullable<StartRunOptions['idempotency']>): Promise<StartedRun | undefined> {
  const hours = runtimeConfig().limits.idempotencyHours;
  const row = await findIdempotentRunRow(getPool(), key.scope, key.key, hours);
  if (!row) {
    // An expired key may be reused: forget it (and any others past their time) first.
    await deleteExpiredIdempotencyKeys(getPool(), hours);
    return undefined;
  }
  if (row.requestHash !== key.requestHash) {
    throw new ConflictError(`Idempotency-Key "${key.key}" was used for a different request (run ${row.runId}); use a new key for a new request.`, {
      runId: row.runId,
    });
  }
  return { runId: row.runId, versionId: row.versionId, flowId: row.flowId, status: row.status, duplicate: true };
}

/** Cancel a run: open work is cancelled, unreached nodes skipped, later callbacks refused (409). */
export async function cancelRun(runId: string): Promise<void> {
  const run = await getRun(runId);
  const graph = await getExecutionGraph(run.versionId);
  if (!(await abortRun(graph, runId, 'cancelled', 'Cancelled by request'))) {
    throw new ConflictError(`Run ${runId} is already ${(await getRun(runId)).status}`);
  }
}

/**
 * Retry a failed node instance as a new attempt. A failed run runs again: nodes the failure had
 * cancelled or skipped are reopened (and re-enqueued where all their upstreams had arrived). A
 * failed splitter item (`node[3]`) is retried alone; its collector completes once it does.
 */
export async function retryNode(runId: string, instanceId: string): Promise<{ attempt: number }> {
  const run = await getRun(runId);
  const graph = await getExecutionGraph(run.versionId);
  const inDegree = Object.fromEntries(Object.entries(graph.inEdges).map(([id, edges]) => [id, edges.length]));
  const r = await retryTransient('retryNode', () =>
    retryNodeTransition(getPool(), { runId, versionId: run.versionId, instanceId, entryNodes: graph.entryNodes, inDegree }),
  );
  switch (r.error) {
    case undefined:
      return { attempt: r.attempt! };
    case 'run_not_found':
      throw new NotFoundError(`Run ${runId}`);
    case 'node_not_found':
      throw new NotFoundError(`Node ${instanceId} of run ${runId}`);
    case 'run_not_retryable':
      throw new ConflictError(`Run ${runId} is ${r.status}: only failed or running runs can retry a node`);
    case 'item_error_collected':
      throw new ConflictError(
        `Node ${instanceId} failed as one item of a collector with onItemError "collect": its error is already part of the collector's output. ` +
          `Use onItemError "fail" to retry failed items, or run the flow again.`,
      );
    default:
      throw new ConflictError(`Node ${instanceId} is ${r.status}: only failed nodes can be retried`);
  }
}
