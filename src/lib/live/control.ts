/**
 * Engine control between processes over `NOTIFY stitch_control`: small JSON messages `{k, …}`
 * that ask something of every process at once — `replay` (send a run's streamed output again, for
 * a reader that joined mid-stream), `pause`/`resume` and their `ack` (engine/pause.ts). Every
 * started Stitch listens (`listenForControl`), so a message reaches the process that can answer.
 */
import { getPool } from '@/lib/db/pool';
import { notifyEach } from '@/lib/db/queries/notifications';
import { getLogger } from '@/lib/log';
import { liveListener } from './listener';

export const CONTROL_CHANNEL = 'stitch_control';

export interface ControlMessage {
  k: string;
  [field: string]: unknown;
}

const handlers = new Map<string, Set<(message: ControlMessage) => void>>();

/** Call `handler` with every control message of kind `kind` (from any process, this one included). */
export function onControl(kind: string, handler: (message: ControlMessage) => void): () => void {
  let set = handlers.get(kind);
  if (!set) handlers.set(kind, (set = new Set()));
  set.add(handler);
  return () => void set.delete(handler);
}

function dispatch(payload: string): void {
  let message: ControlMessage;
  try {
    message = JSON.parse(payload);
  } catch {
    return;
  }
  if (typeof message?.k !== 'string') return;
  for (const handler of handlers.get(message.k) ?? []) handler(message);
}

/** Start listening (startStitch); resolves once LISTEN is active. */
export async function listenForControl(): Promise<void> {
  await liveListener().on(CONTROL_CHANNEL, dispatch);
}

/** Send a control message to every process (this one too, through PostgreSQL). */
export async function sendControl(message: ControlMessage): Promise<void> {
  await notifyEach(getPool(), CONTROL_CHANNEL, [JSON.stringify(message)]);
}

/** Send, logging instead of throwing: for requests whose loss only costs a replay. */
export function sendControlSoon(message: ControlMessage): void {
  sendControl(message).catch((error) => getLogger().debug({ kind: message.k, error: String(error) }, 'control message not sent'));
}
