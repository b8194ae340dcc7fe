/**
 * Save-time check that each worker's required inputs can arrive: from the run input (when the start
 * node declares `data.inputSchema`), an upstream output field, an edge mapping or a default.
 * Where the run input is undeclared, any field may arrive, and nothing is reported.
 */
import type { ExecutionGraph, ValidationIssue } from '@/types/stitch';
import { getWorkerDefinition } from '@/lib/workers/registry';

/** `ANY`: fields are unknowable (undeclared run input upstream). */
const ANY = null;
type Fields = Set<string> | typeof ANY;

function union(a: Fields, b: Fields): Fields {
  if (a === ANY || b === ANY) return ANY;
  return new Set([...a, ...b]);
}

export function checkRequiredInputs(graph: ExecutionGraph): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const outputs: Record<string, Fields> = {};
  for (const id of graph.order) {
    const node = graph.nodes[id];
    let available: Fields = new Set();
    if (graph.inEdges[id].length === 0) {
      available = node.type === 'start' && node.inputSchema ? new Set(Object.keys(node.inputSchema)) : ANY;
    }
    for (const edge of graph.inEdges[id]) {
      available = union(available, edge.mapping ? new Set(Object.keys(edge.mapping)) : outputs[edge.source]);
    }
    const def = node.workerType ? getWorkerDefinition(node.workerType) : undefined;
    if (def && available !== ANY) {
      for (const [field, schema] of Object.entries(def.input)) {
        if (!schema.required || schema.default !== undefined) continue;
        const names = [field, ...(schema.aliases ?? [])];
        if (names.some((n) => available!.has(n))) continue;
        const offered = [...available].sort();
        issues.push({
          code: 'required_input_unreachable',
          nodeId: id,
          field,
          message:
            `Node "${id}" (${def.name}) needs input "${field}", but nothing upstream provides it` +
            (offered.length ? ` (upstream offers: ${offered.join(', ')})` : ' (upstream offers no fields)') +
            `. Add an edge mapping {"${field}": "<path>"}, or declare it in the start node's inputSchema.`,
        });
      }
    }
    // Workers pass their input through and add their declared outputs.
    outputs[id] = def ? union(available, new Set(Object.keys(def.output))) : available;
  }
  return issues;
}
