/**
 * Response shapes of the HTTP API that `src/types/stitch.ts` does not name (they are assembled by
 * the server from its row types). Everything inside them is Stitch's own vocabulary.
 */
import type { AlertSpec, NodeRunRow, RunRow, RunStatus, Schedule, VisualGraph } from '@/types/stitch';

export type { Schedule } from '@/types/stitch';
export type { AlertEvent, AlertSpec } from '@/types/stitch';

/** An alert as GET /api/flows/{id}/alerts lists it: with its delivery state. */
export interface AlertWithState extends AlertSpec {
  pending: number;
  lastResult: string | null;
  lastAttemptAt: string | null;
  lastSentAt: string | null;
}

export type { FlowSummary } from '@/types/stitch';

export interface FlowVersionSummary {
  id: string;
  version: number;
  createdAt: string;
  /** Made by `stitch deploy` (flow files), with the deploy's message; false for saves. */
  deployed: boolean;
  message: string | null;
}

export interface FlowVersion extends FlowVersionSummary {
  flowId: string | null;
  visualGraph: VisualGraph;
}

/** Where a settled node's output came from: executed now, reused by a re-run, or a step-cache hit. */
export type NodeOrigin = 'executed' | 'reused' | 'cached';

/** One node instance in `GET /api/runs/:runId` (keyed by instance id). */
export type RunNodeState = Omit<NodeRunRow, 'runId' | 'instanceId' | 'metadata'> & {
  metadata?: Record<string, unknown>;
  usage?: Array<{ unit: string; quantity: number; usd: number; mock?: true }>;
  costUsd?: number;
  origin?: NodeOrigin | null;
  reusedFrom?: { runId: string; instanceId: string } | null;
};

/** What a run cost, and what its reused and cached nodes had cost when they executed. */
export interface RunCost {
  usd: number;
  savedUsd: number;
  mock?: true;
}

/** `POST /api/runs/:runId/rerun` with `dryRun: true`. */
export interface RerunPlan {
  versionId: string;
  execute: string[];
  reuse: string[];
}

export interface RunDetail extends Omit<RunRow, 'trigger' | 'startedAt'> {
  trigger?: unknown;
  startedAt?: string | null;
  nodes: Record<string, RunNodeState>;
  cost?: RunCost;
  rerunOf?: string | null;
}

export type RunListItem = Omit<RunDetail, 'nodes'> & { nodes?: RunDetail['nodes']; costUsd?: number };

export type { BulkAction, BulkJob } from '@/types/stitch';

/** The run search's filter as a JSON body (POST /api/runs/bulk). */
export interface BulkFilter {
  ids?: string[];
  flowId?: string;
  status?: string;
  trigger?: string;
  createdAfter?: string;
  createdBefore?: string;
  finishedAfter?: string;
  finishedBefore?: string;
  costAbove?: number;
  costBelow?: number;
  error?: string;
  input?: Record<string, string>;
  tag?: Record<string, string>;
}

export interface BulkDryRun {
  dryRun: true;
  count: number;
  max: number;
  exceedsMax: boolean;
}

export interface RunsPage {
  runs: RunListItem[];
  nextCursor: string | null;
}

export interface StartedRun {
  runId: string;
  versionId: string;
  status: RunStatus;
  statusUrl?: string;
}

export type ScheduleFields = Pick<Schedule, 'cron' | 'timezone' | 'enabled' | 'catchUp'> & { input?: Record<string, unknown>; budgetUsd?: number | null };

/** `GET /api/credentials`: never a value. */
export interface Credential {
  name: string;
  updatedAt: string;
  usedBy: string[];
}

/** The worker catalogue's `integration`: mock or real now, and where each key comes from. */
export interface Integration {
  mode: 'real' | 'mock' | 'none';
  keys: { name: string; source: 'env' | 'vault' | 'none' }[];
}

/** `GET /api/datasets` items. */
export interface Dataset {
  id: string;
  name: string;
  version: number;
  rowCount: number;
  createdAt: string;
}

/** One variant's result for one dataset row. */
export interface ExperimentCell {
  label: string;
  row: number;
  variant: number;
  status: string;
  runId: string | null;
  costUsd: number | null;
  savedUsd: number | null;
  durationMs: number | null;
  passed: boolean | null;
  score: number | null;
  scoreDetail: unknown;
  output: unknown;
  error: string | null;
}

/** `GET /api/experiments/:id`: the comparison. */
export interface Experiment {
  id: string;
  flowId: string | null;
  dataset: { id: string; version: number };
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  error: string | null;
  variants: { label: string; versionId: string; version: number | null; nodeOverrides?: unknown }[];
  progress: { cells: number; done: number; running: number };
  cost: { usd: number; savedUsd: number };
  summary: { label: string; completed: number; failed: number; running: number; pending: number; costUsd: number; savedUsd: number; p50Ms: number | null; passRate: number | null; meanScore: number | null }[];
  rows: { idx: number; input: unknown; expected: unknown; notes: string | null; variants: ExperimentCell[] }[];
  nextCursor: string | null;
  createdAt: string;
}

export interface VariantRequest {
  label: string;
  version?: number | 'current';
  nodeOverrides?: Record<string, Record<string, unknown>>;
}
