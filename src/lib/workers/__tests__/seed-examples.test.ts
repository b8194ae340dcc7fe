/**
 * The contract: the seed guide's MyWorker, MyAsyncWorker and WeatherWorker, copied into the paths
 * it names, registered and defined as it says, compile with `tsc --noEmit` and run in a flow (mock
 * mode). Done in a scratch copy of src/ so the product's worker catalogue stays clean.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/db';
import { definitionEntries, seedBlocks, theBlock } from '../../../../test/seed-guide';

let scratch: string;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  db = await createTestDatabase();
  scratch = mkdtempSync(path.join(tmpdir(), 'stitch-seed-'));
  // The SDK and engine (src/lib, src/types), without tests: what a worker author compiles against.
  for (const dir of ['src/lib', 'src/types']) {
    cpSync(dir, path.join(scratch, dir), { recursive: true, filter: (p) => !p.includes('__tests__') });
  }
  cpSync('tsconfig.json', path.join(scratch, 'tsconfig.json'));
  symlinkSync(path.resolve('node_modules'), path.join(scratch, 'node_modules'));
  writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ type: 'module' }));

  const blocks = seedBlocks();
  const workers = path.join(scratch, 'src/lib/workers');
  // 1. Worker files, at the paths the guide names.
  const myWorker = theBlock(blocks, 'MyWorker template', (b) => b.startsWith('// src/lib/workers/my-worker.ts') && b.includes('private mockMode'));
  writeFileSync(path.join(workers, 'my-worker.ts'), myWorker);
  writeFileSync(path.join(workers, 'weather.ts'), theBlock(blocks, 'WeatherWorker', (b) => b.startsWith('// src/lib/workers/weather.ts')));
  // The guide's MyAsyncWorker block omits its imports and fields (the sync template above shows
  // them), and gives its mock mode as a separate block to put first in execute(): we add exactly
  // those imports/fields/constructor and splice that block in — every other line is the guide's.
  const asyncBlock = theBlock(blocks, 'MyAsyncWorker', (b) => b.includes('export class MyAsyncWorker'));
  const mockBlock = theBlock(blocks, 'async mock mode', (b) => b.startsWith('if (this.mockMode) {') && b.includes('setTimeout'));
  const asyncWorker = [
    "import { IWorker } from './base';",
    "import { NodeConfig } from '@/types/stitch';",
    "import { getConfig } from '@/lib/config';",
    "import { triggerCallback } from './utils';",
    asyncBlock
      .replace(
        'export class MyAsyncWorker implements IWorker {',
        `export class MyAsyncWorker implements IWorker {
  private apiKey: string | null = null;
  private mockMode: boolean = false;
  constructor() {
    const config = getConfig();
    if (!config.workers.myApiKey) this.mockMode = true;
    else this.apiKey = config.workers.myApiKey;
  }`,
      )
      .replace('    try {\n      // 1. Build callback URL', `${mockBlock.replace(/^/gm, '    ')}\n    try {\n      // 1. Build callback URL`),
  ].join('\n');
  writeFileSync(path.join(workers, 'my-async-worker.ts'), asyncWorker);

  // 2. Registrations, as the guide's index.ts steps say.
  const index = path.join(workers, 'index.ts');
  writeFileSync(
    index,
    readFileSync(index, 'utf8') +
      [
        "import { MyWorker } from './my-worker';",
        "import { MyAsyncWorker } from './my-async-worker';",
        "import { WeatherWorker } from './weather';",
        "export { MyWorker } from './my-worker';",
        "export { WeatherWorker } from './weather';",
        "workerRegistry.register('my-worker', MyWorker);",
        "workerRegistry.register('my-async-worker', MyAsyncWorker);",
        "workerRegistry.register('weather', WeatherWorker);",
        '',
      ].join('\n'),
  );
  // 3. Definitions, as the guide's registry.ts steps say (MyAsyncWorker gets the template's, as async).
  const myDef = definitionEntries(theBlock(blocks, 'my-worker definition', (b) => b.includes("'my-worker': {") && b.includes('WORKER_DEFINITIONS')));
  const weatherDef = definitionEntries(theBlock(blocks, 'weather definition', (b) => b.startsWith('// src/lib/workers/registry.ts')));
  const asyncDef = myDef.replace("'my-worker': {", "'my-async-worker': {").replace("id: 'my-worker'", "id: 'my-async-worker'").replace("type: 'sync', // or 'async'", "type: 'async',");
  const registry = path.join(workers, 'registry.ts');
  const marker = 'export const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {';
  writeFileSync(registry, readFileSync(registry, 'utf8').replace(marker, `${marker}\n${myDef},\n${asyncDef},\n${weatherDef},\n`));
});

afterAll(async () => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  await db?.drop();
});

it('compiles with tsc --noEmit', () => {
  const tsc = path.resolve('node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', scratch], { encoding: 'utf8' });
  } catch (error) {
    throw new Error(`tsc failed:\n${(error as { stdout?: string }).stdout}`);
  }
});

it('runs MyWorker → MyAsyncWorker → WeatherWorker in a flow, in mock mode', async () => {
  const script = path.join(scratch, 'run-seed.ts');
  writeFileSync(
    script,
    `import { startStitch } from '@/lib/stitch';
import { createFlow } from '@/lib/db/flows';
import { startRun } from '@/lib/engine/start-run';
import { getRunWithNodes } from '@/lib/db/runs';
const stitch = await startStitch({ pollIntervalMs: 200 });
const node = (id: string, workerType: string) => ({ id, type: 'worker', position: { x: 0, y: 0 }, data: { workerType, config: {} } });
const flow = await createFlow('seed', {
  nodes: [{ id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} }, node('mine', 'my-worker'), node('async', 'my-async-worker'), node('weather', 'weather'), { id: 'end', type: 'end', position: { x: 0, y: 0 }, data: {} }],
  edges: [{ id: 'e1', source: 'start', target: 'mine' }, { id: 'e2', source: 'mine', target: 'async' }, { id: 'e3', source: 'async', target: 'weather' }, { id: 'e4', source: 'weather', target: 'end' }],
});
const { runId } = await startRun(flow.id, { input: { requiredField: 'test-value', location: 'New York' } });
let run = await getRunWithNodes(runId);
while (run.status === 'running') { await new Promise((r) => setTimeout(r, 100)); run = await getRunWithNodes(runId); }
console.log('RESULT ' + JSON.stringify(run));
await stitch.stop();
`,
  );
  const out = execFileSync(process.execPath, ['--import', 'tsx', script], {
    cwd: scratch,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: db.url, STITCH_LOG_LEVEL: 'error', MY_API_KEY: '', WEATHER_API_KEY: '' },
    timeout: 60_000,
  });
  const run = JSON.parse(out.slice(out.indexOf('RESULT ') + 7));
  expect(run.status).toBe('completed');
  expect(run.nodes.mine.output).toEqual({ requiredField: 'test-value', location: 'New York', optionalField: 42, result: 'mock-value' });
  expect(run.nodes.async.output).toMatchObject({ requiredField: 'test-value', result: 'mock-result' });
  expect(run.output).toMatchObject({
    requiredField: 'test-value',
    location: 'New York',
    result: 'mock-result',
    weather: { temperature: 72, condition: 'Sunny', humidity: 45, windSpeed: 8 },
  });
});
