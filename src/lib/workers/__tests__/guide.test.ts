/**
 * docs/guides/adding-workers.md cannot rot: every TypeScript block is type-checked in a scratch copy of
 * the project, the guide's tests run there with vitest, its workers run in a flow, and its flow files
 * run with `stitch run` — the complete Weather example included.
 *
 * Marker convention: the HTML comment right before a fenced block says how to check it.
 *   <!-- check: file PATH -->          the block is the whole file at PATH (a new file)
 *   <!-- check: append PATH -->        the block is appended to PATH (registrations in index.ts)
 *   <!-- check: definitions -->        the block is WORKER_DEFINITIONS entries, added to registry.ts
 *   <!-- check: snippet -->            a fragment: compiled as the body of
 *                                      `async (runId: string, nodeId: string, config: NodeConfig, input: any) => …`
 *                                      in src/lib/workers/ with the SDK imported (SNIPPET_PRELUDE below) —
 *                                      or, when it starts with import lines, with those imports instead
 * `file` and `definitions` may end with `(= stitch worker new NAME [--async|--pseudo-async])`: the block
 * must then equal what the scaffold generates. Every ```typescript block needs a marker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { adminUrl, createTestDatabase } from '../../../../test/db';
import { createScratchProject, runChainFlow, runIn, type ScratchProject, SCRATCH_CHECK_TIMEOUT_MS } from '../../../../test/scratch-project';
import { addDefinition, renderWorkerFiles, type WorkerKind } from '../../../cli/commands/worker-new';
import { freePort } from '@/lib/db/embedded';
import { spawnIn } from '../../../../test/server/processes';

const GUIDE = 'docs/guides/adding-workers.md';

const SNIPPET_PRELUDE = `import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IWorker, PollResult } from './base';
import type { NodeConfig, WorkerCallback, WorkerDefinition } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { NonRetriableError, RetryAfterError } from '@/lib/errors';
import { updateNodeState } from '@/lib/db/runs';
import { put } from '@/lib/storage';
import { buildCallbackUrl, triggerCallback, scheduleCallback, logWorker, extractErrorContext } from './utils';
import { workerRegistry, isValidWorkerType, checkRegistry, WORKER_DEFINITIONS } from './index';
`;

interface Block {
  lang: string;
  code: string;
  line: number;
  check?: { how: 'file' | 'append' | 'definitions' | 'snippet'; path?: string; scaffold?: { name: string; kind: WorkerKind } };
}

function guideBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/(?:<!--\s*check:\s*(.*?)\s*-->\n)?```(\w*)\n([\s\S]*?)^```$/gm)) {
    const block: Block = { lang: m[2], code: m[3], line: markdown.slice(0, m.index).split('\n').length };
    if (m[1] !== undefined) {
      const marker = /^(file|append|definitions|snippet)(?: ([^\s(]+))?(?: \(= stitch worker new ([a-z0-9-]+)(?: --(async|pseudo-async))?\))?$/.exec(m[1]);
      if (!marker) throw new Error(`${GUIDE}:${block.line}: unknown check marker "${m[1]}"`);
      block.check = { how: marker[1] as NonNullable<Block['check']>['how'], path: marker[2] };
      if (marker[3]) block.check.scaffold = { name: marker[3], kind: (marker[4] as WorkerKind) ?? 'sync' };
    }
    blocks.push(block);
  }
  return blocks;
}

const blocks = guideBlocks(readFileSync(GUIDE, 'utf8'));
const checked = (how: string) => blocks.filter((b) => b.check?.how === how);

describe('the guide', () => {
  it('marks every TypeScript block with how it is checked', () => {
    expect(blocks.filter((b) => b.lang === 'ts')).toEqual([]); // write ```typescript
    expect(blocks.filter((b) => b.lang === 'typescript' && !b.check).map((b) => `${GUIDE}:${b.line}`)).toEqual([]);
    expect(checked('file').length).toBeGreaterThan(0);
    expect(checked('snippet').length).toBeGreaterThan(10);
  });

  it('shows exactly what `stitch worker new` generates where it says so', () => {
    const scaffolded = blocks.filter((b) => b.check?.scaffold);
    expect(scaffolded.length).toBeGreaterThanOrEqual(6);
    for (const b of scaffolded) {
      const files = renderWorkerFiles(b.check!.scaffold!.name, b.check!.scaffold!.kind);
      const expected = b.check!.how === 'definitions' ? files.definition : b.check!.path!.includes('__tests__/') ? files.test : files.worker;
      expect(b.code.trimEnd(), `${GUIDE}:${b.line}`).toBe(expected.trimEnd());
    }
  });
});

describe('in a scratch copy of the project', () => {
  let scratch: ScratchProject;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const testFiles = checked('file').map((b) => b.check!.path!).filter((p) => p.endsWith('.test.ts'));

  beforeAll(async () => {
    db = await createTestDatabase();
    scratch = createScratchProject({ paths: ['src', 'package.json', 'vitest.config.ts', 'test/global-setup.ts', 'web/dist'] });
    for (const b of checked('file')) {
      expect(() => scratch.read(b.check!.path!), `${GUIDE}:${b.line} must create a new file`).toThrow();
      scratch.write(b.check!.path!, b.code);
    }
    const registry = 'src/lib/workers/registry.ts';
    for (const b of checked('definitions')) {
      const key = /^\s*'?([\w-]+)'?\s*:\s*\{/.exec(b.code)?.[1];
      if (!key) throw new Error(`${GUIDE}:${b.line}: a definitions block starts with "key: {"`);
      scratch.write(registry, addDefinition(scratch.read(registry), key, b.code));
    }
    for (const b of checked('append')) scratch.append(b.check!.path!, `\n${b.code}`);
    checked('snippet').forEach((b, i) => {
      const imports = /^(?:import [^\n]+\n)+/.exec(b.code)?.[0];
      const prelude = imports ? `import type { NodeConfig } from '@/types/stitch';\n${imports}` : SNIPPET_PRELUDE;
      scratch.write(
        `src/lib/workers/guide-snippet-${i + 1}.ts`,
        `${prelude}\n// ${GUIDE}:${b.line}\nexport async function guideSnippet(runId: string, nodeId: string, config: NodeConfig, input: any): Promise<void> {\n${b.code.slice(imports?.length ?? 0)}}\n`,
      );
    });
  });
  afterAll(async () => {
    scratch?.remove();
    await db?.drop();
  });

  it('type-checks every block in place', () => {
    scratch.typecheck();
  }, SCRATCH_CHECK_TIMEOUT_MS);

  it("the guide's tests pass (vitest)", async () => {
    expect(testFiles).toEqual(expect.arrayContaining(['src/lib/workers/__tests__/weather.test.ts']));
    const out = runIn(scratch.dir, process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...testFiles], { DATABASE_URL: await adminUrl(), NO_COLOR: '1' });
    expect(out).toMatch(new RegExp(`Test Files\\s+${testFiles.length} passed`));
  }, SCRATCH_CHECK_TIMEOUT_MS);

  it("runs the guide's workers in one flow, in mock mode", () => {
    const run = runChainFlow(scratch, {
      databaseUrl: db.url,
      workers: [['hello', 'hello'], ['mine', 'my-worker'], ['async', 'my-async-worker'], ['weather', 'weather']],
      input: { name: 'Ada', text: 'hi', city: 'Paris' },
      env: { MY_WORKER_API_KEY: '', MY_ASYNC_WORKER_API_KEY: '', WEATHER_API_KEY: '' },
    });
    expect(run.status).toBe('completed');
    expect(run.nodes.async.output).toEqual({ name: 'Ada', text: 'hi', city: 'Paris', greeting: 'Hello, Ada!', result: 'mock result for: hi' });
    expect(run.output).toEqual({
      name: 'Ada',
      text: 'hi',
      city: 'Paris', // the alias satisfied the required `location`
      greeting: 'Hello, Ada!',
      result: 'mock result for: hi',
      weather: { temperature: 72, condition: 'Sunny', humidity: 45, windSpeed: 8 },
    });
  });

  it('runs a flow in real mode against `stitch fake-vendor`, as the recipe says: the vendor calls back by itself', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = { DATABASE_URL: db.url, PORT: String(port), STITCH_BASE_URL: base, STITCH_LOG_LEVEL: 'error', MY_ASYNC_WORKER_API_KEY: 'anything' };
    const vendorPort = await freePort();
    const vendor = spawnIn(scratch.dir, ['fake-vendor', 'test/fake-vendors/my-async-worker.ts', '--port', String(vendorPort)], env);
    const server = spawnIn(scratch.dir, ['start'], env);
    try {
      await vendor.waitFor(/Fake vendor at http:\/\/127\.0\.0\.1:\d+/);
      await server.waitFor(/Stitch is ready at/);
      const flow = {
        name: 'real mode against the fake vendor',
        graph: {
          nodes: [
            { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} },
            { id: 'async', type: 'worker', position: { x: 200, y: 0 }, data: { workerType: 'my-async-worker', config: { endpoint: `http://127.0.0.1:${vendorPort}/v1/my-async-worker` } } },
          ],
          edges: [{ id: 'e', source: 'start', target: 'async' }],
        },
        input: { text: 'from the canvas' },
      };
      scratch.write('real-mode.json', JSON.stringify(flow));
      const out = runIn(scratch.dir, process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'run', 'real-mode.json', '--url', base], env);
      expect(out).toContain('Run completed');
      expect(out).toContain('"result": "done: from the canvas"');
      expect(vendor.output()).toContain('POST /v1/my-async-worker');
    } finally {
      await server.stop();
      await vendor.stop();
    }
  });

  it('runs that flow in real mode with in-process `stitch run` and no server: the run serves its callbacks (issue 25.1)', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: db.url, PORT: String(port), STITCH_BASE_URL: `http://127.0.0.1:${port}`, STITCH_LOG_LEVEL: 'error', MY_ASYNC_WORKER_API_KEY: 'anything' };
    const vendorPort = await freePort();
    const vendor = spawnIn(scratch.dir, ['fake-vendor', 'test/fake-vendors/my-async-worker.ts', '--port', String(vendorPort)], env);
    try {
      await vendor.waitFor(/Fake vendor at http:\/\/127\.0\.0\.1:\d+/);
      // The guide's flow file, pointed at this test's vendor port instead of 4010.
      scratch.write('real-mode-local.json', scratch.read('examples/my-async-worker.json').replace('127.0.0.1:4010', `127.0.0.1:${vendorPort}`));
      const out = runIn(scratch.dir, process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'run', 'real-mode-local.json'], env);
      expect(out).toContain('this process serves the callbacks of its async nodes');
      expect(out).toContain('Run completed');
      expect(out).toContain('"result": "done: hello vendor"');
      expect(vendor.output()).toContain('POST /v1/my-async-worker');
    } finally {
      await vendor.stop();
    }
  });

  it('runs the Weather example and the my-worker flow with `stitch run`, as Step 8 says', () => {
    const env = { DATABASE_URL: db.url, STITCH_LOG_LEVEL: 'error', WEATHER_API_KEY: '', MY_WORKER_API_KEY: '' };
    const weather = runIn(scratch.dir, process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'run', 'examples/weather.json'], env);
    expect(weather).toContain('"condition": "Sunny"');
    const mine = runIn(scratch.dir, process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'run', 'examples/my-worker.json', '--input', '{"text": "another value"}'], env);
    expect(mine).toContain('"result": "mock result for: another value"');
  });
});
