/**
 * The run search's vocabulary: one filter, spoken three ways — `GET /api/runs` query parameters,
 * the `filter` of `POST /api/runs/bulk`, and `stitch runs list` options — and normalised here once,
 * so the list, the bulk actions and retention's dry run mean the same thing by the same words.
 *
 * Fields (all optional, combined with AND):
 *
 * | field | query form | meaning |
 * |---|---|---|
 * | `ids` | `ids=a,b` | these runs |
 * | `flowId` | `flowId=…` | runs of this flow |
 * | `status` | `status=failed,cancelled` (or repeated) | any of these statuses |
 * | `trigger` | `trigger=schedule,webhook` | the trigger type: api, cli, webhook, schedule, flow, rerun, mcp, … |
 * | `createdAfter`, `createdBefore`, `finishedAfter`, `finishedBefore` | ISO 8601, or a duration back from now (`24h`, `7d`, `30m`) | time range (after: ≥, before: <) |
 * | `costAbove`, `costBelow` | USD | the run's own recorded spend: > above, < below |
 * | `error` | `error=timeout` | the run's error contains this text (case-insensitive) |
 * | `input` | `input.topic=otters`, `input.a.b=1` | a field of the run input, by dotted path, equals this value as text |
 * | `tag` | `tag.customer=acme` | the run carries this tag |
 */
import { RUN_STATUSES, type RunStatus } from '@/types/stitch';
import { ValidationError } from '@/lib/errors';
import { isUuid } from '@/lib/db/rows';

/** A filter as a client sends it (JSON body) or as query parameters become (strings). */
export interface RunFilterSpec {
  ids?: string[] | string;
  flowId?: string;
  status?: string[] | string;
  trigger?: string[] | string;
  createdAfter?: string;
  createdBefore?: string;
  finishedAfter?: string;
  finishedBefore?: string;
  costAbove?: number | string;
  costBelow?: number | string;
  error?: string;
  input?: Record<string, unknown>;
  tag?: Record<string, unknown>;
}

/** One condition on the run input: the value at `path`, as text, equals one of `matches` (JSON values). */
export interface InputCondition {
  path: string[];
  /** The JSON values that print as the text asked for: `"5"` and `5`, `"true"` and `true`, … */
  matches: unknown[];
}

/** A normalised filter: absolute times, typed values, checked bounds. */
export interface RunFilter {
  ids?: string[];
  flowId?: string;
  status?: RunStatus[];
  trigger?: string[];
  createdAfter?: Date;
  createdBefore?: Date;
  finishedAfter?: Date;
  finishedBefore?: Date;
  costAbove?: number;
  costBelow?: number;
  error?: string;
  input?: InputCondition[];
  tag?: Record<string, string>;
}

/** Bounds of one filter (a filter is a query plan, not a payload). */
export const FILTER_LIMITS = { ids: 1000, conditions: 10, pathDepth: 8, segment: 100, value: 500, error: 200 } as const;

const TRIGGER_TYPE = /^[a-z][a-z0-9_-]{0,39}$/;
const DURATION = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };
/** ISO 8601 date or date-time (what `new Date` would also read loosely is refused). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

class Problems {
  readonly list: Array<{ code: string; field: string; message: string }> = [];
  add(field: string, message: string): undefined {
    this.list.push({ code: 'invalid_filter', field, message });
    return undefined;
  }
}

const listOf = (value: string[] | string | undefined): string[] | undefined => {
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
  return items.length ? [...new Set(items)] : undefined;
};

/** `24h`, `7d`, `30m`, `90s`, `2w` in milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
}

/** A time bound: ISO 8601, or a duration back from `now`. */
function timeOf(value: unknown, field: string, now: Date, problems: Problems): Date | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const ago = parseDuration(text);
  if (ago !== undefined) return new Date(now.getTime() - ago);
  const date = ISO_TIME.test(text) ? new Date(text) : undefined;
  if (!date || Number.isNaN(date.getTime())) return problems.add(field, `"${text.slice(0, 40)}" is neither an ISO 8601 time nor a duration like 24h, 7d, 30m`);
  return date;
}

