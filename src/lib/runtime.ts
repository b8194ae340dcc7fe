/**
 * The one runtime of a started Stitch: its configuration, pool, worker registry, storage and
 * logger, built once by `startStitch`, frozen, and passed down explicitly to the engine host, the
 * queue runner and the execute path. `getConfig()` rebuilds the configuration from the environment
 * on every call (tens of microseconds); nothing on the hot path calls it.
 *
 * `runtimeConfig()` is for the few readers not handed the runtime (integration limits, schedule
 * ticks): the started runtime's configuration, or `getConfig()` outside a started Stitch (a CLI
 * command, a unit test).
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { getConfig, type Config } from './config';
import { getLogger } from './log';
import type { Storage } from './storage/types';
import type { WorkerRegistry } from './workers/registry';

export interface Runtime {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly registry: WorkerRegistry;
  readonly storage: Storage;
  /** The process logger (log.ts), read at each use: a test may swap it with `setLogger` after start. */
  readonly logger: Logger;
}

export function createRuntime(parts: Omit<Runtime, 'logger'>): Runtime {
  return Object.freeze({
    ...parts,
    get logger() {
      return getLogger();
    },
  });
}

let started: Runtime | undefined;

/** Set by startStitch, cleared by its stop. */
export function setRuntime(runtime: Runtime | undefined): void {
  started = runtime;
}

export function runtimeConfig(): Config {
  return started?.config ?? getConfig();
}
