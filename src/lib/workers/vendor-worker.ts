/**
 * The shape every built-in vendor worker shares (the seed guide's structure, written once): the
 * constructor decides mock mode from `getConfig()` and says so in the log once; `execute` logs
 * start, end and failure around the real or the mock path. Failures are thrown, not reported
 * with a failure callback: the engine then records the failed attempt exactly as a failure callback
 * would, and also keeps the error's class — NonRetriableError is not retried, RetryAfterError waits
 * the vendor's Retry-After — which a `{status: 'failed', error}` callback cannot carry.
 */
import type { NodeConfig } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { errorMessage } from '@/lib/errors';
import type { IWorker } from './base';
import { extractErrorContext, logWorker } from './utils';

export interface VendorWorkerSpec {
  /** Worker type, as registered ("minimax"). */
  id: string;
  /** Vendor name for messages ("MiniMax"). */
  vendor: string;
  /** The environment variable holding the key, for the mock-mode log line. */
  keyEnv: string;
  /** `getConfig().workers` key of the API key ("minimaxApiKey"). */
  keyName: string;
  /** `getConfig().workers` key of the base URL override ("minimaxApiUrl") and its default. */
  urlName: string;
  defaultUrl: string;
}

export abstract class VendorWorker implements IWorker {
  protected readonly id: string;
  protected readonly vendor: string;
  protected readonly apiKey: string | undefined;
  protected readonly mockMode: boolean;
  /** The vendor's API base URL (overridable, e.g. `MINIMAX_API_URL`, so tests point it at loopback). */
  protected readonly apiUrl: string;

  constructor(spec: VendorWorkerSpec) {
    const workers = getConfig().workers;
    this.id = spec.id;
    this.vendor = spec.vendor;
    this.apiKey = workers[spec.keyName];
    this.mockMode = !this.apiKey;
    this.apiUrl = (workers[spec.urlName] ?? spec.defaultUrl).replace(/\/+$/, '');
    if (this.mockMode) {
      logWorker('warn', `${spec.vendor} worker initialized in MOCK MODE`, {
        worker: spec.id,
        reason: `${spec.keyEnv} environment variable is not set`,
        message: 'Worker will return realistic mock outputs (served from storage) instead of calling the API',
      });
    } else {
      logWorker('info', `${spec.vendor} worker initialized`, { worker: spec.id, apiKeyPresent: true, apiUrl: this.apiUrl });
    }
  }

  async execute(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const startedAt = Date.now();
    const context = { worker: this.id, runId, nodeId, mock: this.mockMode };
    logWorker('info', `${this.vendor} worker execution started`, context);
    try {
      if (this.mockMode) await this.executeMock(runId, nodeId, config, input);
      else await this.executeReal(runId, nodeId, config, input);
      logWorker('info', `${this.vendor} worker execution finished`, { ...context, duration: Date.now() - startedAt });
    } catch (error) {
      logWorker('error', `${this.vendor} worker failed`, {
        ...context,
        error: errorMessage(error),
        ...extractErrorContext(error),
        duration: Date.now() - startedAt,
        phase: 'execution',
      });
      throw error;
    }
  }

  protected abstract executeReal(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void>;
  protected abstract executeMock(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void>;
}

/** A config number (node config values may arrive as strings from forms). */
export function numberFrom(value: unknown, fallback: number): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
}

/** The first non-empty string among the input's field and its aliases. */
export function stringField(input: Record<string, unknown>, names: string[]): string | undefined {
  for (const name of names) {
    const v = input?.[name];
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return undefined;
}

/** A storage-key-safe form of a node instance id (`scene[3]` → `scene-3`). */
export function keySegment(value: string): string {
  return value.replace(/[^A-Za-z0-9._=-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}
