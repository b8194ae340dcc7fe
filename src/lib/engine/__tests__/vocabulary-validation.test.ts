/**
 * Save-time validation of the node vocabulary: every new error code, each naming its node (and
 * field or edge where there is one) with a remedy; the flow type-check's warnings kept apart from
 * errors, with closest-field suggestions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidationIssue } from '@/types/stitch';
import { compileGraph } from '@/lib/engine/compile';
import { graph, registerTestWorker, syncWorker } from '../../../../test/helpers';

beforeAll(() => {
  registerTestWorker('echo', syncWorker((i) => i));
  registerTestWorker('tts', syncWorker((i) => i), {
    input: {
      prompt: { type: 'string', required: true, description: 'text to speak' },
      voice: { type: 'string', description: 'optional voice' },
      speed: { type: 'number', description: 'defaulted', default: 1 },
    },
    output: { audioUrl: { type: 'string', description: 'the audio' } },
  });
});

const splitter = (id: string, config: Record<string, unknown> = {}) => ({ id, type: 'splitter', config });
const collector = (id: string, config: Record<string, unknown> = {}) => ({ id, type: 'collector', config });
const sw = (id: string, config: Record<string, unknown>) => ({ id, type: 'switch', config });

/** The only issue with this code; checks it names its node (and field) with a remedy. */
function issue(issues: ValidationIssue[], code: string, where: { nodeId: string; field?: string; edgeId?: string }): ValidationIssue {
  const found = issues.filter((i) => i.code === code);
  expect(found, `${code} in ${JSON.stringify(issues)}`).toHaveLength(1);
  expect(found[0]).toMatchObject(where);
  expect(found[0].message).toContain(`"${where.nodeId}"`);
  if (where.field && !where.field.includes('.')) expect(found[0].message).toContain(where.field);
  return found[0];
}

describe('splitter scopes', () => {
  it('compiles scopes: members, children, result nodes, policy and concurrency', () => {
    const { graph: g, issues } = compileGraph(
      graph(
        ['s:start', splitter('split', { arrayPath: 'scenes', concurrency: 4 }), 'a', 'b', collector('c', { onItemError: 'collect' }), 'e:end'],
        [['s', 'split'], ['split', 'a'], ['a', 'b'], ['b', 'c'], ['c', 'e']],
      ),
    );
    expect(issues).toEqual([]);
    expect(g!.scopes!.split).toEqual({
      splitter: 'split',
      collector: 'c',
      members: ['a', 'b'],
      children: [{ node: 'a', edges: 1 }],
      directEdges: 0,
      resultNodes: ['b'],
      onItemError: 'collect',
      concurrency: 4,
    });
    expect(g!.nodes.a.scope).toEqual(['split']);
    expect(g!.nodes.c.scope).toBeUndefined();
  });

  it('nests scopes', () => {
    const { graph: g, issues } = compileGraph(
      graph([splitter('o'), splitter('i'), 'w', collector('ic'), collector('oc')], [['o', 'i'], ['i', 'w'], ['w', 'ic'], ['ic', 'oc']]),
    );
    expect(issues).toEqual([]);
    expect(g!.nodes.w.scope).toEqual(['o', 'i']);
    expect(g!.nodes.ic.scope).toEqual(['o']);
    expect(g!.scopes!.o.members).toEqual(['i', 'ic']);
  });

  it('splitter_without_collector', () => {
    const { issues } = compileGraph(graph([splitter('split'), 'a'], [['split', 'a']]));
    issue(issues, 'splitter_without_collector', { nodeId: 'split' });
    expect(issues.find((i) => i.code === 'splitter_without_collector')!.message).toContain('connect the end of its branch to a collector');
  });

  it('collector_without_splitter', () => {
    const { issues } = compileGraph(graph(['a', collector('c')], [['a', 'c']]));
    expect(issue(issues, 'collector_without_splitter', { nodeId: 'c' }).message).toContain('Connect it after a splitter');
  });

  it('stray_path: a branch of the scope that never reaches the collector', () => {
    const { issues } = compileGraph(graph([splitter('split'), 'a', 'stray', collector('c')], [['split', 'a'], ['split', 'stray'], ['a', 'c']]));
    expect(issue(issues, 'stray_path', { nodeId: 'stray' }).message).toContain('Connect "stray" to "c"');
  });

  it('scope_mismatch: an edge into a scope from outside it, naming the edge', () => {
    const { issues } = compileGraph(
      graph(['outside', splitter('split'), 'a', collector('c')], [['split', 'a'], { id: 'sneak', source: 'outside', target: 'a' }, ['a', 'c']]),
    );
    const found = issue(issues, 'scope_mismatch', { nodeId: 'a', edgeId: 'sneak' });
    expect(found.message).toContain('route "outside" through the collector');
  });

  it('multiple_collectors', () => {
    const { issues } = compileGraph(
      graph([splitter('split'), 'a', 'b', collector('c1'), collector('c2')], [['split', 'a'], ['split', 'b'], ['a', 'c1'], ['b', 'c2']]),
    );
    expect(issue(issues, 'multiple_collectors', { nodeId: 'split' }).message).toContain('c1, c2');
  });

  const scoped = (s: Record<string, unknown>, c: Record<string, unknown>) =>
    compileGraph(graph([splitter('split', s), 'work', collector('c', c)], [['split', 'work'], ['work', 'c']])).issues;

  it('invalid_array_path, invalid_concurrency, invalid_item_field', () => {
    issue(scoped({ arrayPath: 5 }, {}), 'invalid_array_path', { nodeId: 'split', field: 'arrayPath' });
    for (const concurrency of [0, 2.5, '3']) issue(scoped({ concurrency }, {}), 'invalid_concurrency', { nodeId: 'split', field: 'concurrency' });
    issue(scoped({ as: '' }, {}), 'invalid_item_field', { nodeId: 'split', field: 'as' });
  });

  it('invalid_item_error_policy, invalid_result_field, unknown_result_node with a suggestion', () => {
    expect(issue(scoped({}, { onItemError: 'ignore' }), 'invalid_item_error_policy', { nodeId: 'c', field: 'onItemError' }).message).toContain('"fail" or "collect"');
    issue(scoped({}, { field: 7 }), 'invalid_result_field', { nodeId: 'c', field: 'field' });
    issue(scoped({}, { as: 3 }), 'invalid_result_field', { nodeId: 'c', field: 'as' });
    const found = issue(scoped({}, { from: 'wrok' }), 'unknown_result_node', { nodeId: 'c', field: 'from' });
    expect(found.suggestion).toBe('work');
    expect(found.message).toContain('did you mean "work"?');
  });
});

