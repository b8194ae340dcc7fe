/**
 * Integration limits (`stitch_acquire_integration_slot`, 0005_integrations.sql): one call takes a
 * slot for a node attempt, or re-enqueues its job for later and marks the node throttled.
 */
import type { Queryable } from './queryable';

export interface SlotRequest {
  type: string;
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
  maxInFlight: number;
  maxRequests: number;
  intervalSeconds: number;
  /** Over an in-flight limit: ask again after this many seconds. */
  recheckSeconds: number;
}

export interface SlotResult {
  ok: boolean;
  reason?: string;
  waitSeconds?: number;
}

export async function acquireIntegrationSlot(db: Queryable, s: SlotRequest): Promise<SlotResult> {
  const { rows } = await db.query<{ r: SlotResult }>('SELECT stitch_acquire_integration_slot($1, $2, $3, $4, $5, $6, $7, $8, $9) AS r', [
    s.type,
    s.runId,
    s.versionId,
    s.instanceId,
    s.attempt,
    s.maxInFlight,
    s.maxRequests,
    s.intervalSeconds,
    s.recheckSeconds,
  ]);
  return rows[0].r;
}
