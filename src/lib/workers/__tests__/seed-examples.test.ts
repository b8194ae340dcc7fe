/**
 * The contract: the seed guide's MyWorker, MyAsyncWorker and WeatherWorker, copied into the paths
 * it names, registered and defined as it says, compile with `tsc --noEmit` and run in a flow (mock
 * mode). Done in a scratch copy of src/ so the product's worker catalogue stays clean.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/db';
import { createScratchProject, runChainFlow, type ScratchProject, SCRATCH_CHECK_TIMEOUT_MS } from '../../../../test/scratch-project';
import { definitionEntries, seedBlocks, theBlock } from '../../../../test/seed-guide';

let scratch: ScratchProject;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  db = await createTestDatabase();
  // The SDK and engine (src/lib, src/types), without tests: what a worker author compiles against.
  scratch = createScratchProject();

  const blocks = seedBlocks();
  // 1. Worker files, at the paths the guide names.
  const myWorker = theBlock(blocks, 'MyWorker template', (b) => b.startsWith('// src/lib/workers/my-worker.ts') && b.includes('private mockMode'));
  scratch.write('src/lib/workers/my-worker.ts', myWorker);
  scratch.write('src/lib/workers/weather.ts', theBlock(blocks, 'WeatherWorker', (b) => b.startsWith('// src/lib/workers/weather.ts')));
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
  scratch.write('src/lib/workers/my-async-worker.ts', asyncWorker);

  // 2. Registrations, as the guide's index.ts steps say.
  scratch.append(
    'src/lib/workers/index.ts',
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
  const registry = 'src/lib/workers/registry.ts';
  const marker = 'export const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {';
  scratch.write(registry, scratch.read(registry).replace(marker, `${marker}\n${myDef},\n${asyncDef},\n${weatherDef},\n`));
});

afterAll(async () => {
  scratch?.remove();
  await db?.drop();
});

it('compiles with tsc --noEmit', () => {
  scratch.typecheck();
}, SCRATCH_CHECK_TIMEOUT_MS);

it('runs MyWorker → MyAsyncWorker → WeatherWorker in a flow, in mock mode', async () => {
  const run = runChainFlow(scratch, {
    databaseUrl: db.url,
    workers: [['mine', 'my-worker'], ['async', 'my-async-worker'], ['weather', 'weather']],
    input: { requiredField: 'test-value', location: 'New York' },
    env: { MY_API_KEY: '', WEATHER_API_KEY: '' },
  });
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
