/**
 * The live schema as one text: every Stitch table (columns, constraints, indexes), function and
 * trigger as PostgreSQL itself prints them after all migrations ran. Migrations redefine functions
 * (`CREATE OR REPLACE`), so no single migration shows what runs; `test/schema.sql` does, and the
 * suite checks it is current (`npm run schema:dump` regenerates it).
 */
import type pg from 'pg';

/** Objects of the `public` schema that are Stitch's (graphile-worker keeps its own schema). */
const OURS = `LIKE 'stitch\\_%'`;

export async function dumpSchema(db: pg.Pool | pg.Client): Promise<string> {
  const out: string[] = ['-- The live Stitch schema after every migration (generated: npm run schema:dump). Do not edit.'];
  const tables = await db.query<{ t: string }>(
    `SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname ${OURS} ORDER BY 1`,
  );
  for (const { t } of tables.rows) {
    const columns = await db.query<{ line: string }>(
      `SELECT format('  %I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                     CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                     coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')) AS line
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [t],
    );
    // NOT NULL is shown on the column: PostgreSQL 18 also lists it as a constraint, 15 does not.
    const constraints = await db.query<{ line: string }>(
      `SELECT format('  CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)) AS line
       FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f', 'c', 'x') ORDER BY conname`,
      [t],
    );
    out.push('', `TABLE ${t} (`, [...columns.rows, ...constraints.rows].map((r) => r.line).join(',\n'), ');');
    const indexes = await db.query<{ def: string }>(
      `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = $1::regclass AND NOT i.indisprimary
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
       ORDER BY c.relname`,
      [t],
    );
    for (const { def } of indexes.rows) out.push(`${def};`);
    const triggers = await db.query<{ def: string }>(
      `SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`,
      [t],
    );
    for (const { def } of triggers.rows) out.push(`${def};`);
  }
  const functions = await db.query<{ def: string }>(
    `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.prokind = 'f' AND p.proname ${OURS}
     ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)`,
  );
  for (const { def } of functions.rows) out.push('', `${def.trimEnd()};`);
  return `${out.join('\n')}\n`;
}
