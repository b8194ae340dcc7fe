import { expect, it } from 'vitest';
import { createCallbackToken, verifyCallbackToken } from '@/lib/host/callback-tokens';

it('outside a Stitch process, signs with STITCH_SECRET so the server accepts the token', () => {
  process.env.STITCH_SECRET = 'shared-secret-for-this-test';
  const token = createCallbackToken('run-1', 'node-1', 2, 60);
  expect(verifyCallbackToken(token, 'run-1', 'node-1')).toEqual({ valid: true, attempt: 2 });
  expect(verifyCallbackToken(token, 'run-1', 'node-2')).toEqual({ valid: false, reason: 'bad_signature' });
  expect(verifyCallbackToken(createCallbackToken('run-1', 'node-1', 2, -10), 'run-1', 'node-1')).toEqual({ valid: false, reason: 'expired' });
});
