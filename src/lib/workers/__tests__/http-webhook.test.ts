/**
 * http-webhook: the external-worker protocol end to end (signed POST, completion through the
 * callback URL) and SSRF refusals — literal private addresses, IPv6 loopback, mapped addresses,
 * and DNS names resolving to private addresses — unless STITCH_WEBHOOK_ALLOW_PRIVATE=1.
 */
import { timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { runWorker } from '@/lib/workers/testing';
import { HttpWebhookWorker, getWebhookSigningSecret, signWebhook } from '@/lib/workers/http-webhook';
import { blockedReason } from '@/lib/workers/address-policy';
import { graph, waitForRun } from '../../../../test/helpers';
import { startTestServer, type TestServer } from '../../../../test/server/http';
import { setEnv, tempDataDir } from '../../../../test/vendors/env';
import { postJson, sendJson, startVendorServer, type VendorServer } from '../../../../test/vendors/server';

describe('SSRF guard', () => {
  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.0.0.7', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '64:ff9b::a9fe:a9fe'.replace('a9fe:a9fe', '169.254.169.254'), '224.0.0.1']) {
      expect(blockedReason(a), a).toBeDefined();
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) expect(blockedReason(a), a).toBeUndefined();
  });

  it('classifies IPv6 forms that carry an IPv4 address by that address, offline (issue 10 C.17)', () => {
    const refused = [
      '64:ff9b::a9fe:a9fe', // NAT64, hex form of 169.254.169.254
      '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
      '64:ff9b:1::a9fe:a9fe', // local-use NAT64 (64:ff9b:1::/48)
      '64:ff9b:1::808:808',
      '::a9fe:a9fe', // IPv4-compatible (::/96)
      '::7f00:1',
      '::ffff:0:a9fe:a9fe', // IPv4-translated (::ffff:0:0:0/96)
      '::ffff:a9fe:a9fe', // IPv4-mapped, hex
      '2002:a9fe:a9fe::1', // 6to4 of 169.254.169.254
      '2002:7f00:1::', // 6to4 of 127.0.0.1
      '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo whose client is 127.0.0.1 (obfuscated)
      '2001:0:a00:1::1', // Teredo whose server is 10.0.0.1
      'fec0::1', // site-local (deprecated)
      '100::1', // discard-only
      '2001:db8::1', // documentation
    ];
    for (const a of refused) expect(blockedReason(a), a).toBeDefined();
    const allowed = ['64:ff9b::808:808', '2002:808:808::1', '::ffff:8.8.8.8', '2a00:1450:4001:81b::200e'];
    for (const a of allowed) expect(blockedReason(a), a).toBeUndefined();
    expect(blockedReason('64:ff9b::a9fe:a9fe')).toMatch(/carries 169\.254\.169\.254: .*link-local/);
  });

  const refused = ['http://127.0.0.1:9/hook', 'http://10.1.2.3/hook', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]:9/hook', 'http://[::ffff:127.0.0.1]:9/', 'http://2130706433:9/', 'http://localhost:9/hook'];
  for (const url of refused) {
    it(`refuses ${url}`, async () => {
      const run = await runWorker(HttpWebhookWorker, {
        definition: 'http-webhook',
        input: { a: 1 },
        config: { webhookUrl: url },
        env: { STITCH_WEBHOOK_ALLOW_PRIVATE: '0', STITCH_WEBHOOK_SIGNING_SECRET: 'whsec-test' },
      });
      expect(run.status).toBe('failed');
      expect(run.retriable).toBe(false);
      expect(run.error).toMatch(/Refused to call .*(private|loopback|link-local|reserved)/);
    });
  }

  it('refuses non-http schemes and URLs with credentials', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'https://user:pw@example.com/x']) {
      const run = await runWorker(HttpWebhookWorker, { definition: 'http-webhook', config: { webhookUrl: url }, env: { STITCH_WEBHOOK_SIGNING_SECRET: 'x' } });
      expect(run.status).toBe('failed');
      expect(run.retriable).toBe(false);
    }
  });
});

describe('external-worker protocol (loopback allowed with STITCH_WEBHOOK_ALLOW_PRIVATE=1)', () => {
  let server: TestServer;
  let receiver: VendorServer;
  let restore: () => void;
  let answer: 'callback' | '500' = 'callback';

  beforeAll(async () => {
    const env = { STITCH_WEBHOOK_ALLOW_PRIVATE: '1', STITCH_DATA_DIR: tempDataDir(), STITCH_WEBHOOK_SIGNING_SECRET: '' };
    restore = setEnv(env);
    server = await startTestServer({ env });
    setEnv({ STITCH_BASE_URL: server.url });
    receiver = await startVendorServer(async (req, res) => {
      if (answer === '500') return sendJson(res, 500, { error: 'busy' });
      sendJson(res, 202, { accepted: true });
      // The external service does its work, then completes the node through the callback URL.
      setTimeout(() => void postJson(req.body.callbackUrl, { status: 'completed', output: { shouted: String(req.body.input.word).toUpperCase() } }), 50);
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await server?.close();
    restore?.();
  });

  it('POSTs {runId, nodeId, input, callbackUrl}, signed, without config secrets; the callback completes the node', async () => {
    const flow = await createFlow('hook', graph([{ id: 'h', workerType: 'http-webhook', config: { webhookUrl: `${receiver.url}/work`, apiKey: 'do-not-send-me', token: 'nor-me' } }], []));
    const { runId } = await startRun(flow.id, { input: { word: 'otter' } });
    const r = await waitForRun(runId);
    expect(r.status).toBe('completed');
    expect(r.nodes.h.output).toEqual({ word: 'otter', shouted: 'OTTER' });

    const req = receiver.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/work');
    expect(Object.keys(req.body).sort()).toEqual(['callbackUrl', 'input', 'nodeId', 'runId']);
    expect(req.body).toMatchObject({ runId, nodeId: 'h', input: { word: 'otter' } });
    expect(req.body.callbackUrl).toMatch(new RegExp(`^${server.url}/api/stitch/callback/${runId}/h\\?token=`));
    expect(JSON.stringify(req)).not.toMatch(/do-not-send-me|nor-me/);
    // The signature verifies with the shared secret (generated once, kept in the database).
    const expected = Buffer.from(signWebhook(await getWebhookSigningSecret(), req.headers['x-stitch-timestamp'], JSON.stringify(req.body)));
    const given = Buffer.from(req.headers['x-stitch-signature']);
    expect(given.length === expected.length && timingSafeEqual(given, expected)).toBe(true);
    expect(Math.abs(Number(req.headers['x-stitch-timestamp']) - Date.now() / 1000)).toBeLessThan(600);
  });

  it('a 5xx from the service fails the attempt (retried per policy)', async () => {
    answer = '500';
    try {
      const flow = await createFlow('hook500', graph([{ id: 'h', workerType: 'http-webhook', retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 10 }, config: { webhookUrl: `${receiver.url}/work` } }], []));
      const { runId } = await startRun(flow.id, { input: { word: 'x' } });
      const r = await waitForRun(runId);
      expect(r.status).toBe('failed');
      expect(r.nodes.h.attempt).toBe(2);
      expect(r.error).toMatch(/answered 500/);
    } finally {
      answer = 'callback';
    }
  });
});
