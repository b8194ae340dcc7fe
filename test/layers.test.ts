/**
 * Where SQL may live, and which layer may import which (docs/architecture.md, "Where SQL lives"):
 * read from the source files themselves, so a change that puts a query in a route or makes `db`
 * reach into the engine fails here, naming the file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name) && !/\.test\.ts$/.test(e.name) && !e.parentPath.includes('__tests__'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

// A pg query call; Hono's `c.req.query('name')` reads a URL parameter and is not one.
const QUERY_CALL = /(?<!\breq)\.query(<[^>]*>)?\(/;

/**
 * Files outside src/lib/db/queries that run SQL: infrastructure only (migrations, the pool's
 * version check, the schema dump, the heartbeat thread's own connection). Do not grow this list.
 */
const SQL_OUTSIDE_QUERIES = new Set([
  'src/lib/db/migrate.ts',
  'src/lib/db/pool.ts',
  'src/lib/db/schema-dump.ts',
  'src/lib/engine/heartbeat-thread.mjs',
]);

/** `db` files that still import the engine (none since the WorkerHost, issue 11 point 1); keep it empty. */
const DB_IMPORTS_ENGINE_PENDING = new Set<string>();

const importsOf = (source: string) => [...source.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]);

describe('where SQL lives', () => {
  it('runtime SQL is in src/lib/db/queries/ (and the database plumbing listed above)', () => {
    const outside = sourceFiles('src').filter((f) => !f.startsWith('src/lib/db/queries/') && !SQL_OUTSIDE_QUERIES.has(f) && QUERY_CALL.test(read(f)));
    expect(outside).toEqual([]);
  });

  it('query modules take their connection as an argument: none reaches for the pool', () => {
    const reaching = sourceFiles('src/lib/db/queries').filter((f) => /\bgetPool\(/.test(read(f)));
    expect(reaching).toEqual([]);
  });

  it('vendor workers hold no SQL and name no engine table or queue function', () => {
    const workers = sourceFiles('src/lib/workers');
    expect(workers.length).toBeGreaterThan(5);
    const touching = workers.filter((f) => {
      const code = read(f).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''); // comments may name a SQL function
      return QUERY_CALL.test(code) || /\bstitch_[a-z_]+\b/.test(code) || /graphile_worker\./.test(code);
    });
    expect(touching).toEqual([]);
  });
});

describe('layers', () => {
  it('db imports nothing from engine or workers (except the seams listed as pending)', () => {
    const offending = sourceFiles('src/lib/db').filter(
      (f) => !DB_IMPORTS_ENGINE_PENDING.has(f) && importsOf(read(f)).some((m) => /(^@\/lib\/(engine|workers)\/)|(^\.\.\/(\.\.\/)?(engine|workers)\/)/.test(m)),
    );
    expect(offending).toEqual([]);
  });

  it('the pending list names only files that still need it', () => {
    // A file that no longer imports the engine, or no longer runs SQL, comes off its list.
    const stale = [...DB_IMPORTS_ENGINE_PENDING].filter((f) => !importsOf(read(f)).some((m) => /(engine|workers)\//.test(m)));
    const noSql = [...SQL_OUTSIDE_QUERIES].filter((f) => !QUERY_CALL.test(read(f)));
    expect({ stale, noSql }).toEqual({ stale: [], noSql: [] });
  });
});
