/**
 * Dataset files: each format gives the same rows; a wrong file is refused whole, naming its line.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@/lib/errors';
import { formatOfFileName, parseDataset } from '../parse';

/** The error a parse throws, with its details. */
function refusal(format: 'json' | 'jsonl' | 'csv', text: string): { message: string; details: { line?: number; field: string; message: string }[] } {
  try {
    parseDataset(format, text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return { message: (error as Error).message, details: (error as ValidationError).details as any };
  }
  throw new Error('the parse did not refuse');
}

describe('dataset files', () => {
  const expected = [
    { input: { topic: 'otters', style: { tone: 'dry' } }, expected: { scenes: '3' }, notes: 'first' },
    { input: { topic: 'rain, "heavy"', style: { tone: 'warm\nand slow' } } },
  ];

  it('JSON: an array of rows or of inputs', () => {
    const text = JSON.stringify([
      { input: { topic: 'otters', style: { tone: 'dry' } }, expected: { scenes: '3' }, notes: 'first' },
      { topic: 'rain, "heavy"', style: { tone: 'warm\nand slow' } },
    ]);
    expect(parseDataset('json', text)).toEqual(expected);
    // An input that happens to have a field "input" beside others is an input, not a row.
    expect(parseDataset('json', '[{"input": "x", "other": 1}]')).toEqual([{ input: { input: 'x', other: 1 } }]);
  });

  it('JSONL: one row a line, blank lines skipped', () => {
    const text = [JSON.stringify(expected[0]), '', JSON.stringify(expected[1].input), ''].join('\n');
    expect(parseDataset('jsonl', text)).toEqual(expected);
  });

  it('CSV: a header of fields, dotted names nest, expected and notes columns, RFC 4180 quoting', () => {
    const text = '\ufefftopic,style.tone,expected.scenes,notes\r\notters,dry,3,first\r\n"rain, ""heavy""","warm\nand slow",,\r\n';
    expect(parseDataset('csv', text)).toEqual(expected);
  });

  it('refuses a bad JSONL line by number, and lists every bad line', () => {
    const r = refusal('jsonl', '{"a": 1}\n{"a": 2\n[1]\n');
    expect(r.message).toBe('The dataset is not valid: line 2: not valid JSON');
    expect(r.details.map((d) => d.line)).toEqual([2, 3]);
    expect(r.details[1].message).toMatch(/must be a JSON object/);
  });

  it('refuses bad JSON with the line of the syntax error, and a bad row by its place', () => {
    expect(refusal('json', '[\n{"a": 1},\n{"a": 2,}\n]').message).toMatch(/^The dataset is not valid: line 3: not valid JSON/);
    expect(refusal('json', '{"a": 1}').message).toMatch(/array of rows/);
    const r = refusal('json', '[{"a": 1}, 7, {"input": [], "notes": "x"}]');
    expect(r.details.map((d) => d.field)).toEqual(['content[1]', 'content[2]']);
    expect(r.details[1].message).toMatch(/row 3: "input" must be an object/);
  });

  it('refuses a CSV record with the wrong number of fields, naming the line it starts on', () => {
    const r = refusal('csv', 'a,b\n1,2\n"multi\nline",2\n3,4,5\n');
    expect(r.message).toBe('The dataset is not valid: line 5: 3 fields, but the header has 2');
    expect(refusal('csv', 'a,b\n"open,2\n').message).toMatch(/line 2: a quoted field is never closed/);
    expect(refusal('csv', 'a,a\n1,2\n').message).toMatch(/line 1: column "a" appears twice/);
    expect(refusal('csv', 'a,__proto__.x\n1,2\n').message).toMatch(/line 1: column 2/);
    expect(refusal('csv', 'a,a.b\n1,2\n').message).toMatch(/line 2: column "a.b" collides/);
  });

  it('tells the format from a file name', () => {
    expect([formatOfFileName('t.jsonl'), formatOfFileName('t.CSV'), formatOfFileName('t.json'), formatOfFileName('t')]).toEqual(['jsonl', 'csv', 'json', 'json']);
  });
});
