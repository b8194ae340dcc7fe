/**
 * Settings a run gets at its start and never changes — its re-run plan and its budget — read once
 * per process and run (the engine asks for every node it executes). Bounded.
 */
import { getPool } from './pool';
import { readRunSettings } from './queries/start-run';

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
    entry = readRunSettings(getPool(), runId);
    entry.catch(() => settings.delete(runId));
    if (settings.size >= MAX_RUNS) settings.delete(settings.keys().next().value as string);
    settings.set(runId, entry);
  }
  return entry;
}
