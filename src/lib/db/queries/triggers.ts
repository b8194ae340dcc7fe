/**
 * Webhook triggers (table from migration 0003): a slug that starts a flow, its signing secret, the
 * budget of the runs it starts (0018; null: the flow's default), and their tags — templates over
 * the delivery's payload — and priority (0021).
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from './queryable';
import { getFlow } from './flows';
import { isUuid, iso } from '@/lib/db/rows';
import { checkBudgetUsd } from '@/lib/budget/budget-usd';
import { checkPriority, checkRunTags } from '@/lib/fair/run-tags';
import { runtimeConfig } from '@/lib/runtime';
import { ConflictError, LimitReachedError, NotFoundError } from '@/lib/errors';
import { lockCollection } from './advisory-locks';
import { MICROS, UUID_KEY, decodeCursor, fromMicros, micros, pageOf, type PageRequest } from './keyset-cursor';

export interface Trigger {
  id: string;
  flowId: string;
  slug: string;
  /** Spend cap in USD of every run it starts (null: the flow's default). */
  budgetUsd: number | null;
  /** Tag templates over the payload (`{"customer": "{{account.id}}"}`) of every run it starts. */
  tags: Record<string, string>;
  priority: number;
  createdAt: string;
  lastUsedAt: string | null;
}

/** What a trigger gives the runs it starts; each field left out keeps its value (none, on creation). */
export interface TriggerSettings {
  budgetUsd?: number | null;
  tags?: Record<string, string>;
  priority?: number;
}

export interface TriggerWithSecret extends Trigger {
  secret: string | null;
}

interface TriggerDbRow {
  id: string;
  flow_id: string;
  slug: string;
  secret: string | null;
  budget_usd: number | null;
  tags: Record<string, string>;
  priority: number;
  created_at: Date;
  last_used_at: Date | null;
}

const toTrigger = (r: TriggerDbRow): Trigger => ({
  id: r.id,
  flowId: r.flow_id,
  slug: r.slug,
  budgetUsd: r.budget_usd,
  tags: r.tags,
  priority: r.priority,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: iso(r.last_used_at),
});

/**
 * Create a trigger with a fresh 256-bit secret (returned here and never again), within the caller's
 * transaction: a flow has at most STITCH_MAX_TRIGGERS_PER_FLOW live triggers (409 `limit_reached`).
 */
export async function createTrigger(db: Queryable, flowId: string, slug?: string, settings: TriggerSettings = {}): Promise<Trigger & { secret: string }> {
  const { budgetUsd = null, tags, priority } = checkSettings(settings);
  const maxPerFlow = runtimeConfig().limits.triggersPerFlow;
  await getFlow(db, flowId);
  await lockCollection(db, `triggers:${flowId}`);
  const { rows: count } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stitch_triggers WHERE flow_id = $1 AND deleted_at IS NULL', [flowId]);
  if (count[0].n >= maxPerFlow) throw new LimitReachedError(`Flow ${flowId} has ${count[0].n} webhook triggers`, maxPerFlow, 'STITCH_MAX_TRIGGERS_PER_FLOW');
  const secret = randomBytes(32).toString('base64url');
  const chosen = slug ?? `wh-${randomBytes(9).toString('base64url')}`;
  try {
    const { rows } = await db.query<TriggerDbRow>(
      'INSERT INTO stitch_triggers (flow_id, slug, secret, budget_usd, tags, priority) VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING *',
      [flowId, chosen, secret, budgetUsd, JSON.stringify(tags ?? {}), priority ?? 0],
    );
    return { ...toTrigger(rows[0]), secret };
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new ConflictError(`The webhook slug "${chosen}" is taken: choose another.`);
    throw error;
  }
}

/** One page of a flow's live triggers, oldest first (keyset on created_at, id: ./keyset-cursor.ts). */
export async function listTriggers(db: Queryable, flowId: string, page: PageRequest): Promise<{ triggers: Trigger[]; nextCursor: string | null }> {
  await getFlow(db, flowId);
  const after = decodeCursor(page.cursor, [MICROS, UUID_KEY]);
  const { rows } = await db.query<TriggerDbRow & { created_key: string }>(
    `SELECT *, ${micros('created_at')} AS created_key FROM stitch_triggers
     WHERE flow_id = $1 AND deleted_at IS NULL AND ($2::bigint IS NULL OR (created_at, id) > (${fromMicros('$2')}, $3::uuid))
     ORDER BY created_at, id LIMIT $4`,
    [flowId, after?.[0] ?? null, after?.[1] ?? null, page.limit + 1],
  );
  const { rows: triggers, nextCursor } = pageOf(rows, page.limit, (r) => [r.created_key, r.id]);
  return { triggers: triggers.map(toTrigger), nextCursor };
}

