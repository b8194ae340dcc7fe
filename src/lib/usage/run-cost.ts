/**
 * What a run cost, and where its nodes' outputs came from: each node instance's usage
 * (`[{unit, quantity, usd}]`) and `costUsd` (a `flow` node's: what its child runs spent), and the
 * run's `cost: {usd, savedUsd}`, its sub-flows' spend included — saved is what the reused and cached
 * nodes cost when they executed (recorded on them as `metadata.savedUsd` when they were reused).
 */
import { getPool } from '@/lib/db/pool';
import { readRunCostSettings, readRunUsage, sumChildSpendByInstance, sumSpendByRun, sumSpendByWorkerType } from '@/lib/db/queries/usage';
import { idMap } from '@/lib/engine/id-map';
import type { getRunWithNodes } from '@/lib/db/runs';

export interface UsageLine {
  unit: string;
  quantity: number;
  usd: number;
  mock?: true;
}

export interface RunCost {
  usd: number;
  savedUsd: number;
  /** Some usage came from mock workers (priced as the real call would have been). */
  mock?: true;
}

/** Sums in USD are rounded to 1/1,000,000 of a cent: float noise never shows as spend. */
export const roundUsd = (usd: number) => Math.round(usd * 1e8) / 1e8;

export async function readUsage(runId: string): Promise<Map<string, UsageLine[]>> {
  const rows = await readRunUsage(getPool(), runId);
  const byInstance = new Map<string, UsageLine[]>();
  for (const r of rows) {
    const line: UsageLine = { unit: r.unit, quantity: r.quantity, usd: roundUsd(r.usd), ...(r.mock ? { mock: true as const } : {}) };
    byInstance.set(r.instance_id, [...(byInstance.get(r.instance_id) ?? []), line]);
  }
  return byInstance;
}

type RunView = Awaited<ReturnType<typeof getRunWithNodes>>;
type NodeView = RunView['nodes'][string];

export type NodeOrigin = 'executed' | 'reused' | 'cached';

/**
 * The run view (getRunWithNodes) with, on each node, `usage`, `costUsd`, `origin` (`executed`,
 * `reused` from an earlier run, `cached` from the step cache) and `reusedFrom`; on the run, `cost`,
 * `rerunOf` and `budgetUsd`.
 */
export async function withReuseAndCost(run: RunView) {
  const usage = await readUsage(run.id);
  const children = new Map((await sumChildSpendByInstance(getPool(), run.id)).map((c) => [c.instanceId, c.usd]));
  const settings = await readRunCostSettings(getPool(), run.id);
  let usd = 0;
  let savedUsd = 0;
  let mock = false;
  // Keyed by instance ids users chose (`__proto__` included): a prototype-free map.
  const nodes = idMap<NodeView & { usage: UsageLine[]; costUsd: number; origin: NodeOrigin | null; reusedFrom: { runId: string; instanceId: string } | null }>();
  for (const [instanceId, node] of Object.entries(run.nodes)) {
    const lines = usage.get(instanceId) ?? [];
    // A `flow` node costs what its child runs spent.
    const costUsd = roundUsd(lines.reduce((sum, l) => sum + l.usd, 0) + (children.get(instanceId) ?? 0));
    usd += costUsd;
    mock ||= lines.some((l) => l.mock);
    const saved = Number(node.metadata.savedUsd ?? 0);
    if (Number.isFinite(saved)) savedUsd += saved;
    const origin = (node.metadata.origin as NodeOrigin | undefined) ?? (node.status === 'completed' || node.status === 'failed' ? 'executed' : null);
    const reusedFrom = (node.metadata.reusedFrom as { runId: string; instanceId: string } | undefined) ?? null;
    nodes[instanceId] = { ...node, usage: lines, costUsd, origin, reusedFrom };
  }
  const cost: RunCost = { usd: roundUsd(usd), savedUsd: roundUsd(savedUsd), ...(mock ? { mock: true as const } : {}) };
  return { ...run, nodes, cost, rerunOf: settings.rerunOf, budgetUsd: settings.budgetUsd };
}

/**
 * Spend so far of one run (the budget check) and of several (the flows list), their sub-flows'
 * included, and whether mock usage priced as real is part of it.
 */
export async function runSpend(runIds: string[]): Promise<Map<string, { usd: number; mock: boolean }>> {
  if (runIds.length === 0) return new Map();
  return new Map((await sumSpendByRun(getPool(), runIds)).map((r) => [r.runId, { usd: roundUsd(r.usd), mock: r.mock }]));
}

/** All spend recorded, by worker type (the `stitch_cost_usd_total` metric). */
export async function spendByWorkerType(): Promise<Array<{ workerType: string; usd: number }>> {
  return (await sumSpendByWorkerType(getPool())).map((r) => ({ workerType: r.workerType ?? 'unknown', usd: roundUsd(r.usd) }));
}

/**
 * The flows list: each flow's last run with what it cost (`lastRun.costUsd`), and `costMock: true`
 * when mock workers reported some of it (an estimate of what the real calls would cost, not spend).
 */
export async function withLastRunCost<F extends { lastRun: { id: string } | null }>(
  flows: F[],
): Promise<Array<F & { lastRun: (NonNullable<F['lastRun']> & { costUsd: number; costMock?: true }) | null }>> {
  const spend = await runSpend(flows.flatMap((f) => (f.lastRun ? [f.lastRun.id] : [])));
  return flows.map((f) => {
    if (!f.lastRun) return { ...f, lastRun: null };
    const s = spend.get(f.lastRun.id);
    return { ...f, lastRun: { ...f.lastRun, costUsd: s?.usd ?? 0, ...(s?.mock ? { costMock: true as const } : {}) } };
  });
}
