/**
 * Fair share on the execute path: a node's `concurrency` and `rateLimit`, and a flow's
 * `concurrency` at start (docs/limits.md). The slots and the waiting line are rows
 * (0031_fair_share.sql), shared by every process: an instance over its limit is parked without a
 * queue job and gets one when a dispatch grants it a slot — it never fails for waiting.
 *
 * Nothing here runs for a node or flow without these settings (one property check), so the hot
 * path of every other flow is unchanged.
 */
import type { ConcurrencySetting, ExecutionGraph, ExecutionNode, RateLimitSetting, RatePer } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { acquireFairSlot, dispatchFair, readRunFairFacts, type FairScope, type RunFairFacts } from '@/lib/db/queries/fair';
import { renderTemplate } from '@/lib/workers/transform';

/** The attempt a slot is for (the engine's NodeRef). */
interface AttemptRef {
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
}

const PER_SECONDS: Record<RatePer, number> = { second: 1, minute: 60, hour: 3600 };
/** A key value longer than this is cut (it names a row, not a document). */
const MAX_KEY_CHARS = 256;

/** True when a node waits for nothing but its upstream: the engine skips this module for it. */
export const hasNodeLimits = (node: ExecutionNode): boolean => node.concurrency !== undefined || node.rateLimit !== undefined;

/**
 * The key's name in reasons and metrics: `customer` for `{{tags.customer}}`, the template itself
 * otherwise; null without a key.
 */
export function keyNameOf(template: string | undefined): string | null {
  if (template === undefined) return null;
  const whole = /^\{\{\s*([^}\s]+)\s*\}\}$/.exec(template);
  return whole ? whole[1].split('.').pop()! : template.slice(0, 64);
}

/** The key value of an instance: the template over its input, with the run's tags under `tags`. */
export function renderKey(template: string | undefined, input: unknown, tags: Record<string, string>): string {
  if (template === undefined) return '';
  const data = typeof input === 'object' && input !== null && !Array.isArray(input) ? { ...input, tags } : { input, tags };
  const value = renderTemplate(template, data);
  const text = value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.slice(0, MAX_KEY_CHARS);
}

// A run's flow and tags never change: read once per process and run (bounded).
const MAX_RUNS = 2000;
const facts = new Map<string, Promise<RunFairFacts>>();

function factsOf(runId: string): Promise<RunFairFacts> {
  const known = facts.get(runId);
  if (known) return known;
  if (facts.size >= MAX_RUNS) facts.delete(facts.keys().next().value as string);
  const entry = readRunFairFacts(getPool(), runId).then((f) => f ?? { flowId: null, tags: {} });
  entry.catch(() => facts.delete(runId));
  facts.set(runId, entry);
  return entry;
}

/** A limit's scope: per flow (across its versions) and node; a detached version's is its own. */
export const nodeScope = (kind: 'node' | 'rate', owner: string, nodeId: string): string => `${kind}:${owner}:${nodeId}`;
export const flowScope = (owner: string): string => `flow:${owner}`;

function scopeOf(kind: 'concurrency' | 'rate', setting: ConcurrencySetting | RateLimitSetting, flowId: string | null, versionId: string, nodeId: string): FairScope {
  return {
    scope: nodeScope(kind === 'rate' ? 'rate' : 'node', flowId ?? versionId, nodeId),
    kind,
    flowId,
    nodeId,
    limit: setting.limit,
    perSeconds: 'per' in setting ? PER_SECONDS[setting.per] : null,
    keyName: keyNameOf(setting.key),
  };
}

/**
 * Before a limited node's worker executes: its concurrency slot, then its rate slot. False: it
 * waits (parked, marked queued with its reason); the caller ends the job and executes nothing.
 */
export async function takeNodeSlots(node: ExecutionNode, ref: AttemptRef, input: unknown): Promise<boolean> {
  const run = await factsOf(ref.runId);
  for (const [kind, setting] of [
    ['concurrency', node.concurrency],
    ['rate', node.rateLimit],
  ] as const) {
    if (!setting) continue;
    const scope = scopeOf(kind, setting, run.flowId, ref.versionId, node.id);
    const result = await acquireFairSlot(getPool(), { ...scope, key: renderKey(setting.key, input, run.tags), ...ref });
    if (!result.ok) return false;
  }
  return true;
}

/**
 * After an attempt of a node with a concurrency limit ended (settled or failed): its slot frees
 * itself (it counts only while the attempt is open), and what waits in its scope is granted now
 * rather than at the scope's next sweep.
 */
export async function releaseNodeSlots(node: ExecutionNode | undefined, ref: AttemptRef): Promise<void> {
  if (!node?.concurrency) return;
  const run = await factsOf(ref.runId);
  await dispatchFair(getPool(), nodeScope('node', run.flowId ?? ref.versionId, node.id));
}

/** The sweep job (`stitch_fair_dispatch {s, k?}`): grant what waits in a scope, or for one key. */
export async function fairDispatchJob(payload: { s: string; k?: string | null }): Promise<void> {
  await dispatchFair(getPool(), payload.s, payload.k ?? undefined, payload.k == null);
}

/** A flow's run slot, taken in its start statement (`insertRun`): the scope and the key of this run. */
export interface RunAdmission {
  scope: string;
  key: string;
  limit: number;
  keyName: string | null;
}

export function runAdmission(graph: ExecutionGraph, flowId: string | null, versionId: string, input: unknown, tags: Record<string, string>): RunAdmission | undefined {
  const setting = graph.concurrency;
  if (!setting) return undefined;
  return { scope: flowScope(flowId ?? versionId), key: renderKey(setting.key, input, tags), limit: setting.limit, keyName: keyNameOf(setting.key) };
}
