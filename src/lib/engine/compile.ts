/**
 * Compile a React Flow graph into the execution graph a run follows, collecting every problem as a
 * `ValidationIssue` (never stopping at the first): shape, duplicate ids, unknown node or worker
 * types, dangling edges, cycles, splitter scopes (scopes.ts), switch cases, UX answers, and the
 * flow type-check (check-inputs.ts) whose warnings are kept apart from errors.
 */
import {
  NODE_TYPES,
  type EdgeMapping,
  type ExecutionEdge,
  type ExecutionGraph,
  type ExecutionNode,
  type NodeType,
  type ValidationIssue,
  type VisualGraph,
} from '@/types/stitch';
import { getWorkerDefinition, isValidWorkerType } from '@/lib/workers/registry';
import { checkFlowTypes, type SubFlowSignatures } from './check-inputs';
import { isSubFlowRef, parseSubFlowRef } from './sub-flow-ref';
import { analyseScopes } from './scopes';
import { checkSwitch } from './switch-node';
import { checkUxConfig } from './ux-config';
import { idMap, toIdMap } from './id-map';
import { checkFlowConcurrency, checkNodeSettings } from './node-settings';

export interface CompileResult {
  graph?: ExecutionGraph;
  /** Errors: the graph cannot be saved while there are any. */
  issues: ValidationIssue[];
  /** Possible problems (optional inputs nothing provides, inputs that only some branches provide): saving goes ahead. */
  warnings: ValidationIssue[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function normaliseType(raw: unknown): NodeType | undefined {
  const t = typeof raw === 'string' ? raw.toLowerCase() : '';
  return (NODE_TYPES as readonly string[]).includes(t) ? (t as NodeType) : undefined;
}

function validMapping(mapping: unknown): mapping is EdgeMapping {
  return (
    isObject(mapping) &&
    Object.values(mapping).every((v) => (typeof v === 'string' && v.length > 0) || (isObject(v) && 'value' in v))
  );
}

export interface CompileOptions {
  /** Signatures of the flows this graph's `flow` nodes call (loaded by the caller; see flow-references.ts). */
  subFlows?: SubFlowSignatures;
}

export function compileGraph(input: unknown, options: CompileOptions = {}): CompileResult {
  const issues: ValidationIssue[] = [];
  if (!isObject(input) || !Array.isArray(input.nodes) || !Array.isArray(input.edges)) {
    return {
      issues: [{ code: 'invalid_graph', message: 'A graph is an object with a "nodes" array and an "edges" array (React Flow JSON).' }],
      warnings: [],
    };
  }
  const visual = input as VisualGraph;
  if (visual.nodes.length === 0) issues.push({ code: 'empty_graph', message: 'The graph has no nodes: add at least one.' });

  const nodes = idMap<ExecutionNode>();
  visual.nodes.forEach((raw, index) => {
    if (!isObject(raw) || typeof raw.id !== 'string' || raw.id === '') {
      issues.push({ code: 'invalid_node', message: `Node #${index} needs a non-empty string "id".` });
      return;
    }
    const id = raw.id;
    if (/[[\]]/.test(id) || id.length > 200) {
      issues.push({ code: 'invalid_node_id', nodeId: id, message: `Node id "${id}" may not contain "[" or "]" and must be at most 200 characters.` });
      return;
    }
    if (nodes[id]) {
      issues.push({ code: 'duplicate_node_id', nodeId: id, message: `Two nodes have the id "${id}": node ids must be unique.` });
      return;
    }
    const data = isObject(raw.data) ? raw.data : {};
    const type = normaliseType(raw.type);
    if (!type) {
      issues.push({
        code: 'unknown_node_type',
        nodeId: id,
        field: 'type',
        message: `Node "${id}" has type ${JSON.stringify(raw.type)}; use one of: ${NODE_TYPES.join(', ')}.`,
      });
      return;
    }
    const settingIssues = checkNodeSettings(id, type, data.workerType ?? data.worker_type, data);
    if (settingIssues.length) {
      issues.push(...settingIssues);
      return;
    }
    const node: ExecutionNode = {
      id,
      type,
      label: typeof data.label === 'string' ? data.label : undefined,
      config: isObject(data.config) ? data.config : {},
      continueOnError: data.continueOnError === true,
    };
    if (isObject(data.retry)) node.retry = data.retry;
    // A sub-flow's own nodes retry themselves; running the whole child again is opted into.
    if (type === 'flow') node.retry = { attempts: 1, ...node.retry };
    if (typeof data.timeoutSeconds === 'number' && data.timeoutSeconds > 0) node.timeoutSeconds = data.timeoutSeconds;
    if (isObject(data.inputSchema)) node.inputSchema = data.inputSchema as ExecutionNode['inputSchema'];
    if (data.cache !== undefined) node.cache = data.cache as ExecutionNode['cache'];
    if (data.concurrency !== undefined) node.concurrency = data.concurrency as ExecutionNode['concurrency'];
    if (data.rateLimit !== undefined) node.rateLimit = data.rateLimit as ExecutionNode['rateLimit'];
    if (type === 'worker') {
      const workerType = data.workerType ?? data.worker_type;
      if (typeof workerType !== 'string' || workerType === '') {
        issues.push({ code: 'missing_worker_type', nodeId: id, field: 'workerType', message: `Worker node "${id}" needs data.workerType.` });
      } else if (!isValidWorkerType(workerType) || !getWorkerDefinition(workerType)) {
        issues.push({
          code: 'unknown_worker_type',
          nodeId: id,
          field: 'workerType',
          message: `Node "${id}" uses worker type "${workerType}", which is not registered (see GET /api/workers for the list).`,
        });
      } else {
        node.workerType = workerType;
      }
    }
    nodes[id] = node;
  });

  const edges: ExecutionEdge[] = [];
  const edgeIds = new Set<string>();
  visual.edges.forEach((raw, index) => {
    if (!isObject(raw) || typeof raw.source !== 'string' || typeof raw.target !== 'string') {
      issues.push({ code: 'invalid_edge', message: `Edge #${index} needs string "source" and "target".` });
      return;
    }
    const id = typeof raw.id === 'string' && raw.id ? raw.id : `e-${raw.source}-${raw.target}-${index}`;
    if (edgeIds.has(id)) {
      issues.push({ code: 'duplicate_edge_id', edgeId: id, message: `Two edges have the id "${id}".` });
      return;
    }
    edgeIds.add(id);
    const missing = [raw.source, raw.target].filter((n) => !nodes[n] && !visual.nodes.some((v) => isObject(v) && v.id === n));
    if (missing.length) {
      issues.push({
        code: 'dangling_edge',
        edgeId: id,
        message: `Edge "${id}" connects ${raw.source} → ${raw.target}, but ${missing.map((m) => `"${m}"`).join(' and ')} is not a node.`,
      });
      return;
    }
    if (!nodes[raw.source] || !nodes[raw.target]) return; // the node itself was reported
    const data = isObject(raw.data) ? raw.data : {};
    const edge: ExecutionEdge = { id, source: raw.source, target: raw.target };
    if (data.mapping !== undefined) {
      if (!validMapping(data.mapping)) {
        issues.push({
          code: 'invalid_mapping',
          edgeId: id,
          field: 'mapping',
          message: `Edge "${id}": data.mapping must map target fields to a dot path string or {"value": constant}.`,
        });
      } else edge.mapping = data.mapping;
    }
    if (typeof raw.sourceHandle === 'string' && raw.sourceHandle) edge.sourceHandle = raw.sourceHandle;
    if (typeof data.case === 'string') edge.case = data.case;
    edges.push(edge);
  });

  const ids = Object.keys(nodes);
  const adjacency = idMap<string[]>();
  const reverseAdjacency = idMap<string[]>();
  const inEdges = idMap<ExecutionEdge[]>();
  const outEdges = idMap<ExecutionEdge[]>();
  for (const id of ids) {
    adjacency[id] = [];
    reverseAdjacency[id] = [];
    inEdges[id] = [];
    outEdges[id] = [];
  }
  for (const e of edges) {
    adjacency[e.source].push(e.target);
    reverseAdjacency[e.target].push(e.source);
    outEdges[e.source].push(e);
    inEdges[e.target].push(e);
  }

  // Kahn's algorithm: whatever is left over sits on a cycle.
  const indegree = toIdMap(ids.map((id) => [id, inEdges[id].length] as const));
  const queue = ids.filter((id) => indegree[id] === 0);
  const order: string[] = [];
  while (queue.length) {
    const id = queue.shift()!;
    order.push(id);
    for (const t of adjacency[id]) if (--indegree[t] === 0) queue.push(t);
  }
  if (order.length < ids.length) issues.push(...cycleIssues(ids, adjacency, new Set(order)));

  const graph: ExecutionGraph = {
    nodes,
    edges,
    adjacency,
    reverseAdjacency,
    inEdges,
    outEdges,
    entryNodes: ids.filter((id) => inEdges[id].length === 0),
    terminalNodes: ids.filter((id) => outEdges[id].length === 0),
    order,
  };
  const flowConcurrency = input.concurrency;
  issues.push(...checkFlowConcurrency(flowConcurrency));
  if (flowConcurrency !== undefined) graph.concurrency = flowConcurrency as ExecutionGraph['concurrency'];
  let warnings: ValidationIssue[] = [];
  if (!issues.some((i) => i.code === 'cycle')) {
    const { scopes, issues: scopeIssues } = analyseScopes(graph);
    issues.push(...scopeIssues);
    if (Object.keys(scopes).length) graph.scopes = scopes;
    for (const id of order) issues.push(...checkNodeConfig(nodes[id], outEdges[id]));
    const types = checkFlowTypes(graph, options.subFlows);
    issues.push(...types.errors);
    warnings = types.warnings;
    graph.signature = { output: types.output };
    const start = order.map((id) => nodes[id]).find((n) => n.type === 'start' && n.inputSchema);
    if (start?.inputSchema) graph.signature.input = start.inputSchema;
  }
  return issues.length ? { issues, warnings } : { graph, issues, warnings };
}

/** Per-type settings that only make sense on one kind of node (switch cases, UX answers, …). */
function checkNodeConfig(node: ExecutionNode, outEdges: ExecutionEdge[]): ValidationIssue[] {
  if (node.type === 'switch') return checkSwitch(node, outEdges);
  if (node.type === 'ux') return checkUxConfig(node);
  if (node.type === 'flow') {
    const ref = parseSubFlowRef(node);
    return isSubFlowRef(ref) ? [] : [ref];
  }
  if (node.type === 'collector' && node.config.as !== undefined && (typeof node.config.as !== 'string' || node.config.as === '')) {
    return [{ code: 'invalid_result_field', nodeId: node.id, field: 'as', message: `Collector "${node.id}": config.as must be the field name to put the results under (or left out for a bare array).` }];
  }
  return [];
}

/** At most this many cycles are reported, each naming at most this many of its nodes (≤ ~45 KB). */
const MAX_CYCLES_REPORTED = 20;
const MAX_NODES_NAMED = 10;

/**
 * One issue per cycle — per strongly connected component of the nodes Kahn's algorithm could not
 * order (those downstream of a cycle but not on one are not named) — in linear time and bounded
 * size. Naming every leftover node in every issue made a 2,400-node cycle a 100 MB answer.
 */
function cycleIssues(ids: string[], adjacency: Record<string, string[]>, ordered: Set<string>): ValidationIssue[] {
  const components = stronglyConnected(ids.filter((id) => !ordered.has(id)), adjacency);
  const cycles = components.filter((c) => c.length > 1 || adjacency[c[0]].includes(c[0]));
  const issues: ValidationIssue[] = cycles.slice(0, MAX_CYCLES_REPORTED).map((nodes) => {
    const named = nodes.slice(0, MAX_NODES_NAMED).map((id) => JSON.stringify(id)).join(', ');
    const more = nodes.length > MAX_NODES_NAMED ? ` and ${nodes.length - MAX_NODES_NAMED} more` : '';
    return {
      code: 'cycle',
      nodeId: nodes[0],
      message: `${nodes.length === 1 ? 'Node' : `${nodes.length} nodes`} ${named}${more} ${nodes.length === 1 ? 'has an edge to itself' : 'form a cycle'}: flows must be acyclic.`,
    };
  });
  if (cycles.length > MAX_CYCLES_REPORTED) {
    issues.push({ code: 'cycle', message: `${cycles.length - MAX_CYCLES_REPORTED} more cycles are not listed: flows must be acyclic.` });
  }
  return issues;
}

/** Tarjan's strongly connected components over `subset`, iteratively (no recursion depth limit). */
function stronglyConnected(subset: string[], adjacency: Record<string, string[]>): string[][] {
  const inSubset = new Set(subset);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const root of subset) {
    if (index.has(root)) continue;
    const work: Array<{ id: string; edge: number }> = [{ id: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const targets = adjacency[frame.id];
      if (frame.edge < targets.length) {
        const t = targets[frame.edge++];
        if (!inSubset.has(t)) continue;
        if (!index.has(t)) {
          index.set(t, next);
          low.set(t, next++);
          stack.push(t);
          onStack.add(t);
          work.push({ id: t, edge: 0 });
        } else if (onStack.has(t)) low.set(frame.id, Math.min(low.get(frame.id)!, index.get(t)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let id: string;
        do {
          id = stack.pop()!;
          onStack.delete(id);
          component.push(id);
        } while (id !== frame.id);
        components.push(component.reverse());
      }
    }
  }
  return components;
}
