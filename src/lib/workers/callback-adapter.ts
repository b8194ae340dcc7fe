/**
 * Running a worker's `parseCallback` on a vendor's payload, the same way for the callback route
 * and the test harness: awaited (it may be async), and its failures sorted by whose fault they are.
 */
import { StitchError, ValidationError, coerceError } from '@/lib/errors';
import type { IWorker, ParsedCallback } from './base';

/**
 * The adapter's answer. A synchronous throw, or any `ValidationError`, means the body was not
 * understood (400: resending it cannot help). Any other rejection of an async adapter is the
 * adapter's own trouble — a lookup at the vendor that failed — and answers 503 (`unavailable`),
 * so a vendor that retries on 5xx tries again.
 */
export async function adaptCallback(worker: IWorker, body: unknown, headers: Record<string, string>): Promise<ParsedCallback> {
  let pending: ParsedCallback | Promise<ParsedCallback>;
  try {
    pending = worker.parseCallback!(body, headers);
  } catch (error) {
    throw notUnderstood(error);
  }
  try {
    return await pending;
  } catch (error) {
    if (error instanceof ValidationError) throw notUnderstood(error);
    throw new StitchError('unavailable', `The worker could not process the callback now: ${coerceError(error).message}`, { cause: error });
  }
}

function notUnderstood(error: unknown): ValidationError {
  return new ValidationError(`The callback body was not understood: ${coerceError(error).message}`);
}
