/**
 * The `stitch_experiment` job drives one experiment, in small steps through the queue (design §10):
 * one keyed job per experiment, woken at once when one of its runs ends (a trigger, 0032) and
 * otherwise every few seconds. Each step is safe to repeat, and two at once do no harm:
 *
 * 1. Cells whose run ended take its status, cost, saving and time.
 * 2. Ended cells are scored: assertions at once; with a judge, its run is started (keyed: once),
 *    and the cell is scored when that run ends.
 * 3. Budget: once the experiment's runs have spent it, the experiment stops (failed,
 *    `budget_exceeded`) and its open runs are cancelled.
 * 4. Cells are started up to the concurrency, row by row, each through startRun with an
 *    idempotency key (experiment, row, variant): a process that dies between starting a run and
 *    recording it starts nothing twice — the next step finds the same run.
 * 5. When every cell has ended and been scored, the experiment completes; else the job comes back.
 */
import { getPool } from '@/lib/db/pool';
import {
  allCellsScored,
  cellsToScore,
  closeStoppedCells,
  experimentSpend,
  findExperiment,
  finishExperiment,
  markCellStarted,
  nextCells,
  openExperimentRuns,
  refreshCells,
  scheduleExperimentTick,
  setJudgeRun,
  setScore,
  type CellToScore,
  type ExperimentRow,
} from '@/lib/db/queries/experiments';
import { ConflictError, NotFoundError } from '@/lib/errors';
import { cancelRun, startRun } from '@/lib/engine/start-run';
import { getLogger } from '@/lib/log';
import { roundUsd } from '@/lib/usage/run-cost';
import { checkAssertions, judgeVerdict } from './scoring';

/** How long the job sleeps when no run of the experiment ends meanwhile (a run's end wakes it at once). */
const IDLE_TICK_MS = 2000;

export interface ExperimentTickPayload {
  x: string;
}

/** Tags every run of an experiment carries (issue 22's run tags: searchable, shown in the run view). */
const tagsOf = (e: ExperimentRow, row: number, variant: string) => ({ experiment: e.id, row: String(row), variant });

async function startJudge(e: ExperimentRow, cell: CellToScore): Promise<void> {
  const label = e.variants[cell.variant].label;
  const started = await startRun(
    { flowId: e.scoring.judge!.flowId },
    {
      input: { input: cell.input, output: cell.output, expected: cell.expected ?? null },
      trigger: { type: 'experiment', experimentId: e.id, row: cell.row, variant: label, judge: true },
      idempotency: { scope: `experiment:${e.id}`, key: `judge:${cell.row}:${cell.variant}`, requestHash: 'judge' },
      tags: { ...tagsOf(e, cell.row, label), judge: 'true' },
      experimentId: e.id,
    },
  );
  await setJudgeRun(getPool(), e.id, cell.row, cell.variant, started.runId);
}

async function scoreCell(e: ExperimentRow, cell: CellToScore): Promise<void> {
  const assertions = e.scoring.assertions ?? [];
  if (cell.status !== 'completed') {
    await setScore(getPool(), e.id, cell.row, cell.variant, { passed: assertions.length ? false : null, score: null, detail: {} });
    return;
  }
  if (e.scoring.judge && !cell.judgeRunId) {
    await startJudge(e, cell);
    return;
  }
  if (e.scoring.judge && (cell.judgeStatus === 'running' || cell.judgeStatus === 'pending')) return; // scored when it ends
  const results = checkAssertions(assertions, { input: cell.input, output: cell.output, expected: cell.expected ?? null });
  const detail: Record<string, unknown> = { assertions: results };
  let score: number | null = assertions.length ? results.filter((r) => r.passed).length / assertions.length : null;
  if (e.scoring.judge) {
    const verdict = cell.judgeStatus === 'completed' ? judgeVerdict(cell.judgeOutput) : undefined;
    if (verdict) {
      score = verdict.score;
      detail.reason = verdict.reason;
    } else {
      score = null;
      detail.judgeError = cell.judgeStatus === 'completed' ? 'the judge flow\'s output has no numeric "score"' : (cell.judgeError ?? `the judge run ${cell.judgeStatus}`);
    }
  }
  await setScore(getPool(), e.id, cell.row, cell.variant, { passed: assertions.length ? results.every((r) => r.passed) : null, score, detail });
}

/** Stop a running experiment: mark it (compare-and-set), cancel its open runs, close its cells. */
export async function stopExperiment(id: string, status: 'failed' | 'cancelled', error: string): Promise<boolean> {
  if (!(await finishExperiment(getPool(), id, status, error))) return false;
  for (const runId of await openExperimentRuns(getPool(), id)) {
    try {
      await cancelRun(runId);
    } catch (e) {
      if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e; // it ended meanwhile
    }
  }
  await closeStoppedCells(getPool(), id);
  return true;
}

export async function experimentTickJob(payload: ExperimentTickPayload): Promise<void> {
  const e = await findExperiment(getPool(), payload.x);
  if (!e || e.status !== 'running') return;
  const pool = getPool();
  await refreshCells(pool, e.id);
  for (const cell of await cellsToScore(pool, e.id, e.datasetId, e.datasetVersion)) await scoreCell(e, cell);

  let remaining: number | undefined;
  if (e.budgetUsd !== null) {
    const spent = roundUsd(await experimentSpend(pool, e.id));
    if (spent >= e.budgetUsd) {
      await stopExperiment(e.id, 'failed', `budget_exceeded: the experiment's runs spent $${spent} of its $${e.budgetUsd} budget`);
      getLogger().info({ experimentId: e.id, spent, budgetUsd: e.budgetUsd }, 'experiment stopped by its budget');
      return;
    }
    remaining = roundUsd(e.budgetUsd - spent);
  }

  for (const cell of await nextCells(pool, e.id, e.datasetId, e.datasetVersion, e.concurrency)) {
    const variant = e.variants[cell.variant];
    const started = await startRun(
      { versionId: variant.versionId },
      {
        input: cell.input,
        trigger: { type: 'experiment', experimentId: e.id, row: cell.row, variant: variant.label },
        idempotency: { scope: `experiment:${e.id}`, key: `${cell.row}:${cell.variant}`, requestHash: 'cell' },
        tags: tagsOf(e, cell.row, variant.label),
        experimentId: e.id,
        // Each run may spend at most what is left of the experiment's budget (src/lib/budget).
        budgetUsd: remaining,
      },
    );
    await markCellStarted(pool, e.id, cell.row, cell.variant, started.runId);
  }

  if (await allCellsScored(pool, e.id)) {
    await finishExperiment(pool, e.id, 'completed', null);
    return;
  }
  await scheduleExperimentTick(pool, e.id, IDLE_TICK_MS);
}
