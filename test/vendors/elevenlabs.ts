/**
 * Fake ElevenLabs TTS (elevenlabs.io/docs/api-reference/text-to-speech/convert):
 * POST /v1/text-to-speech/{voice_id}?output_format=… with `xi-api-key` → audio bytes; errors as
 * `{detail: {status, message}}` (help.elevenlabs.io, "API Error Code 400 or 401").
 */
import { sendJson, startVendorServer, type Failure, type VendorServer } from './server';

export const ELEVENLABS_KEY = 'xi-test-key';
/** 2 s of "mp3" at 128 kbit/s. */
export const FAKE_AUDIO = Buffer.alloc(32_000, 0xff);

export interface FakeElevenLabs extends VendorServer {
  failure: Failure;
  /** The `character-cost` header sent (default: the text's length). */
  characterCost?: number;
}

export async function startFakeElevenLabs(): Promise<FakeElevenLabs> {
  const fake = { failure: 'none' } as FakeElevenLabs;
  const base = await startVendorServer((req, res) => {
    const match = /^\/v1\/text-to-speech\/([^/]+)$/.exec(req.path);
    if (req.method !== 'POST' || !match) return sendJson(res, 404, { detail: { status: 'not_found', message: 'Not found' } });
    if (req.headers['xi-api-key'] !== ELEVENLABS_KEY) return sendJson(res, 401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
    switch (fake.failure) {
      case 'timeout':
        return;
      case '4xx':
        return sendJson(res, 400, { detail: { status: 'voice_not_found', message: 'A voice with the voice_id was not found.' } });
      case '5xx':
        return sendJson(res, 503, { detail: { status: 'service_unavailable', message: 'try later' } });
      case 'malformed':
        return sendJson(res, 200, { audio: 'not really' });
    }
    // ElevenLabs answers with the characters it billed in `character-cost` (credits: half a character on turbo/flash models).
    const text = String((req.body as { text?: unknown })?.text ?? '');
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'character-cost': String(fake.characterCost ?? text.length), 'request-id': 'fake-request' }).end(FAKE_AUDIO);
  });
  return Object.assign(fake, base);
}
