/**
 * A PostgreSQL 15 database for tests that must meet that server (moving a project to it): the
 * suite's own server when DATABASE_URL already is a 15 (`scripts/with-pg15.sh npm test`), else a
 * throw-away cluster started from Debian's binaries, as with-pg15.sh does, on a free loopback port.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '@/lib/db/embedded';
import { createTestDatabase } from './db';

export const PG15_BIN = '/usr/lib/postgresql/15/bin';

export interface Pg15 {
  url: string;
  version: string;
  stop(): Promise<void>;
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
  } finally {
    await client.end();
  }
}

export async function startPg15(): Promise<Pg15> {
  if (process.env.DATABASE_URL && (await serverVersion(process.env.DATABASE_URL)).startsWith('15')) {
    const db = await createTestDatabase();
    return { url: db.url, version: await serverVersion(db.url), stop: db.drop };
  }
  if (!existsSync(path.join(PG15_BIN, 'postgres'))) throw new Error(`PostgreSQL 15 binaries not found in ${PG15_BIN} (apt-get install postgresql-15)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'stitch-pg15-'));
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  const run = (bin: string, args: string[]) =>
    asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(PG15_BIN, bin), ...args]) : execFileSync(path.join(PG15_BIN, bin), args);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
  const port = await freePort();
  run('pg_ctl', ['-D', data, '-o', `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories= -c fsync=off`, '-l', path.join(dir, 'log'), '-w', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    version: await serverVersion(url),
    stop: async () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
