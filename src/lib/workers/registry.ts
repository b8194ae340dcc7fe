/**
 * Worker definitions (what a worker takes, gives and how it runs) and the registry of worker
 * classes. Every registered worker needs a definition here and every definition a registered
 * worker: `checkRegistry()` names any missing piece at start-up.
 */
import type { RetryPolicy, WorkerDefinition } from '@/types/stitch';
import type { IWorker, WorkerClass } from './base';

export type { WorkerDefinition } from '@/types/stitch';

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000, maxBackoffMs: 60_000 };
export const DEFAULT_TIMEOUT_SECONDS = 600;

export const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {
  transform: {
    id: 'transform',
    name: 'Transform',
    type: 'sync',
    category: 'Data',
    description:
      'Shape data without code: keep (pick) or drop (omit) fields, rename them, and set fields from ' +
      'templates like "{{title}} – part {{part}}" or constants.',
    input: {},
    output: {},
    config: {
      pick: [],
      omit: [],
      rename: {},
      set: {},
    },
    retry: { attempts: 1 },
  },
  wait: {
    id: 'wait',
    name: 'Wait',
    type: 'async',
    category: 'Flow control',
    description:
      'Pause this branch for config.seconds, then pass the input on. Durable: the wake-up is a ' +
      'scheduled queue job, so a restart in the middle loses nothing.',
    input: {},
    output: {
      waitedSeconds: { type: 'number', description: 'How long the node waited' },
    },
    config: { seconds: 1 },
    retry: { attempts: 1 },
    timeoutSeconds: 86_400 * 30,
  },
};

export class WorkerRegistry {
  #classes = new Map<string, WorkerClass>();
  #instances = new Map<string, IWorker>();

  /** Register a worker class under a type name (the node's `data.workerType`). */
  register(type: string, WorkerClass: WorkerClass): void {
    if (!type || typeof type !== 'string') throw new Error('workerRegistry.register: type must be a non-empty string');
    if (this.#classes.has(type) && this.#classes.get(type) !== WorkerClass) {
      throw new Error(`Worker type "${type}" is already registered with another class (${this.#classes.get(type)?.name})`);
    }
    this.#classes.set(type, WorkerClass);
  }

  /** The worker instance for a type, constructed on first use (so mock mode is announced once). */
  getWorker(type: string): IWorker {
    const existing = this.#instances.get(type);
    if (existing) return existing;
    const WorkerClass = this.#classes.get(type);
    if (!WorkerClass) {
      throw new Error(
        `Worker type "${type}" is not registered. Register it in src/lib/workers/index.ts: ` +
          `workerRegistry.register('${type}', YourWorker)`,
      );
    }
    const instance = new WorkerClass();
    this.#instances.set(type, instance);
    return instance;
  }

  has(type: string): boolean {
    return this.#classes.has(type);
  }

  types(): string[] {
    return [...this.#classes.keys()];
  }

  /** Forget constructed instances so the next `getWorker` re-reads configuration (tests, reloads). */
  resetInstances(): void {
    this.#instances.clear();
  }

  unregister(type: string): void {
    this.#classes.delete(type);
    this.#instances.delete(type);
  }
}

export const workerRegistry = new WorkerRegistry();

/** True when a worker class is registered for `type`. */
export function isValidWorkerType(type: string): boolean {
  return workerRegistry.has(type);
}

export function getWorkerDefinition(type: string): WorkerDefinition | undefined {
  return Object.prototype.hasOwnProperty.call(WORKER_DEFINITIONS, type) ? WORKER_DEFINITIONS[type] : undefined;
}

/** Registrations and definitions that do not match, each as a sentence that names the fix. */
export function checkRegistry(): string[] {
  const problems: string[] = [];
  for (const type of workerRegistry.types()) {
    if (!getWorkerDefinition(type)) {
      problems.push(
        `Worker "${type}" is registered but has no definition: add '${type}' to WORKER_DEFINITIONS in src/lib/workers/registry.ts.`,
      );
    }
  }
  for (const [key, def] of Object.entries(WORKER_DEFINITIONS)) {
    if (!workerRegistry.has(key)) {
      problems.push(
        `Worker definition "${key}" has no registered worker: add workerRegistry.register('${key}', …) to src/lib/workers/index.ts.`,
      );
    }
    if (def.id !== key) problems.push(`Worker definition "${key}" has id "${def.id}": the id must equal its key.`);
  }
  return problems;
}

/** Throw at start-up when registrations and definitions drift apart. */
export function assertRegistryComplete(): void {
  const problems = checkRegistry();
  if (problems.length) throw new Error(`Worker registry is inconsistent:\n- ${problems.join('\n- ')}`);
}

/** The effective retry policy: definition defaults, then the node's override. */
export function retryPolicyFor(type: string | undefined, override?: Partial<RetryPolicy>): RetryPolicy {
  const def = type ? getWorkerDefinition(type) : undefined;
  return { ...DEFAULT_RETRY, ...def?.retry, ...override };
}
