/**
 * Claude: one Anthropic Messages API call (`POST /v1/messages` through @anthropic-ai/sdk — imported
 * only here), streamed: the text is passed on with `streamOutput` as the model writes it (the
 * canvas and `stitch run` show it growing). Sync. The prompt is `config.prompt` rendered against
 * the input ("Write about {{topic}}"), else `input.prompt`, else the input as JSON. Output:
 * `{...input, text}`; token usage goes to the node's metadata (and `usage` in the output).
 * Format: https://docs.anthropic.com/en/api/messages · streaming:
 * https://docs.anthropic.com/en/docs/build-with-claude/streaming · errors: https://docs.anthropic.com/en/api/errors
 */
import Anthropic from '@anthropic-ai/sdk';
import type { NodeConfig } from '@/types/stitch';
import { NonRetriableError, RetryAfterError } from '@/lib/errors';
import { updateNodeState } from '@/lib/db/runs';
import { renderTemplate } from './transform';
import { reportUsage, streamOutput, triggerCallback } from './utils';
import { retryAfterMs, malformed } from './vendor-http';
import { VendorWorker, numberFrom, stringField } from './vendor-worker';

/** https://docs.anthropic.com/en/api/versioning */
export const ANTHROPIC_VERSION = '2023-06-01';

export interface ClaudeResult {
  text: string;
  model: string;
  stopReason: string | null;
  usage: { inputTokens: number; outputTokens: number };
}

/** The prompt this node sends: config template, else input.prompt, else the input itself. */
export function promptFor(config: NodeConfig, input: Record<string, unknown>): string {
  if (typeof config.prompt === 'string' && config.prompt.trim()) return String(renderTemplate(config.prompt, input));
  const own = stringField(input, ['prompt', 'text']);
  if (own) return own;
  const json = JSON.stringify(input ?? {});
  if (json === '{}' || json === 'null') throw new NonRetriableError('Claude needs a prompt: set config.prompt or send input.prompt');
  return json;
}

/**
 * The SDK's errors in the vendor-HTTP policy: 429 waits, 5xx/529/timeouts retry, other 4xx do not;
 * an `error` event inside the stream (overloaded mid-answer) has no status and is retried; a stream
 * that ends before its message does is a malformed response, retried.
 */
function classify(error: unknown): Error {
  if (error instanceof Anthropic.APIConnectionError) return new Error(`Anthropic /v1/messages: ${error.message}`, { cause: error });
  if (error instanceof Anthropic.APIError) {
    const body = error.error as { error?: { type?: string; message?: string } } | undefined;
    const detail = body?.error ? `${body.error.type}: ${body.error.message}` : error.message;
    const message = `Anthropic /v1/messages answered ${error.status}: ${detail}`;
    if (error.status === 429) return new RetryAfterError(message, retryAfterMs(error.headers?.get('retry-after') ?? null));
    if (error.status === undefined || error.status >= 500 || error.status === 408) return new Error(message, { cause: error });
    return new NonRetriableError(message, { cause: error });
  }
  if (error instanceof Anthropic.AnthropicError) return malformed('Anthropic', '/v1/messages', error.message);
  return error as Error;
}

export class ClaudeWorker extends VendorWorker {
  #client: Anthropic | undefined;

  constructor() {
    super({
      id: 'claude',
      vendor: 'Claude',
      keyEnv: 'ANTHROPIC_API_KEY',
      keyName: 'anthropicApiKey',
      urlName: 'anthropicApiUrl',
      defaultUrl: 'https://api.anthropic.com',
    });
  }

