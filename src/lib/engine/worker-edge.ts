/**
 * The edge where what a worker hands over enters the engine: no vault value gets past it. Whichever
 * way a worker reports, its report goes through `fromWorker` before anything stores or sends it:
 *
 * | report             | in-process worker (engine-host.ts) | HTTP callback (routes/callbacks.ts) | remote worker (routes/tasks.ts) |
 * |--------------------|------------------------------------|-------------------------------------|---------------------------------|
 * | result             | complete → completeAttempt         | completeNode                        | complete → completeNode         |
 * | error              | thrown or reported → failAttempt   | completeNode → failAttempt          | fail → completeNode/failAttempt |
 * | progress, state    | updateNodeState                    |                                     | heartbeat's message             |
 * | usage              | reportUsage                        |                                     | complete's usage                |
 * | delayed callback   | scheduleCallback (its queue job)   |                                     |                                 |
 * | poll() answer      | deadline.ts → applyCallback        | (a pollNow reply runs it now)       |                                 |
 * | streamed output    | stream → live/stream-relay.ts      | POST /api/stitch/stream → relay     | POST /api/stitch/stream → relay |
 *
 * Streamed output is scrubbed where it leaves the process (the relay: per coalesced batch, text
 * merged, so a value split over tokens of one batch is masked; one split across two batches ~50 ms
 * apart is not recognised — docs/credentials.md). It is never stored.
 *
 * Log lines are the logger's: it masks each line as it is written (log.ts), whoever logs. Nothing
 * else scrubs: a store does not know about secrets. What is masked, and how: src/lib/vault/scrub.ts,
 * docs/credentials.md.
 */
import { scrubJson } from '@/lib/vault/scrub';

/** A worker's report (a result, an error message, progress, usage) as it may be stored or sent. */
export function fromWorker<T>(report: T): T {
  return scrubJson(report);
}