describe('switch', () => {
  const cases = [{ name: 'yes', when: 'ok == true' }];
  const route = (config: Record<string, unknown>, edges: Array<Record<string, unknown>>) =>
    compileGraph(graph([sw('route', config), 'a', 'b'], edges.map((e, i) => ({ source: 'route', target: i ? 'b' : 'a', ...e })))).issues;

  it('accepts cases named by sourceHandle or data.case, and the default', () => {
    expect(route({ cases }, [{ sourceHandle: 'yes' }, { data: { case: 'default' } }])).toEqual([]);
    expect(route({ cases, default: 'otherwise' }, [{ sourceHandle: 'yes' }, { sourceHandle: 'otherwise' }])).toEqual([]);
  });

  it('switch_without_cases, invalid_switch_case, duplicate_switch_case', () => {
    issue(route({}, [{ sourceHandle: 'default' }]), 'switch_without_cases', { nodeId: 'route', field: 'cases' });
    issue(route({ cases: [{ when: 'x' }] }, [{ sourceHandle: 'default' }]), 'invalid_switch_case', { nodeId: 'route', field: 'cases.0.name' });
    issue(route({ cases: [...cases, ...cases] }, [{ sourceHandle: 'yes' }]), 'duplicate_switch_case', { nodeId: 'route', field: 'cases.1.name' });
  });

  it('invalid_switch_expression names the case and the position', () => {
    const found = issue(route({ cases: [{ name: 'yes', when: 'ok ==' }] }, [{ sourceHandle: 'yes' }]), 'invalid_switch_expression', { nodeId: 'route', field: 'cases.0.when' });
    expect(found.message).toContain('case "yes"');
    expect(found.message).toContain('at position 6');
    issue(route({ cases: [{ name: 'yes', when: { '==': [1, 1] } }] }, [{ sourceHandle: 'yes' }]), 'invalid_switch_expression', { nodeId: 'route', field: 'cases.0.when' });
  });

  it('switch_edge_without_case and unknown_switch_case with a suggestion', () => {
    const missing = issue(route({ cases }, [{}]), 'switch_edge_without_case', { nodeId: 'route', edgeId: 'e0', field: 'case' });
    expect(missing.message).toContain('"yes", "default"');
    const typo = issue(route({ cases }, [{ sourceHandle: 'yse' }]), 'unknown_switch_case', { nodeId: 'route', edgeId: 'e0', field: 'case' });
    expect(typo.suggestion).toBe('yes');
    expect(typo.message).toContain('did you mean "yes"?');
  });
});

