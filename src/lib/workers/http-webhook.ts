/**
 * HTTP webhook: the external-worker protocol. Async. POSTs
 *   {runId, nodeId, input, callbackUrl}
 * to `config.webhookUrl`, signed and SSRF-guarded as every outbound call to a user's address is
 * (outbound-http.ts: `X-Stitch-Timestamp`, `X-Stitch-Signature`; public addresses only unless
 * `STITCH_WEBHOOK_ALLOW_PRIVATE=1`). Nothing from the node config is sent. The service answers 2xx
 * at once and later POSTs `{status: "completed"|"failed", output?, error?}` to `callbackUrl`.
 */
import type { NodeConfig } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { NonRetriableError, RetryAfterError, errorMessage } from '@/lib/errors';
import { updateNodeState } from '@/lib/db/runs';
import type { IWorker } from './base';
import { checkTarget, postJson, signatureHeaders } from './outbound-http';
import { buildCallbackUrl, extractErrorContext, logWorker } from './utils';
import { retryAfterMs } from './vendor-http';
import { numberFrom } from './vendor-worker';

export { getWebhookSigningSecret, signWebhook } from './outbound-http';

export class HttpWebhookWorker implements IWorker {
  async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown): Promise<void> {
    const { webhookAllowPrivate } = getConfig();
    const context = { worker: 'http-webhook', runId, nodeId };
    logWorker('info', 'HTTP webhook execution started', context);
    const url = checkTarget(config.webhookUrl, webhookAllowPrivate, 'config.webhookUrl');
    // Store the input first: a fast service may call back before the POST below has returned.
    await updateNodeState(runId, nodeId, { status: 'running', output: input, metadata: { message: `POST ${url.host}` } });
    const body = JSON.stringify({ runId, nodeId, input, callbackUrl: buildCallbackUrl(runId, nodeId) });
    const headers = { ...(await signatureHeaders(body)), 'User-Agent': 'Stitch-Webhook/1' };
    let answer;
    try {
      answer = await postJson(url, body, headers, numberFrom(config.requestTimeoutSeconds, 30) * 1000, webhookAllowPrivate);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      logWorker('error', 'HTTP webhook failed', { ...context, error: errorMessage(error), ...extractErrorContext(error) });
      if (e.code === 'ESSRF') throw new NonRetriableError(`Refused to call ${url.host}: ${e.message} (set STITCH_WEBHOOK_ALLOW_PRIVATE=1 to allow)`);
      throw new Error(`Webhook ${url.host} could not be reached: ${e.message}`, { cause: error });
    }
    const message = `Webhook ${url.host}${url.pathname} answered ${answer.status}${answer.text ? `: ${answer.text.slice(0, 300)}` : ''}`;
    if (answer.status >= 200 && answer.status < 300) {
      logWorker('info', 'HTTP webhook accepted; waiting for its callback', { ...context, status: answer.status });
      return;
    }
    logWorker('error', 'HTTP webhook refused', { ...context, status: answer.status });
    if (answer.status === 429) throw new RetryAfterError(message, retryAfterMs(String(answer.headers['retry-after'] ?? '') || null));
    if (answer.status >= 500 || answer.status === 408) throw new Error(message);
    throw new NonRetriableError(message);
  }
}
