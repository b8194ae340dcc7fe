/**
 * Flows and their immutable versions: summaries, versions, and the inserts a save makes (the
 * compile and the reference checks come first, in src/lib/engine/flows.ts).
 */
import type { AlertSpec, ExecutionGraph, FlowSummary, RunStatus, SubFlowRef, VisualGraph } from '@/types/stitch';
import { NotFoundError } from '@/lib/errors';
import { isUuid } from '../rows';
import type { Queryable } from './queryable';
import { MICROS, NUMBER_KEY, UUID_KEY, decodeCursor, fromMicros, micros, pageOf, type PageRequest } from './keyset-cursor';

export type { FlowSummary } from '@/types/stitch';

/** Where a version came from: a save (canvas, API, `stitch run`) or `stitch deploy`, with its message. */
export interface VersionOrigin {
  deployed: boolean;
  message: string | null;
}

const SAVED: VersionOrigin = { deployed: false, message: null };

export interface VersionSummary extends VersionOrigin {
  id: string;
  version: number;
  createdAt: string;
}

export interface FlowVersion extends VersionSummary {
  flowId: string | null;
  visualGraph: VisualGraph;
  executionGraph: ExecutionGraph;
}

function flowIdOrThrow(flowId: string): string {
  if (!isUuid(flowId)) throw new NotFoundError(`Flow ${flowId}`);
  return flowId;
}

// The last run comes from the (flow_id, created_at DESC) index: one index probe per flow.
// updated_key: the list's cursor key (./keyset-cursor.ts).
const SUMMARY_SQL = `SELECT f.id, f.name, f.current_version_id, v.version, f.created_at, f.updated_at, ${micros('f.updated_at')} AS updated_key,
    lr.id AS last_run_id, lr.status AS last_run_status, lr.created_at AS last_run_created_at
  FROM stitch_flows f LEFT JOIN stitch_flow_versions v ON v.id = f.current_version_id
  LEFT JOIN LATERAL (SELECT id, status, created_at FROM stitch_runs r WHERE r.flow_id = f.id
                     ORDER BY created_at DESC LIMIT 1) lr ON true
  WHERE f.deleted_at IS NULL`;

interface SummaryDbRow {
  id: string;
  name: string;
  current_version_id: string | null;
  version: number | null;
  created_at: Date;
  updated_at: Date;
  updated_key: string;
  last_run_id: string | null;
  last_run_status: RunStatus | null;
  last_run_created_at: Date | null;
}

function toSummary(r: SummaryDbRow): FlowSummary {
  return {
    id: r.id,
    name: r.name,
    currentVersionId: r.current_version_id,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    lastRun: r.last_run_id ? { id: r.last_run_id, status: r.last_run_status!, createdAt: r.last_run_created_at!.toISOString() } : null,
  };
}

/** One page of flows, most recently updated first (keyset on updated_at, id: ./keyset-cursor.ts). */
export async function listFlows(db: Queryable, page: PageRequest): Promise<{ flows: FlowSummary[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor, [MICROS, UUID_KEY]);
  const { rows } = await db.query<SummaryDbRow>(
    `${SUMMARY_SQL} AND ($1::bigint IS NULL OR (f.updated_at, f.id) < (${fromMicros('$1')}, $2::uuid))
     ORDER BY f.updated_at DESC, f.id DESC LIMIT $3`,
    [after?.[0] ?? null, after?.[1] ?? null, page.limit + 1],
  );
  const { rows: flows, nextCursor } = pageOf(rows, page.limit, (r) => [r.updated_key, r.id]);
  return { flows: flows.map(toSummary), nextCursor };
}

export async function getFlow(db: Queryable, flowId: string): Promise<FlowSummary & { graph: VisualGraph | null; alerts: AlertSpec[] }> {
  const { rows } = await db.query<SummaryDbRow & { visual_graph: VisualGraph | null; alerts: AlertSpec[] }>(
    `SELECT s.*, v.visual_graph, (SELECT alerts FROM stitch_flows WHERE id = s.id) AS alerts FROM (${SUMMARY_SQL} AND f.id = $1) s
     LEFT JOIN stitch_flow_versions v ON v.id = s.current_version_id`,
    [flowIdOrThrow(flowId)],
  );
  if (!rows[0]) throw new NotFoundError(`Flow ${flowId}`);
  return { ...toSummary(rows[0]), graph: rows[0].visual_graph, alerts: rows[0].alerts };
}

export async function findFlowByName(db: Queryable, name: string): Promise<FlowSummary | undefined> {
  const { rows } = await db.query<SummaryDbRow>(`${SUMMARY_SQL} AND f.name = $1 ORDER BY f.created_at LIMIT 1`, [name]);
  return rows[0] ? toSummary(rows[0]) : undefined;
}

export async function deleteFlow(db: Queryable, flowId: string): Promise<void> {
  const { rowCount } = await db.query('UPDATE stitch_flows SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL', [flowIdOrThrow(flowId)]);
  if (!rowCount) throw new NotFoundError(`Flow ${flowId}`);
}

