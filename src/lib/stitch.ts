/**
 * Boot and shutdown of a Stitch process: database (embedded or DATABASE_URL), migrations, the
 * shared callback secret, the worker registry check, the one runtime and the engine's worker host and,
 * optionally, the queue runner. `start`, `serve`, `worker`, tests and benchmarks all go through here.
 */
import { randomBytes } from 'node:crypto';
import { getConfig, type Config } from './config';
import { closeDatabase, openDatabase, type Database } from './db/pool';
import { migrate } from './db/migrate';
import { getOrCreateSetting } from './db/queries/settings';
import { setCallbackSecret } from './host/callback-tokens';
import { EngineHost } from './engine/engine-host';
import { startQueueRunner, type QueueRunner } from './engine/runner';
import { setProcessHost } from './host/current';
import { createRuntime, setRuntime, type Runtime } from './runtime';
import { makeStorage } from './storage';
import { loadVaultKey } from './vault/key';
import { startVaultSync, stopVaultSync } from './vault/sync';
import { startTracing, stopTracing } from './tracing/tracer';
import { startTraceExport } from './tracing/export';
import { listenForControl } from './live/control';
import { stopLiveListener } from './live/listener';
import { resetStreamRelay } from './live/stream-relay';
import { assertRegistryComplete, workerRegistry } from './workers/registry';
import './workers/index';

export interface StitchOptions {
  config?: Config;
  /** Run the queue runner in this process (default true). */
  runner?: boolean;
  concurrency?: number;
  pollIntervalMs?: number;
  /** Wait for a database that is down at start (up to STITCH_DB_WAIT_SECONDS): `start`, `serve`, `worker`. */
  waitForDatabase?: boolean;
}

export interface StitchInstance {
  db: Database;
  config: Config;
  /** The one runtime this process runs on (config, pool, registry, storage, logger). */
  runtime: Runtime;
  runner?: QueueRunner;
  stop(): Promise<void>;
}

/** The callback secret: STITCH_SECRET, else generated once and shared by all processes via the DB. */
async function loadSecret(db: Database, config: Config): Promise<string> {
  if (config.secret) return config.secret;
  return getOrCreateSetting(db.pool, 'callback_secret', randomBytes(32).toString('base64url'));
}

let active: StitchInstance | undefined;

export async function startStitch(options: StitchOptions = {}): Promise<StitchInstance> {
  if (active) return active;
  const config = options.config ?? getConfig();
  assertRegistryComplete();
  const db = await openDatabase({
    config,
    max: (options.concurrency ?? config.concurrency) + 10,
    waitSeconds: options.waitForDatabase ? config.databaseWaitSeconds : 0,
  });
  let stopTraceExport: (() => Promise<void>) | undefined;
  try {
    await migrate(db.pool);
    setCallbackSecret(await loadSecret(db, config));
    const runtime = createRuntime({ config, pool: db.pool, registry: workerRegistry, storage: await makeStorage(config) });
    setRuntime(runtime);
    // Worker calls outside an attempt (a parseCallback, a script in this process) go to the engine.
    setProcessHost(new EngineHost(runtime));
    await startVaultSync(loadVaultKey(config));
    // OpenTelemetry (docs/operations.md, "Tracing"): nothing is loaded or swept when it is off.
    if (config.tracing) {
      await startTracing(config.tracing, runtime.logger);
      stopTraceExport = await startTraceExport(db.pool, runtime.logger);
    }
    // Replay requests for streamed output, pause barriers: every process answers its own.
    await listenForControl();
    const runner =
      options.runner === false
        ? undefined
        : await startQueueRunner({
            runtime,
            concurrency: options.concurrency ?? config.concurrency,
            heartbeatSeconds: config.heartbeatSeconds,
            staleRunnerSeconds: config.staleRunnerSeconds,
            url: db.url,
            databaseWaitSeconds: config.databaseWaitSeconds,
            pollIntervalMs: options.pollIntervalMs,
            fetchBatchSize: config.fetchBatchSize,
          });
    const instance: StitchInstance = {
      db,
      config,
      runtime,
      runner,
      async stop() {
        if (active !== instance) return;
        active = undefined;
        await runner?.stop();
        await stopTraceExport?.();
        await stopTracing();
        await stopLive();
        await stopVaultSync();
        setProcessHost(undefined);
        setRuntime(undefined);
        await closeDatabase();
      },
    };
    active = instance;
    return instance;
  } catch (error) {
    setProcessHost(undefined);
    setRuntime(undefined);
    await stopTraceExport?.();
    await stopTracing();
    await stopLive();
    await stopVaultSync();
    await closeDatabase();
    throw error;
  }
}

async function stopLive(): Promise<void> {
  resetStreamRelay();
  await stopLiveListener();
}

export function getStitch(): StitchInstance | undefined {
  return active;
}
