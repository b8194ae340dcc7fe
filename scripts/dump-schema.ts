/**
 * `npm run schema:dump`: migrate a fresh database and write the live schema to test/schema.sql
 * (see src/lib/db/schema-dump.ts). Uses DATABASE_URL's server when set, else an embedded one.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { createBenchDatabase, openBenchServer } from '../bench/bench-db';
import { migrate } from '@/lib/db/migrate';
import { dumpSchema } from '@/lib/db/schema-dump';

const server = await openBenchServer();
try {
  const url = await createBenchDatabase(server.adminUrl, 'stitch_schema');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await migrate(pool);
  writeFileSync(new URL('../test/schema.sql', import.meta.url), await dumpSchema(pool));
  await pool.end();
  console.log('wrote test/schema.sql');
} finally {
  await server.stop();
}
