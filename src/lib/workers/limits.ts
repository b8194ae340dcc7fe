/**
 * Per-integration limits, shared by every process on the database: at most `maxInFlight` jobs of a
 * worker type at once (an async job waiting for its vendor's callback still counts) and at most
 * `maxRequests` executions started per `intervalSeconds`. Over a limit a node is not failed: its
 * job is enqueued again for later and the node stays `pending`, marked `{throttled: true}` (one
 * SQL call: `stitch_acquire_integration_slot`, 0005_integrations.sql).
 *
 * Defaults below; override per type with STITCH_LIMITS='{"minimax":{"maxInFlight":2}}' or
 * STITCH_LIMIT_MINIMAX_MAX_IN_FLIGHT=2 (0 = no limit).
 */
import { runtimeConfig } from '@/lib/runtime';
import { getPool } from '@/lib/db/pool';
import { acquireIntegrationSlot as takeSlot } from '@/lib/db/queries/integration-slots';
import type { NodeRef } from '@/lib/engine/node-ref';
import { logWorker } from './utils';

export interface IntegrationLimit {
  maxInFlight: number;
  maxRequests: number;
  intervalSeconds: number;
}

/** Conservative defaults, below the vendors' entry-plan limits (see docs/integrations.md). */
export const DEFAULT_LIMITS: Record<string, Partial<IntegrationLimit>> = {
  claude: { maxRequests: 50, intervalSeconds: 60 },
  minimax: { maxInFlight: 5 },
  elevenlabs: { maxInFlight: 3 },
  shotstack: { maxInFlight: 5 },
  'http-webhook': { maxInFlight: 50 },
};

/** How long a node over an in-flight limit waits before asking again (plus up to 30% jitter). */
const RECHECK_SECONDS = 2;

/** The effective limit of a worker type, or undefined when it has none. */
export function limitFor(type: string): IntegrationLimit | undefined {
  const merged = { ...DEFAULT_LIMITS[type], ...runtimeConfig().integrationLimits[type] };
  const limit = { maxInFlight: merged.maxInFlight ?? 0, maxRequests: merged.maxRequests ?? 0, intervalSeconds: merged.intervalSeconds || 60 };
  return limit.maxInFlight > 0 || limit.maxRequests > 0 ? limit : undefined;
}

/**
 * Take a slot for this attempt before its worker executes. False: over the limit — the job has been
 * re-enqueued for later and the node marked throttled; the caller just returns.
 */
export async function acquireIntegrationSlot(type: string, ref: NodeRef): Promise<boolean> {
  const limit = limitFor(type);
  if (!limit) return true;
  const result = await takeSlot(getPool(), {
    type,
    ...ref,
    ...limit,
    recheckSeconds: RECHECK_SECONDS * (1 + Math.random() * 0.3),
  });
  if (!result.ok) logWorker('debug', 'Integration limit reached; node throttled', { worker: type, runId: ref.runId, nodeId: ref.instanceId, reason: result.reason, waitSeconds: result.waitSeconds });
  return result.ok;
}