  protected async executeReal(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const prompt = promptFor(config, input);
    // The documented headers (x-api-key, anthropic-version: 2023-06-01) are set explicitly: SDK 1.14
    // would send `Authorization: Bearer` and its own newer version date instead. Retries are the
    // engine's (per the definition's policy), so the SDK's own are off.
    this.#client ??= new Anthropic({
      apiKey: null,
      authToken: null,
      baseURL: this.apiUrl,
      maxRetries: 0,
      defaultHeaders: { 'x-api-key': this.apiKey!, 'anthropic-version': ANTHROPIC_VERSION },
    });
    let message: Anthropic.Message;
    try {
      const stream = this.#client.messages.stream(
        {
          model: String(config.model),
          max_tokens: numberFrom(config.maxTokens, 1024),
          ...(config.system ? { system: String(config.system) } : {}),
          ...(config.temperature !== undefined && config.temperature !== '' ? { temperature: numberFrom(config.temperature, 1) } : {}),
          messages: [{ role: 'user', content: prompt }],
        },
        { timeout: numberFrom(config.requestTimeoutSeconds, 120) * 1000 },
      );
      stream.on('text', (delta) => streamOutput(runId, nodeId, delta));
      message = await stream.finalMessage();
    } catch (error) {
      throw classify(error);
    }
    if (!Array.isArray(message?.content) || typeof message.usage?.output_tokens !== 'number') {
      throw malformed('Anthropic', '/v1/messages', 'no content array or usage');
    }
    const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    await this.#report(runId, nodeId, input, {
      text,
      model: message.model,
      stopReason: message.stop_reason,
      usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens },
    }, false);
  }

  protected async executeMock(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const prompt = promptFor(config, input);
    const text = mockCompletion(prompt, input, numberFrom(config.mockScenes, 3));
    await streamAtPace(runId, nodeId, text, numberFrom(config.mockStreamSeconds, 1));
    await this.#report(runId, nodeId, input, {
      text,
      model: `${config.model} (mock)`,
      stopReason: 'end_turn',
      usage: { inputTokens: Math.ceil(prompt.length / 4), outputTokens: Math.ceil(text.length / 4) },
    }, true);
  }

  async #report(runId: string, nodeId: string, input: Record<string, unknown>, result: ClaudeResult, mock: boolean): Promise<void> {
    // What Anthropic bills: the response's usage.input_tokens and usage.output_tokens (a mock estimates ~4 characters a token).
    await reportUsage(runId, nodeId, [
      { unit: 'input_tokens', quantity: result.usage.inputTokens, mock },
      { unit: 'output_tokens', quantity: result.usage.outputTokens, mock },
    ]);
    await updateNodeState(runId, nodeId, { status: 'running', metadata: { usage: result.usage, model: result.model, stopReason: result.stopReason } });
    await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, text: result.text, usage: result.usage } });
  }
}

/** A mock answer streamed as a model would write it: a few words at a time, over `seconds` in all. */
async function streamAtPace(runId: string, nodeId: string, text: string, seconds: number): Promise<void> {
  const words = text.match(/\s*\S+/g) ?? [];
  const perTick = 3;
  const ticks = Math.ceil(words.length / perTick);
  const delayMs = ticks > 0 ? (Math.max(0, seconds) * 1000) / ticks : 0;
  for (let i = 0; i < words.length; i += perTick) {
    streamOutput(runId, nodeId, words.slice(i, i + perTick).join(''));
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

/**
 * A believable answer without the API: a JSON video script when the prompt asks for scenes (the
 * shape scene-parser reads), otherwise a short paragraph about the prompt.
 */
export function mockCompletion(prompt: string, input: Record<string, unknown>, sceneCount: number): string {
  const topic = stringField(input, ['topic', 'subject', 'title']) ?? prompt.replace(/\s+/g, ' ').slice(0, 60);
  if (!/scene/i.test(prompt)) {
    return `Here is a short take on ${topic}: it is a subject with more depth than it first appears, and a few concrete examples make it easy to grasp.`;
  }
  const beats = ['An establishing wide shot', 'A close-up detail', 'A moment of movement', 'A surprising angle', 'A closing panorama'];
  const scenes = Array.from({ length: Math.max(1, Math.min(10, sceneCount)) }, (_, i) => ({
    visual_prompt: `${beats[i % beats.length]} of ${topic}, cinematic lighting, photorealistic, 4k`,
    voice_text: i === 0 ? `Let's explore ${topic}.` : `Scene ${i + 1}: one more thing worth knowing about ${topic}.`,
    duration: 6,
  }));
  return '```json\n' + JSON.stringify({ title: `All about ${topic}`, scenes }, null, 2) + '\n```';
}
