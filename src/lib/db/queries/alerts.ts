/**
 * Flow alerts (0027_alerts.sql): a flow's list, the per-alert delivery state (pending count,
 * latest occurrence, last outcome) and the `stitch_alert` / `stitch_alert_slow` jobs around it.
 */
import type { AlertEvent, AlertSpec } from '@/types/stitch';
import type { Queryable } from './queryable';
import { iso } from '../rows';

/** One alert of a flow, named as the state table keys it. */
export interface AlertKey {
  flowId: string;
  on: AlertEvent;
  to: string;
}

export interface AlertState {
  pending: number;
  pendingSince: string | null;
  latest: Record<string, unknown> | null;
  lastSentAt: Date | null;
  lastResult: string | null;
  lastAttemptAt: string | null;
}

/** Replace a flow's alerts (undefined: the flow does not exist or is deleted). */
export async function updateFlowAlerts(db: Queryable, flowId: string, alerts: AlertSpec[]): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE stitch_flows SET alerts = $2::jsonb WHERE id = $1 AND deleted_at IS NULL', [flowId, JSON.stringify(alerts)]);
  return rowCount === 1;
}

/** A live flow's name and alerts. */
export async function readFlowAlerts(db: Queryable, flowId: string): Promise<{ name: string; alerts: AlertSpec[] } | undefined> {
  const { rows } = await db.query<{ name: string; alerts: AlertSpec[] }>('SELECT name, alerts FROM stitch_flows WHERE id = $1 AND deleted_at IS NULL', [flowId]);
  return rows[0];
}

const toState = (r: Record<string, any>): AlertState => ({
  pending: r.pending,
  pendingSince: iso(r.pending_since),
  latest: r.latest,
  lastSentAt: r.last_sent_at,
  lastResult: r.last_result,
  lastAttemptAt: iso(r.last_attempt_at),
});

export async function readAlertState(db: Queryable, key: AlertKey): Promise<AlertState | undefined> {
  const { rows } = await db.query('SELECT * FROM stitch_alert_state WHERE flow_id = $1 AND alert_on = $2 AND alert_to = $3', [key.flowId, key.on, key.to]);
  return rows[0] && toState(rows[0]);
}

/** Every alert state row of a flow, keyed `${on} ${to}`. */
export async function listAlertStates(db: Queryable, flowId: string): Promise<Map<string, AlertState>> {
  const { rows } = await db.query('SELECT * FROM stitch_alert_state WHERE flow_id = $1', [flowId]);
  return new Map(rows.map((r) => [`${r.alert_on} ${r.alert_to}`, toState(r)]));
}

const ALERT_JOB = `graphile_worker.add_job('stitch_alert', json_build_object('f', $1::uuid, 'on', $2::text, 'to', $3::text),
                     run_at => $4::timestamptz, max_attempts => 8, job_key => stitch_alert_job_key($1, $2, $3))`;

/** Put the alert's delivery job off until `runAt` (the window since the last message is not over). */
export async function postponeAlert(db: Queryable, key: AlertKey, runAt: Date): Promise<void> {
  await db.query(`SELECT ${ALERT_JOB}`, [key.flowId, key.on, key.to, runAt]);
}

/**
 * After a delivery (or after giving up on one): `sent` occurrences are off the count and the
 * outcome recorded; occurrences that arrived meanwhile get the next job, a window from now.
 */
export async function settleAlertDelivery(db: Queryable, key: AlertKey, sent: number, result: string, delivered: boolean, windowSeconds: number): Promise<void> {
  await db.query(
    `WITH s AS (
       UPDATE stitch_alert_state SET pending = greatest(pending - $4, 0),
              pending_since = CASE WHEN pending - $4 > 0 THEN pending_since END,
              latest = CASE WHEN pending - $4 > 0 THEN latest END,
              last_sent_at = CASE WHEN $6 THEN now() ELSE last_sent_at END,
              last_result = $5, last_attempt_at = now()
       WHERE flow_id = $1 AND alert_on = $2 AND alert_to = $3
       RETURNING pending
     )
     SELECT ${ALERT_JOB.replace('$4::timestamptz', "now() + make_interval(secs => $7)")} FROM s WHERE s.pending > 0`,
    [key.flowId, key.on, key.to, sent, result.slice(0, 500), delivered, windowSeconds],
  );
}

/** A delivery attempt that will be tried again, or a test message: its outcome, for the flow page. */
export async function recordAlertAttempt(db: Queryable, key: AlertKey, result: string): Promise<void> {
  await db.query(
    `INSERT INTO stitch_alert_state AS s (flow_id, alert_on, alert_to, last_result, last_attempt_at) VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (flow_id, alert_on, alert_to) DO UPDATE SET last_result = $4, last_attempt_at = now()`,
    [
    key.flowId,
    key.on,
    key.to,
    result.slice(0, 500),
  ]);
}

/** An alert that is no longer on its flow: forget what was pending for it. */
export async function dropAlertState(db: Queryable, key: AlertKey): Promise<void> {
  await db.query('DELETE FROM stitch_alert_state WHERE flow_id = $1 AND alert_on = $2 AND alert_to = $3', [key.flowId, key.on, key.to]);
}

/** `run.slower_than`: raise it if the run is still open (false: it finished in time, or is gone). */
export async function raiseSlowRunAlert(db: Queryable, runId: string, to: string, seconds: number): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT stitch_raise_alert(flow_id, 'run.slower_than',
              jsonb_build_object('runId', id, 'startedAt', started_at, 'seconds', $3::float8), $2) AS raised
     FROM stitch_runs WHERE id = $1 AND status IN ('pending', 'running') AND flow_id IS NOT NULL`,
    [runId, to, seconds],
  );
  return rows.length > 0;
}

/** A test message for one alert, through the queue (one attempt: the flow page shows its outcome). */
export async function addTestAlertJob(db: Queryable, key: AlertKey): Promise<void> {
  await db.query(`SELECT graphile_worker.add_job('stitch_alert', json_build_object('f', $1::uuid, 'on', $2::text, 'to', $3::text, 'test', true), max_attempts => 1)`, [
    key.flowId,
    key.on,
    key.to,
  ]);
}
