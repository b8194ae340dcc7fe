/**
 * docs/guides/porting-from-stitch.md, checked: a worker written for the original Stitch — the
 * original guide's WeatherWorker (the seed guide is that guide), with a definition in the original's
 * shape (no `config`, fields without `description`), a definitions module that imports its types
 * from `@/types/worker-definition` (`WorkerDefinition`, `WorkerConfig`, `InputSchema`,
 * `OutputSchema`), code that calls `getAvailableWorkerTypes()` and reads a vendor setting that is not an API key —
 * type-checks unchanged in a scratch copy of this project and runs in a flow.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/db';
import { createScratchProject, runChainFlow, type ScratchProject, SCRATCH_CHECK_TIMEOUT_MS } from '../../../../test/scratch-project';
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
  // The original's definitions module: the types from '@/types/worker-definition', under its names,
  // with `WorkerConfig` as a definition's `config` (issue 25.7).
  scratch.write(
    'src/lib/workers/original-definitions.ts',
    `import { WorkerDefinition, WorkerConfig, InputSchema, OutputSchema } from '@/types/worker-definition';

const claudeConfig: WorkerConfig = { model: 'claude-sonnet-4-20250514', maxTokens: 4096 };
const prompt: InputSchema = { type: 'string', required: true, description: 'The prompt to send to Claude' };
const scenes: OutputSchema = { type: 'array', description: 'Array of scene objects' };

export const ORIGINAL_DEFINITIONS: Record<string, WorkerDefinition> = {
${weatherDef},
  claude: {
    id: 'claude',
    name: 'Claude Script Generator',
    type: 'sync',
    description: 'Generate structured scene descriptions',
    input: { prompt },
    output: { scenes },
    config: claudeConfig
  }
};

export function getOriginalDefinition(workerId: string): WorkerDefinition | undefined {
  return ORIGINAL_DEFINITIONS[workerId];
}

// A definition's config is read as the original read it.
export const claudeModel: string | undefined = ORIGINAL_DEFINITIONS.claude.config?.model;
`,
  );
  // Original-style code around the worker: the catalogue call, a vendor setting.
  scratch.write(
    'list-types.ts',
    `import { getAvailableWorkerTypes, WORKER_DEFINITIONS } from '@/lib/workers/registry';
import { ORIGINAL_DEFINITIONS, claudeModel } from '@/lib/workers/original-definitions';
import { getConfig } from '@/lib/config';
import '@/lib/workers/index';
const units: string | undefined = getConfig().workers.weatherUnits;
console.log('TYPES ' + JSON.stringify({ types: getAvailableWorkerTypes(), units: units ?? null, sameWeather: JSON.stringify(ORIGINAL_DEFINITIONS.weather) === JSON.stringify(WORKER_DEFINITIONS.weather), claudeModel }));
`,
  );
});

afterAll(async () => {
  scratch?.remove();
  await db?.drop();
});

it('type-checks unchanged (optional definition fields, @/types/worker-definition with WorkerConfig, InputSchema, OutputSchema, getAvailableWorkerTypes)', () => {
  scratch.typecheck();
}, SCRATCH_CHECK_TIMEOUT_MS);

it('lists the ported type and reads a vendor setting that is not a key', () => {
  const out = scratch.runTs('list-types.ts', { WEATHER_API_KEY: 'k', WEATHER_UNITS: 'metric', STITCH_LOG_LEVEL: 'error' });
  const { types, units, sameWeather, claudeModel } = JSON.parse(out.slice(out.indexOf('TYPES ') + 6));
  expect(types).toContain('weather');
  expect(types).toContain('claude');
  expect(units).toBe('metric');
  expect(sameWeather).toBe(true);
  expect(claudeModel).toBe('claude-sonnet-4-20250514');
});

it('runs in a flow (mock mode)', () => {
  const run = runChainFlow(scratch, { databaseUrl: db.url, workers: [['weather', 'weather']], input: { location: 'Oslo' }, env: { WEATHER_API_KEY: '' } });
  expect(run.status).toBe('completed');
  expect(run.output).toMatchObject({ location: 'Oslo', weather: { temperature: 72, condition: 'Sunny' } });
});

it('the porting page points only to sections of the guide that exist (issue 25.6)', () => {
  const page = readFileSync('docs/guides/porting-from-stitch.md', 'utf8');
  const headings = new Set([...readFileSync('docs/guides/adding-workers.md', 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim()));
  const pointers = [...page.matchAll(/`docs\/guides\/adding-workers\.md`, "([^"]+)"/g)].map((m) => m[1]);
  expect(pointers.length).toBeGreaterThan(0);
  expect(pointers.filter((p) => !headings.has(p))).toEqual([]);
});
