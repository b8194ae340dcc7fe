/**
 * `stitch_settings`: values generated once and shared by every process on the database (the
 * callback secret, the webhook signing secret).
 */
import type { Queryable } from './queryable';

/**
 * The value stored under `key`, or `candidate` stored now when there is none. Concurrent first
 * calls agree: the INSERT that loses the race returns nothing and the stored row answers.
 */
export async function getOrCreateSetting(db: Queryable, key: string, candidate: string): Promise<string> {
  const { rows } = await db.query<{ value: string }>(
    `WITH ins AS (INSERT INTO stitch_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value)
     SELECT value FROM ins UNION ALL SELECT value FROM stitch_settings WHERE key = $1 LIMIT 1`,
    [key, candidate],
  );
  return rows[0].value;
}
