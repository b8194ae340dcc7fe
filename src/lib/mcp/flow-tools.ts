/**
 * Flows as MCP tools: one tool per flow, named from the flow's name, with the JSON Schema of its
 * start node's `inputSchema` and a description drawn from the flow. The list is read from the
 * database each time it is asked for, so every process serves the same tools.
 */
import type { ExecutionGraph, FieldSchema } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { listCurrentGraphs } from '@/lib/db/queries/flows';

export interface FlowTool {
  name: string;
  description: string;
  inputSchema: JsonObjectSchema;
  flowId: string;
  /** The start node's declared input fields (absent: the flow takes any input). */
  fields?: Record<string, FieldSchema>;
}

export interface JsonObjectSchema {
  type: 'object';
  properties: Record<string, Record<string, unknown>>;
  required?: string[];
  [key: string]: unknown;
}

/** Names the built-in tools take; a flow named the same gets a suffix. */
export const RESERVED_TOOL_NAMES = ['get_run', 'cancel_run'];
/** MCP clients accept tool names of [A-Za-z0-9_-], at most 64 characters. */
const MAX_NAME = 64;

/** `Video factory (v2)!` → `video_factory_v2`. */
export function toolNameOf(flowName: string): string {
  const base = flowName
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '') // accents come apart under NFKD: drop the marks, keep the letters
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_NAME);
  return base || 'flow';
}

/** The tool's input schema: the start node's declared fields, or any object when it declares none. */
export function inputSchemaOf(fields: Record<string, FieldSchema> | undefined): JsonObjectSchema {
  if (!fields) return { type: 'object', properties: {}, additionalProperties: true };
  const properties: JsonObjectSchema['properties'] = {};
  const required: string[] = [];
  for (const [name, field] of Object.entries(fields)) {
    properties[name] = {
      type: field.type,
      ...(field.description ? { description: field.description } : {}),
      ...(field.default !== undefined ? { default: field.default } : {}),
    };
    if (field.required === true && field.default === undefined) required.push(name);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

function describeFlow(name: string, version: number, graph: ExecutionGraph): string {
  const steps = graph.order.map((id) => {
    const node = graph.nodes[id];
    const what = node.workerType ?? node.type;
    return node.label && node.label !== what ? `${node.label} (${what})` : what === id ? id : `${id} (${what})`;
  });
  const output = graph.signature?.output.maybe;
  return (
    `Runs the Stitch flow "${name}" (version ${version}) and returns its output. ` +
    `Steps: ${steps.join(' → ')}.` +
    (output?.length ? ` Output fields: ${output.join(', ')}.` : '')
  );
}

/** Every live flow with a saved version, as a tool; names made unique in creation order. */
export async function listFlowTools(): Promise<FlowTool[]> {
  const rows = await listCurrentGraphs(getPool());
  const taken = new Set(RESERVED_TOOL_NAMES);
  return rows.map((r) => {
    const start = r.graph.order.map((id) => r.graph.nodes[id]).find((n) => n.type === 'start' && n.inputSchema);
    let name = toolNameOf(r.name);
    // A clash (two flows named alike) keeps the older flow's name; the newer one is told apart by its id.
    if (taken.has(name)) name = `${name.slice(0, MAX_NAME - 9)}_${r.id.slice(0, 8)}`;
    taken.add(name);
    const fields = r.graph.signature?.input ?? start?.inputSchema;
    return {
      name,
      flowId: r.id,
      description: describeFlow(r.name, r.version, r.graph),
      inputSchema: inputSchemaOf(fields),
      ...(fields ? { fields } : {}),
    };
  });
}
