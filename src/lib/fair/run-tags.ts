/**
 * Run tags and priority: what a run is started with to say whose it is and how urgent it is.
 * Tags are a small object of string → string (`{customer: "acme", plan: "pro"}`): concurrency and
 * rate-limit keys read them (`{{tags.customer}}`), searches filter on them. A tag is never a secret:
 * it is shown in the API, the canvas and the logs. Priority is an integer from 0 (the default) to 100,
 * higher first: its work is ordered as if queued that many minutes earlier (docs/limits.md).
 *
 * The one check for every way in (API, CLI, webhook trigger, schedule, re-run), so a bad tag is the
 * same precise 400 wherever it comes from. Kept free of the engine so query modules can use it.
 */
import { ValidationError } from '@/lib/errors';

export type RunTags = Record<string, string>;

/** A run's priority lies in this range (inclusive); the database checks it too (0021_run_tags.sql). */
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 100;

/** Tag names: what a template can read as `tags.<name>` (no dots, no spaces). */
const TAG_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
export const TAG_VALUE_MAX_CHARS = 256;
// Control characters would break log lines and the canvas; everything printable is fine.
const CONTROL = /\p{Cc}/u;

interface Issue {
  code: string;
  field: string;
  message: string;
}

function refuse(issues: Issue[]): never {
  throw new ValidationError(`The run tags are not valid: ${issues[0].field}: ${issues[0].message}`, issues);
}

/**
 * Tags as given by a caller (undefined: none), checked: at most `maxTags` names of 1–64 letters,
 * digits, `_` or `-`, each with a string value of 1–256 printable characters. Throws a
 * ValidationError listing every problem (field `tags.<name>`).
 */
export function checkRunTags(tags: unknown, maxTags: number, field = 'tags'): RunTags {
  if (tags === undefined || tags === null) return {};
  if (typeof tags !== 'object' || Array.isArray(tags)) refuse([{ code: 'invalid_type', field, message: 'must be an object of string values, like {"customer": "acme"}' }]);
  const entries = Object.entries(tags as Record<string, unknown>);
  const issues: Issue[] = [];
  if (entries.length > maxTags) {
    issues.push({ code: 'too_many_tags', field, message: `has ${entries.length} tags; at most ${maxTags} are allowed (STITCH_MAX_RUN_TAGS)` });
  }
  for (const [name, value] of entries.slice(0, maxTags + 1)) {
    const at = `${field}.${name}`;
    if (!TAG_NAME.test(name)) issues.push({ code: 'invalid_tag_name', field: at, message: 'a tag name is 1–64 letters, digits, "_" or "-", starting with a letter, digit or "_"' });
    else if (typeof value !== 'string') issues.push({ code: 'invalid_tag_value', field: at, message: `must be a string, not ${value === null ? 'null' : typeof value}` });
    else if (value.length === 0 || value.length > TAG_VALUE_MAX_CHARS) issues.push({ code: 'invalid_tag_value', field: at, message: `must be 1–${TAG_VALUE_MAX_CHARS} characters long (got ${value.length})` });
    else if (CONTROL.test(value)) issues.push({ code: 'invalid_tag_value', field: at, message: 'must not contain control characters' });
  }
  if (issues.length) refuse(issues.slice(0, 50));
  return Object.fromEntries(entries) as RunTags;
}

/** A priority as given by a caller (undefined: the default), checked: an integer in the documented range. */
export function checkPriority(priority: unknown, field = 'priority'): number | undefined {
  if (priority === undefined || priority === null) return undefined;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw new ValidationError(`${field} must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX} (higher runs first; default 0)`, [
      { code: 'invalid_priority', field, message: `an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}` },
    ]);
  }
  return priority;
}