function usdOf(value: unknown, field: string, problems: Problems): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : /^\s*\d+(\.\d+)?\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0) return problems.add(field, 'must be a non-negative amount in USD');
  return n;
}

/** The JSON values whose text form is `text`: the string itself, and the number, boolean or null it spells. */
function matchesOf(value: unknown): unknown[] {
  const text = value === null ? 'null' : String(value);
  const matches: unknown[] = [text];
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) && Number.isFinite(Number(text))) matches.push(Number(text));
  if (text === 'true' || text === 'false') matches.push(text === 'true');
  if (text === 'null') matches.push(null);
  return matches;
}

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

function inputOf(spec: Record<string, unknown> | undefined, problems: Problems): InputCondition[] | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return problems.add('input', 'must be an object of {"dotted.path": value}');
  const entries = Object.entries(spec);
  if (entries.length > FILTER_LIMITS.conditions) return problems.add('input', `at most ${FILTER_LIMITS.conditions} input conditions`);
  const conditions: InputCondition[] = [];
  for (const [key, value] of entries) {
    const path = key.split('.');
    if (path.length > FILTER_LIMITS.pathDepth || path.some((s) => s.length === 0 || s.length > FILTER_LIMITS.segment)) {
      problems.add(`input.${key.slice(0, 100)}`, `a path is up to ${FILTER_LIMITS.pathDepth} non-empty dot-separated names of up to ${FILTER_LIMITS.segment} characters`);
    } else if (!isScalar(value) || String(value).length > FILTER_LIMITS.value) {
      problems.add(`input.${key}`, `the value must be a string, number, boolean or null of up to ${FILTER_LIMITS.value} characters`);
    } else {
      conditions.push({ path, matches: matchesOf(value) });
    }
  }
  return conditions.length ? conditions : undefined;
}

function tagOf(spec: Record<string, unknown> | undefined, problems: Problems): Record<string, string> | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return problems.add('tag', 'must be an object of {key: value}');
  const entries = Object.entries(spec);
  if (entries.length > FILTER_LIMITS.conditions) return problems.add('tag', `at most ${FILTER_LIMITS.conditions} tag conditions`);
  const tags: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of entries) {
    if (!key || key.length > FILTER_LIMITS.segment || typeof value !== 'string' || value.length > FILTER_LIMITS.value) {
      problems.add(`tag.${key.slice(0, 100)}`, `a tag is a key of up to ${FILTER_LIMITS.segment} characters and a string value of up to ${FILTER_LIMITS.value}`);
    } else {
      tags[key] = value;
    }
  }
  return Object.keys(tags).length ? tags : undefined;
}

/**
 * Check and normalise a filter. Every problem is listed at once (400 `validation_failed`, each
 * with its field). Relative times count back from `now`.
 */
