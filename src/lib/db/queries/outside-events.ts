/**
 * Events from outside and the `event` nodes waiting for them (migration 0022, docs/nodes.md):
 * stored events, wait rows, and the one statement on each side that matches them.
 */
import type { AttemptRef, Queryable } from './queryable';
import { MICROS, UUID_KEY, createdKey, decodeCursor, fromMicros, pageOf } from './keyset-cursor';

export type WaitOutcome = { outcome: 'waiting' | 'gone' | 'full' } | { outcome: 'matched'; eventId: string; payload: unknown };

/** Start waiting (or match a stored event) for one event node attempt: stitch_wait_for_event. */
export async function waitForEvent(
  db: Queryable,
  ref: AttemptRef,
  w: { inputJson: string; name: string; key: string; deadlineSeconds: number | null; maxWaits: number },
): Promise<WaitOutcome> {
  const { rows } = await db.query<{ outcome: string; event_id: string | null; payload: unknown }>(
    'SELECT outcome, event_id, payload FROM stitch_wait_for_event($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)',
    [ref.runId, ref.versionId, ref.instanceId, ref.attempt, w.inputJson, w.name, w.key, w.deadlineSeconds, w.maxWaits],
  );
  const r = rows[0];
  if (r.outcome === 'matched') return { outcome: 'matched', eventId: String(r.event_id), payload: r.payload };
  return { outcome: r.outcome as 'waiting' | 'gone' | 'full' };
}

/** Store an event and hand it to every node waiting for it: stitch_receive_event. `eventId` null = the store is full. */
export async function receiveEvent(
  db: Queryable,
  e: { name: string; key: string; payloadJson: string; retentionSeconds: number; maxStored: number },
): Promise<{ eventId: string | null; delivered: number }> {
  const { rows } = await db.query<{ event_id: string | null; delivered: number }>(
    'SELECT event_id, delivered FROM stitch_receive_event($1, $2, $3::jsonb, $4, $5)',
    [e.name, e.key, e.payloadJson, e.retentionSeconds, e.maxStored],
  );
  return { eventId: rows[0].event_id === null ? null : String(rows[0].event_id), delivered: rows[0].delivered };
}

/** The timeout's claim on a wait: true if this attempt was still waiting (no event took it meanwhile). */
export async function takeWait(db: Queryable, ref: { runId: string; instanceId: string; attempt: number }): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM stitch_event_waits WHERE run_id = $1 AND instance_id = $2 AND attempt = $3', [
    ref.runId,
    ref.instanceId,
    ref.attempt,
  ]);
  return (rowCount ?? 0) > 0;
}

export interface EventWait {
  runId: string;
  instanceId: string;
  attempt: number;
  key: string;
  since: string;
  deadlineAt: string | null;
}

/**
 * Who waits for event `name` (optionally one key), oldest first, keyset-paginated on
 * (created_at, run, instance); only nodes still waiting at that attempt.
 */
export async function listWaits(db: Queryable, name: string, f: { key?: string; limit: number; cursor?: string }): Promise<{ waiting: EventWait[]; nextCursor: string | null }> {
  const after = decodeCursor(f.cursor || undefined, [MICROS, UUID_KEY, /^[^[\]]{1,1000}$/]);
  const { rows } = await db.query<{ run_id: string; instance_id: string; attempt: number; key: string; created_at: Date; deadline_at: Date | null; created_key: string }>(
    `SELECT w.run_id, w.instance_id, w.attempt, w.key, w.created_at, w.deadline_at, ${createdKey('w')}
     FROM stitch_event_waits w
     JOIN stitch_node_runs n ON n.run_id = w.run_id AND n.instance_id = w.instance_id AND n.attempt = w.attempt AND n.status = 'running'
     WHERE w.name = $1 AND ($2::text IS NULL OR w.key = $2)
       AND ($3::bigint IS NULL OR (w.created_at, w.run_id, w.instance_id) > (${fromMicros('$3')}, $4::uuid, $5::text))
     ORDER BY w.created_at, w.run_id, w.instance_id
     LIMIT $6`,
    [name, f.key ?? null, after?.[0] ?? null, after?.[1] ?? null, after?.[2] ?? null, f.limit + 1],
  );
  const page = pageOf(rows, f.limit, (r) => [r.created_key, r.run_id, r.instance_id]);
  return {
    waiting: page.rows.map((r) => ({
      runId: r.run_id,
      instanceId: r.instance_id,
      attempt: r.attempt,
      key: r.key,
      since: r.created_at.toISOString(),
      deadlineAt: r.deadline_at?.toISOString() ?? null,
    })),
    nextCursor: page.nextCursor,
  };
}
