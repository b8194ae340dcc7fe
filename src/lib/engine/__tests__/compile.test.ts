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

  it('finds cycles and names the nodes on them, once per cycle (not the nodes after one)', () => {
    const { issues } = compileGraph(graph(['a', 'b', 'c', 'd', 'x'], [['a', 'b'], ['b', 'c'], ['c', 'b'], ['c', 'd'], ['x', 'x']]));
    expect(issues.map((i) => [i.code, i.nodeId])).toEqual([
      ['cycle', 'b'],
      ['cycle', 'x'],
    ]);
    expect(issues[0].message).toBe('2 nodes "b", "c" form a cycle: flows must be acyclic.');
    expect(issues[1].message).toBe('Node "x" has an edge to itself: flows must be acyclic.');
  });

  it('reports a 2,400-node cycle of 100-character ids in bounded size (issue 10 B.8)', () => {
    const ids = Array.from({ length: 2400 }, (_, i) => `${'n'.repeat(94)}${String(i).padStart(6, '0')}`);
    const big = graph(ids, ids.map((id, i) => [id, ids[(i + 1) % ids.length]] as [string, string]));
    expect(JSON.stringify(big).length).toBeGreaterThan(400_000);
    const { issues } = compileGraph(big);
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toContain('2400 nodes');
    expect(issues[0].message).toContain('and 2390 more');
    expect(JSON.stringify(issues).length).toBeLessThan(64 * 1024);
    // Many separate cycles: at most 20 listed plus one summary.
    const pairs = Array.from({ length: 500 }, (_, i) => [`a${i}`, `b${i}`]);
    const many = compileGraph(graph(pairs.flat(), pairs.flatMap(([a, b]) => [[a, b], [b, a]] as Array<[string, string]>)));
    expect(many.issues).toHaveLength(21);
    expect(many.issues[20].message).toBe('480 more cycles are not listed: flows must be acyclic.');
    expect(JSON.stringify(many.issues).length).toBeLessThan(64 * 1024);
  });

  it('accepts ids that are Object.prototype names, as nodes and edge ends (issue 10 B.9)', () => {
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];
    const { issues, graph: compiled } = compileGraph(graph(names, [['constructor', 'toString'], ['toString', '__proto__'], ['__proto__', 'hasOwnProperty'], ['constructor', 'valueOf']]));
    expect(issues).toEqual([]);
    expect(Object.keys(compiled!.nodes).sort()).toEqual([...names].sort());
    expect(compiled!.inEdges.__proto__.map((e) => e.source)).toEqual(['toString']);
    expect(compiled!.entryNodes).toEqual(['constructor']);
    // A real duplicate is still one.
    expect(compileGraph(graph(['toString', 'toString'], [])).issues.map((i) => i.code)).toEqual(['duplicate_node_id']);
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
