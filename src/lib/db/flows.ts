/**
 * Flows and their immutable versions. Saving a graph compiles and validates it; a valid graph
 * becomes a new version (visual graph + execution graph) and the flow's current version.
 */
import type { ExecutionGraph, FlowSummary, RunStatus, ValidationIssue, VisualGraph } from '@/types/stitch';

export type { FlowSummary } from '@/types/stitch';
import { NotFoundError, ValidationError } from '@/lib/errors';
import { compileGraph } from '@/lib/engine/compile';
import { checkFlowReferences, type Queryable } from '@/lib/engine/flow-references';
import { getPool, withTransaction } from './pool';
import { refreshRemoteTypes } from './remote-workers';
import { isUuid } from './runs';


export interface FlowVersion {
  id: string;
  flowId: string | null;
  version: number;
  visualGraph: VisualGraph;
  executionGraph: ExecutionGraph;
  createdAt: string;
}

/** Compile or throw the list of problems; warnings (possibly-missing optional inputs) are returned. */
function compileOrThrow(graph: unknown, options?: Parameters<typeof compileGraph>[1]): { compiled: ExecutionGraph; warnings: ValidationIssue[] } {
  const { graph: compiled, issues, warnings } = compileGraph(graph, options);
  if (!compiled) throw new ValidationError(`The graph has ${issues.length} problem(s): ${issues[0].message}`, issues);
  return { compiled, warnings };
}

/**
 * Compile, then check `flow` nodes against the database (callees exist, no reference cycle back
 * to `flowId`) and compile once more with the callees' signatures for the type-check. Call it
 * inside the saving transaction (the reference check takes a transaction-scoped lock).
 */
async function compileWithSubFlows(
  db: Queryable,
  flowId: string | undefined,
  graph: unknown,
  first = compileOrThrow(graph),
): Promise<{ compiled: ExecutionGraph; warnings: ValidationIssue[] }> {
  if (!Object.values(first.compiled.nodes).some((n) => n.type === 'flow')) return first;
  const { subFlows, issues } = await checkFlowReferences(db, flowId, first.compiled);
  if (issues.length) throw new ValidationError(`The graph has ${issues.length} problem(s): ${issues[0].message}`, issues);
  return compileOrThrow(graph, { subFlows });
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
    throw new ValidationError('A flow name is a non-empty string of at most 200 characters.', [
      { code: 'invalid_name', field: 'name', message: 'name must be 1–200 characters' },
    ]);
  }
  return name.trim();
}

export async function createFlow(name: string, graph: unknown): Promise<{ id: string; versionId: string; warnings: ValidationIssue[] }> {
  const cleanName = checkName(name);
  await refreshRemoteTypes(); // another process may have registered remote worker types
  const plain = compileOrThrow(graph); // fail fast, before opening a transaction
  return withTransaction(async (client) => {
    const { compiled, warnings } = await compileWithSubFlows(client, undefined, graph, plain);
    const { rows } = await client.query<{ id: string }>('INSERT INTO stitch_flows (name) VALUES ($1) RETURNING id', [cleanName]);
    const id = rows[0].id;
    const v = await client.query<{ id: string }>(
      `INSERT INTO stitch_flow_versions (flow_id, version, visual_graph, execution_graph) VALUES ($1, 1, $2, $3) RETURNING id`,
      [id, JSON.stringify(graph), JSON.stringify(compiled)],
    );
    await client.query('UPDATE stitch_flows SET current_version_id = $2 WHERE id = $1', [id, v.rows[0].id]);
    return { id, versionId: v.rows[0].id, warnings };
  });
}

