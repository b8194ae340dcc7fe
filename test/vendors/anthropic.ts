/**
 * Fake Anthropic Messages API (docs.anthropic.com/en/api/messages, /en/api/errors):
 * POST /v1/messages with `x-api-key` and `anthropic-version` → a Message; errors as
 * `{type: "error", error: {type, message}}` (429 with retry-after, 529 overloaded_error).
 */
import { sendJson, startVendorServer, type Failure, type VendorServer } from './server';

export const ANTHROPIC_KEY = 'sk-ant-test-key';

export interface FakeAnthropic extends VendorServer {
  failure: Failure | '429' | '529';
  reply: string;
}

const error = (type: string, message: string) => ({ type: 'error', error: { type, message } });

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const fake = { failure: 'none', reply: 'Hello from the fake.' } as FakeAnthropic;
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
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "msg_1", "content": ');
    }
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
