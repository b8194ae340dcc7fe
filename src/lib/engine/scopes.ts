/**
 * Splitter scopes, found at compile time. A node's scope is the chain of splitters enclosing it:
 * an edge out of a splitter enters the splitter's scope, an edge into a collector leaves the
 * innermost one. Every edge into a node must agree on that chain, so a scope is closed: only its
 * splitter leads in and only its collector leads out, and every path from a splitter reaches its
 * collector (a scope node without outgoing edges is a stray path). At run time the scope is
 * instantiated once per item (`node[i]`, nested `node[i][j]`).
 */
import type { ExecutionEdge, ExecutionNode, ItemErrorPolicy, SplitterScope, ValidationIssue } from '@/types/stitch';
import { closestName } from './suggest';
import { idMap } from './id-map';

interface ScopeGraph {
  nodes: Record<string, ExecutionNode>;
  inEdges: Record<string, ExecutionEdge[]>;
  outEdges: Record<string, ExecutionEdge[]>;
  order: string[];
}

const ITEM_ERROR_POLICIES: readonly ItemErrorPolicy[] = ['fail', 'collect'];
const show = (chain: string[]) => (chain.length ? chain.map((s) => `splitter "${s}"`).join(' → ') : 'top level');

/** The scope chain an edge delivers into (before a collector leaves its splitter's scope). */
function edgeScope(graph: ScopeGraph, edge: ExecutionEdge, scopeOf: Record<string, string[]>): string[] {
  const source = graph.nodes[edge.source];
  const chain = scopeOf[edge.source] ?? [];
  return source.type === 'splitter' ? [...chain, source.id] : chain;
}

/**
 * Assign every node its scope chain (written to `node.scope`) and build the scopes. Returns the
 * scopes and the issues: scope_mismatch, collector_without_splitter, splitter_without_collector,
 * multiple_collectors, stray_path, and splitter/collector config errors.
 */
export function analyseScopes(graph: ScopeGraph): { scopes: Record<string, SplitterScope>; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const scopeOf = idMap<string[]>();
  const collectorsOf = idMap<string[]>();

  for (const id of graph.order) {
    const node = graph.nodes[id];
    const edges = graph.inEdges[id];
    let chain: string[] = [];
    if (edges.length) {
      chain = edgeScope(graph, edges[0], scopeOf);
      for (const edge of edges.slice(1)) {
        const other = edgeScope(graph, edge, scopeOf);
        if (other.join('\u0000') !== chain.join('\u0000')) {
          issues.push({
            code: 'scope_mismatch',
            nodeId: id,
            edgeId: edge.id,
            message:
              `Edge "${edge.id}" (${edge.source} → ${id}) comes from ${show(other)}, but node "${id}" is reached from ${show(chain)}` +
              ` (edge "${edges[0].id}"). A splitter's items only leave its scope through its collector: ` +
              `route "${edge.source}" through the collector, or move the edge.`,
          });
        }
      }
    }
    if (node.type === 'collector') {
      if (!chain.length) {
        issues.push({
          code: 'collector_without_splitter',
          nodeId: id,
          message: `Collector "${id}" has no splitter upstream: it would never receive items. Connect it after a splitter's branch, or remove it.`,
        });
      } else {
        const splitter = chain[chain.length - 1];
        (collectorsOf[splitter] ??= []).push(id);
        chain = chain.slice(0, -1);
      }
    }
    scopeOf[id] = chain;
    if (chain.length) node.scope = chain;
  }

  const scopes = idMap<SplitterScope>();
  for (const splitter of graph.order.filter((id) => graph.nodes[id].type === 'splitter')) {
    const collectors = collectorsOf[splitter] ?? [];
    if (collectors.length === 0) {
      issues.push({
        code: 'splitter_without_collector',
        nodeId: splitter,
        message: `Splitter "${splitter}" has no collector downstream: connect the end of its branch to a collector node.`,
      });
      continue;
    }
    if (collectors.length > 1) {
      issues.push({
        code: 'multiple_collectors',
        nodeId: splitter,
        message: `Splitter "${splitter}" is closed by several collectors (${collectors.join(', ')}): join its branches into one collector.`,
      });
      continue;
    }
    const scope = buildScope(graph, splitter, collectors[0], scopeOf, issues);
    if (scope) scopes[splitter] = scope;
  }
  return { scopes, issues };
}

