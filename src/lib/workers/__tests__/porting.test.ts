/**
 * docs/guides/porting-from-stitch.md, checked: a worker written for the original Stitch — the
 * original guide's WeatherWorker (the seed guide is that guide), with a definition in the original's
 * shape (no `config`, fields without `description`), code that calls `getAvailableWorkerTypes()`,
 * types its settings as `WorkerConfig` and reads a vendor setting that is not an API key —
 * type-checks unchanged in a scratch copy of this project and runs in a flow.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/db';
import { createScratchProject, runChainFlow, type ScratchProject } from '../../../../test/scratch-project';
import { definitionEntries, seedBlocks, theBlock } from '../../../../test/seed-guide';

let scratch: ScratchProject;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

/** The original's definition shape: no `config`, no field descriptions. */
function originalShape(definition: string): string {
  return definition.replace(/,?\n\s*config: \{[^}]*\}/, '').replace(/\n {8,}description: '[^']*',?/g, '');
}

beforeAll(async () => {
  db = await createTestDatabase();
  scratch = createScratchProject();
  const blocks = seedBlocks();
  scratch.write('src/lib/workers/weather.ts', theBlock(blocks, 'WeatherWorker', (b) => b.startsWith('// src/lib/workers/weather.ts')));
  scratch.append('src/lib/workers/index.ts', "import { WeatherWorker } from './weather';\nworkerRegistry.register('weather', WeatherWorker);\n");
  const weatherDef = originalShape(definitionEntries(theBlock(blocks, 'weather definition', (b) => b.startsWith('// src/lib/workers/registry.ts'))));
  expect(weatherDef).not.toMatch(/config:|\n {8,}description/);
  const registry = 'src/lib/workers/registry.ts';
  const marker = 'export const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {';
  scratch.write(registry, scratch.read(registry).replace(marker, `${marker}\n${weatherDef},\n`));
  // Original-style code around the worker: the catalogue call, the config type, a vendor setting.
  scratch.write(
    'list-types.ts',
    `import { getAvailableWorkerTypes } from '@/lib/workers/registry';
import { getConfig, type WorkerConfig } from '@/lib/config';
import '@/lib/workers/index';
const workers: WorkerConfig = getConfig().workers;
console.log('TYPES ' + JSON.stringify({ types: getAvailableWorkerTypes(), units: workers.weatherUnits ?? null }));
`,
  );
});

afterAll(async () => {
  scratch?.remove();
  await db?.drop();
});

it('type-checks unchanged (optional definition fields, getAvailableWorkerTypes, WorkerConfig)', () => {
  scratch.typecheck();
});

it('lists the ported type and reads a vendor setting that is not a key', () => {
  const out = scratch.runTs('list-types.ts', { WEATHER_API_KEY: 'k', WEATHER_UNITS: 'metric', STITCH_LOG_LEVEL: 'error' });
  const { types, units } = JSON.parse(out.slice(out.indexOf('TYPES ') + 6));
  expect(types).toContain('weather');
  expect(types).toContain('claude');
  expect(units).toBe('metric');
});

it('runs in a flow (mock mode)', () => {
  const run = runChainFlow(scratch, { databaseUrl: db.url, workers: [['weather', 'weather']], input: { location: 'Oslo' }, env: { WEATHER_API_KEY: '' } });
  expect(run.status).toBe('completed');
  expect(run.output).toMatchObject({ location: 'Oslo', weather: { temperature: 72, condition: 'Sunny' } });
});
