/**
 * `event` nodes: wait for an event from outside (`POST /api/events/:name {key, payload}`), matched
 * by name and by a key rendered from the node's input (`config.match`, a template like
 * "{{orderId}}"). The node's output is the event's payload.
 *
 *   pending ──stored event of (name, key) since the run began──▶ completed (at once)
 *      └──────▶ running (a wait row) ──event──▶ stitch_event_deliver job ──▶ completed
 *                                  └──timeoutSeconds──▶ stitch_event_timeout job ──▶ failed (continueOnError applies)
 *
 * Waits and events are rows, matched under a lock on (name, key) taken by both sides
 * (0034_outside_events.sql): an event that arrives just before its node waits is found when the
 * node starts; one that arrives after is handed over by a job added in the event's own commit.
 */
import type { ExecutionGraph, ExecutionNode, ValidationIssue } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { receiveEvent, takeWait, waitForEvent } from '@/lib/db/queries/outside-events';
import { retryTransient } from '@/lib/db/transient';
import { runtimeConfig } from '@/lib/runtime';
import { renderTemplate } from '@/lib/workers/transform';
import { failAttempt } from './complete-node';
import { getExecutionGraph } from './graph-cache';
import { parseInstanceId } from './instances';
import { MAX_SECONDS } from './node-settings';
import { settleNode, type NodeRef } from './transitions';
import type { ExecutePayload } from './execute-payload';

/** Event names: what a sender puts in the URL (`payment.succeeded`, `order:shipped`, `review-done`). */
export const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
/** Longest key, in characters. */
export const MAX_EVENT_KEY = 512;

const nameOf = (node: ExecutionNode) => node.config.event as string;

function timeoutOf(node: ExecutionNode): number | null {
  const seconds = node.config.timeoutSeconds ?? node.timeoutSeconds;
  return typeof seconds === 'number' && seconds > 0 ? seconds : null;
}

/** Save-time checks of an event node's settings. */
export function checkEventConfig(node: ExecutionNode): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { event, match, timeoutSeconds } = node.config;
  if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
    issues.push({ code: 'invalid_event_name', nodeId: node.id, field: 'event', message: `Event node "${node.id}": config.event must be the event's name (letters, digits and . _ : -, at most 200 characters), e.g. "payment.succeeded".` });
  }
  if (typeof match !== 'string' || match.trim() === '') {
    issues.push({ code: 'invalid_event_match', nodeId: node.id, field: 'match', message: `Event node "${node.id}": config.match must be a template of the key to wait for, over the node's input, e.g. "{{orderId}}".` });
  }
  if (timeoutSeconds !== undefined && !(typeof timeoutSeconds === 'number' && timeoutSeconds > 0 && timeoutSeconds <= MAX_SECONDS)) {
    issues.push({ code: 'invalid_event_timeout', nodeId: node.id, field: 'timeoutSeconds', message: `Event node "${node.id}": config.timeoutSeconds must be a number of seconds > 0 and ≤ ${MAX_SECONDS} (or left out to wait for ever).` });
  }
  return issues;
}

/** The key this attempt waits for: `config.match` rendered against the input. */
function keyOf(node: ExecutionNode, input: unknown): string {
  const rendered = renderTemplate(node.config.match as string, input ?? {});
  const key = rendered === undefined || rendered === null ? '' : typeof rendered === 'object' ? JSON.stringify(rendered) : String(rendered);
  if (key === '') throw new NonRetriableError(`Event node "${node.id}": its match "${node.config.match}" is empty for this input, so no event could be matched.`);
  if (key.length > MAX_EVENT_KEY) throw new NonRetriableError(`Event node "${node.id}": its key is ${key.length} characters long (at most ${MAX_EVENT_KEY}).`);
  return key;
}

/** Execute an event node attempt: complete it with a stored event, or start waiting. */
export async function runEventNode(graph: ExecutionGraph, node: ExecutionNode, ref: NodeRef, input: unknown): Promise<void> {
  let key: string;
  try {
    key = keyOf(node, input);
  } catch (error) {
    await failAttempt(graph, ref, error as Error, { input });
    return;
  }
  const { limits } = runtimeConfig();
  const name = nameOf(node);
  const result = await retryTransient('waitForEvent', () =>
    waitForEvent(getPool(), ref, { inputJson: JSON.stringify(input ?? null), name, key, deadlineSeconds: timeoutOf(node), maxWaits: limits.eventWaits }),
  );
  if (result.outcome === 'matched') {
    await settleNode(graph, ref, { status: 'completed', output: result.payload, input, merge: false, metadata: { event: { name, key, id: result.eventId } } });
  } else if (result.outcome === 'full') {
    await failAttempt(graph, ref, new NonRetriableError(`Event node "${node.id}": ${limits.eventWaits} nodes already wait for events (STITCH_MAX_EVENT_WAITS).`), { input });
  }
}

/** Receive an event from outside: stored for late waiters, and handed to every node waiting for it. */
export async function receiveOutsideEvent(name: string, key: string, payload: unknown): Promise<{ eventId: string | null; delivered: number }> {
  const { limits } = runtimeConfig();
  return retryTransient('receiveEvent', () =>
    receiveEvent(getPool(), { name, key, payloadJson: JSON.stringify(payload ?? null), retentionSeconds: limits.eventRetentionSeconds, maxStored: limits.storedEvents }),
  );
}

export interface EventDeliverPayload extends ExecutePayload {
  e: string;
  n: string;
  k: string;
  p: unknown;
}

/** The `stitch_event_deliver` job: an event arrived for this waiting attempt. */
export async function eventDeliverJob(payload: EventDeliverPayload): Promise<void> {
  const graph = await getExecutionGraph(payload.v);
  const ref = { runId: payload.r, versionId: payload.v, instanceId: payload.i, attempt: payload.a };
  // The compare-and-set refuses an attempt that moved on (cancelled, timed out): nothing changes.
  await settleNode(graph, ref, { status: 'completed', output: payload.p, merge: false, metadata: { event: { name: payload.n, key: payload.k, id: String(payload.e) } } });
}

/** The `stitch_event_timeout` job: no event before the node's deadline. */
export async function eventTimeoutJob(payload: ExecutePayload): Promise<void> {
  const ref = { runId: payload.r, versionId: payload.v, instanceId: payload.i, attempt: payload.a };
  // An event that took the wait first wins; so does a cancel (its wait is gone with its node's status).
  if (!(await retryTransient('takeWait', () => takeWait(getPool(), ref)))) return;
  const graph = await getExecutionGraph(payload.v);
  const node = graph.nodes[parseInstanceId(payload.i).nodeId];
  const waiting = node.config.event as string;
  await failAttempt(graph, ref, new NonRetriableError(`No "${waiting}" event for event node "${node.label ?? node.id}" within ${timeoutOf(node)}s`));
}
