/**
 * The save-time flow type-check. Walking the graph in topological order, it tracks which input
 * fields each node surely receives and which it may receive, from: the run input (when the start
 * node declares `data.inputSchema`), upstream outputs (workers pass their input on and add their
 * declared outputs), edge mappings, splitter items (`config.itemSchema`), collector results and UX
 * answers, sub-flows (a `flow` node needs its callee's start `inputSchema` and gives its run output).
 * For each worker's inputs (via `WORKER_DEFINITIONS`) and each `flow` node's:
 *
 * - a required input nothing can provide is an error naming the node, the field, what upstream
 *   offers and the closest offered name;
 * - a required input only some branches provide (a switch case, a node that may be skipped, a
 *   continueOnError node) and an optional input nothing provides are warnings.
 *
 * Where upstream fields are unknowable (undeclared run input, items without a schema), any field
 * may arrive, and nothing is reported.
 */
import type { ExecutionEdge, ExecutionGraph, ExecutionNode, FieldSchema, FlowSignature, ValidationIssue } from '@/types/stitch';
import { getWorkerDefinition } from '@/lib/workers/registry';
import { outputNodesOf } from './output-nodes';
import { closestName } from './suggest';
import { idMap } from './id-map';
import { isSubFlowRef, parseSubFlowRef, refKey } from './sub-flow-ref';

/** Signatures of the flows that `flow` nodes call, by `refKey` (absent: the callee is unknown here). */
export type SubFlowSignatures = Record<string, FlowSignature>;

/** `ANY`: fields are unknowable. */
const ANY = null;
type FieldSet = Set<string> | typeof ANY;
interface Fields {
  sure: FieldSet;
  maybe: FieldSet;
}

const union = (...sets: FieldSet[]): FieldSet => (sets.some((s) => s === ANY) ? ANY : new Set(sets.flatMap((s) => [...s!])));
const intersect = (sets: FieldSet[]): FieldSet => {
  const known = sets.filter((s): s is Set<string> => s !== ANY);
  if (known.length === 0) return ANY;
  return new Set([...known[0]].filter((f) => known.every((s) => s.has(f))));
};
const has = (set: FieldSet, names: string[]) => set === ANY || names.some((n) => set.has(n));

function schemaFields(schema: unknown): Fields {
  const entries = Object.entries((schema ?? {}) as Record<string, { required?: boolean }>);
  return {
    sure: new Set(entries.filter(([, f]) => f?.required !== false).map(([k]) => k)),
    maybe: new Set(entries.map(([k]) => k)),
  };
}

const fieldsOf = (names: string[] | null): FieldSet => (names === null ? ANY : new Set(names));
const namesOf = (set: FieldSet): string[] | null => (set === ANY ? null : [...set].sort());

function signatureOf(node: ExecutionNode, subFlows: SubFlowSignatures): FlowSignature | undefined {
  if (node.type !== 'flow') return undefined;
  const ref = parseSubFlowRef(node);
  return isSubFlowRef(ref) ? subFlows[refKey(ref)] : undefined;
}

/** The inputs a node declares: its worker definition's, or its sub-flow's start inputSchema. */
function declaredInputsOf(node: ExecutionNode, subFlows: SubFlowSignatures): { name: string; input: Record<string, FieldSchema> } | undefined {
  const def = node.workerType ? getWorkerDefinition(node.workerType) : undefined;
  if (def) return def;
  const signature = signatureOf(node, subFlows);
  return signature?.input ? { name: `sub-flow ${String(node.config.flowId)}`, input: signature.input } : undefined;
}

/** What a node's outgoing edges carry, given what it received. */
function outputOf(graph: ExecutionGraph, node: ExecutionNode, input: Fields, subFlows: SubFlowSignatures): Fields {
  if (node.type === 'flow') {
    // The child run's output replaces the input; an unknown callee may give anything.
    const signature = signatureOf(node, subFlows);
    return signature ? { sure: fieldsOf(signature.output.sure), maybe: fieldsOf(signature.output.maybe) } : { sure: ANY, maybe: ANY };
  }
  // An event node's output is the event's payload: whatever its sender posts.
  if (node.type === 'event') return { sure: ANY, maybe: ANY };
  const def = node.workerType ? getWorkerDefinition(node.workerType) : undefined;
  if (def) {
    const added = new Set(Object.keys(def.output));
    return { sure: union(input.sure, added), maybe: union(input.maybe, added) };
  }
  if (node.type === 'ux') {
    const answer = schemaFields(node.config.inputSchema ?? node.inputSchema);
    return { sure: union(input.sure, answer.sure), maybe: union(input.maybe, answer.maybe) };
  }
  if (node.type === 'collector') {
    const scope = Object.values(graph.scopes ?? {}).find((s) => s.collector === node.id);
    const as = typeof node.config.as === 'string' ? node.config.as : undefined;
    const fields = scope?.onItemError === 'collect' ? [as ?? 'results', 'errors'] : [as ?? node.id];
    return { sure: new Set(fields), maybe: new Set(fields) };
  }
  return input;
}

