/**
 * Cron expressions through croner (never parsed by hand): 5 fields, or 6 with seconds first, read
 * in an IANA time zone. Daylight saving is croner's: a wall-clock time that does not exist (the
 * spring-forward gap) runs at the first instant after it; one that happens twice (fall-back) runs
 * once, at the first of the two. docs/triggers.md shows both.
 */
import { Cron } from 'croner';
import { ValidationError } from '@/lib/errors';

export interface CronSpec {
  cron: string;
  timezone: string;
}

function compile({ cron, timezone }: CronSpec): Cron {
  // paused: croner only computes here; the queue (a keyed job per schedule) does the waiting.
  return new Cron(cron, { timezone, mode: '5-or-6-parts', paused: true });
}

/** Refuse a bad expression or time zone with a 400 that says which and why. */
export function checkCronSpec(spec: CronSpec): void {
  const issues: { code: string; field: string; message: string }[] = [];
  try {
    new Intl.DateTimeFormat('en', { timeZone: spec.timezone });
  } catch {
    issues.push({ code: 'invalid_timezone', field: 'timezone', message: `"${spec.timezone}" is not an IANA time zone (e.g. Europe/Berlin, UTC)` });
  }
  try {
    if (!issues.length && compile(spec).nextRun() === null) {
      issues.push({ code: 'invalid_cron', field: 'cron', message: 'the expression never fires' });
    }
  } catch (error) {
    issues.push({ code: 'invalid_cron', field: 'cron', message: `${(error as Error).message.replace(/^CronPattern: /, '')} (5 fields, or 6 with seconds first)` });
  }
  if (issues.length) throw new ValidationError(`The schedule is not valid: ${issues[0].field}: ${issues[0].message}`, issues);
}

/** The first tick strictly after `after`, or null when there is none. */
export function nextTick(spec: CronSpec, after: Date): Date | null {
  return compile(spec).nextRun(after);
}

/** The last tick at or before `at`, or null. */
export function lastTickAtOrBefore(spec: CronSpec, at: Date): Date | null {
  // nextRun is strictly after, so ask from one millisecond earlier for "at or before".
  const cron = compile(spec);
  const next = cron.nextRun(new Date(at.getTime() - 1));
  if (next && next.getTime() === at.getTime()) return next;
  return cron.previousRuns(1, at)[0] ?? null;
}
