/**
 * `stitch fake-vendor <module>`: serve a fake vendor API on loopback — the same routes a worker's
 * test hands `startFakeVendor` — so a whole flow can run in real mode against it, in the canvas or
 * with `stitch run`. The module's default export is the routes object
 * (`{'POST /v1/jobs': {status: 202, json: …}, 'GET /v1/jobs/1': (request) => ({json: …})}`).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { startFakeVendor, type FakeRoute } from '@/lib/workers/testing';
import { stopOnSignals } from '../shutdown';

export function registerFakeVendorCommand(program: Command): void {
  program
    .command('fake-vendor')
    .argument('<module>', 'a .ts/.js module whose default export is the routes object (as for startFakeVendor)')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', (v) => Number(v))
    .description('Serve a fake vendor API on loopback, to run flows in real mode against it')
    .action(async (module: string, options: { port?: number }) => {
      const loaded = (await import(pathToFileURL(path.resolve(module)).href)) as { default?: Record<string, FakeRoute> };
      const routes = loaded.default;
      if (!routes || typeof routes !== 'object') throw new Error(`${module} must export default the routes object, e.g. export default { 'POST /v1/jobs': { status: 202, json: { jobId: '1' } } }`);
      const vendor = await startFakeVendor(routes, { port: options.port });
      stopOnSignals([vendor.close]);
      console.log(`Fake vendor at ${vendor.url} (${Object.keys(routes).join(', ')}). Press Ctrl+C to stop.`);
      let shown = 0;
      setInterval(() => {
        for (const r of vendor.requests.slice(shown)) console.log(`  ${r.method} ${r.path} ${typeof r.body === 'string' ? r.body.slice(0, 200) : JSON.stringify(r.body).slice(0, 200)}`);
        shown = vendor.requests.length;
      }, 250);
    });
}
