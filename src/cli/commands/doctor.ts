/**
 * `stitch doctor`: is this installation ready to run workers? One row per finding, each problem
 * with its fix; exit code 1 when something is broken (warnings — mock mode, no live runner — are not).
 *
 * - registry: every registered worker has a definition and vice versa (`checkRegistry()`);
 * - workers: each worker is constructed with its log captured: a "MOCK MODE" line means mock mode.
 *   The API key variables it needs are the `*_API_KEY` names in that line and in the worker's
 *   source file (found through its registration in src/lib/workers/index.ts) — nothing is hard-coded;
 * - base URL: `${STITCH_BASE_URL}/api/health` answers (vendors POST callbacks there);
 * - database and queue: connect, migrations applied, graphile-worker schema, live queue runners.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { getConfig, secretSourceOf, type Config } from '@/lib/config';
import { closeDatabase, getPool, isDatabaseOpen, openDatabase } from '@/lib/db/pool';
import { errorMessage } from '@/lib/errors';
import { createLogger, getLogger, setLogger } from '@/lib/log';
import { checkRegistry, getWorkerDefinition, workerRegistry } from '@/lib/workers/registry';
import type { WorkerClass } from '@/lib/workers/base';
import { API_KEY_NAME, workerSources } from '@/lib/workers/integration-keys';
import type { SecretSource } from '@/lib/vault/resolve';
import type { DoctorRow, DoctorStatus } from './doctor-row';
import { vaultDoctorRows } from './doctor-vault';
import { readQueueStats } from '@/lib/db/queries/queue-stats';
import { relationsPresent } from '@/lib/db/queries/tables-present';
import '@/lib/workers/index';


export type { DoctorRow, DoctorStatus } from './doctor-row';

export interface DoctorOptions {
  /** Project root: where src/lib/workers/index.ts and the worker sources are (default: cwd). */
  root?: string;
  config?: Config;
  /** Variables applied to process.env while workers are constructed (tests), then restored. */
  env?: Record<string, string>;
  /** Check the database and queue (default true). */
  database?: boolean;
  /** Timeout of the base-URL request (default 3000 ms). */
  timeoutMs?: number;
}

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorRow[]> {
  const config = options.config ?? getConfig();
  // The vault first: workers constructed below then see its keys, as in a running Stitch.
  const vault = options.database !== false ? await vaultDoctorRows(config) : [];
  const workers = workerRows(options.root ?? process.cwd(), options.env);
  const rows = [...registryRows(), ...vault, ...workers.rows];
  rows.push(...(await baseUrlRows(config, workers.awaitingCallbacks, options.timeoutMs ?? 3000)));
  if (options.database !== false) rows.push(...(await databaseRows(config)));
  return rows;
}

function registryRows(): DoctorRow[] {
  const problems = checkRegistry();
  if (!problems.length) {
    return [{ check: 'registry', subject: `${workerRegistry.types().length} workers`, status: 'ok', detail: 'every registered worker has a definition, and every definition a worker' }];
  }
  return problems.map((problem) => {
    // checkRegistry's sentences read "<what is wrong>: <what to do>".
    const at = problem.indexOf(': ');
    return {
      check: 'registry',
      subject: /"([^"]+)"/.exec(problem)?.[1] ?? '?',
      status: 'fail',
      detail: problem.slice(0, at),
      fix: problem.slice(at + 2),
    };
  });
}

