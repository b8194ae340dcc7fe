/**
 * React Flow state ↔ Stitch's visual graph (React Flow JSON, design §2), and what the canvas knows
 * about the core node types. The saved graph is exactly what React Flow holds, minus UI-only fields.
 */
import type { Edge, Node } from '@xyflow/react';
import type { NodeType, VisualEdge, VisualGraph, VisualNode, VisualNodeData, WorkerDefinition } from '@/types/stitch';
import { configFields } from './field-schemas';

export type FlowNode = Node<VisualNodeData, NodeType>;
export type FlowEdge = Edge<NonNullable<VisualEdge['data']>>;

export interface CoreType {
  type: NodeType;
  name: string;
  description: string;
  /** Accent colour of the node card and palette entry. */
  color: string;
}

export const CORE_TYPES: CoreType[] = [
  { type: 'start', name: 'Start', description: 'Entry point: receives the run input.', color: '#16a34a' },
  { type: 'worker', name: 'Worker', description: 'Runs a worker; pick its type in the panel.', color: '#4f46e5' },
  { type: 'ux', name: 'UX gate', description: 'Waits for a person to answer a form.', color: '#d97706' },
  { type: 'splitter', name: 'Splitter', description: 'Runs the branch once per item of an array.', color: '#0891b2' },
  { type: 'collector', name: 'Collector', description: 'Gathers the items of a splitter, in order.', color: '#0891b2' },
  { type: 'switch', name: 'Switch', description: 'Routes to one branch by a condition.', color: '#9333ea' },
  { type: 'end', name: 'End', description: 'Collects the run output.', color: '#475569' },
  { type: 'event', name: 'Wait for event', description: 'Waits for an event from outside (POST /api/events/:name), matched by key.', color: '#be185d' },
  { type: 'flow', name: 'Sub-flow', description: 'Runs another flow as a child run; its output is this node’s.', color: '#0f766e' },
];

export const coreType = (type: string | undefined): CoreType => CORE_TYPES.find((c) => c.type === type?.toLowerCase()) ?? CORE_TYPES[1];

const CATEGORY_COLORS = ['#4f46e5', '#db2777', '#0d9488', '#ea580c', '#2563eb', '#65a30d', '#7c3aed', '#b45309'];

/** A stable accent colour per worker category. */
export function categoryColor(category: string | undefined): string {
  if (!category) return CATEGORY_COLORS[0];
  let h = 0;
  for (const c of category) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return CATEGORY_COLORS[h % CATEGORY_COLORS.length];
}

/** Accent colour of a node: its core type's, or for workers its category's. */
export function accentOf(type: string | undefined, def: WorkerDefinition | undefined): string {
  return coreType(type).type === 'worker' ? categoryColor(def?.category) : coreType(type).color;
}

export const workerTypeOf = (data: VisualNodeData | undefined): string | undefined =>
  (typeof data?.workerType === 'string' && data.workerType) || (typeof data?.worker_type === 'string' && data.worker_type) || undefined;

export function uniqueNodeId(base: string, taken: Set<string>): string {
  const clean = base.replace(/[^a-zA-Z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'node';
  if (!taken.has(clean)) return clean;
  for (let i = 2; ; i++) if (!taken.has(`${clean}_${i}`)) return `${clean}_${i}`;
}

/** A new node dropped from the palette: worker config pre-filled with the definition's defaults. */
export function newNode(type: NodeType, def: WorkerDefinition | undefined, position: { x: number; y: number }, taken: Set<string>): FlowNode {
  const id = uniqueNodeId(def ? def.id : type, taken);
  const data: VisualNodeData = { label: def ? def.name : coreType(type).name };
  if (def) {
    data.workerType = def.id;
    data.config = Object.fromEntries(configFields(def).fields.filter(([, f]) => f.default !== undefined).map(([k, f]) => [k, structuredClone(f.default)]));
  }
  if (type === 'splitter') data.config = { arrayPath: 'items' };
  if (type === 'switch') data.config = { cases: [{ name: 'yes', when: 'ok == true' }] };
  if (type === 'event') data.config = { event: 'payment.succeeded', match: '{{orderId}}' };
  if (type === 'ux') data.config = { prompt: 'Please review', inputSchema: { approved: { type: 'boolean', required: true, description: 'Approve?' } } };
  return { id, type, position, data };
}

export function toFlow(graph: VisualGraph | null | undefined): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const nodes = (graph?.nodes ?? []).map(
    (n: VisualNode, i): FlowNode => ({
      id: n.id,
      type: coreType(n.type).type,
      position: n.position ?? { x: i * 260, y: 0 },
      data: n.data ?? {},
    }),
  );
  const edges = (graph?.edges ?? []).map(
    (e: VisualEdge): FlowEdge => ({
      id: e.id,
      source: e.source,
      target: e.target,
      sourceHandle: e.sourceHandle ?? null,
      targetHandle: e.targetHandle ?? null,
      type: 'stitch',
      data: e.data ?? {},
    }),
  );
  return { nodes, edges };
}

export function fromFlow(nodes: FlowNode[], edges: FlowEdge[]): VisualGraph {
  return {
    nodes: nodes.map((n) => ({ id: n.id, type: n.type ?? 'worker', position: { x: Math.round(n.position.x), y: Math.round(n.position.y) }, data: n.data })),
    edges: edges.map((e) => {
      const out: VisualEdge = { id: e.id, source: e.source, target: e.target };
      if (e.sourceHandle) out.sourceHandle = e.sourceHandle;
      if (e.targetHandle) out.targetHandle = e.targetHandle;
      if (e.data && Object.keys(e.data).length) out.data = e.data;
      return out;
    }),
  };
}
