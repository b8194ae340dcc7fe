/**
 * Fake Anthropic Messages API (docs.anthropic.com/en/api/messages, /en/api/errors,
 * /en/docs/build-with-claude/streaming): POST /v1/messages with `x-api-key` and `anthropic-version`
 * → a Message, or with `"stream": true` server-sent events — `message_start` (the Message with
 * empty content and the input usage), `content_block_start`, `ping`, one `content_block_delta`
 * (`text_delta`) per word, `content_block_stop`, `message_delta` (stop reason, cumulative output
 * usage), `message_stop`. Errors as `{type: "error", error: {type, message}}` (429 with
 * retry-after, 529 overloaded_error); in a stream, `event: error` after the first words
 * (`stream-error`), or a stream cut short (`malformed`).
 */
import type { ServerResponse } from 'node:http';
import { sendJson, startVendorServer, type Failure, type VendorServer } from './server';

export const ANTHROPIC_KEY = 'sk-ant-test-key';

export interface FakeAnthropic extends VendorServer {
  failure: Failure | '429' | '529' | 'stream-error';
  reply: string;
  /** Streams wait here after their first word when set (a test looks at the stream meanwhile). */
  hold: Promise<void> | undefined;
}

/** The words of `text`, each with the space before it (what a model's deltas look like). */
export const deltasOf = (text: string): string[] => text.match(/\s*\S+/g) ?? [];

function sendEvent(res: ServerResponse, type: string, data: Record<string, unknown>): void {
  res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
}

async function streamMessage(fake: FakeAnthropic, res: ServerResponse, model: string): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  sendEvent(res, 'message_start', {
    message: { id: 'msg_01StreamedFake', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } },
  });
  sendEvent(res, 'content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  sendEvent(res, 'ping', {});
  const deltas = deltasOf(fake.reply);
  for (const [i, text] of deltas.entries()) {
    sendEvent(res, 'content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
    if (i === 0 && fake.hold) await fake.hold;
    if (i === 0 && fake.failure === 'stream-error') {
      sendEvent(res, 'error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
      return void res.end();
    }
    if (i === 0 && fake.failure === 'malformed') return void res.end();
  }
  sendEvent(res, 'content_block_stop', { index: 0 });
  // The usage a non-streamed call reports for the same reply (6 for the default one).
  sendEvent(res, 'message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: Math.ceil(fake.reply.length / 3.5) } });
  sendEvent(res, 'message_stop', {});
  res.end();
}

const error = (type: string, message: string) => ({ type: 'error', error: { type, message } });

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const fake = { failure: 'none', reply: 'Hello from the fake.', hold: undefined } as FakeAnthropic;
  const base = await startVendorServer((req, res) => {
    if (req.method !== 'POST' || req.path !== '/v1/messages') return sendJson(res, 404, error('not_found_error', 'Not found'));
    if (req.headers['x-api-key'] !== ANTHROPIC_KEY) return sendJson(res, 401, error('authentication_error', 'invalid x-api-key'));
    switch (fake.failure) {
      case 'timeout':
        return;
      case '4xx':
        return sendJson(res, 400, error('invalid_request_error', 'max_tokens: Field required'));
      case '429':
        return sendJson(res, 429, error('rate_limit_error', 'Number of requests has exceeded your rate limit'), { 'retry-after': '7' });
      case '5xx':
        return sendJson(res, 500, error('api_error', 'Internal server error'));
      case '529':
        return sendJson(res, 529, error('overloaded_error', 'Overloaded'));
      case 'malformed':
        if (req.body.stream === true) break;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "msg_1", "content": ');
    }
    if (req.body.stream === true) return streamMessage(fake, res, req.body.model);
    sendJson(res, 200, {
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
      type: 'message',
      role: 'assistant',
      model: req.body.model,
      content: [{ type: 'text', text: fake.reply }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 6 },
    });
  });
  return Object.assign(fake, base);
}
