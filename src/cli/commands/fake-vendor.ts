/**
 * `stitch fake-vendor <module>`: serve a fake vendor API on loopback — the same routes a worker's
 * test hands `startFakeVendor` — so a whole flow can run in real mode against it, in the canvas or
 * with `stitch run`. The module's default export is the routes object
 * (`{'POST /v1/jobs': {status: 202, json: …}, 'GET /v1/jobs/:id': (request) => ({json: …})}`).
 *
 * A stand-in is written quickly and fails in ordinary ways (a callback to a URL where nothing
 * listens, a handler that throws): every failure is printed and the vendor keeps serving, rejected
 * promises and exceptions in timers included — this process runs nothing else.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { coerceError } from '@/lib/errors';
import { startFakeVendor, type FakeRoute } from '@/lib/workers/testing';
import { stopOnSignals } from '../shutdown';

/** `TypeError: fetch failed (connect ECONNREFUSED 127.0.0.1:3000)`: the cause says what happened. */
export function describeFailure(error: unknown): string {
  const e = coerceError(error);
  const cause = (e as { cause?: unknown }).cause;
  const because = cause instanceof Error ? ` (${cause.message})` : '';
  return `${e.name}: ${e.message}${because}`;
}

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
      const report = (what: string) => (error: unknown) => console.error(`  ! ${what}: ${describeFailure(error)} — the fake vendor keeps serving`);
      process.on('unhandledRejection', report('a promise of a route failed'));
      process.on('uncaughtException', report('a route failed'));
      const vendor = await startFakeVendor(routes, {
        port: options.port,
        onRequest: (r) => console.log(`  ${r.method} ${r.path} ${typeof r.body === 'string' ? r.body.slice(0, 200) : JSON.stringify(r.body).slice(0, 200)}`),
        onError: (error, request) => report(`${request.method} ${request.path} failed (answered 500)`)(error),
      });
      stopOnSignals([vendor.close]);
      console.log(`Fake vendor at ${vendor.url} (${Object.keys(routes).join(', ')}). Press Ctrl+C to stop.`);
    });
}
