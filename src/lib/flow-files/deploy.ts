/**
 * `stitch deploy DIR` (and `POST /api/deploy`): make the database hold what a set of flow files says,
 * by flow name, in one transaction — every file is checked first, and any failure leaves everything
 * as it was. A flow whose graph equals its current version gets no new version (engine/flows.ts);
 * a new version is marked as deployed, with the deploy's message. A file's `schedules` and
 * `triggers`, when present, become the flow's (kept where equal, created, changed, deleted);
 * absent, they are left alone. A dry run does all of it and rolls back, reporting what would change.
 */
import type { ValidationIssue, VisualGraph } from '@/types/stitch';
import { withTransaction } from '@/lib/db/pool';
import { findFlowForDeploy, lockDeploys, type VersionOrigin } from '@/lib/db/queries/flows';
import type { Queryable } from '@/lib/db/queries/queryable';
import { deleteSchedule } from '@/lib/db/queries/schedules';
import { allSchedules, allTriggers } from './export';
import { createTrigger, deleteTrigger, updateTrigger } from '@/lib/db/queries/triggers';
import { updateFlowBudget } from '@/lib/db/queries/usage';
import { compileOrThrow, createFlowIn, updateFlowIn } from '@/lib/engine/flows';
import { refreshRemoteTypes } from '@/lib/engine/remote-workers';
import { ConflictError, StitchError, ValidationError } from '@/lib/errors';
import { runtimeConfig } from '@/lib/runtime';
import { checkScheduleFields, createScheduleIn } from '@/lib/schedules/store';
import { calleeNames, parseFlowDocument, sameSpec, scheduleSpec, triggerSpec, withFlowIds, type FlowDocument } from './format';

/** One file to deploy: where it came from (a file name, `flows[2]`) and its parsed JSON. */
export interface DeployInput {
  where: string;
  content: unknown;
}

export interface DeployOptions {
  /** Do everything, report it, and roll it back. */
  dryRun?: boolean;
  /** Kept on every version this deploy creates (a commit message, say); at most 1000 characters. */
  message?: string;
}

export interface DeployedFlow {
  name: string;
  where: string;
  flowId: string;
  /** `unchanged`: the graph equals the current version's; no version was made (budget, schedules or triggers may still change). */
  change: 'created' | 'updated' | 'unchanged';
  version: number;
  /** Present when the flow's default budget changes. */
  budgetUsd?: { from: number | null; to: number | null };
  schedules: { added: number; removed: number; kept: number };
  triggers: { added: string[]; changed: string[]; removed: string[] };
  /** The secrets of triggers this deploy created, shown this once (never in a dry run). */
  secrets: Array<{ slug: string; secret: string }>;
  warnings: ValidationIssue[];
}

export interface DeployReport {
  dryRun: boolean;
  flows: DeployedFlow[];
}

/** Any valid uuid: the pre-check compiles a `flow` node's reference before the callee's id is known. */
const SOME_FLOW_ID = '00000000-0000-4000-8000-000000000000';

const named = (document: FlowDocument, issues: ValidationIssue[]): ValidationIssue[] =>
  issues.map((issue) => ({ ...issue, message: `flow "${document.name}": ${issue.message}` }));

function issuesOf(error: unknown): ValidationIssue[] | undefined {
  if (!(error instanceof StitchError) || error.code !== 'validation_failed') return undefined;
  return Array.isArray(error.details) && error.details.length ? (error.details as ValidationIssue[]) : [{ code: error.code, message: error.message }];
}

