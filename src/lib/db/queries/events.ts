/**
 * Reads of the append-only event log for the SSE streams: history for one run or for all runs,
 * and the hub's per-run window reads after a NOTIFY.
 */
import type { StitchEvent } from '@/types/stitch';
import type { Queryable } from './queryable';
import { toStitchEvent, type EventDbRow } from '@/lib/db/rows';

const COLUMNS = 'e.id, e.run_id, e.instance_id, e.type, e.payload, e.created_at';

/** Events of one run (or of all runs when `runId` is null) with id > `afterId`, oldest first. */
export async function readEventsAfter(db: Queryable, runId: string | null, afterId: number, limit = 1000): Promise<StitchEvent[]> {
  const { rows } = await db.query<EventDbRow>(
    `SELECT ${COLUMNS} FROM stitch_events e
     WHERE ($1::uuid IS NULL OR e.run_id = $1) AND e.id > $2 ORDER BY e.id LIMIT $3`,
    [runId, afterId, limit],
  );
  return rows.map(toStitchEvent);
}

/** For each (run, lowId): that run's events with id > lowId, in id order. One round trip. */
export async function readRunWindows(db: Queryable, windows: Array<{ runId: string; afterId: number }>): Promise<StitchEvent[]> {
  if (windows.length === 0) return [];
  const { rows } = await db.query<EventDbRow>(
    `SELECT ${COLUMNS}
     FROM unnest($1::uuid[], $2::bigint[]) AS w(run_id, after_id)
     JOIN stitch_events e ON e.run_id = w.run_id AND e.id > w.after_id
     ORDER BY e.id`,
    [windows.map((w) => w.runId), windows.map((w) => w.afterId)],
  );
  return rows.map(toStitchEvent);
}

/** The highest event id so far (0 for an empty log). */
export async function latestEventId(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: number | null }>('SELECT max(id) AS id FROM stitch_events');
  return rows[0].id ?? 0;
}

/** One `NOTIFY stitch_events` per run, naming its newest event (listeners read from there). */
export async function notifyRuns(db: Queryable, runIds: string[]): Promise<void> {
  await db.query(
    `SELECT pg_notify('stitch_events', json_build_object('runId', r, 'id', (SELECT max(id) FROM stitch_events e WHERE e.run_id = r))::text)
     FROM unnest($1::uuid[]) AS r`,
    [runIds],
  );
}
