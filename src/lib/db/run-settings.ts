/**
 * Settings a run gets at its start and never changes — its re-run plan, budget and experiment — read once
 * per process and run (the engine asks for every node it executes). Bounded.
 */
import { getPool } from './pool';
import { readRunSettings, type RerunPlan, type RunSettingsRow } from './queries/start-run';

export interface RunSettings {
  /** Null: not a re-run. */
  rerun: RerunPlan | null;
  budgetUsd: number | null;
  /** The experiment the run belongs to (null: none): its identical work is shared. */
  experimentId: string | null;
}

const MAX_RUNS = 2000;
const settings = new Map<string, Promise<RunSettings>>();

const fromRow = (row: RunSettingsRow | undefined): RunSettings => ({
  rerun: row?.rerun ?? null,
  budgetUsd: row?.budget_usd ?? null,
  experimentId: row?.experiment_id ?? null,
});

function remember(runId: string, entry: Promise<RunSettings>): Promise<RunSettings> {
  if (settings.size >= MAX_RUNS) settings.delete(settings.keys().next().value as string);
  settings.set(runId, entry);
  return entry;
}

export function runSettingsOf(runId: string): Promise<RunSettings> {
  const known = settings.get(runId);
  if (known) return known;
  const entry = readRunSettings(getPool(), runId).then(fromRow);
  entry.catch(() => settings.delete(runId));
  return remember(runId, entry);
}

/** Settings read along with other state (the engine's first read of a run): no query of their own. */
export function rememberRunSettings(runId: string, row: RunSettingsRow): void {
  if (!settings.has(runId)) remember(runId, Promise.resolve(fromRow(row)));
}
