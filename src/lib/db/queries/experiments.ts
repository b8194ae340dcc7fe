/**
 * Experiments (0032_experiments.sql): the experiment, its cells (one per dataset row and variant),
 * the keyed job that drives it (`stitch_experiment`, src/lib/experiments/tick.ts), and the reads
 * of the comparison view.
 */
import type { Queryable } from './queryable';
import { MICROS, UUID_KEY, decodeCursor, fromMicros, pageOf } from './keyset-cursor';

export interface VariantSpec {
  label: string;
  versionId: string;
  /** The saved version's number (null: a detached version with overrides). */
  version: number | null;
  nodeOverrides?: Record<string, unknown>;
}

export interface Scoring {
  assertions?: string[];
  judge?: { flowId: string };
}

export interface ExperimentRow {
  id: string;
  flowId: string | null;
  datasetId: string;
  datasetVersion: number;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  variants: VariantSpec[];
  scoring: Scoring;
  concurrency: number;
  budgetUsd: number | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toExperiment(r: Record<string, any>): ExperimentRow {
  return {
    id: r.id,
    flowId: r.flow_id,
    datasetId: r.dataset_id,
    datasetVersion: r.dataset_version,
    status: r.status,
    variants: r.variants,
    scoring: r.scoring,
    concurrency: r.concurrency,
    budgetUsd: r.budget_usd,
    error: r.error,
    createdAt: iso(r.created_at)!,
    finishedAt: iso(r.finished_at),
  };
}

export async function countExperiments(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stitch_experiments');
  return rows[0].n;
}

/** The experiment, a pending cell per row and variant, and its first tick job, in one statement. */
export async function insertExperiment(
  db: Queryable,
  e: { flowId: string; datasetId: string; datasetVersion: number; variants: VariantSpec[]; scoring: Scoring; concurrency: number; budgetUsd: number | null; rowCount: number },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `WITH x AS (
       INSERT INTO stitch_experiments (flow_id, dataset_id, dataset_version, variants, scoring, concurrency, budget_usd)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7) RETURNING id
     ), cells AS (
       INSERT INTO stitch_experiment_cells (experiment_id, row_idx, variant)
       SELECT x.id, r, v FROM x, generate_series(0, $8 - 1) AS r, generate_series(0, jsonb_array_length($4::jsonb) - 1) AS v
     )
     SELECT x.id, graphile_worker.add_job('stitch_experiment', json_build_object('x', x.id),
              job_key => 'stitch:experiment:' || x.id, job_key_mode => 'replace', max_attempts => 25) AS job
     FROM x`,
    [e.flowId, e.datasetId, e.datasetVersion, JSON.stringify(e.variants), JSON.stringify(e.scoring), e.concurrency, e.budgetUsd, e.rowCount],
  );
  return rows[0].id;
}

export async function findExperiment(db: Queryable, id: string): Promise<ExperimentRow | undefined> {
  const { rows } = await db.query('SELECT * FROM stitch_experiments WHERE id = $1', [id]);
  return rows[0] && toExperiment(rows[0]);
}

export async function listExperiments(db: Queryable, page: { flowId?: string; limit: number; cursor?: string }): Promise<{ experiments: ExperimentRow[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor, [MICROS, UUID_KEY]);
  const { rows } = await db.query(
    `SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_key FROM stitch_experiments
     WHERE ($1::uuid IS NULL OR flow_id = $1)
       AND ($2::bigint IS NULL OR (created_at, id) < (${fromMicros('$2')}, $3::uuid))
     ORDER BY created_at DESC, id DESC LIMIT $4`,
    [page.flowId ?? null, after?.[0] ?? null, after?.[1] ?? null, page.limit + 1],
  );
  const items = pageOf(rows, page.limit, (r) => [r.created_key, r.id]);
  return { experiments: items.rows.map(toExperiment), nextCursor: items.nextCursor };
}

