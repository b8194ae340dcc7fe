/**
 * A small client of Stitch's HTTP API for `--url` commands (authenticates with STITCH_API_KEY).
 */
import type { StitchEvent, StreamMessage } from '@/types/stitch';
import { allPages } from '@/lib/db/queries/keyset-cursor';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  readonly #base: string;
  readonly #apiKey: string | undefined;

  constructor(baseUrl: string, apiKey: string | undefined) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#apiKey = apiKey;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.#apiKey) headers.Authorization = `Bearer ${this.#apiKey}`;
    const response = await fetch(this.#base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${response.status}`, error?.details);
    }
    return json as T;
  }

  /**
   * Read the SSE stream at `path` (`GET /api/runs/:id/events`), calling `onMessage` with each
   * message's data, until the returned function is called.
   */
  events(path: string, onMessage: (message: StitchEvent | StreamMessage) => void): () => void {
    const controller = new AbortController();
    void (async () => {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (this.#apiKey) headers.Authorization = `Bearer ${this.#apiKey}`;
      const response = await fetch(this.#base + path, { headers, signal: controller.signal });
      if (!response.ok || !response.body) return;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (data) onMessage(JSON.parse(data) as StitchEvent | StreamMessage);
        }
      }
    })().catch(() => {
      // The stream ended (the run finished and we hung up, or the server went away): progress
      // still comes from polling.
    });
    return () => controller.abort();
  }

  /** Every item of a paginated list (`GET path` → `{[key]: T[], nextCursor}`), page by page. */
  listAll<T>(path: string, key: string): Promise<T[]> {
    return allPages(async ({ limit, cursor }) => {
      const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
      const page = await this.request<Record<string, unknown>>('GET', `${path}${path.includes('?') ? '&' : '?'}${query}`);
      return { items: page[key] as T[], nextCursor: (page.nextCursor as string | null | undefined) ?? null };
    });
  }
}
