/**
 * A bulk job's progress as Server-Sent Events: the job (counters and state) once at the start and
 * again each time a batch commits, ending after the snapshot that shows it completed. Each batch
 * sends `NOTIFY stitch_bulk <job id>` (queries/bulk-jobs.ts), carried by the event hub's one LISTEN
 * connection; the job row is re-read then — and every few seconds anyway, so a NOTIFY lost to a
 * reconnect costs at most that delay.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { getPool } from '@/lib/db/pool';
import { getBulkJob } from '@/lib/db/queries/bulk-jobs';
import { getLogger } from '@/lib/log';
import { getEventHub } from './event-hub';
import { Wakeup } from './wakeup';

const RECHECK_MS = 3000;
/** A comment line after this many quiet rechecks keeps proxies from closing a slow job's stream. */
const KEEPALIVE_EVERY = 5;

export function streamBulkJob(c: Context, jobId: string): Response {
  c.header('X-Accel-Buffering', 'no');
  return streamSSE(
    c,
    async (stream) => {
      const wakeup = new Wakeup();
      const stop = await getEventHub().listen('stitch_bulk', {
        onNotify: (payload) => payload === jobId && wakeup.notify(),
        onReconnect: wakeup.notify,
        onClose: wakeup.close,
      });
      stream.onAbort(wakeup.close);
      try {
        let last = '';
        let quiet = 0;
        while (!wakeup.closed) {
          const job = await getBulkJob(getPool(), jobId);
          if (!job) break;
          const data = JSON.stringify(job);
          if (data !== last) {
            await stream.writeSSE({ id: String(job.done), data });
            quiet = 0;
          } else if (++quiet % KEEPALIVE_EVERY === 0) {
            await stream.write(': keep-alive\n\n');
          }
          last = data;
          if (job.state !== 'running') break;
          await wakeup.sleep(RECHECK_MS);
        }
      } finally {
        stop();
      }
    },
    async (error) => {
      getLogger().warn({ error: error.message, jobId }, 'bulk progress stream ended by an error');
    },
  );
}
