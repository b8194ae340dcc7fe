import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from './embedded';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'stitch-embedded-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  it('keeps its data across restarts and listens on loopback only', async () => {
    const dir = scratch();
    const first = await startEmbeddedPostgres(dir);
    expect(new URL(first.url).hostname).toBe('127.0.0.1');
    await query(first.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    expect((await query(first.url, 'SHOW listen_addresses'))[0].listen_addresses).toBe('127.0.0.1');
    await first.stop();
    const again = await startEmbeddedPostgres(dir);
    expect(await query(again.url, 'SELECT v FROM kept')).toEqual([{ v: 42 }]);
    await again.stop();
  });

  it('reuses a server still running on the data dir (another process, or one whose owner was killed)', async () => {
    const dir = scratch();
    const owner = await startEmbeddedPostgres(dir);
    const second = await startEmbeddedPostgres(dir);
    expect(second.url).toBe(owner.url);
    await second.stop(); // not its server: leaves it running
    expect(await query(owner.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await owner.stop();
  });

  it.runIf(userInfo().uid === 0)('as root without a postgres OS user, stops and names both fixes', async () => {
    await expect(startEmbeddedPostgres(scratch(), { lookupOsUser: () => undefined })).rejects.toThrow(
      /no "postgres" OS user.*useradd --system postgres.*DATABASE_URL/s,
    );
  });
});
