import { beforeAll, describe, expect, it } from 'vitest';
import { compileGraph } from '@/lib/engine/compile';
import { graph, registerTestWorker, syncWorker } from '../../../../test/helpers';

beforeAll(() => {
  registerTestWorker('echo', syncWorker((i) => i));
  registerTestWorker('needs-title', syncWorker((i) => i), {
    input: {
      title: { type: 'string', required: true, description: 'the title', aliases: ['heading'] },
      size: { type: 'number', required: true, description: 'defaulted', default: 3 },
    },
    output: { summary: { type: 'string', description: 's' } },
  });
});

const codes = (input: unknown) => compileGraph(input).issues.map((i) => i.code);

describe('compileGraph', () => {
  it('compiles adjacency, reverse adjacency, entry and terminal nodes', () => {
    const { graph: g, issues } = compileGraph(graph(['a', 'b', 'c', 'd'], [['a', 'b'], ['a', 'c'], ['b', 'd'], ['c', 'd']]));
    expect(issues).toEqual([]);
    expect(g!.adjacency).toEqual({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] });
    expect(g!.reverseAdjacency.d).toEqual(['b', 'c']);
    expect(g!.entryNodes).toEqual(['a']);
    expect(g!.terminalNodes).toEqual(['d']);
    expect(g!.order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('accepts node types case-insensitively and worker_type as an alias', () => {
    const { issues, graph: g } = compileGraph({
      nodes: [
        { id: 's', type: 'Start', data: {} },
        { id: 'w', type: 'WORKER', data: { worker_type: 'echo' } },
      ],
      edges: [{ id: 'e', source: 's', target: 'w' }],
    });
    expect(issues).toEqual([]);
    expect(g!.nodes.w.workerType).toBe('echo');
  });

  it('reports every problem at once, each with a code, location and remedy', () => {
    const { issues } = compileGraph({
      nodes: [
        { id: 'a', type: 'worker', data: { workerType: 'echo' } },
        { id: 'a', type: 'worker', data: { workerType: 'echo' } },
        { id: 'b', type: 'banana', data: {} },
        { id: 'c', type: 'worker', data: { workerType: 'nope' } },
        { id: 'd', type: 'worker', data: {} },
        { id: 'x[1]', type: 'worker', data: { workerType: 'echo' } },
      ],
      edges: [
        { id: 'e1', source: 'a', target: 'ghost' },
        { id: 'e1', source: 'a', target: 'c' },
      ],
    });
    expect(issues.map((i) => [i.code, i.nodeId ?? i.edgeId])).toEqual([
      ['duplicate_node_id', 'a'],
      ['unknown_node_type', 'b'],
      ['unknown_worker_type', 'c'],
      ['missing_worker_type', 'd'],
      ['invalid_node_id', 'x[1]'],
      ['dangling_edge', 'e1'],
      ['duplicate_edge_id', 'e1'],
    ]);
    expect(issues.find((i) => i.code === 'unknown_worker_type')!.message).toContain('GET /api/workers');
  });

  it('finds cycles and names the nodes on them', () => {
    const { issues } = compileGraph(graph(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c'], ['c', 'b'], ['c', 'd']]));
    expect(issues.map((i) => [i.code, i.nodeId])).toEqual([
      ['cycle', 'b'],
      ['cycle', 'c'],
      ['cycle', 'd'],
    ]);
  });

  it('rejects shapes that are not React Flow JSON', () => {
    expect(codes(null)).toEqual(['invalid_graph']);
    expect(codes({ nodes: {} })).toEqual(['invalid_graph']);
    expect(codes({ nodes: [], edges: [] })).toEqual(['empty_graph']);
    expect(codes({ nodes: [{ type: 'start' }], edges: [{ source: 1 }] })).toEqual(['invalid_node', 'invalid_edge']);
    expect(codes(graph(['a', 'b'], [{ source: 'a', target: 'b', data: { mapping: { x: 5 } } }]))).toEqual(['invalid_mapping']);
  });

  it('reports a required input no upstream provides, when the run input is declared', () => {
    const declared = (fields: string[], edgeData?: object) =>
      compileGraph({
        nodes: [
          { id: 's', type: 'start', data: { inputSchema: Object.fromEntries(fields.map((f) => [f, { type: 'string', description: f }])) } },
          { id: 'w', type: 'worker', data: { workerType: 'needs-title' } },
        ],
        edges: [{ id: 'e', source: 's', target: 'w', ...(edgeData ? { data: edgeData } : {}) }],
      }).issues;
    const [issue] = declared(['topic']);
    expect(issue).toMatchObject({ code: 'required_input_unreachable', nodeId: 'w', field: 'title' });
    expect(issue.message).toContain('upstream offers: topic');
    expect(declared(['title'])).toEqual([]);
    expect(declared(['heading'])).toEqual([]); // an alias satisfies it
    expect(declared(['topic'], { mapping: { title: 'topic' } })).toEqual([]);
    // Undeclared run input: anything may arrive, nothing to report.
    expect(compileGraph(graph(['w:needs-title'], [])).issues).toEqual([]);
  });
});