/** What an edge delivers to its target. */
function edgeFields(graph: ExecutionGraph, edge: ExecutionEdge, outputs: Record<string, Fields>): Fields {
  if (edge.mapping) return { sure: new Set(Object.keys(edge.mapping)), maybe: new Set(Object.keys(edge.mapping)) };
  const source = graph.nodes[edge.source];
  if (source.type === 'splitter') {
    // Into the scope: the item (its schema, when declared; else anything).
    const item = source.config.itemSchema ? schemaFields(source.config.itemSchema) : { sure: ANY, maybe: ANY };
    const as = typeof source.config.as === 'string' ? source.config.as : undefined;
    return as ? { sure: new Set([as]), maybe: new Set([as]) } : item;
  }
  const out = outputs[edge.source];
  if (source.continueOnError) return { sure: new Set(), maybe: union(out.maybe, new Set(['error'])) };
  return out;
}

export function checkFlowTypes(
  graph: ExecutionGraph,
  subFlows: SubFlowSignatures = {},
): { errors: ValidationIssue[]; warnings: ValidationIssue[]; output: FlowSignature['output'] } {
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const outputs = idMap<Fields>();
  /** May be skipped: every inbound edge is conditional (a switch case, or from a node that may be skipped). */
  const skippable = idMap<boolean>();
  const conditional = (e: ExecutionEdge) => graph.nodes[e.source].type === 'switch' || skippable[e.source];

  for (const id of graph.order) {
    const node = graph.nodes[id];
    const edges = graph.inEdges[id];
    let input: Fields;
    if (edges.length === 0) {
      input = node.type === 'start' && node.inputSchema ? schemaFields(node.inputSchema) : { sure: ANY, maybe: ANY };
    } else {
      const always = edges.filter((e) => !conditional(e)).map((e) => edgeFields(graph, e, outputs));
      const sometimes = edges.filter(conditional).map((e) => edgeFields(graph, e, outputs));
      const all = [...always, ...sometimes];
      input = {
        sure: always.length ? union(...always.map((f) => f.sure)) : intersect(sometimes.map((f) => f.sure)),
        maybe: union(...all.map((f) => f.maybe), ...all.map((f) => f.sure)),
      };
      skippable[id] = always.length === 0 && node.type !== 'collector';
    }
    checkWorkerInputs(node, declaredInputsOf(node, subFlows), input, errors, warnings);
    outputs[id] = outputOf(graph, node, input, subFlows);
  }
  return { errors, warnings, output: runOutputOf(graph, outputs) };
}

/** The run's output fields: its one output node's, or (several) one field per output node id. */
function runOutputOf(graph: ExecutionGraph, outputs: Record<string, Fields>): FlowSignature['output'] {
  const outputNodes = outputNodesOf(graph);
  if (outputNodes.length === 1) {
    const only = outputs[outputNodes[0]];
    return { sure: namesOf(only.sure), maybe: namesOf(only.maybe) };
  }
  return { sure: [...outputNodes].sort(), maybe: [...outputNodes].sort() };
}

function checkWorkerInputs(
  node: ExecutionNode,
  def: { name: string; input: Record<string, FieldSchema> } | undefined,
  input: Fields,
  errors: ValidationIssue[],
  warnings: ValidationIssue[],
): void {
  if (!def || input.sure === ANY) return;
  const offered = input.maybe === ANY ? [] : [...input.maybe].sort();
  const offers = offered.length ? `upstream offers: ${offered.join(', ')}` : 'upstream offers no fields';
  for (const [field, schema] of Object.entries(def.input)) {
    const names = [field, ...(schema.aliases ?? [])];
    if (schema.default !== undefined || has(input.sure, names)) continue;
    const suggestion = closestName(field, offered);
    const remedy = suggestion
      ? `Did you mean "${suggestion}"? Map it with an edge mapping {"${field}": "${suggestion}"}`
      : `Add an edge mapping {"${field}": "<path>"}, or declare it in the start node's inputSchema`;
    const base = { nodeId: node.id, field, ...(suggestion ? { suggestion } : {}) };
    if (has(input.maybe, names)) {
      if (schema.required) {
        warnings.push({
          code: 'input_may_be_missing',
          ...base,
          message: `Node "${node.id}" (${def.name}) needs input "${field}", which only some branches provide: it is missing when they are skipped. Provide it on every path into "${node.id}", or give it a default.`,
        });
      }
      continue;
    }
    if (schema.required) {
      errors.push({
        code: 'required_input_unreachable',
        ...base,
        message: `Node "${node.id}" (${def.name}) needs input "${field}", but nothing upstream provides it (${offers}). ${remedy}.`,
      });
    } else if (input.maybe !== ANY) {
      warnings.push({
        code: 'optional_input_unprovided',
        ...base,
        message: `Node "${node.id}" (${def.name}) has optional input "${field}", which nothing upstream provides (${offers}): it will be left out. ${remedy}.`,
      });
    }
  }
}

/** Errors only (the original entry point): required worker inputs nothing can provide. */
export function checkRequiredInputs(graph: ExecutionGraph): ValidationIssue[] {
  return checkFlowTypes(graph).errors;
}
