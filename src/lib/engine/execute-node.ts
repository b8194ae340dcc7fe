/**
 * The `stitch_execute` job: run one attempt of one node instance. This is the single place where a
 * worker's result or error becomes node state. Stale jobs (run over, node settled, attempt moved
 * on) do nothing, so at-least-once delivery never executes a settled attempt's transition twice.
 */
import type { ExecutionEdge, ExecutionGraph, ExecutionNode } from '@/types/stitch';
import { NonRetriableError, coerceError } from '@/lib/errors';
import type pg from 'pg';
import { readExecutionState } from '@/lib/db/queries/execution-state';
import { rememberRunSettings } from '@/lib/db/run-settings';
import { getLogger } from '@/lib/log';
import { ensureVaultCurrent } from '@/lib/vault/sync';
import { DEFAULT_TIMEOUT_SECONDS } from '@/lib/workers/registry';
import { isRemoteType } from '@/lib/workers/remote-types';
import { validateInput } from '@/lib/workers/validate-input';
import { acquireIntegrationSlot } from '@/lib/workers/limits';
import { hasNodeLimits, releaseNodeSlots, takeNodeSlots } from '@/lib/fair/limits';
import type { ClaimBox } from './claims';
import { failAttempt } from './complete-node';
import { AttemptHost } from './engine-host';
import { runWithHost } from '@/lib/host/current';
import type { Runtime } from '@/lib/runtime';
import { getExecutionGraph } from './graph-cache';
import { parseInstanceId, upstreamInstanceIds } from './instances';
import { enqueueRemoteTask, findWorkerDefinition } from './remote-tasks';
import { mergeInput } from './merge-input';
import { runCollector, runSplitter } from './splitter';
import { runSubFlow } from './sub-flow';
import { caseOfEdge, chooseCase } from './switch-node';
import { markRunning, settleNode, type NodeRef } from './transitions';
import { waitForUser } from './ux-gate';
import { idMap } from './id-map';
import { prepareFingerprints, reuseEarlierResult } from '@/lib/rerun/reuse';
import { completeFromStepCache } from '@/lib/cache/step-cache';
import { reuseWholeScope } from '@/lib/rerun/reuse-scope';
import { stopForBudget } from '@/lib/budget/budget';

import type { ExecutePayload } from './execute-payload';

/**
 * A sync worker is shown as `running` only if it takes longer than this: for fast nodes the extra
 * commit would cost more than the state is worth (design §8: no separate running write where it
 * buys nothing). Its start time is recorded with its completion either way.
 */
const SYNC_RUNNING_MARK_DELAY_MS = 150;

interface LoadedState {
  runStatus: string;
  runInput: unknown;
  status: string;
  attempt: number;
  /** Arrivals that delivered data: 0 with every upstream settled means every upstream was skipped. */
  live: number;
  upstream: Record<string, { status: string; output: unknown }>;
}

async function loadState(pool: pg.Pool, graph: ExecutionGraph, payload: ExecutePayload): Promise<LoadedState | undefined> {
  const { nodeId, itemPath } = parseInstanceId(payload.i);
  const r = await readExecutionState(pool, payload.r, payload.i, upstreamInstanceIds(graph, nodeId, itemPath), graph.inEdges[nodeId].length === 0);
  if (r) rememberRunSettings(payload.r, r); // the re-run and budget hooks need no read of their own
  return r && { runStatus: r.run_status, runInput: r.run_input, status: r.status, attempt: r.attempt, live: r.live, upstream: r.upstream };
}

/**
 * Execute one attempt. With `claim`, a settle here may claim one cheap successor for the runner
 * (eager dispatch): its instance id is left in `claim.claimed` for the caller to execute next.
 */
export async function executeNodeJob(
  runtime: Runtime,
  payload: ExecutePayload,
  jobId?: string,
  claim?: ClaimBox,
  /** A claimed instance's one upstream, from the settle that claimed it: nothing to read. */
  upstream?: LoadedState['upstream'],
): Promise<void> {
  const graph = await getExecutionGraph(payload.v);
  await prepareFingerprints(graph, payload.v); // re-run hook: completed instances get their fingerprint
  const state = upstream
    ? { runStatus: 'running', runInput: undefined, status: 'pending', attempt: payload.a, live: 1, upstream }
    : await loadState(runtime.pool, graph, payload);
  if (!state || state.runStatus !== 'running' || state.attempt !== payload.a) return;
  if (state.status !== 'pending' && state.status !== 'running') return;

  const { nodeId } = parseInstanceId(payload.i);
  const node = graph.nodes[nodeId];
  const ref: NodeRef = { runId: payload.r, versionId: payload.v, instanceId: payload.i, attempt: payload.a };
  if (state.live === 0 && graph.inEdges[nodeId].length > 0) {
    // Every upstream was skipped (or routed elsewhere by a switch): skipped, and so downstream learns.
    await settleNode(graph, ref, { status: 'skipped', output: null, merge: false, jobId, live: () => false });
    return;
  }
  if (node.type === 'collector') {
    await runCollector(graph, node, ref, jobId);
    return;
  }
  const delivered = idMap<unknown>();
  for (const [id, u] of Object.entries(state.upstream)) {
    // A failed upstream only delivers when it settled with continueOnError (its output is {error}).
    if (u.status === 'completed' || u.status === 'failed') delivered[id] = u.output;
  }
  const input = mergeInput(graph, nodeId, delivered, state.runInput);

  switch (node.type) {
    case 'start':
    case 'end':
      await settleNode(graph, ref, { status: 'completed', output: input, input, merge: false, jobId, claim });
      return;
    case 'worker':
      await runWorker(runtime, graph, node, ref, input, jobId, claim);
      return;
    case 'splitter':
      if (await reuseWholeScope(graph, node, ref, input, jobId)) return; // re-run hook: an unchanged scope at once
      await runSplitter(graph, node, ref, input, jobId);
      return;
    case 'switch': {
      const chosen = chooseCase(node, input);
      const live = (edge: ExecutionEdge) => caseOfEdge(edge) === chosen;
      await settleNode(graph, ref, { status: 'completed', output: input, input, merge: false, jobId, live, metadata: { case: chosen }, claim });
      return;
    }
    case 'ux':
      if (await reuseEarlierResult(graph, node, ref, input, jobId)) return; // re-run hook: an answered gate
      await waitForUser(node, ref, input, jobId);
      return;
    case 'flow':
      await runSubFlow(graph, node, ref, input);
      return;
    default:
      await failAttempt(graph, ref, new NonRetriableError(`Node type "${node.type}" is not supported by this engine yet`), { input });
  }
}

