/**
 * Retention (src/lib/runs/retention.ts, 0030_retention.sql): which finished runs their policy lets
 * go, and deleting them — a few root runs with their sub-flow runs per transaction — with every row
 * that is theirs: node rows, usage, idempotency keys, fan-in, slots and remote tasks (ON DELETE
 * CASCADE), events and spent step-cache flights (here), and the local media only they refer to.
 */
import type { RetentionPolicy } from '@/lib/config';
import type { Queryable } from './queryable';

/**
 * Days a run of this status is kept: its flow's own policy when it names the status (null: for
 * ever), else the default ($1). A NULL result keeps the run.
 */
const KEEP_DAYS = `CASE WHEN f.retention ? r.status THEN (f.retention ->> r.status)::float8 ELSE ($1::jsonb ->> r.status)::float8 END`;

/** Root runs past their policy, oldest finished first ($1 policy, $2 limit). */
const DUE = `
  SELECT r.id, r.status FROM stitch_runs r LEFT JOIN stitch_flows f ON f.id = r.flow_id
  WHERE r.parent_run_id IS NULL AND r.status IN ('completed', 'failed', 'cancelled') AND r.finished_at IS NOT NULL
    AND r.finished_at < now() - interval '1 day' * (${KEEP_DAYS})
  ORDER BY r.finished_at`;

/** A set of root runs and every sub-flow run under them ($1 the roots). */
const FAMILY = `
  WITH RECURSIVE fam AS (
    SELECT id FROM stitch_runs WHERE id = ANY($1::uuid[])
    UNION ALL
    SELECT c.id FROM stitch_runs c JOIN fam ON c.parent_run_id = fam.id
  ) SELECT array_agg(id)::text[] AS ids FROM fam`;

/** Whether any flow has a policy of its own (then pruning runs even with no default). */
export async function anyFlowRetention(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM stitch_flows WHERE retention IS NOT NULL) AS any');
  return rows[0].any;
}

export interface PruneCounts {
  /** Root runs (what the policy chose). */
  runs: number;
  /** Their sub-flow runs, deleted with them. */
  childRuns: number;
  nodeRows: number;
  events: number;
  cacheEntries: number;
  /** Local media files only these runs referred to. */
  mediaFiles: number;
  byStatus: Record<string, number>;
}

/**
 * The media URLs the runs `ids` hold (string values anywhere in their node outputs or run output)
 * under `prefix`, that no other run (input or output, of the run or a node) and no remaining
 * step-cache entry holds. Reading the other rows is a scan per file: only batches with media pay it.
 */
async function mediaOnlyTheirs(db: Queryable, ids: string[], prefix: string): Promise<string[]> {
  const { rows } = await db.query<{ url: string }>(
    `SELECT DISTINCT v #>> '{}' AS url
     FROM (SELECT output FROM stitch_node_runs WHERE run_id = ANY($1::uuid[]) AND output IS NOT NULL
           UNION ALL SELECT output FROM stitch_runs WHERE id = ANY($1::uuid[]) AND output IS NOT NULL) o,
          jsonb_path_query(o.output, 'strict $.** ? (@.type() == "string")') v
     WHERE starts_with(v #>> '{}', $2)`,
    [ids, prefix],
  );
  if (!rows.length) return [];
  const { rows: kept } = await db.query<{ url: string }>(
    `SELECT u AS url FROM unnest($2::text[]) u
     WHERE EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id <> ALL($1::uuid[])
                     AND (strpos(n.output::text, u) > 0 OR strpos(n.input::text, u) > 0))
        OR EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id <> ALL($1::uuid[])
                     AND (strpos(r.input::text, u) > 0 OR strpos(r.output::text, u) > 0))
        OR EXISTS (SELECT 1 FROM stitch_cache c WHERE strpos(c.output::text, u) > 0)`,
    [ids, rows.map((r) => r.url)],
  );
  const keep = new Set(kept.map((r) => r.url));
  return rows.map((r) => r.url).filter((url) => !keep.has(url));
}

/** Step-cache entries of these runs the cache no longer serves: flights left running, expired results. */
const SPENT_CACHE = `run_id = ANY($1::uuid[]) AND (status = 'running' OR expires_at <= now())`;

/**
 * Delete the next `limit` root runs past their policy, in the caller's transaction (locks: the
 * root rows, skipped when another pruner holds them). Media keys go to stitch_media_trash for
 * removal after the commit. Returns what went and the trashed keys.
 */
