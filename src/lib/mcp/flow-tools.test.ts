import { describe, expect, it } from 'vitest';
import { inputSchemaOf, toolNameOf } from './flow-tools';

describe('flow tools', () => {
  it('names a tool from the flow name in the characters MCP clients accept', () => {
    expect(toolNameOf('Video factory (v2)!')).toBe('video_factory_v2');
    expect(toolNameOf('Crème brûlée')).toBe('creme_brulee');
    expect(toolNameOf('???')).toBe('flow');
    expect(toolNameOf('x'.repeat(100))).toHaveLength(64);
  });

  it("turns the start node's inputSchema into JSON Schema: required only when required and without default", () => {
    expect(
      inputSchemaOf({
        topic: { type: 'string', required: true, description: 'What about' },
        count: { type: 'number', required: true, default: 3, description: 'How many' },
        tags: { type: 'array', description: '' },
      }),
    ).toEqual({
      type: 'object',
      properties: { topic: { type: 'string', description: 'What about' }, count: { type: 'number', description: 'How many', default: 3 }, tags: { type: 'array' } },
      required: ['topic'],
    });
    expect(inputSchemaOf(undefined)).toEqual({ type: 'object', properties: {}, additionalProperties: true });
  });
});