async function runWorker(runtime: Runtime, graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, rawInput: unknown, jobId?: string, claim?: ClaimBox): Promise<void> {
  const type = node.workerType!;
  const definition = await findWorkerDefinition(type);
  if (!definition) {
    await failAttempt(graph, ref, new NonRetriableError(`Worker type "${type}" has no definition`), { input: rawInput });
    return;
  }
  const { input, problems } = validateInput(definition, rawInput);
  if (problems.length) {
    await failAttempt(graph, ref, new NonRetriableError(`Invalid input for ${definition.name}: ${problems.join('; ')}`), { input });
    return;
  }
  if (await reuseEarlierResult(graph, node, ref, input, jobId, claim)) return; // re-run hook (src/lib/rerun)
  if (await completeFromStepCache(graph, node, definition, ref, input, jobId, claim)) return; // step-cache hook (src/lib/cache)
  if (await stopForBudget(graph, node, ref)) return; // budget hook (src/lib/budget)
  // Per-integration limits (src/lib/workers/limits.ts): over the limit, the same job is enqueued
  // again for later and the node stays pending, marked throttled — it never fails for it.
  if (!(await acquireIntegrationSlot(type, ref))) return;
  // Fair share (src/lib/fair/limits.ts): a node over its concurrency or rate limit waits, parked
  // without a job, until a dispatch grants it a slot and queues it again.
  if (hasNodeLimits(node) && !(await takeNodeSlots(node, ref, input))) return;
  // A type served by remote workers: the attempt becomes a task they pull (remote-tasks.ts).
  if (!runtime.registry.has(type) && isRemoteType(type)) {
    await enqueueRemoteTask(node, definition, ref, input);
    return;
  }
  const isAsync = definition.type === 'async';
  const deadlineSeconds = node.timeoutSeconds ?? definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const startedAt = new Date();
  if (isAsync && !(await markRunning(ref, input, deadlineSeconds))) return;

  const host = new AttemptHost(
    runtime,
    { runId: ref.runId, instanceId: ref.instanceId, attempt: ref.attempt, workerType: type, deadlineSeconds: isAsync ? deadlineSeconds : undefined },
    // Only a sync worker's own completion, inside this execution, runs its successor here next.
    { versionId: ref.versionId, input, startedAt, jobId, claim: isAsync ? undefined : claim },
  );
  const runningMark = isAsync
    ? undefined
    : setTimeout(() => {
        markRunning(ref, input, null).catch((error) => getLogger().warn({ error: String(error) }, 'could not mark node running'));
      }, SYNC_RUNNING_MARK_DELAY_MS);

  let failure: Error | undefined;
  try {
    await ensureVaultCurrent(); // a key changed in the vault applies from this execution on
    const worker = runtime.registry.getWorker(type);
    const config = { ...definition.config, ...node.config };
    await runWithHost(host, () => worker.execute(ref.runId, ref.instanceId, config, input));
    if (!isAsync && host.completions === 0) {
      failure = new Error(`Worker "${type}" returned without calling triggerCallback (sync workers must report their result)`);
    }
  } catch (error) {
    failure = coerceError(error);
  } finally {
    if (runningMark) clearTimeout(runningMark);
  }
  if (!isAsync) await host.endStream(); // an async attempt streams on until its callback
  if (failure) {
    getLogger().warn({ runId: ref.runId, nodeId: ref.instanceId, attempt: ref.attempt, worker: type, error: failure.message }, 'worker attempt failed');
    // A worker that already settled this attempt and then threw changes nothing (the CAS refuses).
    await failAttempt(graph, ref, failure, { input, startedAt });
    await releaseNodeSlots(node, ref); // a completion releases in applyCallback
  }
}