export function normalizeRunFilter(spec: RunFilterSpec, now = new Date()): RunFilter {
  const problems = new Problems();
  const filter: RunFilter = {};
  const ids = listOf(spec.ids);
  if (ids) {
    if (ids.length > FILTER_LIMITS.ids) problems.add('ids', `at most ${FILTER_LIMITS.ids} run ids`);
    else if (!ids.every(isUuid)) problems.add('ids', 'run ids are uuids');
    else filter.ids = ids.map((id) => id.toLowerCase());
  }
  if (spec.flowId !== undefined) {
    if (!isUuid(String(spec.flowId))) problems.add('flowId', 'a flow id is a uuid');
    else filter.flowId = String(spec.flowId).toLowerCase();
  }
  const status = listOf(spec.status);
  if (status) {
    const unknown = status.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
    if (unknown.length) problems.add('status', `unknown status "${unknown[0].slice(0, 40)}": use ${RUN_STATUSES.join(', ')}`);
    else filter.status = status as RunStatus[];
  }
  const trigger = listOf(spec.trigger);
  if (trigger) {
    if (trigger.length > FILTER_LIMITS.conditions || !trigger.every((t) => TRIGGER_TYPE.test(t))) {
      problems.add('trigger', 'trigger types are lower-case names such as api, cli, webhook, schedule, flow, rerun, mcp');
    } else filter.trigger = trigger;
  }
  for (const field of ['createdAfter', 'createdBefore', 'finishedAfter', 'finishedBefore'] as const) {
    const time = timeOf(spec[field], field, now, problems);
    if (time) filter[field] = time;
  }
  filter.costAbove = usdOf(spec.costAbove, 'costAbove', problems);
  filter.costBelow = usdOf(spec.costBelow, 'costBelow', problems);
  if (spec.error !== undefined) {
    const text = String(spec.error);
    if (text.length === 0 || text.length > FILTER_LIMITS.error) problems.add('error', `the error text to look for is 1 to ${FILTER_LIMITS.error} characters`);
    else filter.error = text;
  }
  filter.input = inputOf(spec.input, problems);
  filter.tag = tagOf(spec.tag, problems);
  if (problems.list.length) {
    const first = problems.list[0];
    throw new ValidationError(`The run filter is not valid: ${first.field}: ${first.message}`, problems.list);
  }
  for (const key of Object.keys(filter) as Array<keyof RunFilter>) if (filter[key] === undefined) delete filter[key];
  return filter;
}

/**
 * Query parameters → a filter spec: `input.<path>=v` and `tag.<key>=v` become the `input` and `tag`
 * objects; the other names map one to one. Unknown names are refused, so a misspelt filter never
 * silently matches everything.
 */
export function filterSpecFromQuery(query: Record<string, string | string[] | undefined>, others: readonly string[] = []): RunFilterSpec {
  const spec: RunFilterSpec & Record<string, unknown> = {};
  const input: Record<string, string> = {};
  const tag: Record<string, string> = {};
  const single = (name: string, v: string | string[]) => {
    if (Array.isArray(v)) throw new ValidationError(`The query parameter ${name} may appear once`, [{ code: 'invalid_filter', field: name, message: 'given more than once' }]);
    return v;
  };
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || others.includes(name)) continue;
    if (name.startsWith('input.')) input[name.slice('input.'.length)] = single(name, value);
    else if (name.startsWith('tag.')) tag[name.slice('tag.'.length)] = single(name, value);
    else if (name === 'status' || name === 'trigger' || name === 'ids') spec[name] = value;
    else if ((FILTER_FIELDS as readonly string[]).includes(name)) spec[name] = single(name, value);
    else {
      throw new ValidationError(`Unknown run filter "${name.slice(0, 60)}"`, [
        { code: 'invalid_filter', field: name.slice(0, 100), message: `not a filter: use ${[...FILTER_FIELDS, 'input.<path>', 'tag.<key>'].join(', ')}` },
      ]);
    }
  }
  if (Object.keys(input).length) spec.input = input;
  if (Object.keys(tag).length) spec.tag = tag;
  return spec;
}

/** The filter's field names besides `input.*` and `tag.*`. */
export const FILTER_FIELDS = [
  'ids',
  'flowId',
  'status',
  'trigger',
  'createdAfter',
  'createdBefore',
  'finishedAfter',
  'finishedBefore',
  'costAbove',
  'costBelow',
  'error',
] as const;

/** A filter spec as `GET /api/runs` query parameters (the inverse of filterSpecFromQuery). */
export function filterSpecToQuery(spec: RunFilterSpec): URLSearchParams {
  const query = new URLSearchParams();
  for (const field of FILTER_FIELDS) {
    const value = spec[field];
    if (value === undefined) continue;
    query.set(field, Array.isArray(value) ? value.join(',') : String(value));
  }
  for (const [key, value] of Object.entries(spec.input ?? {})) query.set(`input.${key}`, String(value));
  for (const [key, value] of Object.entries(spec.tag ?? {})) query.set(`tag.${key}`, String(value));
  return query;
}
