/**
 * Recorded usage (`stitch_node_usage`, 0013_rerun_cache_usage.sql) and the run columns that go
 * with cost: what runs spent, by instance, by run and by worker type, and the budgets.
 */
import type { Queryable } from './queryable';

export interface UsageRow {
  instance_id: string;
  unit: string;
  quantity: number;
  usd: number;
  mock: boolean;
}

/** A run's usage summed by instance and unit. */
export async function readRunUsage(db: Queryable, runId: string): Promise<UsageRow[]> {
  const { rows } = await db.query<UsageRow>(
    `SELECT instance_id, unit, sum(quantity) AS quantity, sum(usd) AS usd, bool_or(mock) AS mock
     FROM stitch_node_usage WHERE run_id = $1 GROUP BY instance_id, unit ORDER BY instance_id, unit`,
    [runId],
  );
  return rows;
}

/** The re-run source and the budget a run started with. */
export async function readRunCostSettings(db: Queryable, runId: string): Promise<{ rerunOf: string | null; budgetUsd: number | null }> {
  const { rows } = await db.query<{ rerun_of: string | null; budget_usd: number | null }>('SELECT rerun_of, budget_usd FROM stitch_runs WHERE id = $1', [runId]);
  return { rerunOf: rows[0]?.rerun_of ?? null, budgetUsd: rows[0]?.budget_usd ?? null };
}

/**
 * USD spent by each of these runs, its sub-flows' runs included (a parent's spend covers its
 * children's, at any depth: stitch_runs_parent_idx), and whether mock workers reported any of it;
 * runs with no usage are left out.
 */
export async function sumSpendByRun(db: Queryable, runIds: string[]): Promise<Array<{ runId: string; usd: number; mock: boolean }>> {
  const { rows } = await db.query<{ run_id: string; usd: number; mock: boolean }>(
    `WITH RECURSIVE tree AS (
       SELECT id, id AS root FROM stitch_runs WHERE id = ANY($1::uuid[])
       UNION ALL
       SELECT r.id, t.root FROM stitch_runs r JOIN tree t ON r.parent_run_id = t.id
     )
     SELECT t.root AS run_id, sum(u.usd) AS usd, bool_or(u.mock) AS mock FROM tree t JOIN stitch_node_usage u ON u.run_id = t.id GROUP BY t.root`,
    [runIds],
  );
  return rows.map((r) => ({ runId: r.run_id, usd: Number(r.usd), mock: r.mock }));
}

/** What the sub-flow runs started by each `flow` node instance of a run spent (theirs and their own children's). */
export async function sumChildSpendByInstance(db: Queryable, runId: string): Promise<Array<{ instanceId: string; usd: number }>> {
  const { rows } = await db.query<{ instance_id: string; usd: number }>(
    `WITH RECURSIVE tree AS (
       SELECT id, parent_instance_id AS via FROM stitch_runs WHERE parent_run_id = $1
       UNION ALL
       SELECT r.id, t.via FROM stitch_runs r JOIN tree t ON r.parent_run_id = t.id
     )
     SELECT t.via AS instance_id, sum(u.usd) AS usd FROM tree t JOIN stitch_node_usage u ON u.run_id = t.id GROUP BY t.via`,
    [runId],
  );
  return rows.map((r) => ({ instanceId: r.instance_id, usd: Number(r.usd) }));
}

/** All spend recorded, by worker type (null: unknown). */
export async function sumSpendByWorkerType(db: Queryable): Promise<Array<{ workerType: string | null; usd: number }>> {
  const { rows } = await db.query<{ worker_type: string | null; usd: number }>('SELECT worker_type, sum(usd) AS usd FROM stitch_node_usage GROUP BY worker_type');
  return rows.map((r) => ({ workerType: r.worker_type, usd: r.usd }));
}

/** A live flow's default budget (null: none); false when there is no such flow. */
export async function updateFlowBudget(db: Queryable, flowId: string, budgetUsd: number | null): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE stitch_flows SET budget_usd = $2 WHERE id = $1 AND deleted_at IS NULL', [flowId, budgetUsd]);
  return Boolean(rowCount);
}

/** Whose usage a report is, when the reporter does not know: the node's worker type and current attempt. */
export async function readUsageSubject(db: Queryable, runId: string, instanceId: string): Promise<{ workerType: string | null; attempt: number } | undefined> {
  const { rows } = await db.query<{ worker_type: string | null; attempt: number }>(
    `SELECT v.execution_graph #>> array['nodes', n.node_id, 'workerType'] AS worker_type, n.attempt
     FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id JOIN stitch_flow_versions v ON v.id = r.version_id
     WHERE n.run_id = $1 AND n.instance_id = $2`,
    [runId, instanceId],
  );
  return rows[0] && { workerType: rows[0].worker_type, attempt: rows[0].attempt };
}

/**
 * Record priced usage items (`[{unit, quantity, usd, mock}]` as JSON) against one attempt, and add
 * them to the run's `cost_usd` (what the run search filters on) in the same statement.
 */
export async function insertUsage(
  db: Queryable,
  attempt: { runId: string; instanceId: string; attempt: number; workerType: string | null },
  itemsJson: string,
): Promise<void> {
  await db.query(
    `WITH items AS (SELECT * FROM jsonb_to_recordset($5::jsonb) AS u(unit text, quantity float8, usd float8, mock boolean)),
     recorded AS (
       INSERT INTO stitch_node_usage (run_id, instance_id, attempt, worker_type, unit, quantity, usd, mock)
       SELECT $1, $2, $3, $4, unit, quantity, usd, mock FROM items
     )
     UPDATE stitch_runs SET cost_usd = cost_usd + (SELECT coalesce(sum(usd), 0) FROM items)
     WHERE id = $1 AND EXISTS (SELECT 1 FROM items WHERE usd <> 0)`,
    [attempt.runId, attempt.instanceId, attempt.attempt, attempt.workerType, itemsJson],
  );
}
