/**
 * JSON numbers beyond a double (`1e400`) parse as Infinity and are stored as `null` by
 * `JSON.stringify`: the value would silently change. A JSON body with such a number is refused
 * with 400 before any handler sees it. Runs after `limitBody`, which has buffered the body.
 */
import type { MiddlewareHandler } from 'hono';
import { ValidationError } from '@/lib/errors';

/** The path of the first non-finite number in a JSON text, or undefined (also for invalid JSON: the handler says why). */
export function firstNonFiniteNumber(text: string): string | undefined {
  let found: string | undefined;
  try {
    JSON.parse(text, function (this: unknown, key, value) {
      if (found === undefined && typeof value === 'number' && !Number.isFinite(value)) found = key === '' ? '(body)' : key;
      return value;
    });
  } catch {
    return undefined;
  }
  return found;
}

export function rejectNonFiniteNumbers(): MiddlewareHandler {
  return async (c, next) => {
    if (!c.req.raw.body || !/json/i.test(c.req.header('content-type') ?? '')) return next();
    const field = firstNonFiniteNumber(await c.req.raw.clone().text());
    if (field !== undefined) {
      throw new ValidationError(`A number in the request body is too large to represent (field "${field}"): use a string or a smaller number.`, [
        { code: 'number_out_of_range', field, message: 'not a finite double-precision number' },
      ]);
    }
    return next();
  };
}
