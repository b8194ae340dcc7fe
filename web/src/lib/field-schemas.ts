/**
 * Field schemas (`name → {type, required?, description?, default?, aliases?}`) as the canvas reads
 * them: a start node's run input, a UX gate's form, a worker's inputs, outputs and config fields.
 * The server refuses malformed ones at save and registration (src/lib/workers/field-schema.ts),
 * but a schema saved before that check, or typed into a node's config JSON, may still be anything:
 * a `description` that was an object once reached React as content and unmounted the whole app.
 * So every form reads its schema here, gets the fields it can render, and says which it cannot.
 */
import type { FieldSchema, FieldType, WorkerDefinition } from '@/types/stitch';

export const FIELD_TYPES: FieldType[] = ['string', 'number', 'boolean', 'array', 'object'];

export interface ReadFields {
  /** The fields that can be rendered, in the schema's order. */
  fields: Array<[string, FieldSchema]>;
  /** One sentence per field that cannot, naming it. */
  problems: string[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isNames = (v: unknown) => Array.isArray(v) && v.every((a) => typeof a === 'string');

/**
 * One field as stored: what keeps it from being shown (the first thing, if anything), and the
 * field with the unreadable parts dropped (an unknown type read as `string`) for an editor to
 * show and write back repaired.
 */
export function inspectField(raw: unknown): { field: FieldSchema; problem?: string } {
  if (!isPlainObject(raw)) return { field: { type: 'string' }, problem: 'is not a field schema ({type, description, …})' };
  const field = { ...raw } as Record<string, unknown>;
  const problems: string[] = [];
  if (!FIELD_TYPES.includes(field.type as FieldType)) {
    problems.push(`has no valid type (one of ${FIELD_TYPES.join(', ')})`);
    field.type = 'string';
  }
  const drop = (key: string, ok: (v: unknown) => boolean, problem: string) => {
    if (field[key] === undefined || ok(field[key])) return;
    problems.push(problem);
    delete field[key];
  };
  drop('description', (v) => typeof v === 'string', 'has a description that is not text');
  drop('required', (v) => typeof v === 'boolean', 'has a "required" that is not true or false');
  drop('aliases', isNames, 'has aliases that are not a list of names');
  return { field: field as unknown as FieldSchema, problem: problems[0] };
}

/** Read a field-schema map of unknown shape (absent: no fields). */
export function readFieldSchemas(input: unknown): ReadFields {
  if (input === undefined || input === null) return { fields: [], problems: [] };
  if (!isPlainObject(input)) return { fields: [], problems: ['the schema is not an object of fields'] };
  const out: ReadFields = { fields: [], problems: [] };
  for (const [name, raw] of Object.entries(input)) {
    const { field, problem } = inspectField(raw);
    if (problem) out.problems.push(`"${name}" ${problem}`);
    else out.fields.push([name, field]);
  }
  return out;
}

/**
 * A worker definition's `config` holds default values or field schemas: an entry with a string
 * `type` and a `description` is a form field (the server checks it as one), anything else a
 * default value, shown as a field of the value's type.
 */
export function configFields(def: WorkerDefinition | undefined): ReadFields {
  const out: ReadFields = { fields: [], problems: [] };
  if (!isPlainObject(def?.config)) return out;
  for (const [key, value] of Object.entries(def.config)) {
    if (!looksLikeFieldSchema(value)) {
      out.fields.push([key, schemaFromDefault(value)]);
      continue;
    }
    const { field, problem } = inspectField(value);
    if (problem) out.problems.push(`"${key}" ${problem}`);
    else out.fields.push([key, field]);
  }
  return out;
}

function looksLikeFieldSchema(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && typeof value.type === 'string' && 'description' in value;
}

function schemaFromDefault(value: unknown): FieldSchema {
  const type = Array.isArray(value) ? 'array' : value === null ? 'string' : (typeof value as FieldType);
  return { type: FIELD_TYPES.includes(type) ? type : 'string', description: '', default: value };
}

/** Example run input from a start node's `data.inputSchema` (the fields that can be read). */
export function exampleInput(schema: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of readFieldSchemas(schema).fields) {
    if (field.default !== undefined) out[key] = field.default;
    else out[key] = { string: '', number: 0, boolean: false, array: [], object: {} }[field.type] ?? null;
  }
  return out;
}