/** Parse and check every file without the database (shape, graph, schedules); throws every problem found. */
function checkFiles(inputs: DeployInput[], options: DeployOptions): Array<{ where: string; document: FlowDocument }> {
  const limit = runtimeConfig().limits.deployFlows;
  if (inputs.length === 0) throw new ValidationError('Nothing to deploy: no flow files.', [{ code: 'no_flows', message: 'no flow files' }]);
  if (inputs.length > limit) {
    throw new ValidationError(`A deploy holds at most ${limit} flows (STITCH_MAX_DEPLOY_FLOWS); this one has ${inputs.length}.`, [
      { code: 'too_many_flows', message: `at most ${limit} flows per deploy` },
    ]);
  }
  const issues: ValidationIssue[] = [];
  if (options.message !== undefined && options.message.length > 1000) issues.push({ code: 'invalid_message', field: 'message', message: 'the message is at most 1000 characters' });
  const files: Array<{ where: string; document: FlowDocument }> = [];
  const byName = new Map<string, string>();
  const slugs = new Map<string, string>();
  for (const { where, content } of inputs) {
    const parsed = parseFlowDocument(content, where);
    issues.push(...parsed.issues);
    const document = parsed.document;
    if (!document) continue;
    const twin = byName.get(document.name);
    if (twin) issues.push({ code: 'duplicate_flow_name', message: `${where}: the flow "${document.name}" is also in ${twin}; a deploy matches flows by name` });
    byName.set(document.name, where);
    for (const trigger of document.triggers ?? []) {
      const other = slugs.get(trigger.slug);
      if (other) issues.push({ code: 'duplicate_slug', message: `${where}: the webhook slug "${trigger.slug}" is also in ${other}` });
      slugs.set(trigger.slug, where);
    }
    try {
      compileOrThrow(withFlowIds(document.graph, () => SOME_FLOW_ID).graph);
    } catch (error) {
      issues.push(...named(document, issuesOf(error) ?? [{ code: 'invalid_graph', message: (error as Error).message }]));
    }
    for (const schedule of document.schedules ?? []) {
      try {
        checkScheduleFields(schedule);
      } catch (error) {
        issues.push(...named(document, (issuesOf(error) ?? [{ code: 'invalid_schedule', message: (error as Error).message }]).map((i) => ({ ...i, field: `schedules.${i.field ?? ''}` }))));
      }
    }
    files.push({ where, document });
  }
  if (issues.length) {
    throw new ValidationError(`The deploy was refused, nothing changed: ${issues.length} problem(s); the first: ${issues[0].message}`, issues);
  }
  return files;
}

/** Callees before their callers (names outside the deploy are looked up in the database); a cycle is refused. */
function inCallOrder(files: Array<{ where: string; document: FlowDocument }>): Array<{ where: string; document: FlowDocument }> {
  const byName = new Map(files.map((f) => [f.document.name, f]));
  const ordered: typeof files = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: (typeof files)[number], path: string[]) => {
    const name = file.document.name;
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw new ValidationError(`The deploy was refused, nothing changed: flows run each other in a cycle (${[...path, name].join(' → ')}).`, [
        { code: 'flow_reference_cycle', message: `flows run each other in a cycle: ${[...path, name].join(' → ')}` },
      ]);
    }
    state.set(name, 'visiting');
    for (const callee of calleeNames(file.document.graph)) {
      const target = byName.get(callee);
      if (target) visit(target, [...path, name]);
    }
    state.set(name, 'done');
    ordered.push(file);
  };
  for (const file of files) visit(file, []);
  return ordered;
}

/** The file's `schedules` become the flow's: equal ones kept, the others deleted (first: the per-flow limit counts them), the rest created. */
async function syncSchedules(db: Queryable, flowId: string, document: FlowDocument): Promise<DeployedFlow['schedules']> {
  const counts = { added: 0, removed: 0, kept: 0 };
  if (!document.schedules) return counts;
  const unmatched = new Map((await allSchedules(db, flowId)).map((s) => [s.id, sameSpec(scheduleSpec(s))]));
  const toCreate: Array<ReturnType<typeof checkScheduleFields>> = [];
  for (const spec of document.schedules) {
    const checked = checkScheduleFields(spec);
    const key = sameSpec(scheduleSpec(checked));
    const match = [...unmatched].find(([, k]) => k === key);
    if (match) {
      unmatched.delete(match[0]);
      counts.kept++;
    } else {
      toCreate.push(checked);
    }
  }
  for (const id of unmatched.keys()) {
    await deleteSchedule(db, flowId, id);
    counts.removed++;
  }
  for (const checked of toCreate) {
    await createScheduleIn(db, flowId, checked);
    counts.added++;
  }
  return counts;
}

