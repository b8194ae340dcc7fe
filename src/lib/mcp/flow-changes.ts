/**
 * "The flows changed": one LISTEN connection per process on the `stitch_flows` channel, which a
 * trigger on `stitch_flows` notifies at the commit of every save, rename or delete, whichever
 * process made it (0012_sub_flows.sql). MCP sessions turn it into `notifications/tools/list_changed`.
 */
import type pg from 'pg';
import { getPool } from '@/lib/db/pool';
import { listen, unlisten } from '@/lib/db/queries/notifications';
import { getLogger } from '@/lib/log';

type Listener = () => void;

const listeners = new Set<Listener>();
let client: pg.PoolClient | undefined;
let connecting: Promise<void> | undefined;

async function connect(): Promise<void> {
  const c = await getPool().connect();
  c.on('notification', () => {
    for (const listener of listeners) listener();
  });
  const lost = (error?: Error) => {
    if (client !== c) return;
    client = undefined;
    c.release(error ?? true);
    if (listeners.size === 0) return;
    getLogger().warn({ error: error?.message }, 'flow changes: lost the LISTEN connection; reconnecting');
    // A change missed meanwhile is announced anyway: clients re-read the list on reconnect.
    setTimeout(() => void ensureListening().then(() => listeners.forEach((l) => l())).catch(() => {}), 500).unref();
  };
  c.on('error', lost);
  c.on('end', () => lost());
  try {
    await listen(c, 'stitch_flows');
  } catch (error) {
    c.release(true);
    throw error;
  }
  client = c;
}

function ensureListening(): Promise<void> {
  if (client) return Promise.resolve();
  connecting ??= connect().finally(() => (connecting = undefined));
  return connecting;
}

/** Call `listener` whenever flows change; resolves once listening. Returns the unsubscribe. */
export async function onFlowsChanged(listener: Listener): Promise<() => void> {
  listeners.add(listener);
  try {
    await ensureListening();
  } catch (error) {
    listeners.delete(listener);
    throw error;
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && client) {
      const c = client;
      client = undefined;
      unlisten(c, 'stitch_flows').catch(() => {}).finally(() => c.release());
    }
  };
}

/** Listeners now: one per open MCP session (its server's), so a session's end shows here. */
export function flowChangeListenerCount(): number {
  return listeners.size;
}
