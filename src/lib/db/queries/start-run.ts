/**
 * Starting a run: the one statement that creates the run with its entry instances, their jobs, the
 * events and the idempotency key, and the reads around it (the version a start names, an earlier
 * run under the same idempotency key or for the same parent attempt).
 */
import type { RunStatus } from '@/types/stitch';
import type { Queryable } from './queryable';

/** The flow's current version, for a live flow. */
export async function findCurrentVersion(db: Queryable, flowId: string): Promise<{ flowId: string; versionId: string } | undefined> {
  const { rows } = await db.query<{ id: string; current_version_id: string | null }>(
    'SELECT id, current_version_id FROM stitch_flows WHERE id = $1 AND deleted_at IS NULL',
    [flowId],
  );
  return rows[0]?.current_version_id ? { flowId: rows[0].id, versionId: rows[0].current_version_id } : undefined;
}

/** A version and its flow (null: a detached version). */
export async function findVersionFlow(db: Queryable, versionId: string): Promise<{ versionId: string; flowId: string | null } | undefined> {
  const { rows } = await db.query<{ id: string; flow_id: string | null }>('SELECT id, flow_id FROM stitch_flow_versions WHERE id = $1', [versionId]);
  return rows[0] && { versionId: rows[0].id, flowId: rows[0].flow_id };
}

export interface NewRun {
  flowId: string | null;
  versionId: string;
  inputJson: string;
  trigger: Record<string, unknown>;
  entryNodes: string[];
  idempotency?: { scope: string; key: string; requestHash: string };
  parent?: { runId: string; instanceId: string; attempt: number; depth: number };
  rerun?: RerunPlan;
  /** Null: the flow's own budget, if any (a child run: the smaller of the two). */
  budgetUsd: number | null;
  /** The experiment the run is a cell (or a judge) of: its identical work is shared (step-cache.ts). */
  experimentId?: string;
  /** Checked tags; null: a child run's parent's, else none. */
  tags: Record<string, string> | null;
  /** Null: a child run's parent's, else 0. */
  priority: number | null;
  /**
   * The flow's `concurrency` slot this run takes in its start statement (0031_fair_share.sql): over
   * the key's limit the run waits, its entry instances pending without jobs until a dispatch.
   */
  admission?: { scope: string; key: string; limit: number; keyName: string | null };
}

/**
 * One statement: the run, its entry instances, their jobs, the events, the idempotency key and
 * the checks of its flow's `run.slower_than` alerts commit together. Two concurrent starts with one key: the second fails on the key's primary key
 * (23505) and its run rolls back with it. A child run that exists already for its parent attempt
 * inserts nothing: undefined.
 */
