/**
 * A second Stitch process for multi-process tests: a queue runner only (no HTTP server) on the
 * DATABASE_URL it is given. Prints "ready" once started; stops cleanly on SIGTERM.
 *   DATABASE_URL=… STITCH_SECRET=… npx tsx test/vendors/runner-process.ts
 */
import { startStitch } from '@/lib/stitch';

const stitch = await startStitch({ pollIntervalMs: 200 });
console.log('ready');
process.once('SIGTERM', () => {
  void stitch.stop().then(() => process.exit(0));
});