/** One page of a flow's versions, newest first (keyset on the version number). */
export async function listVersions(db: Queryable, flowId: string, page: PageRequest): Promise<{ versions: VersionSummary[]; nextCursor: string | null }> {
  await getFlow(db, flowId);
  const after = decodeCursor(page.cursor, [NUMBER_KEY]);
  const { rows } = await db.query(
    `SELECT id, version, created_at, deployed, message FROM stitch_flow_versions
     WHERE flow_id = $1 AND ($2::int IS NULL OR version < $2) ORDER BY version DESC LIMIT $3`,
    [flowId, after?.[0] ?? null, page.limit + 1],
  );
  const { rows: versions, nextCursor } = pageOf(rows, page.limit, (r) => [String(r.version)]);
  return {
    versions: versions.map((r) => ({ id: r.id, version: r.version, createdAt: r.created_at.toISOString(), deployed: r.deployed, message: r.message })),
    nextCursor,
  };
}

export async function getVersion(db: Queryable, versionId: string): Promise<FlowVersion> {
  if (!isUuid(versionId)) throw new NotFoundError(`Version ${versionId}`);
  const { rows } = await db.query('SELECT * FROM stitch_flow_versions WHERE id = $1', [versionId]);
  if (!rows[0]) throw new NotFoundError(`Version ${versionId}`);
  const r = rows[0];
  return {
    id: r.id,
    flowId: r.flow_id,
    version: r.version,
    visualGraph: r.visual_graph,
    executionGraph: r.execution_graph,
    createdAt: r.created_at.toISOString(),
    deployed: r.deployed,
    message: r.message,
  };
}

/** A new flow with its first version as the current one (call inside a transaction). */
export async function insertFlow(
  db: Queryable,
  name: string,
  graph: unknown,
  compiled: ExecutionGraph,
  origin: VersionOrigin = SAVED,
): Promise<{ id: string; versionId: string }> {
  const { rows } = await db.query<{ id: string }>('INSERT INTO stitch_flows (name) VALUES ($1) RETURNING id', [name]);
  const id = rows[0].id;
  const v = await db.query<{ id: string }>(
    `INSERT INTO stitch_flow_versions (flow_id, version, visual_graph, execution_graph, deployed, message) VALUES ($1, 1, $2, $3, $4, $5) RETURNING id`,
    [id, JSON.stringify(graph), JSON.stringify(compiled), origin.deployed, origin.message],
  );
  await db.query('UPDATE stitch_flows SET current_version_id = $2 WHERE id = $1', [id, v.rows[0].id]);
  return { id, versionId: v.rows[0].id };
}

