/**
 * A few errors, each with one meaning. `code` is stable and machine-readable; messages say what to do next.
 */
export class StitchError extends Error {
  readonly code: string;
  readonly details?: unknown;
  constructor(code: string, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StitchError';
    this.code = code;
    this.details = options?.details;
  }
}

/** Bad input from a caller: never retried, answered with a 4xx. */
export class ValidationError extends StitchError {
  constructor(message: string, details?: unknown) {
    super('validation_failed', message, { details });
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends StitchError {
  constructor(what: string) {
    super('not_found', `${what} was not found`);
    this.name = 'NotFoundError';
  }
}

/** A state change that the current state does not allow (late callback, completed node, …). */
export class ConflictError extends StitchError {
  constructor(message: string, details?: unknown) {
    super('conflict', message, { details });
    this.name = 'ConflictError';
  }
}

/**
 * A collection a client grows is at its bound (docs/architecture.md, "Limits"): answered 409
 * `limit_reached`, nothing changed. The message names the variable that raises it.
 */
export class LimitReachedError extends StitchError {
  constructor(what: string, limit: number, variable: string) {
    super('limit_reached', `${what}: the limit is ${limit} (${variable}). Remove some first, or raise ${variable}.`, { details: { limit, variable } });
    this.name = 'LimitReachedError';
  }
}

export class UnauthorizedError extends StitchError {
  constructor(message = 'Missing or invalid credentials') {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** Thrown by a worker: fail this node now, do not retry. */
export class NonRetriableError extends StitchError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'non_retriable', message, options);
    this.name = 'NonRetriableError';
  }
}

/** Thrown by a worker: retry after the given delay (e.g. a vendor's Retry-After). */
export class RetryAfterError extends StitchError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super('retry_after', message, options);
    this.name = 'RetryAfterError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** Turn anything thrown into an Error, at every catch boundary. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

export function errorMessage(value: unknown): string {
  return coerceError(value).message || 'Unknown error';
}