export async function insertRun(db: Queryable, run: NewRun): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `WITH run AS (
       INSERT INTO stitch_runs (flow_id, version_id, status, input, trigger, started_at,
                                parent_run_id, parent_instance_id, parent_attempt, depth, rerun_of, rerun, budget_usd,
                                tags, priority, fair_scope, fair_key, experiment_id)
       VALUES ($1, $2, 'running', $3::jsonb, $4::jsonb, now(), $9, $10, $11, $12, $13, $14::jsonb,
               -- A child run: the smaller of what is left of its parent's budget and its flow's own.
               CASE WHEN $9::uuid IS NULL THEN coalesce($15, (SELECT budget_usd FROM stitch_flows WHERE id = $1))
                    ELSE least($15, (SELECT budget_usd FROM stitch_flows WHERE id = $1)) END,
               coalesce($16::jsonb, (SELECT p.tags FROM stitch_runs p WHERE p.id = $9), '{}'),
               coalesce($17::int, (SELECT p.priority FROM stitch_runs p WHERE p.id = $9), 0), $18, $19,
               coalesce($22::uuid, (SELECT p.experiment_id FROM stitch_runs p WHERE p.id = $9)))
       ON CONFLICT (parent_run_id, parent_instance_id, parent_attempt) WHERE parent_run_id IS NOT NULL DO NOTHING
       RETURNING id, priority
     ), entry AS (
       INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status)
       SELECT run.id, n, n, 'pending' FROM run, unnest($5::text[]) AS n
       RETURNING instance_id
     ), list AS (
       SELECT coalesce(jsonb_agg(jsonb_build_object('i', instance_id)), '[]') AS instances FROM entry
     ), idem AS (
       INSERT INTO stitch_idempotency_keys (scope, key, request_hash, run_id)
       SELECT $6, $7, $8, run.id FROM run WHERE $7::text IS NOT NULL
     )
     SELECT run.id,
            CASE WHEN $18::text IS NULL OR stitch_fair_admit($18, $1, $20, $21, $19, run.id, $2, run.priority)
                 THEN stitch_enqueue_execute(run.id, $2, list.instances, stitch_priority_run_at(run.priority)) END AS enqueued,
            stitch_emit(run.id, jsonb_build_array(jsonb_build_object('type', 'run:created', 'payload',
              jsonb_build_object('versionId', $2::uuid, 'flowId', $1::uuid) || CASE WHEN $9::uuid IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('parentRunId', $9::uuid, 'parentInstanceId', $10::text) END))
              || (SELECT coalesce(jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
                    'payload', jsonb_build_object('attempt', 1))), '[]') FROM jsonb_array_elements(list.instances) x)) AS event,
            -- run.slower_than alerts (0027_alerts.sql): their checks, placed with the run.
            (SELECT stitch_arm_slow_alerts(run.id, f.alerts) FROM stitch_flows f
             WHERE f.id = $1 AND f.alerts @? '$[*] ? (@.on == "run.slower_than")') AS slow_alerts
     FROM run, list`,
    [
      run.flowId,
      run.versionId,
      run.inputJson,
      JSON.stringify(run.trigger),
      run.entryNodes,
      run.idempotency?.scope ?? null,
      run.idempotency?.key ?? null,
      run.idempotency?.requestHash ?? null,
      run.parent?.runId ?? null,
      run.parent?.instanceId ?? null,
      run.parent?.attempt ?? null,
      run.parent?.depth ?? 0,
      run.rerun?.of ?? null,
      run.rerun ? JSON.stringify(run.rerun) : null,
      run.budgetUsd,
      run.tags === null ? null : JSON.stringify(run.tags),
      run.priority,
      run.admission?.scope ?? null,
      run.admission?.key ?? null,
      run.admission?.limit ?? null,
      run.admission?.keyName ?? null,
      run.experimentId ?? null,
    ],
  );
  return rows[0]?.id;
}

/** The child run started for a parent node attempt (at most one: the unique parent index). */
export async function findChildRun(db: Queryable, parent: { runId: string; instanceId: string; attempt: number }): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM stitch_runs WHERE parent_run_id = $1 AND parent_instance_id = $2 AND parent_attempt = $3',
    [parent.runId, parent.instanceId, parent.attempt],
  );
  return rows[0]?.id;
}

export interface IdempotentRun {
  requestHash: string;
  runId: string;
  versionId: string;
  flowId: string | null;
  status: RunStatus;
}

/** The run a key started within the last `hours`, with the hash of the request that started it. */
export async function findIdempotentRun(db: Queryable, scope: string, key: string, hours: number): Promise<IdempotentRun | undefined> {
  const { rows } = await db.query(
    `SELECT k.request_hash, r.id, r.version_id, r.flow_id, r.status FROM stitch_idempotency_keys k JOIN stitch_runs r ON r.id = k.run_id
     WHERE k.scope = $1 AND k.key = $2 AND k.created_at > now() - make_interval(hours => $3)`,
    [scope, key, hours],
  );
  const r = rows[0];
  return r && { requestHash: r.request_hash, runId: r.id, versionId: r.version_id, flowId: r.flow_id, status: r.status };
}

/** Forget the keys older than `hours` (they may be reused). */
export async function deleteExpiredIdempotencyKeys(db: Queryable, hours: number): Promise<void> {
  await db.query('DELETE FROM stitch_idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)', [hours]);
}

/** A re-run's plan: the source run and the node ids it forces to execute. */
export interface RerunPlan {
  of: string;
  forced: string[];
}

/** The run's columns its settings come from (run-settings.ts), as any read of `stitch_runs` may select them. */
export interface RunSettingsRow {
  /** Null: not a re-run. */
  rerun: RerunPlan | null;
  budget_usd: number | null;
  /** Null: not a run of an experiment. */
  experiment_id: string | null;
}

/** What a run was started with and never changes: its re-run plan and its budget (undefined: no such run). */
export async function readRunSettings(db: Queryable, runId: string): Promise<RunSettingsRow | undefined> {
  const { rows } = await db.query<RunSettingsRow>('SELECT rerun, budget_usd, experiment_id FROM stitch_runs WHERE id = $1', [runId]);
  return rows[0];
}
