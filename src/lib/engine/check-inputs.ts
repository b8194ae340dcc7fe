/**
 * The save-time flow type-check. Walking the graph in topological order, it tracks which input
 * fields each node surely receives and which it may receive, from: the run input (when the start
 * node declares `data.inputSchema`), upstream outputs (workers pass their input on and add their
 * declared outputs), edge mappings, splitter items (`config.itemSchema`), collector results and UX
 * answers. For each worker's inputs (via `WORKER_DEFINITIONS`):
 *
 * - a required input nothing can provide is an error naming the node, the field, what upstream
 *   offers and the closest offered name;
 * - a required input only some branches provide (a switch case, a node that may be skipped, a
 *   continueOnError node) and an optional input nothing provides are warnings.
 *
 * Where upstream fields are unknowable (undeclared run input, items without a schema), any field
 * may arrive, and nothing is reported.
 */
import type { ExecutionEdge, ExecutionGraph, ExecutionNode, ValidationIssue } from '@/types/stitch';
import { getWorkerDefinition } from '@/lib/workers/registry';
import { closestName } from './suggest';
import { idMap } from './id-map';

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

/** What a node's outgoing edges carry, given what it received. */
function outputOf(graph: ExecutionGraph, node: ExecutionNode, input: Fields): Fields {
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

export function checkFlowTypes(graph: ExecutionGraph): { errors: ValidationIssue[]; warnings: ValidationIssue[] } {
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
    checkWorkerInputs(node, input, errors, warnings);
    outputs[id] = outputOf(graph, node, input);
  }
  return { errors, warnings };
}

function checkWorkerInputs(node: ExecutionNode, input: Fields, errors: ValidationIssue[], warnings: ValidationIssue[]): void {
  const def = node.workerType ? getWorkerDefinition(node.workerType) : undefined;
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
