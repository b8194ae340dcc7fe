/**
 * One schema for the settings every node carries beside its type (`data.retry`, `data.timeoutSeconds`,
 * `data.continueOnError`, `data.label`) and for the numeric settings of the built-in kinds (a UX
 * gate's or a `wait` worker's seconds, a splitter's window). Checked at save: a setting that saves
 * must be one the engine can run — `timeoutSeconds: 1e308` once overflowed PostgreSQL's interval at
 * run time and a `maxBackoffMs` of "x" made a NaN delay, both leaving runs running forever. The
 * field schemas a node carries pass the one field-schema schema here too (`invalid_field_schema`).
 * Type-specific rules (switch cases, a UX gate's default answer, scopes) stay with their node kinds.
 */
import { z } from 'zod';
import type { ValidationIssue } from '@/types/stitch';
import { FieldSchemas } from '@/lib/workers/field-schema';

/** One year: deadlines and waits beyond it are mistakes, and stay far inside PostgreSQL's interval range. */
export const MAX_SECONDS = 365 * 24 * 3600;
/** One day: a longer backoff between two attempts is a schedule, not a retry. */
export const MAX_BACKOFF_MS = 24 * 3600 * 1000;
export const MAX_ATTEMPTS = 100;

const seconds = z.number().finite().positive().max(MAX_SECONDS);

const RetrySettings = z
  .object({
    attempts: z.number().int().min(1).max(MAX_ATTEMPTS).optional(),
    backoffMs: z.number().finite().min(0).max(MAX_BACKOFF_MS).optional(),
    maxBackoffMs: z.number().finite().min(0).max(MAX_BACKOFF_MS).optional(),
  })
  .strict();

/** Fair share (docs/limits.md): a key is a template like the transform worker's, rendered per instance. */
const KeyTemplate = z.string().min(1).max(200);
export const MAX_FAIR_LIMIT = 10_000;

export const ConcurrencySettings = z.object({ limit: z.number().int().min(1).max(MAX_FAIR_LIMIT), key: KeyTemplate.optional() }).strict();

const RateLimitSettings = z
  .object({ limit: z.number().int().min(1).max(MAX_FAIR_LIMIT), per: z.enum(['second', 'minute', 'hour']), key: KeyTemplate.optional() })
  .strict();

const NodeSettings = z.object({
  label: z.string().max(500).optional(),
  continueOnError: z.boolean().optional(),
  timeoutSeconds: seconds.optional(),
  retry: RetrySettings.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  // The step cache (src/lib/cache): on, off, or on with a time to live.
  cache: z.union([z.boolean(), z.object({ ttlSeconds: seconds }).strict()]).optional(),
  concurrency: ConcurrencySettings.optional(),
  rateLimit: RateLimitSettings.optional(),
});

/**
 * Numeric settings inside `config` that a built-in reads, by worker type. (A UX gate's and a
 * splitter's own settings are checked with their kinds: ux-config.ts, scopes.ts.)
 */
const ConfigNumbers: Record<string, z.ZodType> = {
  wait: z.object({ seconds: z.number().finite().min(0).max(MAX_SECONDS).optional() }),
};

function issuesOf(nodeId: string | undefined, error: z.ZodError, prefix: string[] = [], code = 'invalid_setting'): ValidationIssue[] {
  return error.issues.slice(0, 20).map((issue) => {
    const field = [...prefix, ...issue.path.map(String)].join('.');
    return {
      code,
      nodeId,
      field,
      message: `${nodeId === undefined ? 'The flow' : `Node "${nodeId}"`}: ${field || 'its settings'} — ${issue.message}.`,
    };
  });
}

/**
 * The field schemas a node carries, by path in its `data`: `inputSchema` (a start node's run input;
 * a UX gate may keep its answer schema there too), a UX gate's `config.inputSchema`, a splitter's
 * `config.itemSchema`. The canvas renders them as forms, so they pass the one field-schema schema.
 */
function fieldSchemasOf(type: string, data: Record<string, unknown>): Array<[string[], unknown]> {
  const config = (data.config ?? {}) as Record<string, unknown>;
  const found: Array<[string[], unknown]> = [[['inputSchema'], data.inputSchema]];
  if (type === 'ux') found.push([['config', 'inputSchema'], config.inputSchema]);
  if (type === 'splitter') found.push([['config', 'itemSchema'], config.itemSchema]);
  return found.filter(([, value]) => value !== undefined);
}

/** The problems of a flow's own `concurrency` (on the graph, beside `nodes` and `edges`). */
export function checkFlowConcurrency(value: unknown): ValidationIssue[] {
  if (value === undefined) return [];
  const parsed = ConcurrencySettings.safeParse(value);
  return parsed.success ? [] : issuesOf(undefined, parsed.error, ['concurrency']);
}

/** The problems of one node's settings (`data` of the React Flow node), each naming its field. */
export function checkNodeSettings(nodeId: string, type: string, workerType: unknown, data: Record<string, unknown>): ValidationIssue[] {
  const settings = NodeSettings.safeParse(data);
  if (!settings.success) return issuesOf(nodeId, settings.error);
  const schemaIssues = fieldSchemasOf(type, data).flatMap(([path, value]) => {
    const parsed = FieldSchemas.safeParse(value);
    return parsed.success ? [] : issuesOf(nodeId, parsed.error, path, 'invalid_field_schema');
  });
  if (schemaIssues.length) return schemaIssues;
  const configSchema = type === 'worker' && typeof workerType === 'string' ? ConfigNumbers[workerType] : undefined;
  if (!configSchema || data.config === undefined) return [];
  const config = configSchema.safeParse(data.config);
  return config.success ? [] : issuesOf(nodeId, config.error, ['config']);
}