/** Removed (true), or not there. */
export async function deleteExperiment(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM stitch_experiments WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/**
 * Cells whose run has ended take its status, cost (what its nodes were billed), saving (what its
 * reused and cached nodes cost when they executed) and time. Idempotent.
 */
export async function refreshCells(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE stitch_experiment_cells c
     SET status = r.status,
         cost_usd = (SELECT coalesce(sum(u.usd), 0) FROM stitch_node_usage u WHERE u.run_id = r.id),
         saved_usd = (SELECT coalesce(sum((n.metadata ->> 'savedUsd')::float8), 0) FROM stitch_node_runs n WHERE n.run_id = r.id AND n.metadata ? 'savedUsd'),
         duration_ms = extract(epoch FROM r.finished_at - r.started_at) * 1000
     FROM stitch_runs r
     WHERE c.experiment_id = $1 AND NOT c.scored AND c.status = 'running' AND r.id = c.run_id AND r.status IN ('completed', 'failed', 'cancelled')`,
    [id],
  );
}

export interface CellToStart {
  row: number;
  variant: number;
  input: Record<string, unknown>;
}

/** How many cells have a run in flight, and the next `n` cells to start (row by row, so a row's variants run together and share). */
export async function nextCells(db: Queryable, id: string, datasetId: string, version: number, concurrency: number): Promise<CellToStart[]> {
  const { rows } = await db.query(
    `SELECT c.row_idx, c.variant, d.input FROM stitch_experiment_cells c
     JOIN stitch_dataset_rows d ON d.dataset_id = $2 AND d.version = $3 AND d.idx = c.row_idx
     WHERE c.experiment_id = $1 AND c.status = 'pending'
     ORDER BY c.row_idx, c.variant
     LIMIT greatest(0, $4 - (SELECT count(*) FROM stitch_experiment_cells WHERE experiment_id = $1 AND status = 'running'))`,
    [id, datasetId, version, concurrency],
  );
  return rows.map((r) => ({ row: r.row_idx, variant: r.variant, input: r.input }));
}

export async function markCellStarted(db: Queryable, id: string, row: number, variant: number, runId: string): Promise<void> {
  await db.query(`UPDATE stitch_experiment_cells SET run_id = $4, status = 'running' WHERE experiment_id = $1 AND row_idx = $2 AND variant = $3 AND status = 'pending'`, [
    id,
    row,
    variant,
    runId,
  ]);
}

export interface CellToScore {
  row: number;
  variant: number;
  status: string;
  input: Record<string, unknown>;
  expected: unknown;
  output: unknown;
  judgeRunId: string | null;
  judgeStatus: string | null;
  judgeOutput: unknown;
  judgeError: string | null;
}

/** Cells whose run has ended and that are not scored yet, with what scoring reads. */
export async function cellsToScore(db: Queryable, id: string, datasetId: string, version: number): Promise<CellToScore[]> {
  const { rows } = await db.query(
    `SELECT c.row_idx, c.variant, c.status, d.input, d.expected, r.output, c.judge_run_id, j.status AS judge_status, j.output AS judge_output, j.error AS judge_error
     FROM stitch_experiment_cells c
     JOIN stitch_dataset_rows d ON d.dataset_id = $2 AND d.version = $3 AND d.idx = c.row_idx
     LEFT JOIN stitch_runs r ON r.id = c.run_id
     LEFT JOIN stitch_runs j ON j.id = c.judge_run_id
     WHERE c.experiment_id = $1 AND NOT c.scored AND c.status IN ('completed', 'failed', 'cancelled')
     ORDER BY c.row_idx, c.variant`,
    [id, datasetId, version],
  );
  return rows.map((r) => ({
    row: r.row_idx,
    variant: r.variant,
    status: r.status,
    input: r.input,
    expected: r.expected,
    output: r.output,
    judgeRunId: r.judge_run_id,
    judgeStatus: r.judge_status,
    judgeOutput: r.judge_output,
    judgeError: r.judge_error,
  }));
}

export async function setJudgeRun(db: Queryable, id: string, row: number, variant: number, runId: string): Promise<void> {
  await db.query('UPDATE stitch_experiment_cells SET judge_run_id = $4 WHERE experiment_id = $1 AND row_idx = $2 AND variant = $3 AND judge_run_id IS NULL', [id, row, variant, runId]);
}

export async function setScore(db: Queryable, id: string, row: number, variant: number, s: { passed: boolean | null; score: number | null; detail: unknown }): Promise<void> {
  await db.query(
    'UPDATE stitch_experiment_cells SET scored = true, passed = $4, score = $5, score_detail = $6::jsonb WHERE experiment_id = $1 AND row_idx = $2 AND variant = $3 AND NOT scored',
    [id, row, variant, s.passed, s.score, JSON.stringify(s.detail)],
  );
}

/** What the experiment's runs (cells, judges and their sub-flows) have been billed. */
export async function experimentSpend(db: Queryable, id: string): Promise<number> {
  const { rows } = await db.query<{ usd: number }>(
    'SELECT coalesce(sum(u.usd), 0)::float8 AS usd FROM stitch_runs r JOIN stitch_node_usage u ON u.run_id = r.id WHERE r.experiment_id = $1',
    [id],
  );
  return Number(rows[0].usd);
}

/** True once every cell has ended and been scored. */
export async function allCellsScored(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query('SELECT NOT EXISTS (SELECT 1 FROM stitch_experiment_cells WHERE experiment_id = $1 AND NOT scored) AS done', [id]);
  return rows[0].done;
}

/** End a running experiment (compare-and-set): false when it had ended already. Cells never started end as cancelled. */
export async function finishExperiment(db: Queryable, id: string, status: 'completed' | 'failed' | 'cancelled', error: string | null): Promise<boolean> {
  const { rows } = await db.query(
    `WITH x AS (UPDATE stitch_experiments SET status = $2, error = $3, finished_at = now() WHERE id = $1 AND status = 'running' RETURNING id),
          c AS (UPDATE stitch_experiment_cells SET status = 'cancelled', scored = true FROM x WHERE experiment_id = x.id AND status = 'pending')
     SELECT id FROM x`,
    [id, status, error],
  );
  return rows.length > 0;
}

/** The runs of an experiment still open (cells, judges): to cancel when it stops. */
export async function openExperimentRuns(db: Queryable, id: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM stitch_runs WHERE experiment_id = $1 AND parent_run_id IS NULL AND status IN ('pending', 'running')`,
    [id],
  );
  return rows.map((r) => r.id);
}

