/**
 * Child process for the streaming test (and `npx tsx src/lib/storage/__tests__/rss-upload.ts` by
 * hand): uploads UPLOAD_MB megabytes, generated lazily in 64 KB chunks, through the configured
 * storage, sampling RSS every 10 ms. Prints one JSON line: bytes stored, baseline, peak, growth (MB).
 */
import { Readable } from 'node:stream';
import { makeStorage } from '../index';

const total = Number(process.env.UPLOAD_MB ?? 100) * 1024 * 1024;
const CHUNK = 64 * 1024;

/** One reused chunk: the measurement is of the storage path, not of the generator's garbage. */
const PATTERN = Buffer.alloc(CHUNK, 0x5a);

function source(): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(CHUNK, total - sent);
      sent += n;
      this.push(n === CHUNK ? PATTERN : PATTERN.subarray(0, n));
    },
  });
}

async function main() {
  const storage = await makeStorage();
  // Warm up the code paths (SDK, fs) so the baseline includes them, not the upload.
  await storage.put('rss/warmup.bin', Buffer.alloc(1024), 'application/octet-stream');
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  await storage.put('rss/big.bin', source(), 'application/octet-stream');
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  let bytes = 0;
  for await (const chunk of await storage.get('rss/big.bin')) bytes += (chunk as Buffer).length;
  const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
  console.log(JSON.stringify({ bytes, baselineMb: mb(baseline), peakMb: mb(peak), rssGrowthMb: mb(peak - baseline) }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
