/**
 * test/schema.sql is the live schema after every migration (src/lib/db/schema-dump.ts): a review
 * reads what runs there. This fails when a migration changed the schema and the file was not
 * regenerated with `npm run schema:dump`.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { migrate } from '@/lib/db/migrate';
import { dumpSchema } from '@/lib/db/schema-dump';
import { createTestDatabase } from './db';

let drop: (() => Promise<void>) | undefined;
afterAll(() => drop?.());

it('test/schema.sql is the schema the migrations build (npm run schema:dump regenerates it)', async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    await migrate(pool);
    const live = await dumpSchema(pool);
    expect(live, 'test/schema.sql is out of date: run npm run schema:dump').toBe(readFileSync(new URL('./schema.sql', import.meta.url), 'utf8'));
  } finally {
    await pool.end();
  }
});
