/**
 * LISTEN/UNLISTEN on a dedicated client (the event hub, the vault sync, MCP's flow changes). A
 * channel is an identifier, not a parameter: only lower-case names with underscores pass.
 */
import type { Queryable } from './queryable';

export const isChannelName = (channel: string): boolean => /^[a-z_]+$/.test(channel);

function checked(channel: string): string {
  if (!isChannelName(channel)) throw new Error(`Invalid channel name "${channel}"`);
  return channel;
}

export async function listen(db: Queryable, channel: string): Promise<void> {
  await db.query(`LISTEN ${checked(channel)}`);
}

/** Stop listening on `channel`, or on every channel with '*'. */
export async function unlisten(db: Queryable, channel: string): Promise<void> {
  await db.query(`UNLISTEN ${channel === '*' ? '*' : checked(channel)}`);
}

/** NOTIFY `channel` once per payload, in order, in one statement (one commit delivers them all). */
export async function notifyEach(db: Queryable, channel: string, payloads: string[]): Promise<void> {
  if (payloads.length === 0) return;
  await db.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS x(p, n) ORDER BY n', [checked(channel), payloads]);
}
