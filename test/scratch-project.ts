/**
 * A scratch copy of the project for tests that add workers to it the way a developer would (the
 * seed guide's examples, our guide's, `stitch worker new`), so the product's catalogue stays clean:
 * copy, type-check with tsc, run vitest or a flow in a child process on a test database.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ScratchProject {
  dir: string;
  read(file: string): string;
  write(file: string, text: string): void;
  append(file: string, text: string): void;
  /** `tsc --noEmit -p` over the copy; throws with tsc's output. */
  typecheck(): void;
  /** Run a TypeScript file of the copy with tsx (cwd = the copy); returns stdout. */
  runTs(file: string, env?: Record<string, string>): string;
  remove(): void;
}

export interface ScratchOptions {
  /** Folders and files to copy (default: the SDK and engine, `src/lib` and `src/types`). Tests (`__tests__`, `*.test.ts`) are left out unless `withTests`. */
  paths?: string[];
  withTests?: boolean;
}

/**
 * A test that type-checks or runs a scratch copy of the whole project: tsc over the copy takes
 * ~25 s alone and over 100 s on a loaded 2-core machine, past the suite's 60 s default. The work is
 * synchronous, so a timeout can only fail the test afterwards; this one leaves room for load.
 */
export const SCRATCH_CHECK_TIMEOUT_MS = 300_000;

export function createScratchProject(options: ScratchOptions = {}): ScratchProject {
  const dir = mkdtempSync(path.join(tmpdir(), 'stitch-scratch-'));
  for (const p of options.paths ?? ['src/lib', 'src/types']) {
    if (!existsSync(p)) continue;
    cpSync(p, path.join(dir, p), { recursive: true, filter: (f) => options.withTests || !(f.includes('__tests__') || f.endsWith('.test.ts')) });
  }
  cpSync('tsconfig.json', path.join(dir, 'tsconfig.json'));
  symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
  if (!existsSync(path.join(dir, 'package.json'))) writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  const abs = (file: string) => path.join(dir, file);
  return {
    dir,
    read: (file) => readFileSync(abs(file), 'utf8'),
    write: (file, text) => {
      mkdirSync(path.dirname(abs(file)), { recursive: true });
      writeFileSync(abs(file), text);
    },
    append: (file, text) => writeFileSync(abs(file), readFileSync(abs(file), 'utf8') + text),
    typecheck: () => {
      const tsc = path.resolve('node_modules/typescript/bin/tsc');
      try {
        execFileSync(process.execPath, [tsc, '--noEmit', '-p', dir], { encoding: 'utf8' });
      } catch (error) {
        throw new Error(`tsc failed:\n${(error as { stdout?: string }).stdout}`);
      }
    },
    runTs: (file, env = {}) => runIn(dir, process.execPath, ['--import', 'tsx', abs(file)], env),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Run a command in `cwd`; returns stdout, throws with stdout and stderr on failure. */
export function runIn(cwd: string, command: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000, stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/**
 * Run a chain start → workers… → end as a flow in the scratch project (a child process with its
 * own Stitch on `databaseUrl`) and return the finished run with its nodes.
 * `workers`: `[nodeId, workerType, config?]` in chain order.
 */
export function runChainFlow(
  project: ScratchProject,
  options: { databaseUrl: string; workers: Array<[string, string, Record<string, unknown>?]>; input: unknown; env?: Record<string, string> },
) {
  const ids = ['start', ...options.workers.map(([id]) => id), 'end'];
  const nodes = [
    { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} },
    ...options.workers.map(([id, workerType, config = {}], i) => ({ id, type: 'worker', position: { x: (i + 1) * 200, y: 0 }, data: { workerType, config } })),
    { id: 'end', type: 'end', position: { x: (ids.length - 1) * 200, y: 0 }, data: {} },
  ];
  const edges = ids.slice(1).map((id, i) => ({ id: `e${i}`, source: ids[i], target: id }));
  project.write(
    'run-chain-flow.ts',
    `import { startStitch } from '@/lib/stitch';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { getRunWithNodes } from '@/lib/db/runs';
const stitch = await startStitch({ pollIntervalMs: 200 });
const flow = await createFlow('scratch chain', ${JSON.stringify({ nodes, edges })});
const { runId } = await startRun(flow.id, { input: ${JSON.stringify(options.input)} });
let run = await getRunWithNodes(runId);
while (run.status === 'running' || run.status === 'pending') { await new Promise((r) => setTimeout(r, 100)); run = await getRunWithNodes(runId); }
console.log('RESULT ' + JSON.stringify(run));
await stitch.stop();
`,
  );
  const out = project.runTs('run-chain-flow.ts', { DATABASE_URL: options.databaseUrl, STITCH_LOG_LEVEL: 'error', ...options.env });
  return JSON.parse(out.slice(out.indexOf('RESULT ') + 7));
}
