import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { renderTemplate, transform } from '../transform';
import { waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

describe('transform', () => {
  const input = { title: 'Otters', draft: true, script: 'They hold hands.', scenes: [{ voice_text: 'Hi' }, { voice_text: 'Bye' }] };

  it('picks, omits, renames and sets, in that order', () => {
    expect(transform(input, { pick: ['title', 'script', 'draft'], omit: ['draft'], rename: { script: 'text' }, set: { lang: { value: 'en' } } })).toEqual({
      title: 'Otters',
      text: 'They hold hands.',
      lang: 'en',
    });
  });

  it('renders templates from dot paths; a lone placeholder keeps the value\'s type', () => {
    expect(renderTemplate('{{title}} – {{scenes.1.voice_text}}', input)).toBe('Otters – Bye');
    expect(renderTemplate('{{scenes}}', input)).toEqual(input.scenes);
    expect(renderTemplate('missing: [{{nope.nope}}]', input)).toBe('missing: []');
  });

  it('refuses malformed config with a message naming the key', () => {
    expect(() => transform(input, { pick: 'title' })).toThrow('config.pick must be a list of field names');
    expect(() => transform(input, { rename: { title: 5 } })).toThrow('config.rename.title must be a field name');
  });

  it('wraps a non-object input under "value"', () => {
    expect(transform([1, 2], { set: { first: '{{value.0}}' } })).toEqual({ value: [1, 2], first: 1 });
  });
});

describe('built-in workers in a flow', () => {
  let stitch: TestStitch;
  beforeAll(async () => {
    stitch = await startTestStitch();
  });
  afterAll(() => stitch?.destroy());

  it('transform then wait (a durable scheduled wake-up) completes with both outputs', async () => {
    const flow = await createFlow('builtins', {
      nodes: [
        { id: 'shape', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'transform', config: { set: { greeting: 'Hello, {{name}}!' } } } },
        { id: 'pause', type: 'worker', position: { x: 200, y: 0 }, data: { workerType: 'wait', config: { seconds: 0.2 } } },
      ],
      edges: [{ id: 'e', source: 'shape', target: 'pause' }],
    });
    const { runId } = await startRun(flow.id, { input: { name: 'Ada' } });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ name: 'Ada', greeting: 'Hello, Ada!', waitedSeconds: 0.2 });
    expect(run.nodes.pause.status).toBe('completed');
  });

  it('a bad transform config fails the node without retrying', async () => {
    const flow = await createFlow('bad-transform', {
      nodes: [{ id: 'shape', type: 'worker', position: { x: 0, y: 0 }, data: { workerType: 'transform', config: { pick: 'title' } } }],
      edges: [],
    });
    const run = await waitForRun((await startRun(flow.id, { input: {} })).runId);
    expect(run.status).toBe('failed');
    expect(run.nodes.shape).toMatchObject({ status: 'failed', attempt: 1, error: 'config.pick must be a list of field names' });
  });
});
