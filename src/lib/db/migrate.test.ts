import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { listMigrations, migrate } from './migrate';
import { createTestDatabase } from '../../../test/db';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('is safe when several processes migrate one database at once: each migration applied exactly once', async () => {
  const db = await createTestDatabase();
  cleanups.push(db.drop);
  const pools = Array.from({ length: 4 }, () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 3 });
    // A client still closing when the database is dropped (WITH FORCE) is terminated: expected here.
    pool.on('error', () => {});
    return pool;
  });
  cleanups.push(async () => void (await Promise.all(pools.map((p) => p.end()))));
  const applied = await Promise.all(pools.map((p) => migrate(p)));
  const all = listMigrations().map((m) => m.name);
  expect(applied.flat().sort()).toEqual([...all].sort());
  expect(await migrate(pools[0])).toEqual([]);
  const { rows } = await pools[0].query('SELECT name FROM stitch_migrations ORDER BY id');
  expect(rows.map((r) => r.name)).toEqual(all);
});