/** Save a new version of a flow (and optionally rename it). */
export async function updateFlow(
  flowId: string,
  graph: unknown,
  name?: string,
): Promise<{ id: string; versionId: string; version: number; warnings: ValidationIssue[] }> {
  const cleanName = name === undefined ? undefined : checkName(name);
  await refreshRemoteTypes();
  const plain = compileOrThrow(graph); // fail fast, before opening a transaction
  return withTransaction(async (client) => {
    const flow = await client.query('SELECT id FROM stitch_flows WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [flowIdOrThrow(flowId)]);
    if (!flow.rows[0]) throw new NotFoundError(`Flow ${flowId}`);
    const { compiled, warnings } = await compileWithSubFlows(client, flowId, graph, plain);
    const v = await client.query<{ id: string; version: number }>(
      `INSERT INTO stitch_flow_versions (flow_id, version, visual_graph, execution_graph)
       SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM stitch_flow_versions WHERE flow_id = $1
       RETURNING id, version`,
      [flowId, JSON.stringify(graph), JSON.stringify(compiled)],
    );
    await client.query(
      'UPDATE stitch_flows SET current_version_id = $2, name = coalesce($3, name), updated_at = now() WHERE id = $1',
      [flowId, v.rows[0].id, cleanName ?? null],
    );
    return { id: flowId, versionId: v.rows[0].id, version: v.rows[0].version, warnings };
  });
}

/** Save a graph that belongs to no flow (e.g. `stitch run file.json` against a bare graph). */
export async function createDetachedVersion(graph: unknown): Promise<string> {
  await refreshRemoteTypes();
  const { compiled } = await compileWithSubFlows(getPool(), undefined, graph);
  const { rows } = await getPool().query<{ id: string }>(
    `INSERT INTO stitch_flow_versions (flow_id, version, visual_graph, execution_graph) VALUES (NULL, 1, $1, $2) RETURNING id`,
    [JSON.stringify(graph), JSON.stringify(compiled)],
  );
  return rows[0].id;
}

function flowIdOrThrow(flowId: string): string {
  if (!isUuid(flowId)) throw new NotFoundError(`Flow ${flowId}`);
  return flowId;
}

// The last run comes from the (flow_id, created_at DESC) index: one index probe per flow.
const SUMMARY_SQL = `SELECT f.id, f.name, f.current_version_id, v.version, f.created_at, f.updated_at,
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

export async function listFlows(): Promise<FlowSummary[]> {
  const { rows } = await getPool().query(`${SUMMARY_SQL} ORDER BY f.updated_at DESC`);
  return rows.map(toSummary);
}

export async function getFlow(flowId: string): Promise<FlowSummary & { graph: VisualGraph | null }> {
  const { rows } = await getPool().query(
    `SELECT s.*, v.visual_graph FROM (${SUMMARY_SQL} AND f.id = $1) s
     LEFT JOIN stitch_flow_versions v ON v.id = s.current_version_id`,
    [flowIdOrThrow(flowId)],
  );
  if (!rows[0]) throw new NotFoundError(`Flow ${flowId}`);
  return { ...toSummary(rows[0]), graph: rows[0].visual_graph };
}

export async function findFlowByName(name: string): Promise<FlowSummary | undefined> {
  const { rows } = await getPool().query(`${SUMMARY_SQL} AND f.name = $1 ORDER BY f.created_at LIMIT 1`, [name]);
  return rows[0] ? toSummary(rows[0]) : undefined;
}

export async function deleteFlow(flowId: string): Promise<void> {
  const { rowCount } = await getPool().query(
    'UPDATE stitch_flows SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL',
    [flowIdOrThrow(flowId)],
  );
  if (!rowCount) throw new NotFoundError(`Flow ${flowId}`);
}

export async function listVersions(flowId: string): Promise<Array<{ id: string; version: number; createdAt: string }>> {
  await getFlow(flowId);
  const { rows } = await getPool().query(
    'SELECT id, version, created_at FROM stitch_flow_versions WHERE flow_id = $1 ORDER BY version DESC',
    [flowId],
  );
  return rows.map((r) => ({ id: r.id, version: r.version, createdAt: r.created_at.toISOString() }));
}

export async function getVersion(versionId: string): Promise<FlowVersion> {
  if (!isUuid(versionId)) throw new NotFoundError(`Version ${versionId}`);
  const { rows } = await getPool().query('SELECT * FROM stitch_flow_versions WHERE id = $1', [versionId]);
  if (!rows[0]) throw new NotFoundError(`Version ${versionId}`);
  const r = rows[0];
  return {
    id: r.id,
    flowId: r.flow_id,
    version: r.version,
    visualGraph: r.visual_graph,
    executionGraph: r.execution_graph,
    createdAt: r.created_at.toISOString(),
  };
}
