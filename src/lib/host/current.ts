/**
 * Which host a worker's call goes to: the attempt's own (set around `execute`/`poll` and carried
 * through its awaits and timers by AsyncLocalStorage), else the process's (the engine's, once
 * `startStitch` ran), else an HTTP host (code outside a Stitch process).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { HttpWorkerHost } from './http-host';
import type { WorkerHost } from './types';

const attemptHost = new AsyncLocalStorage<WorkerHost>();
const outsideStitch = new HttpWorkerHost();
let processHost: WorkerHost | undefined;

/** Run `fn` (a worker's `execute` or `poll`) with `host` as the current host. */
export function runWithHost<T>(host: WorkerHost, fn: () => T): T {
  return attemptHost.run(host, fn);
}

/** Installed by `startStitch`, removed by its stop. */
export function setProcessHost(host: WorkerHost | undefined): void {
  processHost = host;
}

export function currentHost(): WorkerHost {
  return attemptHost.getStore() ?? processHost ?? outsideStitch;
}
