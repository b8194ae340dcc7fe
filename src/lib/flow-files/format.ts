/**
 * Flows as files (docs/flows-as-files.md): one readable JSON file per flow that reads the same from
 * every database — keys in a stable order, positions kept, no database ids (a `flow` node names the
 * flow it runs, `flowName`, where the canvas stores its id) and no credentials (a webhook trigger's
 * secret stays in the database). This module is the file's shape only: reading, writing, naming.
 */
import { z } from 'zod';
import type { Schedule, ValidationIssue, VisualGraph } from '@/types/stitch';
import type { Trigger } from '@/lib/db/queries/triggers';

const Budget = z.number().min(0).nullable();
const Tags = z.record(z.string(), z.string());
const Priority = z.number().int();

/** A schedule as a file holds it; every field but `cron` has the API's default. */
const ScheduleSpecSchema = z
  .object({
    cron: z.string().min(1).max(200),
    timezone: z.string().min(1).max(64).default('UTC'),
    input: z.record(z.string(), z.unknown()).default({}),
    enabled: z.boolean().default(true),
    catchUp: z.enum(['none', 'latest']).default('none'),
    budgetUsd: Budget.default(null),
    tags: Tags.default({}),
    priority: Priority.default(0),
  })
  .strict();

/** A webhook trigger as a file holds it: by slug, never with its secret. */
const TriggerSpecSchema = z
  .object({
    slug: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/, '3–64 letters, digits, "-" or "_", starting with a letter or digit'),
    budgetUsd: Budget.default(null),
    tags: Tags.default({}),
    priority: Priority.default(0),
  })
  .strict();

const FlowDocumentSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    budgetUsd: Budget.optional(),
    graph: z
      .object({ nodes: z.array(z.record(z.string(), z.unknown())).max(5000), edges: z.array(z.record(z.string(), z.unknown())).max(20000) })
      .catchall(z.unknown()),
    // Absent: the flow's schedules (triggers) are left as they are; a list: they become exactly it.
    schedules: z.array(ScheduleSpecSchema).max(100).optional(),
    triggers: z.array(TriggerSpecSchema).max(100).optional(),
    // `stitch run`'s input for the file; a deploy ignores it.
    input: z.unknown().optional(),
  })
  .strict();

export type ScheduleSpec = z.output<typeof ScheduleSpecSchema>;
export type TriggerSpec = z.output<typeof TriggerSpecSchema>;
export type FlowDocument = Omit<z.output<typeof FlowDocumentSchema>, 'graph'> & { graph: VisualGraph };

/** A stored schedule as a file holds it. */
export const scheduleSpec = (s: Pick<Schedule, 'cron' | 'timezone' | 'input' | 'enabled' | 'catchUp' | 'budgetUsd' | 'tags' | 'priority'>): ScheduleSpec => ({
  cron: s.cron,
  timezone: s.timezone,
  input: (s.input ?? {}) as Record<string, unknown>,
  enabled: s.enabled,
  catchUp: s.catchUp,
  budgetUsd: s.budgetUsd,
  tags: s.tags,
  priority: s.priority,
});

/** A stored trigger as a file holds it (its secret stays behind). */
export const triggerSpec = (t: Trigger): TriggerSpec => ({ slug: t.slug, budgetUsd: t.budgetUsd, tags: t.tags, priority: t.priority });

/**
 * A spec's identity: its canonical JSON. Schedules have no name, so a deploy keeps a stored schedule
 * whose every field equals one in the file, and an export lists them in this order.
 */
export const sameSpec = (spec: ScheduleSpec | TriggerSpec): string => JSON.stringify(sortKeys(spec));

/** A file's content as a flow document, or every problem with it (each message names the file). */
export function parseFlowDocument(value: unknown, where: string): { document?: FlowDocument; issues: ValidationIssue[] } {
  const parsed = FlowDocumentSchema.safeParse(value);
  if (parsed.success) return { document: parsed.data as FlowDocument, issues: [] };
  return {
    issues: parsed.error.issues.slice(0, 20).map((issue) => {
      const field = issue.path.map(String).join('.');
      const secret = issue.code === 'unrecognized_keys' && issue.keys.includes('secret');
      const message = secret ? "a file never holds a trigger's secret (it stays in the database): remove it" : issue.message;
      return { code: 'invalid_flow_file', ...(field ? { field } : {}), message: `${where}: ${field ? `${field}: ` : ''}${message}` };
    }),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Object keys sorted at every depth (arrays keep their order): the same flow, the same text. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]));
}