/** Cells still marked running whose run has ended as the stop cancelled it: scored as they are. */
export async function closeStoppedCells(db: Queryable, id: string): Promise<void> {
  await refreshCells(db, id);
  await db.query(`UPDATE stitch_experiment_cells SET scored = true WHERE experiment_id = $1 AND NOT scored AND status <> 'running'`, [id]);
}

/** Run the experiment's job again after `delayMs`, unless it is due sooner already (a run's end woke it). */
export async function scheduleExperimentTick(db: Queryable, id: string, delayMs: number): Promise<void> {
  await db.query(
    `SELECT graphile_worker.add_job('stitch_experiment', json_build_object('x', $1::uuid), run_at => now() + $2 * interval '1 millisecond',
       job_key => 'stitch:experiment:' || $1, job_key_mode => 'preserve_run_at', max_attempts => 25)`,
    [id, delayMs],
  );
}

export interface CellView {
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
  judgeRunId: string | null;
  output: unknown;
  error: string | null;
}

export interface RowView {
  idx: number;
  input: Record<string, unknown>;
  expected: unknown;
  notes: string | null;
}

/** Rows `afterIdx + 1 … afterIdx + limit` with every variant's cell. */
export async function comparisonPage(db: Queryable, e: ExperimentRow, afterIdx: number, limit: number): Promise<{ rows: RowView[]; cells: CellView[] }> {
  const rows = await db.query(
    `SELECT idx, input, expected, notes FROM stitch_dataset_rows WHERE dataset_id = $1 AND version = $2 AND idx > $3 ORDER BY idx LIMIT $4`,
    [e.datasetId, e.datasetVersion, afterIdx, limit],
  );
  const last = rows.rows.length ? rows.rows[rows.rows.length - 1].idx : afterIdx;
  const cells = await db.query(
    `SELECT c.*, r.output, r.error FROM stitch_experiment_cells c LEFT JOIN stitch_runs r ON r.id = c.run_id
     WHERE c.experiment_id = $1 AND c.row_idx > $2 AND c.row_idx <= $3 ORDER BY c.row_idx, c.variant`,
    [e.id, afterIdx, last],
  );
  return {
    rows: rows.rows.map((r) => ({ idx: r.idx, input: r.input, expected: r.expected ?? null, notes: r.notes })),
    cells: cells.rows.map((c) => ({
      row: c.row_idx,
      variant: c.variant,
      status: c.status,
      runId: c.run_id,
      costUsd: c.cost_usd,
      savedUsd: c.saved_usd,
      durationMs: c.duration_ms,
      passed: c.passed,
      score: c.score,
      scoreDetail: c.score_detail,
      judgeRunId: c.judge_run_id,
      output: c.output,
      error: c.error,
    })),
  };
}

