import { expect, it } from 'vitest';
import type { WorkerDefinition } from '@/types/stitch';
import { validateInput } from './validate-input';

const def: WorkerDefinition = {
  id: 'd',
  name: 'D',
  type: 'sync',
  description: 'd',
  input: {
    visual_prompt: { type: 'string', required: true, description: 'p', aliases: ['visualPrompt'] },
    seconds: { type: 'number', description: 's', default: 6 },
    tags: { type: 'array', description: 't' },
  },
  output: {},
  config: {},
};

it('accepts aliases, fills defaults, keeps unknown fields, converts numeric text', () => {
  expect(validateInput(def, { visualPrompt: 'fox', extra: 1 })).toEqual({ input: { visualPrompt: 'fox', extra: 1, seconds: 6 }, problems: [] });
  expect(validateInput(def, { visual_prompt: 'fox', seconds: '7.5' }).input).toEqual({ visual_prompt: 'fox', seconds: 7.5 });
});

it('lists every problem', () => {
  expect(validateInput(def, { seconds: ' ', tags: 'a,b' }).problems).toEqual([
    'Missing required field: visual_prompt',
    'Field seconds must be number, got string',
    'Field tags must be array, got string',
  ]);
  expect(validateInput(def, 'text').problems).toEqual(['Input must be an object with fields visual_prompt, seconds, tags; got string']);
});

it('reads a schema stored before field schemas were checked without throwing (a waiting gate can still be answered)', () => {
  const stored = { id: 'g', input: { note: null, tag: { type: 'string', aliases: 5 }, ok: { type: 'boolean', required: true, description: { html: 'x' } } } };
  const check = validateInput(stored as unknown as WorkerDefinition, { tag: 'a', ok: true });
  expect(check).toEqual({ input: { tag: 'a', ok: true }, problems: [] });
  expect(validateInput(stored as unknown as WorkerDefinition, {}).problems).toEqual(['Missing required field: ok']);
});
