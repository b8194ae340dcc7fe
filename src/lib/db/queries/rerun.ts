/**
 * Re-runs (0013_rerun_cache_usage.sql): the static half of node fingerprints, the source run's
 * instances, and a completed instance of the source run with the same fingerprint.
 */
import type { Queryable } from './queryable';

/** Store a version's static hashes (the completing statements read them); the first writer's stay. */
export async function insertStaticHashes(db: Queryable, versionId: string, hashes: Record<string, string>): Promise<void> {
  await db.query(
    `INSERT INTO stitch_node_fingerprints (version_id, node_id, static_hash)
     SELECT $1, key, value FROM jsonb_each_text($2::jsonb) ON CONFLICT DO NOTHING`,
    [versionId, JSON.stringify(hashes)],
  );
}

export interface EarlierResultRow {
  instanceId: string;
  output: unknown;
  /** What the earlier instance cost when it executed (its own usage, or what it saved in turn). */
  usd: number;
}

/**
 * A completed instance of `nodeId` in `sourceRunId` with this fingerprint, made with the same
 * credential identity (`metadata.credentials`, absent: `none`); the same instance id first.
 */
export async function findEarlierResult(
  db: Queryable,
  sourceRunId: string,
  nodeId: string,
  instanceId: string,
  staticPart: string,
  input: unknown,
  credentials: string,
): Promise<EarlierResultRow | undefined> {
  const { rows } = await db.query<{ instance_id: string; output: unknown; usd: number }>(
    `SELECT s.instance_id, s.output,
            coalesce((SELECT sum(u.usd) FROM stitch_node_usage u WHERE u.run_id = s.run_id AND u.instance_id = s.instance_id), 0)
              + coalesce((s.metadata ->> 'savedUsd')::float8, 0) AS usd
     FROM (
       -- The same instance first (by primary key); else any item of the node with this content
       -- (stitch_node_runs_item_fingerprint_idx: only item instances are indexed by fingerprint).
       (SELECT * FROM stitch_node_runs WHERE run_id = $1 AND instance_id = $5 AND node_id = $2
          AND status = 'completed' AND fingerprint = stitch_input_fingerprint($3, $4::jsonb)
          AND coalesce(metadata ->> 'credentials', 'none') = $6)
       UNION ALL
       (SELECT * FROM stitch_node_runs WHERE run_id = $1 AND node_id = $2 AND item_path <> '{}'
          AND status = 'completed' AND fingerprint = stitch_input_fingerprint($3, $4::jsonb)
          AND coalesce(metadata ->> 'credentials', 'none') = $6 LIMIT 1)
     ) s
     LIMIT 1`,
    [sourceRunId, nodeId, staticPart, JSON.stringify(input ?? null), instanceId, credentials],
  );
  const r = rows[0];
  return r && { instanceId: r.instance_id, output: r.output, usd: Number(r.usd) };
}

export interface SourceInstance {
  instance_id: string;
  node_id: string;
  status: string;
  fingerprint: string | null;
  /** The credential identity its result was made with (`none`: it read no key). */
  credentials: string;
}

/** Every instance of a run, in creation order. */
export async function listSourceInstances(db: Queryable, runId: string): Promise<SourceInstance[]> {
  const { rows } = await db.query<SourceInstance>(
    `SELECT instance_id, node_id, status, fingerprint, coalesce(metadata ->> 'credentials', 'none') AS credentials
     FROM stitch_node_runs WHERE run_id = $1 ORDER BY created_at, instance_id`,
    [runId],
  );
  return rows;
}
