/**
 * Saving flows: a graph is compiled and validated first; a valid graph becomes a new version
 * (visual graph + execution graph) and the flow's current version. Reads of flows and versions are
 * plain queries (src/lib/db/queries/flows.ts).
 */
import type { AlertSpec, ExecutionGraph, ValidationIssue } from '@/types/stitch';
import { ValidationError } from '@/lib/errors';
import { getPool, withTransaction } from '@/lib/db/pool';
import { currentVersionIfSame, insertDetachedVersion, insertFlow, insertNextVersion, lockFlow, renameFlow, type VersionOrigin } from '@/lib/db/queries/flows';
import type { Queryable } from '@/lib/db/queries/queryable';
import { updateFlowAlerts } from '@/lib/db/queries/alerts';
import { compileGraph } from './compile';
import { checkFlowReferences } from './flow-references';
import { refreshRemoteTypes } from './remote-workers';

/** Compile or throw the list of problems; warnings (possibly-missing optional inputs) are returned. */
export function compileOrThrow(graph: unknown, options?: Parameters<typeof compileGraph>[1]): { compiled: ExecutionGraph; warnings: ValidationIssue[] } {
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

/** What a save may set beside the graph and the name, already checked (`checkAlerts`). */
export interface FlowSettings {
  alerts?: AlertSpec[];
}

export async function createFlow(name: string, graph: unknown, settings: FlowSettings = {}): Promise<{ id: string; versionId: string; warnings: ValidationIssue[] }> {
  const cleanName = checkName(name);
  await refreshRemoteTypes(); // another process may have registered remote worker types
  const plain = compileOrThrow(graph); // fail fast, before opening a transaction
  return withTransaction((client) => createFlowIn(client, cleanName, graph, { settings, plain }));
}

/** How a save inside a caller's transaction is made: its settings, the version's origin (a deploy's), the graph compiled already. */
export interface SaveOptions {
  settings?: FlowSettings;
  origin?: VersionOrigin;
  plain?: ReturnType<typeof compileOrThrow>;
}

/** createFlow inside the caller's transaction (a deploy saves every flow in one). */
export async function createFlowIn(
  client: Queryable,
  name: string,
  graph: unknown,
  { settings = {}, origin, plain = compileOrThrow(graph) }: SaveOptions = {},
): Promise<{ id: string; versionId: string; warnings: ValidationIssue[] }> {
  const cleanName = checkName(name);
  const { compiled, warnings } = await compileWithSubFlows(client, undefined, graph, plain);
  const created = await insertFlow(client, cleanName, graph, compiled, origin);
  if (settings.alerts) await updateFlowAlerts(client, created.id, settings.alerts);
  return { ...created, warnings };
}

export interface UpdatedFlow {
  id: string;
  versionId: string;
  version: number;
  /** True when the graph equals the current version's: no version was created, `versionId` is the current one. */
  unchanged: boolean;
  warnings: ValidationIssue[];
}

/**
 * Save a new version of a flow (and optionally rename it). A graph equal to the current version's
 * (visual and compiled) creates none: saving an unchanged file again and again (`stitch run`,
 * `stitch deploy`) leaves one version.
 */
export async function updateFlow(flowId: string, graph: unknown, name?: string, settings: FlowSettings = {}): Promise<UpdatedFlow> {
  const cleanName = name === undefined ? undefined : checkName(name);
  await refreshRemoteTypes();
  const plain = compileOrThrow(graph); // fail fast, before opening a transaction
  return withTransaction((client) => updateFlowIn(client, flowId, graph, cleanName, { settings, plain }));
}

/** updateFlow inside the caller's transaction; `origin` is the new version's (a deploy's). */
export async function updateFlowIn(
  client: Queryable,
  flowId: string,
  graph: unknown,
  name?: string,
  { settings = {}, origin, plain = compileOrThrow(graph) }: SaveOptions = {},
): Promise<UpdatedFlow> {
  const cleanName = name === undefined ? undefined : checkName(name);
  await lockFlow(client, flowId);
  const { compiled, warnings } = await compileWithSubFlows(client, flowId, graph, plain);
  // Alerts are the flow's, not a version's: saved whether or not the graph changed.
  if (settings.alerts) await updateFlowAlerts(client, flowId, settings.alerts);
  const same = await currentVersionIfSame(client, flowId, graph, compiled);
  if (same) {
    if (cleanName !== undefined) await renameFlow(client, flowId, cleanName);
    return { id: flowId, ...same, unchanged: true, warnings };
  }
  return { id: flowId, ...(await insertNextVersion(client, flowId, graph, compiled, cleanName, origin)), unchanged: false, warnings };
}

/** Save a graph that belongs to no flow (e.g. `stitch run file.json` against a bare graph). */
export async function createDetachedVersion(graph: unknown): Promise<string> {
  await refreshRemoteTypes();
  const { compiled } = await compileWithSubFlows(getPool(), undefined, graph);
  return insertDetachedVersion(getPool(), graph, compiled);
}
