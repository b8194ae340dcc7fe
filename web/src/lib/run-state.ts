/**
 * A run as the canvas shows it: the `GET /api/runs/:runId` snapshot, then every SSE event folded in
 * order. Node instances are keyed by instance id (`node`, or `node[i]` inside a splitter scope);
 * `summariseNodes` folds them back onto the graph's nodes (status, attempt, progress, item counts).
 */
import type { NodeStatus, RunStatus, StitchEvent, StreamChunk, StreamMessage } from '@/types/stitch';
import type { RunDetail } from '../types';

export interface InstanceView {
  instanceId: string;
  nodeId: string;
  status: NodeStatus;
  attempt: number;
  progress: number | null;
  message?: string;
  error?: string | null;
  /** A failed attempt that the engine will try again after its backoff. */
  retrying?: boolean;
  /** A sub-flow node's child run (its latest attempt's). */
  childRunId?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
}

/** What a node instance streamed (`node:stream`), for its latest attempt seen. */
export interface StreamView {
  attempt: number;
  /** Parts received so far (the next expected part number). */
  next: number;
  /** The text parts joined. */
  text: string;
  /** The latest JSON part, if any. */
  data?: StreamChunk;
}

export interface RunView {
  id: string;
  status: RunStatus;
  error?: string | null;
  createdAt: string;
  finishedAt?: string | null;
  instances: Record<string, InstanceView>;
  events: StitchEvent[];
  lastEventId: number;
  /** Streamed output by instance id (never in the snapshot: it is not stored). */
  streams: Record<string, StreamView>;
}

/** What one node of the graph shows: the fold of its instances. */
export interface NodeRuntime {
  status: NodeStatus | 'idle';
  attempt: number;
  progress: number | null;
  message?: string;
  error?: string | null;
  retrying?: boolean;
  childRunId?: string;
  /** Splitter scopes: instances done / total (e.g. 37/100). */
  items?: { done: number; failed: number; total: number };
}

