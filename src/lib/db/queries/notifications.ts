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
