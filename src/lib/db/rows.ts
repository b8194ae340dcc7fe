/**
 * Rows of the run tables as the API shows them (camelCase, ISO times), and the one check of a run
 * id's shape. Shared by the readers in runs.ts and the query modules.
 */
import type { NodeRunRow, RunRow, StitchEvent } from '@/types/stitch';

export interface RunDbRow {
  id: string;
  flow_id: string | null;
  version_id: string;
  status: RunRow['status'];
  input: unknown;
  output: unknown;
  error: string | null;
  trigger: unknown;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  parent_run_id: string | null;
  parent_instance_id: string | null;
  tags: Record<string, string>;
  priority: number;
}

/** A timestamp column as the API shows it. */
export const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toRunRow(r: RunDbRow): RunRow {
  return {
    id: r.id,
    flowId: r.flow_id,
    versionId: r.version_id,
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error,
    trigger: r.trigger,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    parentRunId: r.parent_run_id ?? null,
    parentInstanceId: r.parent_instance_id ?? null,
    tags: r.tags ?? {},
    priority: r.priority ?? 0,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

export interface EventDbRow {
  id: number;
  run_id: string;
  instance_id: string | null;
  type: StitchEvent['type'];
  payload: Record<string, unknown>;
  created_at: Date;
}

/** A `stitch_events` row as the API and SSE streams show it. */
export function toStitchEvent(e: EventDbRow): StitchEvent {
  return {
    id: e.id,
    runId: e.run_id,
    instanceId: e.instance_id,
    type: e.type,
    payload: e.payload,
    createdAt: e.created_at.toISOString(),
  };
}

/** A `stitch_node_runs` row (all columns) as the API shows a node instance. */
export function toNodeRunRow(n: Record<string, any>): NodeRunRow {
  return {
    runId: n.run_id,
    instanceId: n.instance_id,
    nodeId: n.node_id,
    status: n.status,
    attempt: n.attempt,
    input: n.input,
    output: n.output,
    error: n.error,
    progress: n.progress,
    metadata: n.metadata,
    startedAt: iso(n.started_at),
    finishedAt: iso(n.finished_at),
    deadlineAt: iso(n.deadline_at),
  };
}
