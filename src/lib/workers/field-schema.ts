/**
 * One schema for field schemas (`{type, required?, description?, default?, aliases?}`), wherever
 * they enter: a node's `data.inputSchema` (a start node's run input), a UX gate's
 * `config.inputSchema`, a splitter's `config.itemSchema` (checked at save, node-settings.ts), and a
 * worker definition's `input`, `output` and form-field `config` entries (local definitions at
 * start-up, `checkRegistry`; remote ones at registration). The canvas renders these as a form: a
 * `description` that was an object once saved, and the whole app unmounted trying to show it.
 * Keys beyond these are ignored (and dropped from remote definitions), as before.
 */
import { z } from 'zod';
import type { FieldType } from '@/types/stitch';

export const FIELD_TYPES = ['string', 'number', 'boolean', 'array', 'object'] as const satisfies readonly FieldType[];
/** Fields one schema may declare: a form, not a data set. */
export const MAX_SCHEMA_FIELDS = 200;
export const MAX_FIELD_NAME = 200;
export const MAX_DESCRIPTION = 2000;
export const MAX_ALIASES = 20;

const FieldName = z.string().min(1).max(MAX_FIELD_NAME);
const Description = z.string().max(MAX_DESCRIPTION);

/** The JSON type of a value, in the field-schema vocabulary (as validate-input.ts reads it). */
const jsonTypeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

export const FieldSchemaSchema = z
  .object({
    type: z.enum(FIELD_TYPES),
    required: z.boolean().optional(),
    description: Description.optional(),
    default: z.unknown().optional(),
    aliases: z.array(FieldName).max(MAX_ALIASES).optional(),
  })
  // A default of another type would be handed to the worker as is (validate-input.ts fills it in unchecked).
  .refine((f) => f.default === undefined || f.default === null || jsonTypeOf(f.default) === f.type, {
    path: ['default'],
    message: 'the default must be of the field\'s type (or null)',
  });

export const OutputFieldSchemaSchema = z.object({ type: z.enum(FIELD_TYPES), description: Description.optional() });

const fieldMap = <T extends z.ZodType>(field: T) =>
  z.record(FieldName, field).refine((fields) => Object.keys(fields).length <= MAX_SCHEMA_FIELDS, {
    message: `at most ${MAX_SCHEMA_FIELDS} fields`,
  });

/** `name → field schema`: an `inputSchema`, an `itemSchema`, a worker definition's `input`. */
export const FieldSchemas = fieldMap(FieldSchemaSchema);
/** A worker definition's `output`. */
export const OutputFieldSchemas = fieldMap(OutputFieldSchemaSchema);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A worker definition's `config` holds default values, or field schemas for form fields with help
 * text. An entry with a string `type` and a `description` is read as a field schema (the canvas's
 * rule, web/src/lib/field-schemas.ts `configFields`), so it must be a valid one.
 */
export const WorkerConfigSchema = z.record(FieldName, z.unknown()).superRefine((config, ctx) => {
  for (const [key, value] of Object.entries(config)) {
    if (!isPlainObject(value) || typeof value.type !== 'string' || !('description' in value)) continue;
    const parsed = FieldSchemaSchema.safeParse(value);
    if (parsed.success) continue;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: [key, ...issue.path], message: issue.message });
  }
});

/** The problems of a worker definition's field schemas, each as `input.topic.description: <what is wrong>`. */
export function definitionSchemaProblems(definition: { input?: unknown; output?: unknown; config?: unknown }): string[] {
  const parts: Array<[string, z.ZodType, unknown]> = [
    ['input', FieldSchemas, definition.input ?? {}],
    ['output', OutputFieldSchemas, definition.output ?? {}],
    ['config', WorkerConfigSchema, definition.config ?? {}],
  ];
  return parts.flatMap(([name, schema, value]) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${[name, ...i.path.map(String)].join('.')}: ${i.message}`);
  });
}