describe('UX gates', () => {
  const gate = (config: Record<string, unknown>) => compileGraph(graph([{ id: 'gate', type: 'ux', config }], [])).issues;

  it('accepts a prompt, schema, deadline and default answer that fits', () => {
    expect(gate({ prompt: 'OK?', inputSchema: { ok: { type: 'boolean', required: true, description: 'ok' } }, timeoutSeconds: 60, defaultAnswer: { ok: false } })).toEqual([]);
  });

  it('invalid_ux_prompt, invalid_field_schema, invalid_ux_timeout, invalid_default_answer', () => {
    issue(gate({ prompt: 42 }), 'invalid_ux_prompt', { nodeId: 'gate', field: 'prompt' });
    expect(issue(gate({ inputSchema: { ok: { type: 'yes/no' } } }), 'invalid_field_schema', { nodeId: 'gate', field: 'config.inputSchema.ok.type' }).message).toContain('config.inputSchema.ok.type');
    issue(gate({ timeoutSeconds: -1 }), 'invalid_ux_timeout', { nodeId: 'gate', field: 'timeoutSeconds' });
    const found = issue(
      gate({ inputSchema: { ok: { type: 'boolean', required: true, description: 'ok' } }, defaultAnswer: { ok: 'maybe' } }),
      'invalid_default_answer',
      { nodeId: 'gate', field: 'defaultAnswer' },
    );
    expect(found.message).toContain('Field ok must be boolean');
  });
});

describe('flow type-check', () => {
  const start = (fields: Record<string, object>) => ({ id: 's', type: 'start', data: { inputSchema: fields } });
  const text = { type: 'string', description: 't' };

  it('reports a missing required input with what upstream offers and the closest field', () => {
    const { issues, warnings } = compileGraph({ nodes: [start({ promt: text, title: text }), { id: 'speak', type: 'worker', data: { workerType: 'tts' } }], edges: [{ id: 'e', source: 's', target: 'speak' }] });
    const found = issue(issues, 'required_input_unreachable', { nodeId: 'speak', field: 'prompt' });
    expect(found.suggestion).toBe('promt');
    expect(found.message).toBe(
      'Node "speak" (tts) needs input "prompt", but nothing upstream provides it (upstream offers: promt, title). ' +
        'Did you mean "promt"? Map it with an edge mapping {"prompt": "promt"}.',
    );
    // Warnings stay apart: the optional "voice" nobody provides.
    expect(warnings.map((w) => [w.code, w.nodeId, w.field])).toEqual([['optional_input_unprovided', 'speak', 'voice']]);
  });

  it('warns (not errors) when only some switch branches provide a required input', () => {
    const g = {
      nodes: [
        start({ text: text }),
        { id: 'route', type: 'switch', data: { config: { cases: [{ name: 'long', when: 'exists text' }] } } },
        { id: 'write', type: 'worker', data: { workerType: 'echo' } },
        { id: 'speak', type: 'worker', data: { workerType: 'tts' } },
      ],
      edges: [
        { id: 'e1', source: 's', target: 'route' },
        { id: 'e2', source: 'route', target: 'write', sourceHandle: 'long', data: { mapping: { prompt: 'text' } } },
        { id: 'e3', source: 'route', target: 'speak', sourceHandle: 'default' },
        { id: 'e4', source: 'write', target: 'speak' },
      ],
    };
    const { issues, warnings, graph: compiled } = compileGraph(g);
    expect(issues).toEqual([]);
    expect(compiled).toBeDefined();
    const found = warnings.find((w) => w.code === 'input_may_be_missing')!;
    expect(found).toMatchObject({ nodeId: 'speak', field: 'prompt' });
    expect(found.message).toContain('only some branches provide');
  });

  it('uses declared item schemas, collector outputs and UX answers', () => {
    const g = graph(
      [
        splitter('split', { itemSchema: { prompt: text } }),
        { id: 'speak', workerType: 'tts' },
        collector('c', { as: 'clips' }),
        { id: 'gate', type: 'ux', config: { inputSchema: { prompt: { ...text, required: true } } } },
        { id: 'final', workerType: 'tts' },
      ],
      [['split', 'speak'], ['speak', 'c'], ['c', 'gate'], ['gate', 'final']],
    );
    const { issues } = compileGraph({ ...g, nodes: [{ id: 's', type: 'start', data: { inputSchema: { list: { type: 'array', description: 'l' } } } }, ...g.nodes], edges: [{ id: 'x', source: 's', target: 'split' }, ...g.edges] });
    expect(issues).toEqual([]);
    const broken = compileGraph({ ...g, nodes: g.nodes.map((n) => (n.id === 'split' ? { ...n, data: { config: { itemSchema: { text: text } } } } : n)) });
    // Items declared to carry only `text`: the worker inside the scope cannot get its prompt.
    expect(broken.issues.map((i) => [i.code, i.nodeId, i.field])).toEqual([['required_input_unreachable', 'speak', 'prompt']]);
  });
});
