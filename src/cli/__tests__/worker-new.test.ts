/**
 * `stitch worker new`: in a scratch copy of the project, the CLI scaffolds a sync, an async and a
 * pseudo-async worker; the copy type-checks, `npm test` passes on the three generated tests, and a
 * flow through the three workers completes in mock mode. Plus the edits and refusals in isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase } from '../../../test/db';
import { createScratchProject, runChainFlow, runIn, type ScratchProject, SCRATCH_CHECK_TIMEOUT_MS } from '../../../test/scratch-project';
import { addDefinition, addEnvLine, addRegistration, scaffoldPaths, scaffoldWorker, workerNames } from '../commands/worker-new';

describe('names and edits', () => {
  it('derives class, title, env variable and config key from a kebab-case name', () => {
    expect(workerNames('demo-thing')).toEqual({
      name: 'demo-thing',
      className: 'DemoThingWorker',
      title: 'Demo Thing',
      subject: 'Demo Thing',
      envKey: 'DEMO_THING_API_KEY',
      configKey: 'demoThingApiKey',
    });
    expect(workerNames('mp3-2x').configKey).toBe('mp32xApiKey');
    expect(workerNames('my-worker')).toMatchObject({ className: 'MyWorker', subject: 'My' });
    for (const bad of ['Demo', 'demo_thing', '-x', 'x-', '9lives', 'a--b', '']) expect(() => workerNames(bad)).toThrow(/kebab-case/);
    expect(workerNames('deepl', { title: 'DeepL', keyEnv: 'DEEPL_API_KEY' })).toMatchObject({ title: 'DeepL', envKey: 'DEEPL_API_KEY', configKey: 'deeplApiKey' });
    expect(() => workerNames('deepl', { keyEnv: 'deepl_key' })).toThrow(/_API_KEY/);
    expect(() => workerNames('deepl', { title: "it's" })).toThrow(/--title/);
  });

  it('adds a definition as the last member of WORKER_DEFINITIONS, whatever the trailing comma', () => {
    const registry = (last: string) => `const X = { a: 1 };\nexport const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {\n  a: { s: '}' }${last}\n};\nexport const Y = {};\n`;
    expect(addDefinition(registry(','), 'b', "  b: {},\n")).toBe(
      "const X = { a: 1 };\nexport const WORKER_DEFINITIONS: Record<string, WorkerDefinition> = {\n  a: { s: '}' },\n  b: {},\n};\nexport const Y = {};\n",
    );
    expect(addDefinition(registry(''), 'b', '  b: {},')).toContain("a: { s: '}' },\n  b: {},\n};");
    expect(() => addDefinition(registry(','), 'a', '  a: {},')).toThrow(/already has "a"/);
    expect(() => addDefinition("export const WORKER_DEFINITIONS = {\n  'a-b': {},\n};", 'a-b', '')).toThrow(/already has/);
  });

  it('adds import, export and registration after the last of each; refuses a second registration', () => {
    const index = "import { workerRegistry } from './registry';\nimport { A } from './a';\n\nexport { A } from './a';\n\nworkerRegistry.register('a', A);\n";
    const out = addRegistration(index, workerNames('b-c'));
    expect(out).toBe(
      "import { workerRegistry } from './registry';\nimport { A } from './a';\nimport { BCWorker } from './b-c';\n\nexport { A } from './a';\nexport { BCWorker } from './b-c';\n\nworkerRegistry.register('a', A);\nworkerRegistry.register('b-c', BCWorker);\n",
    );
    expect(() => addRegistration(out, workerNames('b-c'))).toThrow(/already registers "b-c"/);
  });

  it('adds the API key line to .env.example once', () => {
    const names = workerNames('demo-thing');
    expect(addEnvLine('A=1', names)).toBe('A=1\n# Demo Thing worker (demo-thing); unset = mock mode.\nDEMO_THING_API_KEY=\n');
    expect(addEnvLine('DEMO_THING_API_KEY=x\n', names)).toBeUndefined();
  });
});

describe('in a scratch copy of the project', () => {
  let scratch: ScratchProject;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const kinds = [
    ['demo-thing', []],
    ['demo-async', ['--async', '--title', 'DeepL Translate', '--key-env', 'DEEPL_API_KEY']],
    ['demo-file', ['--pseudo-async']],
  ] as const;

  beforeAll(async () => {
    db = await createTestDatabase();
    scratch = createScratchProject({ paths: ['src', 'docs', 'test/global-setup.ts', '.env.example', 'package.json', 'vitest.config.ts'] });
  });
  afterAll(async () => {
    scratch?.remove();
    await db?.drop();
  });

  it('`stitch worker new` scaffolds each kind; the copy type-checks', () => {
    for (const [name, flags] of kinds) {
      const out = runIn(scratch.dir, process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'worker', 'new', name, ...flags]);
      expect(out).toContain(`+ ${scaffoldPaths(name).worker}`);
    }
    expect(scratch.read('.env.example')).toMatch(/^DEMO_THING_API_KEY=$/m);
    expect(scratch.read('src/lib/workers/index.ts')).toContain("workerRegistry.register('demo-async', DemoAsyncWorker);");
    expect(scratch.read('docs/workers/demo-file.md')).toContain('# Demo File (`demo-file`)');
    // --title and --key-env (issue 12 A.5); the doc page names the command with its flags.
    expect(scratch.read('.env.example')).toMatch(/^DEEPL_API_KEY=$/m);
    expect(scratch.read('src/lib/workers/registry.ts')).toContain("name: 'DeepL Translate'");
    expect(scratch.read('src/lib/workers/demo-async.ts')).toContain('deeplApiKey');
    expect(scratch.read('docs/workers/demo-async.md')).toContain('`stitch worker new demo-async --async --title "DeepL Translate" --key-env DEEPL_API_KEY`');
    expect(scratch.read('docs/workers/demo-file.md')).toContain('`stitch worker new demo-file --pseudo-async`');
    scratch.typecheck();
  }, SCRATCH_CHECK_TIMEOUT_MS);

  it('refuses to overwrite, and leaves the project as it was', () => {
    const before = scratch.read('src/lib/workers/registry.ts') + scratch.read('src/lib/workers/index.ts') + scratch.read('.env.example');
    expect(() => scaffoldWorker(scratch.dir, 'demo-thing')).toThrow(/src\/lib\/workers\/demo-thing.ts, .* already exist: stitch worker new never overwrites/);
    scratch.write('src/lib/workers/__tests__/gone.test.ts', '');
    expect(() => scaffoldWorker(scratch.dir, 'gone', 'async')).toThrow(/gone.test.ts already exists/);
    expect(scratch.read('src/lib/workers/registry.ts') + scratch.read('src/lib/workers/index.ts') + scratch.read('.env.example')).toBe(before);
  });

  it('`npm test` passes on the generated tests', async () => {
    const files = kinds.map(([name]) => scaffoldPaths(name).test);
    const out = runIn(scratch.dir, 'npm', ['test', '--', ...files], { DATABASE_URL: await adminUrl(), CI: 'true' });
    expect(out.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Test Files\s+3 passed/);
  });

  it('runs the three generated workers in a flow, in mock mode', () => {
    const run = runChainFlow(scratch, {
      databaseUrl: db.url,
      workers: kinds.map(([name]) => [name, name] as [string, string]),
      input: { text: 'hello' },
      env: { DEMO_THING_API_KEY: '', DEMO_ASYNC_API_KEY: '', DEMO_FILE_API_KEY: '', STITCH_DATA_DIR: `${scratch.dir}/.stitch` },
    });
    expect(run.status).toBe('completed');
    expect(run.nodes['demo-thing'].output).toEqual({ text: 'hello', result: 'mock result for: hello' });
    expect(run.nodes['demo-async'].output).toEqual({ text: 'hello', result: 'mock result for: hello' });
    expect(run.output).toMatchObject({ text: 'hello', result: 'mock result for: hello', fileUrl: expect.stringMatching(/\/files\/demo-file\//) });
  });
});
