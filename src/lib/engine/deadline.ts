/**
 * The `stitch_deadline` job: an async attempt's callback did not arrive in time. The worker's
 * `poll()` (if it has one) asks the vendor; otherwise the attempt fails with a message naming the
 * deadline (and is retried per policy).
 */
import { coerceError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { getLogger } from '@/lib/log';
import { DEFAULT_TIMEOUT_SECONDS, getWorkerDefinition } from '@/lib/workers/registry';
import { applyCallback, failAttempt } from './complete-node';
import { runWithHost } from '@/lib/host/current';
import type { Runtime } from '@/lib/runtime';
import { AttemptHost } from './engine-host';
import { getExecutionGraph } from './graph-cache';
import { parseInstanceId } from './instances';
import type { ExecutePayload } from './execute-payload';

export async function deadlineJob(runtime: Runtime, payload: ExecutePayload): Promise<void> {
  const { rows } = await runtime.pool.query(
    `SELECT n.status, n.attempt, n.input, n.output, n.deadline_at, n.started_at, r.status AS run_status
     FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id WHERE n.run_id = $1 AND n.instance_id = $2`,
    [payload.r, payload.i],
  );
  const state = rows[0];
  if (!state || state.run_status !== 'running' || state.status !== 'running' || state.attempt !== payload.a) return;
  // A poll that said "still running" moved the deadline; an earlier job for it is then stale.
  if (state.deadline_at && new Date(state.deadline_at).getTime() > Date.now() + 500) return;

  const graph = await getExecutionGraph(payload.v);
  const node = graph.nodes[parseInstanceId(payload.i).nodeId];
  const ref = { runId: payload.r, versionId: payload.v, instanceId: payload.i, attempt: payload.a };
  const type = node.workerType!;
  const worker = runtime.registry.getWorker(type);
  const timeout = node.timeoutSeconds ?? getWorkerDefinition(type)?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const deadlineText = `${timeout}s callback deadline (${new Date(state.deadline_at).toISOString()})`;

  if (!worker.poll) {
    await failAttempt(graph, ref, new Error(`No callback arrived within the ${deadlineText}`), { input: state.input });
    return;
  }
  try {
    const config = { ...getWorkerDefinition(type)?.config, ...node.config };
    const host = new AttemptHost(
      runtime,
      { runId: ref.runId, instanceId: ref.instanceId, attempt: ref.attempt, workerType: type, deadlineSeconds: timeout },
      { versionId: ref.versionId, input: state.input, startedAt: state.started_at },
    );
    const result = await runWithHost(host, () => worker.poll!(ref.runId, ref.instanceId, config, state.output));
    if (result.status === 'running') {
      const extend = result.extendSeconds ?? timeout;
      await runtime.pool.query(
        `WITH u AS (UPDATE stitch_node_runs SET deadline_at = now() + make_interval(secs => $5), updated_at = now()
                    WHERE run_id = $1 AND instance_id = $2 AND attempt = $4 AND status = 'running' RETURNING 1)
         SELECT graphile_worker.add_job('stitch_deadline', json_build_object('r', $1::uuid, 'v', $3::uuid, 'i', $2::text, 'a', $4::int),
                run_at => now() + make_interval(secs => $5), max_attempts => 5, job_key => stitch_job_key('deadline', $1::uuid, $2::text)) FROM u`,
        [ref.runId, ref.instanceId, ref.versionId, ref.attempt, extend],
      );
      return;
    }
    await applyCallback(graph, ref, result, {});
  } catch (error) {
    const e = coerceError(error);
    getLogger().warn({ runId: ref.runId, nodeId: ref.instanceId, error: e.message }, 'poll after callback deadline failed');
    await failAttempt(graph, ref, new Error(`No callback within the ${deadlineText}, and polling failed: ${e.message}`));
  }
}

/**
 * Run one node attempt's `poll()` now rather than at its deadline (a vendor said "done" without the
 * result): its deadline moves to now and its keyed deadline job is replaced by one due now. Only
 * the node the callback was signed for — never another run's node.
 */
export async function pollNow(runId: string, instanceId: string, attempt: number): Promise<boolean> {
  const { rowCount } = await getPool().query(
    `WITH n AS (
       UPDATE stitch_node_runs SET deadline_at = now(), updated_at = now()
       WHERE run_id = $1 AND instance_id = $2 AND attempt = $3 AND status = 'running' AND deadline_at IS NOT NULL
       RETURNING run_id, instance_id, attempt
     )
     SELECT graphile_worker.add_job('stitch_deadline',
              json_build_object('r', n.run_id, 'v', r.version_id, 'i', n.instance_id, 'a', n.attempt), max_attempts => 5,
              job_key => stitch_job_key('deadline', n.run_id, n.instance_id))
     FROM n JOIN stitch_runs r ON r.id = n.run_id`,
    [runId, instanceId, attempt],
  );
  return (rowCount ?? 0) > 0;
}
