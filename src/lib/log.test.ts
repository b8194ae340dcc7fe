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
});
