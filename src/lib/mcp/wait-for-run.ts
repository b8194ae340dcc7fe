/**
 * Wait for a run to end, woken by its events (LISTEN/NOTIFY through the caller's `watchRun`), never
 * by a timer loop: each wake-up reads the run once, reports progress (top-level nodes settled of
 * all top-level nodes; it only ever grows) and returns when the run is final, when `waitMs` has
 * passed, or when the caller gives up (`signal`).
 */
import type { RunStatus, StitchEvent } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { readRunOutcome } from '@/lib/db/queries/run-outcome';
import { getExecutionGraph } from '@/lib/engine/graph-cache';
import { topLevelNodes } from '@/lib/engine/scopes';

/** Subscribe to one run's events; resolves to the unsubscribe once the subscription is live. */
export type WatchRun = (runId: string, onEvents: (events: StitchEvent[]) => void) => Promise<() => void>;

export interface RunOutcome {
  status: RunStatus;
  output?: unknown;
  error?: string | null;
}

const FINAL: RunStatus[] = ['completed', 'failed', 'cancelled'];

export async function waitForRun(
  runId: string,
  versionId: string,
  options: {
    watchRun: WatchRun;
    waitMs: number;
    signal?: AbortSignal;
    onProgress?: (progress: number, total: number, message: string) => Promise<void>;
  },
): Promise<RunOutcome> {
  const total = topLevelNodes(await getExecutionGraph(versionId)).length;
  let woken = false;
  let wake: () => void = () => (woken = true);
  // Subscribed before the first read, so no event between the read and the wait is missed.
  const unsubscribe = await options.watchRun(runId, () => wake());
  const deadline = Date.now() + options.waitMs;
  let reported = 0;
  try {
    for (;;) {
      woken = false;
      const run = await readRunOutcome(getPool(), runId);
      if (options.onProgress && run.settled > reported) {
        reported = run.settled;
        await options.onProgress(reported, total, `${reported} of ${total} steps done`);
      }
      if (FINAL.includes(run.status)) return { status: run.status, output: run.output, error: run.error };
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted) return { status: run.status };
      if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, remaining);
          options.signal?.addEventListener('abort', done, { once: true });
          wake = done;
          function done() {
            clearTimeout(timer);
            options.signal?.removeEventListener('abort', done);
            wake = () => (woken = true);
            resolve();
          }
        });
      }
    }
  } finally {
    unsubscribe();
  }
}