/** The one check of what a trigger gives its runs (the CLI does not pass the API's schema). */
function checkSettings(settings: TriggerSettings): TriggerSettings {
  if (settings.budgetUsd !== undefined) checkBudgetUsd(settings.budgetUsd);
  return {
    budgetUsd: settings.budgetUsd,
    tags: settings.tags === undefined ? undefined : checkRunTags(settings.tags, runtimeConfig().limits.runTags),
    priority: checkPriority(settings.priority),
  };
}

/** Change what a trigger gives the runs it starts from now on (a budget of null clears it). */
export async function updateTrigger(db: Queryable, flowId: string, triggerId: string, settings: TriggerSettings): Promise<Trigger> {
  const { budgetUsd, tags, priority } = checkSettings(settings);
  if (!isUuid(flowId) || !isUuid(triggerId)) throw new NotFoundError(`Trigger ${triggerId}`);
  const { rows } = await db.query<TriggerDbRow>(
    `UPDATE stitch_triggers
     SET budget_usd = CASE WHEN $4 THEN $3 ELSE budget_usd END, tags = coalesce($5::jsonb, tags), priority = coalesce($6, priority)
     WHERE id = $1 AND flow_id = $2 AND deleted_at IS NULL RETURNING *`,
    [triggerId, flowId, budgetUsd ?? null, budgetUsd !== undefined, tags === undefined ? null : JSON.stringify(tags), priority ?? null],
  );
  if (!rows[0]) throw new NotFoundError(`Trigger ${triggerId}`);
  return toTrigger(rows[0]);
}

/** Delete a trigger: its slug stops working at once. */
export async function deleteTrigger(db: Queryable, flowId: string, triggerId: string): Promise<void> {
  if (!isUuid(flowId) || !isUuid(triggerId)) throw new NotFoundError(`Trigger ${triggerId}`);
  const { rowCount } = await db.query(
    'UPDATE stitch_triggers SET deleted_at = now(), secret = NULL WHERE id = $1 AND flow_id = $2 AND deleted_at IS NULL',
    [triggerId, flowId],
  );
  if (!rowCount) throw new NotFoundError(`Trigger ${triggerId}`);
}

/** The live trigger for a slug whose flow still exists. */
export async function findTriggerBySlug(db: Queryable, slug: string): Promise<TriggerWithSecret | undefined> {
  const { rows } = await db.query<TriggerDbRow>(
    `SELECT t.* FROM stitch_triggers t JOIN stitch_flows f ON f.id = t.flow_id
     WHERE t.slug = $1 AND t.deleted_at IS NULL AND f.deleted_at IS NULL`,
    [slug],
  );
  return rows[0] && { ...toTrigger(rows[0]), secret: rows[0].secret };
}

/**
 * Claim a delivery id for a trigger. Returns undefined when this delivery is new (the caller starts
 * the run and calls `recordDeliveryRun`), or the earlier delivery's run id (null while it starts).
 */
export async function claimDelivery(db: Queryable, triggerId: string, deliveryId: string, keepHours: number): Promise<{ runId: string | null } | undefined> {
  // Delivery ids are remembered as long as idempotency keys (STITCH_IDEMPOTENCY_HOURS): this
  // trigger's older ones go first (its primary-key prefix finds them).
  await db.query('DELETE FROM stitch_webhook_deliveries WHERE trigger_id = $1 AND created_at < now() - make_interval(hours => $2)', [triggerId, keepHours]);
  const { rows } = await db.query<{ inserted: boolean; run_id: string | null }>(
    `WITH ins AS (
       INSERT INTO stitch_webhook_deliveries (trigger_id, delivery_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING RETURNING run_id
     )
     SELECT true AS inserted, run_id FROM ins
     UNION ALL
     SELECT false, run_id FROM stitch_webhook_deliveries WHERE trigger_id = $1 AND delivery_id = $2
     LIMIT 1`,
    [triggerId, deliveryId],
  );
  return rows[0]?.inserted ? undefined : { runId: rows[0]?.run_id ?? null };
}

export async function recordDeliveryRun(db: Queryable, triggerId: string, deliveryId: string | undefined, runId: string): Promise<void> {
  await db.query('UPDATE stitch_triggers SET last_used_at = now() WHERE id = $1', [triggerId]);
  if (deliveryId) {
    await db.query('UPDATE stitch_webhook_deliveries SET run_id = $3 WHERE trigger_id = $1 AND delivery_id = $2', [
      triggerId,
      deliveryId,
      runId,
    ]);
  }
}

export async function releaseDelivery(db: Queryable, triggerId: string, deliveryId: string): Promise<void> {
  await db.query('DELETE FROM stitch_webhook_deliveries WHERE trigger_id = $1 AND delivery_id = $2 AND run_id IS NULL', [
    triggerId,
    deliveryId,
  ]);
}