/** Lock a live flow's row until the transaction ends (saves of one flow go one at a time). */
export async function lockFlow(db: Queryable, flowId: string): Promise<void> {
  const flow = await db.query('SELECT id FROM stitch_flows WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [flowIdOrThrow(flowId)]);
  if (!flow.rows[0]) throw new NotFoundError(`Flow ${flowId}`);
}

/**
 * The flow's current version when it holds exactly this graph — the same visual graph (positions
 * included) and the same compiled graph, compared as jsonb (key order and spacing do not count) —
 * else undefined: a save that would change nothing finds it and creates no version.
 */
export async function currentVersionIfSame(
  db: Queryable,
  flowId: string,
  graph: unknown,
  compiled: ExecutionGraph,
): Promise<{ versionId: string; version: number } | undefined> {
  const { rows } = await db.query<{ id: string; version: number }>(
    `SELECT v.id, v.version FROM stitch_flows f JOIN stitch_flow_versions v ON v.id = f.current_version_id
     WHERE f.id = $1 AND v.visual_graph = $2::jsonb AND v.execution_graph = $3::jsonb`,
    [flowId, JSON.stringify(graph), JSON.stringify(compiled)],
  );
  return rows[0] && { versionId: rows[0].id, version: rows[0].version };
}

/** Rename a flow without a new version. */
export async function renameFlow(db: Queryable, flowId: string, name: string): Promise<void> {
  await db.query('UPDATE stitch_flows SET name = $2, updated_at = now() WHERE id = $1 AND name IS DISTINCT FROM $2', [flowId, name]);
}

/** The flow's next version becomes its current one (and the flow is renamed when `name` is given). */
export async function insertNextVersion(
  db: Queryable,
  flowId: string,
  graph: unknown,
  compiled: ExecutionGraph,
  name: string | undefined,
  origin: VersionOrigin = SAVED,
): Promise<{ versionId: string; version: number }> {
  const v = await db.query<{ id: string; version: number }>(
    `INSERT INTO stitch_flow_versions (flow_id, version, visual_graph, execution_graph, deployed, message)
     SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5 FROM stitch_flow_versions WHERE flow_id = $1
     RETURNING id, version`,
    [flowId, JSON.stringify(graph), JSON.stringify(compiled), origin.deployed, origin.message],
  );
  await db.query('UPDATE stitch_flows SET current_version_id = $2, name = coalesce($3, name), updated_at = now() WHERE id = $1', [
    flowId,
    v.rows[0].id,
    name ?? null,
  ]);
  return { versionId: v.rows[0].id, version: v.rows[0].version };
}

/** A version that belongs to no flow (e.g. `stitch run file.json` against a bare graph). */
export async function insertDetachedVersion(db: Queryable, graph: unknown, compiled: ExecutionGraph): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO stitch_flow_versions (flow_id, version, visual_graph, execution_graph) VALUES (NULL, 1, $1, $2) RETURNING id`,
    [JSON.stringify(graph), JSON.stringify(compiled)],
  );
  return rows[0].id;
}

export interface Callee {
  flowId: string;
  name: string;
  versionId: string;
  version: number;
  graph?: ExecutionGraph;
}

/** The version a reference points at now: the flow's current one, or the pinned number. Deleted flows count as missing. */
export async function findCallee(db: Queryable, ref: SubFlowRef, withGraph = false): Promise<Callee | undefined> {
  const { rows } = await db.query<{ flow_id: string; name: string; id: string; version: number; execution_graph: ExecutionGraph | null }>(
    `SELECT f.id AS flow_id, f.name, v.id, v.version, CASE WHEN $3 THEN v.execution_graph END AS execution_graph
     FROM stitch_flows f JOIN stitch_flow_versions v ON v.flow_id = f.id
     WHERE f.id = $1 AND f.deleted_at IS NULL
       AND (CASE WHEN $2::int IS NULL THEN v.id = f.current_version_id ELSE v.version = $2::int END)`,
    [ref.flowId, ref.version === 'latest' ? null : ref.version, withGraph],
  );
  const r = rows[0];
  return r && { flowId: r.flow_id, name: r.name, versionId: r.id, version: r.version, graph: r.execution_graph ?? undefined };
}

/**
 * The transaction-scoped lock every save with `flow` nodes takes: two concurrent saves (A → B,
 * B → A) are checked one after the other, and the second sees the first.
 */
export async function lockFlowReferences(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('stitch_flow_references'))`);
}

/** A flow's name, deleted or not. */
export async function flowName(db: Queryable, flowId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM stitch_flows WHERE id = $1', [flowId]);
  return rows[0]?.name;
}

/** Every live flow with a saved version: its current execution graph, in creation order. */
export async function listCurrentGraphs(db: Queryable): Promise<Array<{ id: string; name: string; version: number; graph: ExecutionGraph }>> {
  const { rows } = await db.query<{ id: string; name: string; version: number; execution_graph: ExecutionGraph }>(
    `SELECT f.id, f.name, v.version, v.execution_graph
     FROM stitch_flows f JOIN stitch_flow_versions v ON v.id = f.current_version_id
     WHERE f.deleted_at IS NULL ORDER BY f.created_at, f.id`,
  );
  return rows.map((r) => ({ id: r.id, name: r.name, version: r.version, graph: r.execution_graph }));
}

/** What a flow file holds of a live flow: its name, default budget and current visual graph. */
export interface FlowFileRow {
  id: string;
  name: string;
  budgetUsd: number | null;
  graph: VisualGraph;
}

/** Live flows with a saved version, by name (then id): every one, or those whose id or name is listed. */
export async function listFlowFileRows(db: Queryable, idsOrNames?: string[]): Promise<FlowFileRow[]> {
  const { rows } = await db.query<{ id: string; name: string; budget_usd: number | null; visual_graph: VisualGraph }>(
    `SELECT f.id, f.name, f.budget_usd, v.visual_graph
     FROM stitch_flows f JOIN stitch_flow_versions v ON v.id = f.current_version_id
     WHERE f.deleted_at IS NULL AND ($1::text[] IS NULL OR f.id::text = ANY ($1) OR f.name = ANY ($1))
     ORDER BY f.name, f.id`,
    [idsOrNames ?? null],
  );
  return rows.map((r) => ({ id: r.id, name: r.name, budgetUsd: r.budget_usd, graph: r.visual_graph }));
}

/** A live flow's id and default budget, by name (the oldest of that name, as findFlowByName). */
export async function findFlowForDeploy(db: Queryable, name: string): Promise<{ id: string; budgetUsd: number | null } | undefined> {
  const { rows } = await db.query<{ id: string; budget_usd: number | null }>(
    'SELECT id, budget_usd FROM stitch_flows WHERE deleted_at IS NULL AND name = $1 ORDER BY created_at LIMIT 1',
    [name],
  );
  return rows[0] && { id: rows[0].id, budgetUsd: rows[0].budget_usd };
}

/** One deploy at a time (until the transaction ends): two deploys of one directory do not both create a flow. */
export async function lockDeploys(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('stitch_deploy'))`);
}
