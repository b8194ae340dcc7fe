/** Whether the schema is migrated (`stitch doctor`): which of these relations exist. */
import type { Queryable } from './queryable';

export async function relationsPresent(db: Queryable, names: string[]): Promise<boolean[]> {
  const { rows } = await db.query<{ present: boolean[] }>('SELECT array_agg(to_regclass(n) IS NOT NULL ORDER BY i) AS present FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i)', [names]);
  return rows[0].present;
}