export interface VariantSummaryRow {
  variant: number;
  cells: number;
  completed: number;
  failed: number;
  running: number;
  pending: number;
  costUsd: number;
  savedUsd: number;
  p50Ms: number | null;
  passRate: number | null;
  meanScore: number | null;
}

/** Per variant: counts, cost and saving, the median time of completed runs, pass rate and mean score. */
export async function variantSummaries(db: Queryable, id: string): Promise<VariantSummaryRow[]> {
  const { rows } = await db.query(
    `SELECT variant, count(*)::int AS cells,
            count(*) FILTER (WHERE status = 'completed')::int AS completed,
            count(*) FILTER (WHERE status IN ('failed', 'cancelled'))::int AS failed,
            count(*) FILTER (WHERE status = 'running')::int AS running,
            count(*) FILTER (WHERE status = 'pending')::int AS pending,
            coalesce(sum(cost_usd), 0)::float8 AS cost_usd, coalesce(sum(saved_usd), 0)::float8 AS saved_usd,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status = 'completed') AS p50,
            avg(passed::int) FILTER (WHERE passed IS NOT NULL)::float8 AS pass_rate,
            avg(score)::float8 AS mean_score
     FROM stitch_experiment_cells WHERE experiment_id = $1 GROUP BY variant ORDER BY variant`,
    [id],
  );
  return rows.map((r) => ({
    variant: r.variant,
    cells: r.cells,
    completed: r.completed,
    failed: r.failed,
    running: r.running,
    pending: r.pending,
    costUsd: Number(r.cost_usd),
    savedUsd: Number(r.saved_usd),
    p50Ms: r.p50 === null ? null : Number(r.p50),
    passRate: r.pass_rate === null ? null : Number(r.pass_rate),
    meanScore: r.mean_score === null ? null : Number(r.mean_score),
  }));
}

/** A saved version of a flow by its number. */
export async function findVersionByNumber(db: Queryable, flowId: string, version: number): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM stitch_flow_versions WHERE flow_id = $1 AND version = $2', [flowId, version]);
  return rows[0]?.id;
}

/** A version's flow and number (to check that a variant's versionId is one of the flow's). */
export async function versionInfo(db: Queryable, versionId: string): Promise<{ flowId: string | null; version: number; graph: unknown } | undefined> {
  const { rows } = await db.query('SELECT flow_id, version, visual_graph FROM stitch_flow_versions WHERE id = $1', [versionId]);
  return rows[0] && { flowId: rows[0].flow_id, version: rows[0].version, graph: rows[0].visual_graph };
}
