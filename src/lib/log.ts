/**
 * One pino logger for the whole process. Secrets never reach a log line: values under
 * sensitive keys (api keys, tokens, secrets, passwords, authorization) are replaced at any
 * depth, callback tokens inside URLs are masked, and every vault value this process has held is
 * masked in the line as written (whatever its shape or encoding: src/lib/vault/scrub.ts).
 */
import pino, { type Logger } from 'pino';
import { getConfig } from './config';
import { scrubText } from './vault/scrub';

const SENSITIVE_KEY = /(api[-_]?key|apikey|secret|password|passwd|token|authorization|credential|private[-_]?key)/i;
const TOKEN_IN_URL = /([?&](?:token|sig|signature|api_key|apikey|key)=)[^&\s"']+/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;

/** Mask secrets by their shape in a string: tokens in URLs, bearer credentials (vault values: by the logger, per line). */
export function redactString(value: string): string {
  return value.replace(TOKEN_IN_URL, '$1[redacted]').replace(BEARER, '$1[redacted]');
}

/**
 * An error as a log field: message, name, the stack (redacted like any string: a stack's first line
 * repeats the message), its code and its cause — the stack is what makes a logged error useful.
 */
function redactError(error: Error, depth: number): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return {
    message: redactString(error.message),
    name: error.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(error.stack ? { stack: redactString(error.stack) } : {}),
    ...(error.cause !== undefined ? { cause: redact(error.cause, depth + 1) } : {}),
  };
}

/** Deep copy of `value` with sensitive keys' values replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    if (value instanceof Error) return redactError(value, depth);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Keys that name a flag about a secret ("apiKeyPresent") carry no secret.
      out[k] = SENSITIVE_KEY.test(k) && typeof v !== 'boolean' && v !== null && v !== undefined ? '[redacted]' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

let root: Logger | undefined;

/** A logger that redacts secrets from every line's fields and message. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      formatters: { log: (obj) => redact(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          // Messages are redacted too: a worker may interpolate a URL into its message.
          const redacted = args.map((a) => (typeof a === 'string' ? redactString(a) : a)) as typeof args;
          method.apply(this, redacted);
        },
        // Vault values by value, in the serialized line: any field, any depth, any encoding.
        streamWrite: scrubText,
      },
    },
    destination,
  );
}

export function getLogger(): Logger {
  root ??= createLogger(getConfig().logLevel);
  return root;
}

/** Replace the process logger (tests capture output with their own destination). */
export function setLogger(logger: Logger): void {
  root = logger;
}
