/**
 * `--tag k=v` (repeatable) and `--priority N`: a run's tags and priority from the command line,
 * for `stitch run` and `stitch schedules add`. The engine checks the values (the same 400 as the API).
 */
import { ValidationError } from '@/lib/errors';

/** commander's collector for a repeatable `--tag name=value` (a value may itself contain "="). */
export function collectTag(text: string, tags: Record<string, string> = {}): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new ValidationError(`--tag must be name=value, e.g. --tag customer=acme (got "${text}")`);
  return { ...tags, [text.slice(0, at)]: text.slice(at + 1) };
}

/** `--priority`: an integer, checked here so a typo is not sent as NaN. */
export function parsePriority(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value)) throw new ValidationError(`--priority must be an integer (higher first, default 0), got "${text}"`);
  return value;
}