export const nodeIdOf = (instanceId: string) => instanceId.replace(/\[.*$/, '');

export function fromSnapshot(detail: RunDetail): RunView {
  const instances: Record<string, InstanceView> = {};
  for (const [instanceId, n] of Object.entries(detail.nodes ?? {})) {
    instances[instanceId] = {
      instanceId,
      nodeId: n.nodeId ?? nodeIdOf(instanceId),
      status: n.status,
      attempt: n.attempt ?? 1,
      progress: n.progress ?? null,
      message: typeof n.metadata?.message === 'string' ? n.metadata.message : undefined,
      childRunId: typeof n.metadata?.childRunId === 'string' ? n.metadata.childRunId : undefined,
      error: n.error,
      startedAt: n.startedAt,
      finishedAt: n.finishedAt,
    };
  }
  return { id: detail.id, status: detail.status, error: detail.error, createdAt: detail.createdAt, finishedAt: detail.finishedAt, instances, events: [], lastEventId: 0, streams: {} };
}

const NODE_EVENT_STATUS: Partial<Record<StitchEvent['type'], NodeStatus>> = {
  'node:pending': 'pending',
  'node:running': 'running',
  'node:progress': 'running',
  'node:completed': 'completed',
  'node:failed': 'failed',
  'node:retrying': 'pending',
  'node:cancelled': 'cancelled',
  'node:skipped': 'skipped',
  'node:waiting': 'waiting_for_user',
  // Fair share: waiting for a concurrency or rate slot (docs/limits.md), or granted one.
  'node:queued': 'pending',
};

export const RUN_EVENT_STATUS: Partial<Record<StitchEvent['type'], RunStatus>> = {
  'run:created': 'running',
  'run:completed': 'completed',
  'run:failed': 'failed',
  'run:cancelled': 'cancelled',
};

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function applyNodeEvent(prev: InstanceView | undefined, e: StitchEvent, status: NodeStatus): InstanceView {
  const p = e.payload ?? {};
  const instanceId = e.instanceId ?? '';
  const base: InstanceView = prev ?? { instanceId, nodeId: nodeIdOf(instanceId), status, attempt: 1, progress: null };
  const next: InstanceView = { ...base, status, attempt: num(p.attempt) ?? base.attempt, retrying: e.type === 'node:retrying' };
  if (e.type === 'node:retrying') {
    next.error = str(p.error) ?? base.error;
    if (num(p.nextAttempt)) next.attempt = num(p.nextAttempt)!;
  }
  if (e.type === 'node:pending' && p.retry) {
    next.error = null;
    next.finishedAt = null;
    next.startedAt = null;
    next.progress = null;
  }
  if (e.type === 'node:running' || e.type === 'node:progress') {
    next.startedAt = base.status === 'running' ? base.startedAt ?? e.createdAt : e.createdAt;
    if (num(p.progress) !== undefined) next.progress = num(p.progress)!;
    if (str(p.message)) next.message = str(p.message);
    if (str(p.childRunId)) next.childRunId = str(p.childRunId);
  }
  if (e.type === 'node:queued') next.message = p.queued === true && str(p.reason) ? `queued: ${str(p.reason)}` : undefined;
  if (e.type === 'node:completed') next.progress = 1;
  if (e.type === 'node:failed') next.error = str(p.error) ?? base.error;
  if (['node:completed', 'node:failed', 'node:cancelled', 'node:skipped'].includes(e.type)) next.finishedAt = e.createdAt;
  return next;
}

export function applyEvents(state: RunView, events: StitchEvent[]): RunView {
  let instances = state.instances;
  let { status, error, finishedAt, lastEventId } = state;
  const fresh: StitchEvent[] = [];
  for (const e of events) {
    if (e.id && e.id <= lastEventId) continue;
    if (e.id) lastEventId = e.id;
    fresh.push(e);
    const nodeStatus = NODE_EVENT_STATUS[e.type];
    if (nodeStatus && e.instanceId) {
      if (instances === state.instances) instances = { ...instances };
      instances[e.instanceId] = applyNodeEvent(instances[e.instanceId], e, nodeStatus);
    }
    const runStatus = RUN_EVENT_STATUS[e.type];
    if (runStatus) {
      status = runStatus;
      if (runStatus === 'running') {
        error = null;
        finishedAt = null;
      } else {
        finishedAt = e.createdAt;
        error = str(e.payload?.error) ?? (runStatus === 'completed' ? null : error);
      }
    }
    // A retried node reopens a failed run.
    if (e.type === 'node:pending' && e.payload?.retry && status === 'failed') {
      status = 'running';
      finishedAt = null;
      error = null;
    }
  }
  if (!fresh.length) return state;
  return { ...state, status, error, finishedAt, instances, lastEventId, events: [...state.events, ...fresh] };
}

/**
 * Fold streamed parts in. Parts are numbered per attempt; after a reconnect the server replays an
 * attempt's parts from the first, so those already shown are skipped. A newer attempt starts over.
 */
export function applyStream(state: RunView, messages: StreamMessage[]): RunView {
  let streams = state.streams;
  for (const m of messages) {
    const prev = streams[m.instanceId];
    if (prev && prev.attempt > m.attempt) continue;
    const base: StreamView = prev && prev.attempt === m.attempt ? prev : { attempt: m.attempt, next: 0, text: '' };
    if (m.seq > base.next || m.seq + m.parts.length <= base.next) continue;
    const fresh = m.parts.slice(base.next - m.seq);
    const data = [...fresh].reverse().find((p) => typeof p !== 'string');
    if (streams === state.streams) streams = { ...streams };
    streams[m.instanceId] = {
      attempt: m.attempt,
      next: m.seq + m.parts.length,
      text: base.text + fresh.filter((p): p is string => typeof p === 'string').join(''),
      data: data ?? base.data,
    };
  }
  return streams === state.streams ? state : { ...state, streams };
}

const STATUS_PRIORITY: NodeStatus[] = ['failed', 'waiting_for_user', 'running', 'pending', 'cancelled', 'completed', 'skipped'];

/** Fold instances onto node ids, reusing the previous object for nodes that did not change. */
export function summariseNodes(view: RunView, previous: Record<string, NodeRuntime> = {}): Record<string, NodeRuntime> {
  const groups = new Map<string, InstanceView[]>();
  for (const inst of Object.values(view.instances)) {
    const list = groups.get(inst.nodeId);
    if (list) list.push(inst);
    else groups.set(inst.nodeId, [inst]);
  }
  const out: Record<string, NodeRuntime> = {};
  for (const [nodeId, list] of groups) {
    let next: NodeRuntime;
    const indexed = list.filter((i) => i.instanceId !== nodeId);
    if (!indexed.length) {
      const i = list[0];
      next = { status: i.status, attempt: i.attempt, progress: i.progress, message: i.message, error: i.error, retrying: i.retrying, childRunId: i.childRunId };
    } else {
      const statuses = new Set(indexed.map((i) => i.status));
      const status = STATUS_PRIORITY.find((s) => statuses.has(s) && (s !== 'completed' || statuses.size === 1)) ?? 'pending';
      const done = indexed.filter((i) => i.status === 'completed').length;
      const failed = indexed.filter((i) => i.status === 'failed');
      next = {
        status: status === 'pending' && done > 0 ? 'running' : status,
        attempt: Math.max(...indexed.map((i) => i.attempt)),
        progress: null,
        error: failed[0]?.error,
        items: { done, failed: failed.length, total: indexed.length },
      };
    }
    const prev = previous[nodeId];
    out[nodeId] = prev && shallowEqual(prev, next) ? prev : next;
  }
  return out;
}

function shallowEqual(a: NodeRuntime, b: NodeRuntime): boolean {
  return (
    a.status === b.status &&
    a.attempt === b.attempt &&
    a.progress === b.progress &&
    a.message === b.message &&
    a.error === b.error &&
    a.retrying === b.retrying &&
    a.childRunId === b.childRunId &&
    a.items?.done === b.items?.done &&
    a.items?.total === b.items?.total &&
    a.items?.failed === b.items?.failed
  );
}
