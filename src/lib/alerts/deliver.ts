/**
 * The `stitch_alert` job: one message for everything pending on one alert (flow, event, target),
 * signed and SSRF-guarded like the http-webhook worker's calls (outbound-http.ts), at most one per
 * STITCH_ALERT_WINDOW_SECONDS. A receiver that fails (5xx, timeout, refused) is tried again by the
 * queue (graphile's backoff, 8 attempts over about half an hour); occurrences that arrive
 * meanwhile join the next try's count. After the last attempt the count is dropped and the
 * outcome stays on the flow page (`GET /api/flows/{id}/alerts`).
 *
 * `stitch_alert_slow`: the `run.slower_than` check its run's start placed (0027_alerts.sql).
 */
import type { AlertEvent } from '@/types/stitch';
import type { Runtime } from '@/lib/runtime';
import { errorMessage } from '@/lib/errors';
import {
  dropAlertState,
  postponeAlert,
  raiseSlowRunAlert,
  readAlertState,
  readFlowAlerts,
  recordAlertAttempt,
  settleAlertDelivery,
  type AlertKey,
} from '@/lib/db/queries/alerts';
import { checkTarget, postJson, signatureHeaders } from '@/lib/workers/outbound-http';
import { alertBody, type AlertFacts, type AlertOccurrence } from './message';
import { formatOf } from './spec';

export interface AlertJobPayload {
  f: string;
  on: AlertEvent;
  to: string;
  /** A test message from the flow page: sent once, counts nothing. */
  test?: boolean;
}

/** The queue job's own facts (graphile's `helpers.job`). */
export interface JobFacts {
  id: string;
  attempts: number;
  max_attempts: number;
}

const TIMEOUT_MS = 10_000;

/** POST one message; the outcome as a short line, and whether the receiver took it. */
async function send(runtime: Runtime, to: string, body: string, deliveryId: string): Promise<{ ok: boolean; result: string }> {
  const allowPrivate = runtime.config.webhookAllowPrivate;
  try {
    const url = checkTarget(to, allowPrivate, 'alert target');
    const headers = { ...(await signatureHeaders(body)), 'User-Agent': 'Stitch-Alert/1', 'X-Stitch-Event': 'alert', 'X-Stitch-Delivery': deliveryId };
    const answer = await postJson(url, body, headers, TIMEOUT_MS, allowPrivate);
    const ok = answer.status >= 200 && answer.status < 300;
    return { ok, result: `${answer.status}${ok || !answer.text ? '' : `: ${answer.text.slice(0, 200)}`}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, result: `${code === 'ESSRF' ? 'refused' : 'unreachable'}: ${errorMessage(error)}` };
  }
}

export async function alertJob(runtime: Runtime, payload: AlertJobPayload, job: JobFacts): Promise<void> {
  const { pool, config, logger } = runtime;
  const key: AlertKey = { flowId: payload.f, on: payload.on, to: payload.to };
  const flow = await readFlowAlerts(pool, key.flowId);
  const alert = flow?.alerts.find((a) => a.on === key.on && a.to === key.to);
  if (!flow || !alert) {
    await dropAlertState(pool, key); // the alert (or its flow) was removed since
    return;
  }
  const facts = (count: number, since: string | null, latest: AlertOccurrence | null, test: boolean): AlertFacts => ({
    flow: { id: key.flowId, name: flow.name },
    on: key.on,
    count,
    since,
    latest,
    test,
    baseUrl: config.baseUrl,
    deliveryId: `${key.flowId}:${job.id}`,
  });

  if (payload.test) {
    const outcome = await send(runtime, key.to, alertBody(facts(0, null, null, true), formatOf(alert)), `${key.flowId}:${job.id}`);
    await recordAlertAttempt(pool, key, `test: ${outcome.result}`);
    return;
  }

  const state = await readAlertState(pool, key);
  if (!state || state.pending === 0) return;
  const windowEnds = state.lastSentAt ? state.lastSentAt.getTime() + config.alertWindowSeconds * 1000 : 0;
  if (windowEnds > Date.now()) {
    await postponeAlert(pool, key, new Date(windowEnds)); // at most one message per window
    return;
  }
  const body = alertBody(facts(state.pending, state.pendingSince, state.latest as AlertOccurrence | null, false), formatOf(alert));
  const outcome = await send(runtime, key.to, body, `${key.flowId}:${job.id}`);
  if (outcome.ok) {
    await settleAlertDelivery(pool, key, state.pending, outcome.result, true, config.alertWindowSeconds);
    return;
  }
  if (job.attempts < job.max_attempts) {
    await recordAlertAttempt(pool, key, outcome.result);
    // The queue tries again later; the URL is the user's, so its address stays out of the log.
    throw new Error(`alert delivery failed (attempt ${job.attempts} of ${job.max_attempts}): ${outcome.result}`);
  }
  logger.error({ flowId: key.flowId, on: key.on, attempts: job.attempts, result: outcome.result }, 'alert not delivered; giving up on its occurrences');
  await settleAlertDelivery(pool, key, state.pending, `gave up after ${job.attempts} attempts: ${outcome.result}`, false, config.alertWindowSeconds);
}

export interface SlowAlertPayload {
  r: string;
  to: string;
  s: number;
}

/** `run.slower_than`: raised if the run is still open at its start + `s` seconds. */
export async function slowAlertJob(runtime: Runtime, payload: SlowAlertPayload): Promise<void> {
  await raiseSlowRunAlert(runtime.pool, payload.r, payload.to, payload.s);
}