/** Construct a worker with the process logger replaced by one that collects its lines. */
function constructCapturing(type: string, env: Record<string, string> | undefined): { lines: string[]; error?: string } {
  const lines: string[] = [];
  const previous = getLogger();
  const saved = Object.fromEntries(Object.keys(env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    setLogger(createLogger('debug', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) })));
    const registered = workerRegistry.getWorker(type); // may be cached from earlier: construct anew
    new (registered.constructor as WorkerClass)();
    return { lines };
  } catch (error) {
    return { lines, error: errorMessage(error) };
  } finally {
    setLogger(previous);
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * One row per worker, and the workers that wait for vendor callbacks: async, given their API key (so
 * meant to call the vendor for real), handing out callback URLs (`buildCallbackUrl` in their source).
 * Those need a reachable base URL; a keyless one (http-webhook) only when a flow uses it.
 */
function workerRows(root: string, env: Record<string, string> | undefined): { rows: DoctorRow[]; awaitingCallbacks: string[] } {
  const sources = workerSources(path.join(root, 'src/lib/workers'));
  const rows: DoctorRow[] = [];
  const awaitingCallbacks: string[] = [];
  for (const type of workerRegistry.types().sort()) {
    const kind = getWorkerDefinition(type)?.type ?? 'no definition';
    const { lines, error } = constructCapturing(type, env);
    if (error) {
      rows.push({ check: 'worker', subject: type, status: 'fail', detail: `its constructor throws: ${error}`, fix: `fix the constructor in the worker's file (src/lib/workers/)` });
      continue;
    }
    const mockLine = lines.find((l) => /mock mode/i.test(l));
    const keys = [...new Set([...(sources.get(type)?.match(API_KEY_NAME) ?? []), ...(mockLine?.match(API_KEY_NAME) ?? [])])];
    // Where each key comes from: the doctor's own env overrides (tests), else the one resolver
    // (an empty value is unset, as in getConfig(): the vault's value applies).
    const sourceOf = (k: string): SecretSource => (env?.[k] ? 'env' : secretSourceOf(k));
    const missing = keys.filter((k) => sourceOf(k) === 'none');
    const keySources = keys.map((k) => `${k} from ${sourceOf(k)}`).join(', ');
    if (mockLine) {
      const names = missing.length ? missing : keys;
      rows.push({
        check: 'worker',
        subject: type,
        status: 'warn',
        detail: `${kind}, MOCK MODE${names.length ? `: ${names.join(', ')} not set (key source: none)` : ''}`,
        fix: names.length
          ? `for real calls set ${names.join(', ')} in .env or the vault (stitch credentials set ${names[0]}); mock mode needs nothing`
          : 'see the worker\'s constructor for what it needs',
      });
    } else {
      rows.push({ check: 'worker', subject: type, status: 'ok', detail: keys.length ? `${kind}, real mode (${keySources})` : `${kind}, needs no API key` });
      if (kind === 'async' && keys.length && sources.get(type)?.includes('buildCallbackUrl')) awaitingCallbacks.push(type);
    }
  }
  return { rows, awaitingCallbacks };
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/;

async function baseUrlRows(config: Config, awaitingCallbacks: string[], timeoutMs: number): Promise<DoctorRow[]> {
  const url = `${config.baseUrl}/api/health`;
  const out: DoctorRow[] = [];
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status >= 500 || response.status === 404) throw new Error(`it answered ${response.status}`);
    out.push({ check: 'base-url', subject: config.baseUrl, status: 'ok', detail: `${url} answers ${response.status}` });
  } catch (error) {
    const reason = (error as Error & { cause?: { code?: string } }).cause?.code ?? errorMessage(error);
    out.push({
      check: 'base-url',
      subject: config.baseUrl,
      // Without a worker waiting for outside callbacks, no server is needed (stitch run, mock mode).
      status: awaitingCallbacks.length ? 'fail' : 'warn',
      detail: awaitingCallbacks.length
        ? `callbacks cannot arrive: ${url} is unreachable (${reason}) but ${awaitingCallbacks.join(', ')} wait for vendor callbacks`
        : `no Stitch server answers at ${url} (${reason}): fine for stitch run and mock mode; vendor callbacks and --url need one`,
      fix: 'start Stitch (npm start), or set STITCH_BASE_URL to the URL where this Stitch server is reachable',
    });
  }
  if (awaitingCallbacks.length && LOOPBACK.test(new URL(config.baseUrl).hostname)) {
    out.push({
      check: 'base-url',
      subject: config.baseUrl,
      status: 'warn',
      detail: `is loopback, but ${awaitingCallbacks.join(', ')} ${awaitingCallbacks.length === 1 ? 'hands' : 'hand'} it to vendors on the internet`,
      fix: 'set STITCH_BASE_URL to a public URL of this server (or a tunnel to it); their deadline poll() is the fallback',
    });
  }
  return out;
}

async function databaseRows(config: Config): Promise<DoctorRow[]> {
  const where = config.databaseUrl ? 'DATABASE_URL' : `embedded PostgreSQL in ${config.dataDir}`;
  const opened = !isDatabaseOpen();
  try {
    await openDatabase({ config, max: 2 });
  } catch (error) {
    return [
      {
        check: 'database',
        subject: where,
        status: 'fail',
        detail: `cannot connect: ${errorMessage(error)}`,
        fix: config.databaseUrl
          ? 'check DATABASE_URL (host, port, user, password, database) and that the server runs'
          : 'the embedded PostgreSQL did not start: check that STITCH_DATA_DIR is writable, or set DATABASE_URL',
      },
    ];
  }
  const rows: DoctorRow[] = [];
  try {
    const migrated = (await relationsPresent(getPool(), ['stitch_runs', 'graphile_worker.jobs'])).every(Boolean);
    rows.push(
      migrated
        ? { check: 'database', subject: where, status: 'ok', detail: 'connected; Stitch schema and queue schema present' }
        : { check: 'database', subject: where, status: 'warn', detail: 'connected, but not migrated yet', fix: 'npm run stitch -- migrate (stitch start also migrates)' },
    );
    if (migrated) {
      const queue = await readQueueStats(getPool(), config.staleRunnerSeconds);
      const counts = `${queue.ready} ready, ${queue.scheduled} scheduled, ${queue.locked} running jobs`;
      rows.push(
        queue.liveRunners > 0
          ? { check: 'queue', subject: 'graphile-worker', status: 'ok', detail: `${queue.liveRunners} live runner(s); ${counts}` }
          : {
              check: 'queue',
              subject: 'graphile-worker',
              status: 'warn',
              detail: `no live queue runner: runs wait (${counts})`,
              fix: 'start one: npm start (or stitch worker next to stitch serve)',
            },
      );
    }
  } catch (error) {
    rows.push({ check: 'database', subject: where, status: 'fail', detail: `query failed: ${errorMessage(error)}`, fix: 'check the database user\'s permissions' });
  } finally {
    if (opened) await closeDatabase();
  }
  return rows;
}

/** The rows as a fixed-width table. */
export function formatDoctorTable(rows: DoctorRow[]): string {
  const mark: Record<DoctorStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };
  const table = [['CHECK', 'SUBJECT', 'STATUS', 'DETAIL', 'FIX'], ...rows.map((r) => [r.check, r.subject, mark[r.status], r.detail, r.fix ?? ''])];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]) : cell)).join('  ').trimEnd()).join('\n');
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check workers (registrations, definitions, API keys / mock mode), callback base URL, database and queue')
    .option('--no-database', 'skip the database and queue checks')
    .action(async (options: { database: boolean }) => {
      const rows = await runDoctor({ database: options.database });
      console.log(formatDoctorTable(rows));
      const failed = rows.filter((r) => r.status === 'fail').length;
      const warned = rows.filter((r) => r.status === 'warn').length;
      console.log(`\n${failed} problem(s), ${warned} warning(s).`);
      if (failed) process.exitCode = 1;
    });
}
