/**
 * ElevenLabs text-to-speech. Pseudo-async: `POST /v1/text-to-speech/{voice_id}?output_format=…`
 * with `xi-api-key`, body {text, model_id, voice_settings?}; the answer is the audio itself, which
 * is streamed straight into Stitch storage (`src/lib/storage`) — the URL in `audioUrl` is the one
 * the same storage serves, so it resolves. Duration comes from the byte count and the format's
 * bitrate. Errors are JSON `{detail: {status, message}}`.
 * Sources: elevenlabs.io/docs/api-reference/text-to-speech/convert, help.elevenlabs.io (error codes).
 */
import { Readable } from 'node:stream';
import type { NodeConfig } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { put } from '@/lib/storage';
import { speechWav } from './mock-media';
import { reportUsage, triggerCallback } from './utils';
import { malformed, vendorFetch } from './vendor-http';
import { VendorWorker, keySegment, numberFrom, stringField } from './vendor-worker';

/** `mp3_44100_128` → audio/mpeg at 128 kbit/s; `pcm_16000` → 16-bit mono at 16 kHz; … */
export function audioFormat(outputFormat: string): { contentType: string; ext: string; bytesPerSecond?: number } {
  const [codec, rate, kbps] = outputFormat.split('_');
  if (codec === 'mp3') return { contentType: 'audio/mpeg', ext: 'mp3', bytesPerSecond: (Number(kbps) * 1000) / 8 };
  if (codec === 'pcm') return { contentType: 'audio/L16', ext: 'pcm', bytesPerSecond: Number(rate) * 2 };
  if (codec === 'ulaw' || codec === 'alaw') return { contentType: 'audio/basic', ext: codec, bytesPerSecond: Number(rate) };
  if (codec === 'opus') return { contentType: 'audio/ogg', ext: 'opus', bytesPerSecond: (Number(kbps) * 1000) / 8 };
  return { contentType: 'application/octet-stream', ext: 'bin' };
}

const describeError = (body: unknown) => {
  const detail = (body as { detail?: unknown })?.detail;
  if (detail && typeof detail === 'object' && !Array.isArray(detail)) {
    const d = detail as { status?: string; message?: string };
    return `${d.status}: ${d.message}`;
  }
  return detail === undefined ? undefined : JSON.stringify(detail);
};

const round1 = (n: number) => Math.round(n * 10) / 10;

export class ElevenLabsWorker extends VendorWorker {
  constructor() {
    super({ id: 'elevenlabs', vendor: 'ElevenLabs', keyEnv: 'ELEVENLABS_API_KEY', keyName: 'elevenlabsApiKey', urlName: 'elevenlabsApiUrl', defaultUrl: 'https://api.elevenlabs.io' });
  }

  protected async executeReal(runId: string, nodeId: string, config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const text = stringField(input, ['voice_text', 'voiceText', 'text']);
    if (!text) throw new NonRetriableError('Missing required field: voice_text');
    const voiceId = String(config.voiceId);
    const outputFormat = String(config.outputFormat);
    const response = await vendorFetch({
      vendor: 'ElevenLabs',
      url: `${this.apiUrl}/v1/text-to-speech/${encodeURIComponent(voiceId)}?output_format=${encodeURIComponent(outputFormat)}`,
      headers: { 'xi-api-key': this.apiKey!, Accept: 'audio/*' },
      json: { text, model_id: config.modelId, ...(config.voiceSettings ? { voice_settings: config.voiceSettings } : {}) },
      timeoutMs: numberFrom(config.requestTimeoutSeconds, 120) * 1000,
      describeError,
    });
    const type = response.headers.get('content-type') ?? '';
    if (!response.body || !/^(audio\/|application\/octet-stream)/.test(type)) {
      throw malformed('ElevenLabs', '/v1/text-to-speech', `expected audio, got "${type || 'no content type'}"`);
    }
    const format = audioFormat(outputFormat);
    let bytes = 0;
    const source = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    // Count while streaming (a generator, so a broken download fails the upload too).
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of source) {
          bytes += (chunk as Uint8Array).length;
          yield chunk as Uint8Array;
        }
      })(),
    );
    const audioUrl = await put(`audio/${runId}/${keySegment(nodeId)}.${format.ext}`, counted, format.contentType);
    if (bytes === 0) throw malformed('ElevenLabs', '/v1/text-to-speech', 'empty audio');
    // ElevenLabs bills characters; the response's `character-cost` header is the billed count (else the text's length).
    const billed = Number(response.headers.get('character-cost'));
    await reportUsage(runId, nodeId, [{ unit: 'characters', quantity: Number.isFinite(billed) && billed >= 0 && response.headers.has('character-cost') ? billed : text.length }]);
    await triggerCallback(runId, nodeId, {
      status: 'completed',
      output: { ...input, audioUrl, audioDuration: format.bytesPerSecond ? round1(bytes / format.bytesPerSecond) : undefined, audioFormat: outputFormat },
    });
  }

  protected async executeMock(runId: string, nodeId: string, _config: NodeConfig, input: Record<string, unknown>): Promise<void> {
    const text = stringField(input, ['voice_text', 'voiceText', 'text']);
    if (!text) throw new NonRetriableError('Missing required field: voice_text');
    const wav = speechWav(text);
    const audioUrl = await put(`audio/${runId}/${keySegment(nodeId)}.wav`, wav.bytes, 'audio/wav');
    await reportUsage(runId, nodeId, [{ unit: 'characters', quantity: text.length, mock: true }]);
    await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, audioUrl, audioDuration: wav.seconds, audioFormat: 'wav_16000', mock: true } });
  }
}
