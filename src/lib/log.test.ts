import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redact, redactString, setLogger } from './log';
import { logWorker } from './workers/utils';

describe('redaction', () => {
  it('hides values of sensitive keys at any depth, keeps flags about them', () => {
    expect(redact({ apiKey: 'sk-1', nested: { authorization: 'Bearer x', list: [{ client_secret: 's' }] }, apiKeyPresent: true, ok: 1 })).toEqual({
      apiKey: '[redacted]',
      nested: { authorization: '[redacted]', list: [{ client_secret: '[redacted]' }] },
      apiKeyPresent: true,
      ok: 1,
    });
  });

  it('masks callback tokens and bearer credentials inside strings', () => {
    expect(redactString('POST https://h/api/stitch/callback/r/n?token=1.2.abc&x=1')).toBe('POST https://h/api/stitch/callback/r/n?token=[redacted]&x=1');
    expect(redactString('Authorization: Bearer sk-ant-123')).toBe('Authorization: Bearer [redacted]');
  });

  it('logWorker lines carry no secret from their context or message', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    setLogger(createLogger('info', sink));
    logWorker('info', 'calling https://v/cb?token=1.2.SECRETSIG', { worker: 'w', config: { apiKey: 'sk-live-SECRET' }, headers: { 'x-api-key': 'SECRET2' } });
    const out = lines.join('');
    expect(out).toContain('"worker":"w"');
    expect(out).not.toMatch(/SECRET/);
  });

  it('a logged error keeps its stack (redacted), code and cause (issue 10 B.15)', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    setLogger(createLogger('info', sink));
    function failsHere(): never {
      throw Object.assign(new Error('vendor call https://v/x?token=1.2.SECRETSIG failed', { cause: new Error('socket hang up') }), { code: 'ECONNRESET' });
    }
    try {
      failsHere();
    } catch (error) {
      createLogger('info', sink).error({ error }, 'it failed');
    }
    const line = JSON.parse(lines.at(-1)!);
    expect(line.error.stack).toMatch(/failsHere/);
    expect(line.error.code).toBe('ECONNRESET');
    expect(line.error.cause.message).toBe('socket hang up');
    expect(lines.join('')).not.toMatch(/SECRETSIG/);
  });
});
