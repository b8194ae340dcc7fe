/**
 * The seam between the worker SDK and the engine: when an engine runs in this process it installs
 * its completion function here, and `triggerCallback` calls it directly (no HTTP round trip to
 * itself). Without one, `triggerCallback` POSTs to the callback URL. Kept separate so that the SDK
 * does not import the engine (which imports the SDK).
 */
import type { WorkerCallback } from '@/types/stitch';

export interface CompletionRequest extends WorkerCallback {
  runId: string;
  instanceId: string;
  /** Known for in-process callbacks; derived from the token for HTTP ones. */
  attempt?: number;
  /** Required for callbacks that arrive over HTTP. */
  token?: string;
}

export interface CompletionResult {
  ok: true;
  duplicate?: boolean;
}

export type Completer = (request: CompletionRequest) => Promise<CompletionResult>;

let completer: Completer | undefined;

export function setLocalCompleter(fn: Completer | undefined): void {
  completer = fn;
}

export function getLocalCompleter(): Completer | undefined {
  return completer;
}
