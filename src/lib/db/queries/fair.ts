/**
 * Fair share (0031_fair_share.sql): per-key concurrency and rate slots, the waiting line, and what
 * /api/queues and the metrics show of them. Each call is one statement.
 */
import type { Queryable } from './queryable';

/** One limit as the database keeps it: a node's concurrency or rate, or a flow's runs. */
export interface FairScope {
  scope: string;
  kind: 'concurrency' | 'rate';
  flowId: string | null;
  /** Null: the flow's runs. */
  nodeId: string | null;
  limit: number;
  perSeconds: number | null;
  /** How the key is named in reasons (`customer`); null: no key. */
  keyName: string | null;
}

export interface FairRequest extends FairScope {
  key: string;
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
}

export interface FairResult {
  ok: boolean;
  /** Why it waits (`concurrency customer=acme 2/2`). */
  reason?: string;
}

export async function acquireFairSlot(db: Queryable, r: FairRequest): Promise<FairResult> {
  const { rows } = await db.query<{ r: FairResult }>('SELECT stitch_fair_acquire($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS r', [
    r.scope,
    r.kind,
    r.flowId,
    r.nodeId,
    r.limit,
    r.perSeconds,
    r.keyName,
    r.key,
    r.runId,
    r.versionId,
    r.instanceId,
    r.attempt,
  ]);
  return rows[0].r;
}

/** Grant waiters while slots are free (`key`: only that key's); `sweep`: called by the scope's sweep job. */
export async function dispatchFair(db: Queryable, scope: string, key?: string, sweep = false): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT stitch_fair_dispatch($1, $2, $3) AS n', [scope, key ?? null, sweep]);
  return rows[0].n;
}

/** The key a run's slot or wait of a scope was taken under (undefined: it has none there). */
export async function fairKeyOf(db: Queryable, scope: string, runId: string, instanceId: string, attempt: number): Promise<string | undefined> {
  const { rows } = await db.query<{ key: string }>(
    'SELECT key FROM stitch_fair_slots WHERE scope = $1 AND run_id = $2 AND instance_id = $3 AND attempt = $4',
    [scope, runId, instanceId, attempt],
  );
  return rows[0]?.key;
}

/** What a key template reads of its run, and what names its scope. */
export interface RunFairFacts {
  flowId: string | null;
  tags: Record<string, string>;
}

export async function readRunFairFacts(db: Queryable, runId: string): Promise<RunFairFacts | undefined> {
  const { rows } = await db.query<{ flow_id: string | null; tags: Record<string, string> }>('SELECT flow_id, tags FROM stitch_runs WHERE id = $1', [runId]);
  return rows[0] && { flowId: rows[0].flow_id, tags: rows[0].tags };
}

/** One key of one scope: work waiting for a slot and holding one now. */
export interface FairKeyLoad {
  key: string;
  waiting: number;
  active: number;
  /** The reason of the longest-waiting, if any wait. */
  oldestWaitingSince: string | null;
}

export interface FairScopeLoad extends FairScope {
  flowName: string | null;
  waiting: number;
  active: number;
  /** The `topKeys` busiest keys (by waiting, then active), then every other key summed as `other`. */
  keys: FairKeyLoad[];
  /** Keys beyond the top ones, summed (null: none). */
  other: { keys: number; waiting: number; active: number } | null;
}

/**
 * Waiting and active work of every scope with any (a page of scopes ordered by name, after
 * `after`), each with its busiest `topKeys` keys and the rest summed. Active: concurrency slots
 * whose holder is open; rate: starts within the window.
 */
export async function readFairLoad(db: Queryable, options: { limit: number; after?: string; topKeys: number }): Promise<FairScopeLoad[]> {
  const { rows } = await db.query(
    `WITH page AS (
       SELECT s.* FROM stitch_fair_scopes s WHERE s.scope > coalesce($2, '') ORDER BY s.scope LIMIT $1
     ), active AS (
       SELECT sl.scope, sl.key, count(*)::int AS n
       FROM stitch_fair_slots sl JOIN page s ON s.scope = sl.scope
       WHERE CASE WHEN s.kind = 'rate' THEN sl.acquired_at > clock_timestamp() - make_interval(secs => s.per_seconds)
                  WHEN s.node_id IS NULL THEN EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = sl.run_id AND r.status IN ('pending', 'running'))
                  ELSE EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id = sl.run_id AND n.instance_id = sl.instance_id
                                 AND n.attempt = sl.attempt AND n.status IN ('pending', 'running')) END
       GROUP BY sl.scope, sl.key
     ), waiting AS (
       SELECT w.scope, w.key, count(*)::int AS n, min(w.queued_at) AS since
       FROM stitch_fair_waiting w JOIN page s ON s.scope = w.scope GROUP BY w.scope, w.key
     ), per_key AS (
       SELECT coalesce(a.scope, w.scope) AS scope, coalesce(a.key, w.key) AS key, coalesce(w.n, 0) AS waiting,
              coalesce(a.n, 0) AS active, w.since,
              row_number() OVER (PARTITION BY coalesce(a.scope, w.scope) ORDER BY coalesce(w.n, 0) DESC, coalesce(a.n, 0) DESC, coalesce(a.key, w.key)) AS rank
       FROM active a FULL JOIN waiting w ON w.scope = a.scope AND w.key = a.key
     )
     SELECT p.scope, p.kind, p.flow_id, f.name AS flow_name, p.node_id, p.lim, p.per_seconds, p.key_name,
            coalesce(sum(k.waiting), 0)::int AS waiting, coalesce(sum(k.active), 0)::int AS active,
            coalesce(jsonb_agg(jsonb_build_object('key', k.key, 'waiting', k.waiting, 'active', k.active, 'oldestWaitingSince', k.since)
                               ORDER BY k.rank) FILTER (WHERE k.rank <= $3), '[]') AS keys,
            count(*) FILTER (WHERE k.rank > $3)::int AS other_keys,
            coalesce(sum(k.waiting) FILTER (WHERE k.rank > $3), 0)::int AS other_waiting,
            coalesce(sum(k.active) FILTER (WHERE k.rank > $3), 0)::int AS other_active
     FROM page p LEFT JOIN per_key k ON k.scope = p.scope LEFT JOIN stitch_flows f ON f.id = p.flow_id
     GROUP BY p.scope, p.kind, p.flow_id, f.name, p.node_id, p.lim, p.per_seconds, p.key_name
     ORDER BY p.scope`,
    [options.limit, options.after ?? null, options.topKeys],
  );
  return rows.map((r) => ({
    scope: r.scope,
    kind: r.kind,
    flowId: r.flow_id,
    flowName: r.flow_name,
    nodeId: r.node_id,
    limit: r.lim,
    perSeconds: r.per_seconds,
    keyName: r.key_name,
    waiting: r.waiting,
    active: r.active,
    keys: (r.keys as Array<FairKeyLoad & { oldestWaitingSince: string | null }>).map((k) => ({
      ...k,
      oldestWaitingSince: k.oldestWaitingSince && new Date(k.oldestWaitingSince).toISOString(),
    })),
    other: r.other_keys > 0 ? { keys: r.other_keys, waiting: r.other_waiting, active: r.other_active } : null,
  }));
}