const LINE_WIDTH = 100;

/** JSON on one line with a space after `:` and `,` (`{"x": 0, "y": 40}`). */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (isObject(value)) return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** Two-space indents; an object or array that fits on its line stays on it (a position, an edge), so a diff shows what moved. */
function pretty(value: unknown, indent: string, room: number): string {
  const flat = inline(value);
  if (flat.length <= room || !(Array.isArray(value) || isObject(value))) return flat;
  const inner = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((v) => `${inner}${pretty(v, inner, LINE_WIDTH - inner.length - 1)}`)
    : Object.entries(value).map(([k, v]) => {
        const key = `${JSON.stringify(k)}: `;
        return `${inner}${key}${pretty(v, inner, LINE_WIDTH - inner.length - key.length - 1)}`;
      });
  if (items.length === 0) return flat;
  return Array.isArray(value) ? `[\n${items.join(',\n')}\n${indent}]` : `{\n${items.join(',\n')}\n${indent}}`;
}

/** The file's text: the top-level keys in reading order, every key below sorted, a final newline. */
export function flowFileText(document: FlowDocument): string {
  const { name, budgetUsd, graph, schedules, triggers } = document;
  const ordered = { name, budgetUsd: budgetUsd ?? null, graph: sortKeys(graph), schedules: sortKeys(schedules ?? []), triggers: sortKeys(triggers ?? []) };
  return `${pretty(ordered, '', 0)}\n`;
}

/** `My Flow!` → `my-flow.json`; a name taken by an earlier flow gets `-2`, `-3`… */
export function fileNameFor(name: string, taken: Set<string>): string {
  const base = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'flow';
  let candidate = `${base}.json`;
  for (let n = 2; taken.has(candidate); n++) candidate = `${base}-${n}.json`;
  taken.add(candidate);
  return candidate;
}

/** The `flow` nodes' configs (the nodes that run another flow), in graph order. */
function subFlowConfigs(graph: VisualGraph): Array<{ nodeId: string; config: Record<string, unknown> }> {
  const found: Array<{ nodeId: string; config: Record<string, unknown> }> = [];
  for (const node of graph.nodes as unknown[]) {
    if (!isObject(node) || typeof node.type !== 'string' || node.type.toLowerCase() !== 'flow') continue;
    const data = isObject(node.data) ? node.data : undefined;
    if (data && isObject(data.config)) found.push({ nodeId: String(node.id), config: data.config });
  }
  return found;
}

/** Copy of the graph whose sub-flow configs are rewritten by `rewrite` (the input graph is left as it is). */
function mapSubFlowConfigs(graph: VisualGraph, rewrite: (config: Record<string, unknown>, nodeId: string) => Record<string, unknown>): VisualGraph {
  const copy = structuredClone(graph);
  for (const { nodeId, config } of subFlowConfigs(copy)) {
    const next = rewrite(config, nodeId);
    for (const key of Object.keys(config)) delete config[key];
    Object.assign(config, next);
  }
  return copy;
}

/** The names of the flows a file's `flow` nodes run (`flowName`). */
export function calleeNames(graph: VisualGraph): string[] {
  return [...new Set(subFlowConfigs(graph).flatMap(({ config }) => (typeof config.flowName === 'string' ? [config.flowName] : [])))];
}

/** For a file: each `flowId` the flow's name (`flowName`); an id `nameOf` does not know stays an id. */
export function withFlowNames(graph: VisualGraph, nameOf: (flowId: string) => string | undefined): VisualGraph {
  return mapSubFlowConfigs(graph, (config) => {
    const name = typeof config.flowId === 'string' ? nameOf(config.flowId) : undefined;
    if (name === undefined) return config;
    const { flowId: _id, ...rest } = config;
    return { ...rest, flowName: name };
  });
}

/** For a database: each `flowName` the flow's id there; a name `idOf` does not know is an issue. */
export function withFlowIds(graph: VisualGraph, idOf: (name: string) => string | undefined): { graph: VisualGraph; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const resolved = mapSubFlowConfigs(graph, (config, nodeId) => {
    if (typeof config.flowName !== 'string') return config;
    const flowId = idOf(config.flowName);
    if (!flowId) {
      issues.push({
        code: 'unknown_flow',
        nodeId,
        field: 'flowName',
        message: `Flow node "${nodeId}" runs the flow named "${config.flowName}": there is none, in the database or in this deploy.`,
      });
      return config;
    }
    const { flowName: _name, ...rest } = config;
    return { ...rest, flowId };
  });
  return { graph: resolved, issues };
}
