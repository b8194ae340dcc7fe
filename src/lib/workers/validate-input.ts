/**
 * Check a node's input against its worker definition before `execute`: required fields (or one of
 * their aliases) present, declared types respected (numeric text converted to numbers), defaults
 * filled in. Unknown fields pass through.
 */
import type { FieldType, WorkerDefinition } from '@/types/stitch';

export interface InputCheck {
  input: unknown;
  problems: string[];
}

function typeOf(value: unknown): FieldType | 'null' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object' ? t : 'other';
}

export function validateInput(definition: WorkerDefinition, input: unknown): InputCheck {
  const fields = Object.entries(definition.input);
  if (fields.length === 0) return { input, problems: [] };
  if (typeOf(input) !== 'object' && input !== undefined && input !== null) {
    return { input, problems: [`Input must be an object with fields ${fields.map(([n]) => n).join(', ')}; got ${typeOf(input)}`] };
  }
  const value: Record<string, unknown> = { ...((input ?? {}) as Record<string, unknown>) };
  const problems: string[] = [];
  for (const [name, schema] of fields) {
    // A schema stored before field schemas were checked (field-schema.ts) may hold anything: a
    // field that is not an object constrains nothing, aliases that are not a list are none.
    if (typeof schema !== 'object' || schema === null) continue;
    const aliases = Array.isArray(schema.aliases) ? schema.aliases : [];
    const present = [name, ...aliases].find((n) => value[n] !== undefined && value[n] !== null);
    if (present === undefined) {
      if (schema.default !== undefined) value[name] = structuredClone(schema.default);
      else if (schema.required) problems.push(`Missing required field: ${name}`);
      continue;
    }
    const actual = typeOf(value[present]);
    const numeric = schema.type === 'number' && actual === 'string' && String(value[present]).trim() !== '' && !Number.isNaN(Number(value[present]));
    // A number that arrives as text (a form field, a query string) is accepted and converted, so the
    // worker sees the declared type.
    if (numeric) value[present] = Number(value[present]);
    else if (actual !== schema.type) problems.push(`Field ${present} must be ${schema.type}, got ${actual}`);
  }
  return { input: value, problems };
}