/** The file's `triggers` become the flow's, by slug (missing ones deleted first); a new one gets a fresh secret, returned once. */
async function syncTriggers(db: Queryable, flowId: string, document: FlowDocument, report: DeployedFlow): Promise<void> {
  if (!document.triggers) return;
  const stored = new Map((await allTriggers(db, flowId)).map((t) => [t.slug, t]));
  const wanted = new Set(document.triggers.map((t) => t.slug));
  for (const [slug, trigger] of stored) {
    if (wanted.has(slug)) continue;
    await deleteTrigger(db, flowId, trigger.id);
    report.triggers.removed.push(slug);
  }
  for (const spec of document.triggers) {
    const current = stored.get(spec.slug);
    const settings = { budgetUsd: spec.budgetUsd, tags: spec.tags, priority: spec.priority };
    if (!current) {
      const created = await createTrigger(db, flowId, spec.slug, settings);
      report.triggers.added.push(spec.slug);
      report.secrets.push({ slug: spec.slug, secret: created.secret });
    } else if (sameSpec(triggerSpec(current)) !== sameSpec(spec)) {
      await updateTrigger(db, flowId, current.id, settings);
      report.triggers.changed.push(spec.slug);
    }
  }
}

/**
 * A file's graph for this database: each `flowName` the id of the flow of that name — from `ids`
 * (flows this deploy saved), else the database's live flow. `stitch run` of an exported file uses it too.
 */
export async function graphForDatabase(db: Queryable, graph: VisualGraph, ids = new Map<string, string>()): Promise<{ graph: VisualGraph; issues: ValidationIssue[] }> {
  for (const callee of calleeNames(graph)) {
    if (!ids.has(callee)) {
      const found = await findFlowForDeploy(db, callee);
      if (found) ids.set(callee, found.id);
    }
  }
  return withFlowIds(graph, (name) => ids.get(name));
}

/** One file: the flow (created or updated by name), its budget, schedules and triggers. */
async function deployOne(db: Queryable, file: { where: string; document: FlowDocument }, ids: Map<string, string>, origin: VersionOrigin): Promise<DeployedFlow> {
  const { document, where } = file;
  const resolved = await graphForDatabase(db, document.graph, ids);
  if (resolved.issues.length) throw new ValidationError(named(document, resolved.issues)[0].message, named(document, resolved.issues));
  const existing = await findFlowForDeploy(db, document.name);
  const saved = existing
    ? await updateFlowIn(db, existing.id, resolved.graph, undefined, { origin })
    : { ...(await createFlowIn(db, document.name, resolved.graph, { origin })), version: 1, unchanged: false };
  ids.set(document.name, saved.id);
  const report: DeployedFlow = {
    name: document.name,
    where,
    flowId: saved.id,
    change: !existing ? 'created' : saved.unchanged ? 'unchanged' : 'updated',
    version: saved.version,
    schedules: { added: 0, removed: 0, kept: 0 },
    triggers: { added: [], changed: [], removed: [] },
    secrets: [],
    warnings: saved.warnings,
  };
  const before = existing?.budgetUsd ?? null;
  if (document.budgetUsd !== undefined && document.budgetUsd !== before) {
    await updateFlowBudget(db, saved.id, document.budgetUsd);
    report.budgetUsd = { from: before, to: document.budgetUsd };
  }
  report.schedules = await syncSchedules(db, saved.id, document);
  await syncTriggers(db, saved.id, document, report);
  return report;
}

/** Thrown to roll a dry run back, carrying its report out of the transaction. */
class DryRunDone extends Error {
  constructor(readonly report: DeployReport) {
    super('dry run');
  }
}

export async function deployFlows(inputs: DeployInput[], options: DeployOptions = {}): Promise<DeployReport> {
  await refreshRemoteTypes(); // another process may have registered remote worker types: the graphs compile against them
  const files = inCallOrder(checkFiles(inputs, options));
  const origin: VersionOrigin = { deployed: true, message: options.message?.trim() || null };
  try {
    return await withTransaction(async (client) => {
      await lockDeploys(client);
      const ids = new Map<string, string>();
      const flows: DeployedFlow[] = [];
      for (const file of files) {
        try {
          flows.push(await deployOne(client, file, ids, origin));
        } catch (error) {
          const issues = issuesOf(error);
          const message = `The deploy was refused, nothing changed: flow "${file.document.name}" (${file.where}): ${(error as Error).message}`;
          if (issues) throw new ValidationError(message, issues);
          // A webhook slug another flow holds: still the caller's to fix, said with the flow's name.
          if (error instanceof StitchError && error.code === 'conflict') throw new ConflictError(message);
          throw error;
        }
      }
      const report = { dryRun: Boolean(options.dryRun), flows };
      if (options.dryRun) throw new DryRunDone(report);
      return report;
    });
  } catch (error) {
    if (!(error instanceof DryRunDone)) throw error;
    return { ...error.report, flows: error.report.flows.map((f) => ({ ...f, secrets: [] })) };
  }
}
