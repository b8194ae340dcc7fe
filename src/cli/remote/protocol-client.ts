/**
 * The pull protocol from the worker's side, in TypeScript (docs/remote-workers.md): what
 * `stitch worker --remote <url>` speaks. Plain `fetch`, no database.
 */
import type { StreamChunk, WorkerDefinition } from '@/types/stitch';
import type { RemoteTask } from '@/lib/engine/remote-tasks';

/** A task as the poll hands it out (the server's own type: one shape on both sides). */
export type PulledTask = RemoteTask;

export class ProtocolError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`HTTP ${status} ${code}: ${message}`);
  }

  /** The server took the task back (forged/stale token, lease gone, run over). */
  get taskGone(): boolean {
    return this.status === 401 || this.status === 404 || this.status === 409;
  }
}

export class ProtocolClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey?: string,
  ) {}

  async #post<T>(path: string, body: unknown, timeoutMs = 30_000): Promise<T> {
    const response = await fetch(this.baseUrl.replace(/\/+$/, '') + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) {
      let error = { code: '', message: text.slice(0, 200) };
      try {
        error = JSON.parse(text).error ?? error;
      } catch {
        // not Stitch's error shape (a proxy's page): keep the text
      }
      throw new ProtocolError(response.status, error.code, error.message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The server's catalogue: local types have no `remote` field. */
  async catalogue(): Promise<Array<WorkerDefinition & { remote?: unknown }>> {
    const response = await fetch(this.baseUrl.replace(/\/+$/, '') + '/api/workers', {
      headers: this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new ProtocolError(response.status, '', await response.text());
    return ((await response.json()) as { workers: Array<WorkerDefinition & { remote?: unknown }> }).workers;
  }

  register(workerId: string, workers: WorkerDefinition[]): Promise<unknown> {
    return this.#post('/api/remote-workers/register', { workerId, workers });
  }

  async poll(workerId: string, types: string[], max: number, waitSeconds = 30): Promise<PulledTask[]> {
    const answer = await this.#post<{ tasks: PulledTask[] }>('/api/tasks/poll', { types, workerId, max, waitSeconds }, (waitSeconds + 15) * 1000);
    return answer.tasks;
  }

  heartbeat(task: PulledTask, progress?: { progress?: number; message?: string }): Promise<unknown> {
    return this.#post(`/api/tasks/${task.taskId}/heartbeat`, { token: task.token, ...progress });
  }

  complete(task: PulledTask, output: unknown): Promise<unknown> {
    return this.#post(`/api/tasks/${task.taskId}/complete`, { token: task.token, output });
  }

  /** Streamed parts `seq`… of the task's attempt (authorized by its token, like a callback). */
  stream(task: PulledTask, seq: number, parts: StreamChunk[]): Promise<unknown> {
    return this.#post(`/api/stitch/stream/${encodeURIComponent(task.runId)}/${encodeURIComponent(task.nodeId)}?token=${task.token}`, { seq, parts });
  }

  fail(task: PulledTask, error: string, retryable: boolean): Promise<unknown> {
    return this.#post(`/api/tasks/${task.taskId}/fail`, { token: task.token, error: error.slice(0, 10_000), retryable });
  }
}