function buildScope(
  graph: ScopeGraph,
  splitter: string,
  collector: string,
  scopeOf: Record<string, string[]>,
  issues: ValidationIssue[],
): SplitterScope | undefined {
  const members = graph.order.filter((id) => scopeOf[id].at(-1) === splitter);
  for (const id of members) {
    if (graph.outEdges[id].length === 0) {
      issues.push({
        code: 'stray_path',
        nodeId: id,
        message:
          `Node "${id}" is inside splitter "${splitter}"'s scope but has no path to its collector "${collector}": ` +
          `every path from a splitter must reach its collector. Connect "${id}" to "${collector}" (or to a node leading to it).`,
      });
    }
  }
  const counts = new Map<string, number>();
  let directEdges = 0;
  for (const edge of graph.outEdges[splitter]) {
    if (edge.target === collector) directEdges++;
    else counts.set(edge.target, (counts.get(edge.target) ?? 0) + 1);
  }
  const s = graph.nodes[splitter].config;
  const c = graph.nodes[collector].config;
  const before = issues.length;
  if (s.arrayPath !== undefined && (typeof s.arrayPath !== 'string' || s.arrayPath === '')) {
    issues.push({ code: 'invalid_array_path', nodeId: splitter, field: 'arrayPath', message: `Splitter "${splitter}": config.arrayPath must be a dot path string like "scenes" (or left out when the input is the array).` });
  }
  if (s.concurrency !== undefined && !(Number.isInteger(s.concurrency) && s.concurrency >= 1 && s.concurrency <= 1_000_000)) {
    issues.push({ code: 'invalid_concurrency', nodeId: splitter, field: 'concurrency', message: `Splitter "${splitter}": config.concurrency must be a whole number ≥ 1 (got ${JSON.stringify(s.concurrency)}); leave it out for no limit.` });
  }
  if (s.as !== undefined && (typeof s.as !== 'string' || s.as === '')) {
    issues.push({ code: 'invalid_item_field', nodeId: splitter, field: 'as', message: `Splitter "${splitter}": config.as must be a field name to put each item under (or left out).` });
  }
  const policy = c.onItemError ?? 'fail';
  if (!ITEM_ERROR_POLICIES.includes(policy)) {
    issues.push({ code: 'invalid_item_error_policy', nodeId: collector, field: 'onItemError', message: `Collector "${collector}": config.onItemError must be "fail" or "collect" (got ${JSON.stringify(policy)}).` });
  }
  if (c.field !== undefined && (typeof c.field !== 'string' || c.field === '')) {
    issues.push({ code: 'invalid_result_field', nodeId: collector, field: 'field', message: `Collector "${collector}": config.field must be a dot path into each item's result (or left out for the whole result).` });
  }
  if (c.from !== undefined && (typeof c.from !== 'string' || !members.includes(c.from))) {
    const suggestion = typeof c.from === 'string' ? closestName(c.from, members) : undefined;
    issues.push({
      code: 'unknown_result_node',
      nodeId: collector,
      field: 'from',
      suggestion,
      message:
        `Collector "${collector}": config.from ${JSON.stringify(c.from)} is not a node inside splitter "${splitter}"'s scope` +
        `${suggestion ? ` — did you mean "${suggestion}"?` : ''} Use one of: ${members.join(', ') || '(none)'}.`,
    });
  }
  if (issues.length > before) return undefined;
  const feeders = [...new Set(graph.inEdges[collector].map((e) => e.source))];
  return {
    splitter,
    collector,
    members,
    children: [...counts].map(([node, edges]) => ({ node, edges })),
    directEdges,
    resultNodes: typeof c.from === 'string' ? [c.from] : feeders,
    resultField: typeof c.field === 'string' ? c.field : undefined,
    onItemError: policy,
    concurrency: typeof s.concurrency === 'number' ? s.concurrency : undefined,
  };
}

/** The scope a node sits directly in (its innermost splitter's), if any. */
export function innermostScope(graph: { nodes: Record<string, ExecutionNode>; scopes?: Record<string, SplitterScope> }, nodeId: string): SplitterScope | undefined {
  const splitter = graph.nodes[nodeId]?.scope?.at(-1);
  return splitter ? graph.scopes?.[splitter] : undefined;
}

/** Nodes at top level (no enclosing splitter): the only ones with a bare instance id. */
export function topLevelNodes(graph: { nodes: Record<string, ExecutionNode>; order: string[] }): string[] {
  return graph.order.filter((id) => !graph.nodes[id].scope?.length);
}
