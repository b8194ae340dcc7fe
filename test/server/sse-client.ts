/**
 * A minimal Server-Sent Events reader for tests: collects the events of one stream.
 */
import type { StitchEvent } from '@/types/stitch';

export interface SseClient {
  events: StitchEvent[];
  close(): void;
  /** Resolves once the response headers arrived (the stream is subscribed). */
  opened: Promise<void>;
}

export function openSse(url: string, headers: Record<string, string> = {}): SseClient {
  const controller = new AbortController();
  const events: StitchEvent[] = [];
  let resolveOpened: () => void = () => {};
  const opened = new Promise<void>((resolve) => (resolveOpened = resolve));
  void (async () => {
    try {
      const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
      if (!response.ok || !response.body) throw new Error(`SSE ${url} answered ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let first = true;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        if (first && buffer.includes(': connected')) {
          first = false;
          resolveOpened();
        }
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (data) events.push(JSON.parse(data) as StitchEvent);
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return { events, close: () => controller.abort(), opened };
}
