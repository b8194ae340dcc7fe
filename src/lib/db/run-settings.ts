/**
 * Settings a run gets at its start and never changes — its re-run plan and its budget — read once
 * per process and run (the engine asks for every node it executes). Bounded.
 */
import { getPool } from './pool';

export interface RunSettings {
  /** Re-run plan: the source run and the node ids it forces to execute (null: not a re-run). */
  rerun: { of: string; forced: string[] } | null;
  budgetUsd: number | null;
}

const MAX_RUNS = 2000;
const settings = new Map<string, Promise<RunSettings>>();

export function runSettingsOf(runId: string): Promise<RunSettings> {
  let entry = settings.get(runId);
  if (!entry) {
    entry = getPool()
      .query<{ rerun: RunSettings['rerun']; budget_usd: number | null }>('SELECT rerun, budget_usd FROM stitch_runs WHERE id = $1', [runId])
      .then(({ rows }) => ({ rerun: rows[0]?.rerun ?? null, budgetUsd: rows[0]?.budget_usd ?? null }));
    entry.catch(() => settings.delete(runId));
    if (settings.size >= MAX_RUNS) settings.delete(settings.keys().next().value as string);
    settings.set(runId, entry);
  }
  return entry;
}
