/**
 * Transform: shape data without code. Order: pick → omit → rename → set.
 *   pick:   ["title", "scenes"]            keep only these fields (empty = keep all)
 *   omit:   ["draft"]                      drop these fields
 *   rename: {"script": "text"}             move a field to a new name
 *   set:    {"caption": "{{title}} – {{scenes.0.voice_text}}", "lang": {"value": "en"}}
 * Templates read dot paths from the input; a template that is exactly one `{{path}}` keeps the
 * value's type (arrays stay arrays).
 */
import type { NodeConfig } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { readPath } from '@/lib/engine/merge-input';
import type { IWorker } from './base';
import { triggerCallback } from './utils';

const TEMPLATE = /\{\{\s*([^}\s]+)\s*\}\}/g;

export function renderTemplate(template: string, data: unknown): unknown {
  const whole = /^\{\{\s*([^}\s]+)\s*\}\}$/.exec(template);
  if (whole) return readPath(data, whole[1]);
  return template.replace(TEMPLATE, (_, path: string) => {
    const value = readPath(data, path);
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

const stringList = (v: unknown, name: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new NonRetriableError(`config.${name} must be a list of field names`);
  return v;
};

const record = (v: unknown, name: string): Record<string, unknown> => {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new NonRetriableError(`config.${name} must be an object`);
  return v as Record<string, unknown>;
};

export function transform(input: unknown, config: NodeConfig): Record<string, unknown> {
  const source = input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : { value: input };
  const pick = stringList(config.pick, 'pick');
  let out: Record<string, unknown> = pick.length ? Object.fromEntries(pick.filter((k) => k in source).map((k) => [k, source[k]])) : { ...source };
  for (const k of stringList(config.omit, 'omit')) delete out[k];
  for (const [from, to] of Object.entries(record(config.rename, 'rename'))) {
    if (typeof to !== 'string') throw new NonRetriableError(`config.rename.${from} must be a field name`);
    if (from in out) {
      out[to] = out[from];
      delete out[from];
    }
  }
  const set = record(config.set, 'set');
  out = { ...out };
  for (const [field, spec] of Object.entries(set)) {
    out[field] =
      typeof spec === 'string' ? renderTemplate(spec, source) : spec && typeof spec === 'object' && 'value' in spec ? (spec as { value: unknown }).value : spec;
  }
  return out;
}

export class TransformWorker implements IWorker {
  async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown): Promise<void> {
    await triggerCallback(runId, nodeId, { status: 'completed', output: transform(input, config) });
  }
}