export async function pruneDue(
  db: Queryable,
  options: { policy: RetentionPolicy; limit: number; mediaPrefix: string },
): Promise<{ counts: PruneCounts; mediaKeys: string[] }> {
  const { rows: roots } = await db.query<{ id: string; status: string }>(`${DUE} LIMIT $2 FOR UPDATE OF r SKIP LOCKED`, [
    JSON.stringify(options.policy),
    options.limit,
  ]);
  const counts: PruneCounts = { runs: roots.length, childRuns: 0, nodeRows: 0, events: 0, cacheEntries: 0, mediaFiles: 0, byStatus: {} };
  for (const r of roots) counts.byStatus[r.status] = (counts.byStatus[r.status] ?? 0) + 1;
  if (!roots.length) return { counts, mediaKeys: [] };
  const rootIds = roots.map((r) => r.id);
  const ids = (await db.query<{ ids: string[] }>(FAMILY, [rootIds])).rows[0].ids;
  counts.childRuns = ids.length - roots.length;
  counts.events = (await db.query('DELETE FROM stitch_events WHERE run_id = ANY($1::uuid[])', [ids])).rowCount ?? 0;
  counts.cacheEntries = (await db.query(`DELETE FROM stitch_cache WHERE ${SPENT_CACHE}`, [ids])).rowCount ?? 0;
  const media = await mediaOnlyTheirs(db, ids, options.mediaPrefix);
  const mediaKeys = media.map((url) => url.slice(options.mediaPrefix.length));
  counts.mediaFiles = mediaKeys.length;
  if (mediaKeys.length) await db.query('INSERT INTO stitch_media_trash (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [mediaKeys]);
  counts.nodeRows = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM stitch_node_runs WHERE run_id = ANY($1::uuid[])', [ids])).rows[0].n);
  // The roots' delete cascades to their sub-flow runs and every row keyed by run.
  await db.query('DELETE FROM stitch_runs WHERE id = ANY($1::uuid[])', [rootIds]);
  return { counts, mediaKeys };
}

/**
 * What pruning everything due now would delete (`stitch prune --dry-run`), read in one snapshot.
 * Media is counted with the same rule as the delete, so it reads every due run's outputs.
 */
export async function pruneDryRun(db: Queryable, options: { policy: RetentionPolicy; mediaPrefix: string }): Promise<PruneCounts> {
  const { rows: roots } = await db.query<{ id: string; status: string }>(DUE, [JSON.stringify(options.policy)]);
  const counts: PruneCounts = { runs: roots.length, childRuns: 0, nodeRows: 0, events: 0, cacheEntries: 0, mediaFiles: 0, byStatus: {} };
  for (const r of roots) counts.byStatus[r.status] = (counts.byStatus[r.status] ?? 0) + 1;
  if (!roots.length) return counts;
  const ids = (await db.query<{ ids: string[] }>(FAMILY, [roots.map((r) => r.id)])).rows[0].ids;
  counts.childRuns = ids.length - roots.length;
  const { rows } = await db.query<{ nodes: string; events: string; cache: string }>(
    `SELECT (SELECT count(*) FROM stitch_node_runs WHERE run_id = ANY($1::uuid[])) AS nodes,
            (SELECT count(*) FROM stitch_events WHERE run_id = ANY($1::uuid[])) AS events,
            (SELECT count(*) FROM stitch_cache WHERE ${SPENT_CACHE}) AS cache`,
    [ids],
  );
  counts.nodeRows = Number(rows[0].nodes);
  counts.events = Number(rows[0].events);
  counts.cacheEntries = Number(rows[0].cache);
  counts.mediaFiles = (await mediaOnlyTheirs(db, ids, options.mediaPrefix)).length;
  return counts;
}

/** Media keys waiting for removal (oldest first). */
export async function trashedMedia(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>('SELECT key FROM stitch_media_trash ORDER BY created_at LIMIT $1', [limit]);
  return rows.map((r) => r.key);
}

export async function forgetTrashedMedia(db: Queryable, keys: string[]): Promise<void> {
  await db.query('DELETE FROM stitch_media_trash WHERE key = ANY($1::text[])', [keys]);
}

/**
 * Queue the pruning job at `runAt` (default: now). `replace` moves a waiting one (the job itself
 * placing its next pass); `preserve_run_at` leaves a waiting one where it is (a process starting).
 */
export async function queuePrune(db: Queryable, options: { delaySeconds?: number; mode: 'replace' | 'preserve_run_at' }): Promise<void> {
  await db.query(
    `SELECT graphile_worker.add_job('stitch_prune', '{}'::json, run_at => now() + make_interval(secs => $1),
       job_key => 'stitch_prune', job_key_mode => $2, max_attempts => 5)`,
    [options.delaySeconds ?? 0, options.mode],
  );
}

/** A flow's own policy (null: it follows STITCH_RETENTION); undefined when there is no such flow. */
export async function getFlowRetention(db: Queryable, flowId: string): Promise<RetentionPolicyOverride | null | undefined> {
  const { rows } = await db.query<{ retention: RetentionPolicyOverride | null }>('SELECT retention FROM stitch_flows WHERE id = $1 AND deleted_at IS NULL', [flowId]);
  return rows.length ? rows[0].retention : undefined;
}

/** Days per status; null keeps that status for ever; a status left out follows the default. */
export type RetentionPolicyOverride = Partial<Record<'completed' | 'failed' | 'cancelled', number | null>>;

/** Set (or with null, clear) a flow's policy, queueing the pruning job in the same commit when set. */
export async function setFlowRetention(db: Queryable, flowId: string, retention: RetentionPolicyOverride | null): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH f AS (UPDATE stitch_flows SET retention = $2::jsonb WHERE id = $1 AND deleted_at IS NULL RETURNING id)
     SELECT CASE WHEN $2::jsonb IS NOT NULL
              THEN graphile_worker.add_job('stitch_prune', '{}'::json, job_key => 'stitch_prune', job_key_mode => 'replace', max_attempts => 5) END
     FROM f`,
    [flowId, retention === null ? null : JSON.stringify(retention)],
  );
  return (rowCount ?? 0) > 0;
}
