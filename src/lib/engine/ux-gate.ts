/**
 * UX gates: `ux` nodes park in `waiting_for_user` with their input, `config.prompt` and the
 * optional `config.inputSchema` of the answer visible on the instance (input, metadata), until a
 * person answers (`answerUserTask`, called by POST /api/stitch/complete/:runId/:nodeId). The
 * node's output is its input merged with the answer. With a deadline (`config.timeoutSeconds`),
 * an unanswered gate completes with `config.defaultAnswer`, or fails when there is none.
 *
 *   pending ──waitForUser──▶ waiting_for_user ──answer / default answer──▶ completed
 *                                         └──────deadline, no default────▶ failed
 */
import type { ExecutionGraph, ExecutionNode, FieldSchema, WorkerDefinition } from '@/types/stitch';
import { ConflictError, NonRetriableError, NotFoundError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { readNodeAttempt } from '@/lib/db/queries/node-attempt';
import { waitForUser as waitForUserQuery } from '@/lib/db/queries/transitions';
import { retryTransient } from '@/lib/db/transient';
import { isUuid } from '@/lib/db/runs';
import { validateInput } from '@/lib/workers/validate-input';
import { failAttempt } from './complete-node';
import { getExecutionGraph } from './graph-cache';
import { parseInstanceId } from './instances';
import { settleNode, type NodeRef } from './transitions';
import type { ExecutePayload } from './execute-payload';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function answerSchemaOf(node: ExecutionNode): Record<string, FieldSchema> | undefined {
  const schema = node.config.inputSchema ?? node.inputSchema;
  return isPlainObject(schema) ? (schema as Record<string, FieldSchema>) : undefined;
}

function deadlineSecondsOf(node: ExecutionNode): number | null {
  const seconds = node.config.timeoutSeconds ?? node.timeoutSeconds;
  return typeof seconds === 'number' && seconds > 0 ? seconds : null;
}

/** Check an answer against the gate's schema (required fields, types, defaults filled in). */
export function checkAnswer(node: ExecutionNode, answer: unknown): Record<string, unknown> {
  if (answer !== undefined && !isPlainObject(answer)) {
    throw new ValidationError(`The answer to "${node.id}" must be a JSON object of fields, not ${Array.isArray(answer) ? 'an array' : typeof answer}.`);
  }
  const schema = answerSchemaOf(node);
  if (!schema) return { ...(answer ?? {}) };
  const { input, problems } = validateInput({ input: schema } as WorkerDefinition, answer ?? {});
  if (problems.length) {
    throw new ValidationError(`The answer to "${node.id}" does not match its inputSchema: ${problems.join('; ')}`, { problems });
  }
  return input as Record<string, unknown>;
}

function mergeAnswer(input: unknown, answer: Record<string, unknown>): Record<string, unknown> {
  return isPlainObject(input) ? { ...input, ...answer } : { ...answer };
}

/** pending → waiting_for_user, in one statement with the deadline job and the `node:waiting` event. */
export async function waitForUser(node: ExecutionNode, ref: NodeRef, input: unknown, jobId?: string): Promise<boolean> {
  const metadata = {
    prompt: typeof node.config.prompt === 'string' ? node.config.prompt : node.label ?? `Input needed for ${node.id}`,
    inputSchema: answerSchemaOf(node) ?? null,
  };
  return retryTransient('waitForUser', () =>
    waitForUserQuery(getPool(), ref, { inputJson: JSON.stringify(input ?? null), metadata, deadlineSeconds: deadlineSecondsOf(node), jobIds: jobId ? [jobId] : [] }),
  );
}

/** Answer a waiting UX gate with the human's input; the node completes with input merged with the answer. */
export async function answerUserTask(runId: string, instanceId: string, answer: unknown): Promise<void> {
  if (!isUuid(runId)) throw new NotFoundError(`Run ${runId}`);
  const state = await readNodeAttempt(getPool(), runId, instanceId, true);
  if (!state) throw new NotFoundError(`Node ${instanceId} of run ${runId} (inside a splitter, name the item instance, e.g. "${instanceId}[0]")`);
  const graph = await getExecutionGraph(state.versionId);
  const node = graph.nodes[parseInstanceId(instanceId).nodeId];
  if (node?.type !== 'ux') throw new ConflictError(`Node ${instanceId} is a ${node?.type ?? 'unknown'} node, not a UX gate: it cannot be answered.`);
  if (state.status !== 'waiting_for_user' || state.runStatus !== 'running') {
    throw new ConflictError(`UX gate ${instanceId} is ${state.status} (run ${state.runStatus}): only a gate waiting for input can be answered.`, {
      status: state.status,
      runStatus: state.runStatus,
    });
  }
  const checked = checkAnswer(node, answer);
  const ref = { runId, versionId: state.versionId, instanceId, attempt: state.attempt };
  const result = await settleNode(graph, ref, {
    status: 'completed',
    output: mergeAnswer(state.input, checked),
    merge: false,
    metadata: { answeredBy: 'user', answer: checked },
  });
  if (!result.ok) throw new ConflictError(`UX gate ${instanceId} was answered, timed out or cancelled meanwhile: this answer changes nothing.`);
}

/** The `stitch_ux_deadline` job: the gate's deadline passed without an answer. */
export async function uxDeadlineJob(payload: ExecutePayload): Promise<void> {
  const state = await readNodeAttempt(getPool(), payload.r, payload.i, true);
  if (!state || state.runStatus !== 'running' || state.status !== 'waiting_for_user' || state.attempt !== payload.a) return;
  const graph: ExecutionGraph = await getExecutionGraph(payload.v);
  const node = graph.nodes[parseInstanceId(payload.i).nodeId];
  const ref = { runId: payload.r, versionId: payload.v, instanceId: payload.i, attempt: payload.a };
  if (node.config.defaultAnswer !== undefined) {
    let answer: Record<string, unknown>;
    try {
      answer = checkAnswer(node, node.config.defaultAnswer);
    } catch (error) {
      await failAttempt(graph, ref, new NonRetriableError(`UX gate "${node.id}" timed out and its defaultAnswer is invalid: ${(error as Error).message}`));
      return;
    }
    await settleNode(graph, ref, { status: 'completed', output: mergeAnswer(state.input, answer), merge: false, metadata: { answeredBy: 'default', answer } });
    return;
  }
  const seconds = deadlineSecondsOf(node);
  await failAttempt(graph, ref, new NonRetriableError(`No answer to UX gate "${node.label ?? node.id}" within ${seconds}s, and it has no defaultAnswer`), {
    input: state.input,
  });
}
