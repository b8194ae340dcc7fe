/**
 * The comparison view of an experiment: rows are the dataset's rows, columns its variants. Each cell
 * shows the output (text marked where it differs from the first variant's; images, audio and video
 * played), status, cost, time and score, and opens its run. Sort and filter by difference, score or
 * cost; export the table as CSV. It fills in live while the experiment runs.
 */
import { useEffect, useMemo, useState } from 'react';
import { api } from '../api';
import { MediaPreview } from '../components/media-preview';
import { StatusBadge } from '../components/status-badge';
import { formatMs, usd } from '../lib/format';
import { findMedia } from '../lib/media';
import { wordDiff } from '../lib/word-diff';
import { href } from '../router';
import type { Experiment, ExperimentCell } from '../types';

const POLL_MS = 1000;

/** What a cell shows as text: a string output as it is, else its JSON. */
function textOf(output: unknown): string {
  if (output === null || output === undefined) return '';
  if (typeof output === 'string') return output;
  const values = typeof output === 'object' && !Array.isArray(output) ? Object.values(output as Record<string, unknown>) : [];
  if (values.length === 1 && typeof values[0] === 'string') return values[0];
  return JSON.stringify(output);
}

type Sort = 'row' | 'difference' | 'score' | 'cost';

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function experimentCsv(x: Experiment): string {
  const head = ['row', 'input', ...x.variants.flatMap((v) => ['status', 'output', 'costUsd', 'durationMs', 'score', 'passed'].map((f) => `${v.label}.${f}`))];
  const lines = x.rows.map((r) => [r.idx, r.input, ...r.variants.flatMap((c) => [c.status, textOf(c.output), c.costUsd, c.durationMs, c.score, c.passed])].map(csvField).join(','));
  return [head.map(csvField).join(','), ...lines].join('\r\n') + '\r\n';
}

function Cell({ cell, base }: { cell: ExperimentCell; base?: ExperimentCell }) {
  const text = textOf(cell.output);
  const media = findMedia(cell.output, 3);
  const parts = base && base !== cell ? wordDiff(textOf(base.output), text) : [{ text, kind: 'same' as const }];
  return (
    <td className="exp-cell" data-testid={`cell-${cell.row}-${cell.variant}`} data-status={cell.status}>
      <div className="exp-cell-head">
        <StatusBadge status={cell.status} />
        {cell.runId && (
          <a href={href.run(cell.runId)} data-testid="cell-run" className="small">
            open run
          </a>
        )}
      </div>
      {media.length > 0 ? <MediaPreview value={cell.output} /> : null}
      {text && (
        <div className="exp-output" data-testid="cell-output">
          {parts.map((p, i) => (p.kind === 'added' ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
        </div>
      )}
      {cell.error && <div className="small error-text">{cell.error}</div>}
      <div className="muted small">
        {cell.costUsd !== null && <span data-testid="cell-cost">{usd(cell.costUsd)}</span>}
        {cell.durationMs !== null && <span> · {formatMs(cell.durationMs)}</span>}
        {cell.score !== null && <span data-testid="cell-score"> · score {cell.score}</span>}
        {cell.passed !== null && <span> · {cell.passed ? 'passed' : 'failed checks'}</span>}
      </div>
    </td>
  );
}

export function ExperimentPage({ experimentId }: { experimentId: string }) {
  const [x, setX] = useState<Experiment>();
  const [error, setError] = useState<string>();
  const [sort, setSort] = useState<Sort>('row');
  const [differsOnly, setDiffersOnly] = useState(false);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await api.getExperiment(experimentId);
        if (!live) return;
        setX(next);
        if (next.status === 'running') timer = setTimeout(() => void load(), POLL_MS);
      } catch (e) {
        if (live) setError((e as Error).message);
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [experimentId]);

  const rows = useMemo(() => {
    if (!x) return [];
    const differs = (r: Experiment['rows'][number]) => new Set(r.variants.map((c) => textOf(c.output))).size > 1;
    const key = (r: Experiment['rows'][number]): number => {
      if (sort === 'difference') return differs(r) ? 0 : 1;
      if (sort === 'score') return -Math.max(...r.variants.map((c) => c.score ?? -Infinity));
      if (sort === 'cost') return -r.variants.reduce((n, c) => n + (c.costUsd ?? 0), 0);
      return r.idx;
    };
    return x.rows.filter((r) => !differsOnly || differs(r)).sort((a, b) => key(a) - key(b) || a.idx - b.idx);
  }, [x, sort, differsOnly]);

  if (error) return <div className="alert alert-error">{error}</div>;
  if (!x) return <div className="muted pad">Loading…</div>;
  const csv = `data:text/csv;charset=utf-8,${encodeURIComponent(experimentCsv(x))}`;
  return (
    <div className="page">
      <div className="crumbs">
        {x.flowId && (
          <>
            <a href={href.experiments(x.flowId)}>Experiments</a> /{' '}
          </>
        )}
        {x.id.slice(0, 8)}
      </div>
      <div className="page-head">
        <h1>
          {x.variants.map((v) => v.label).join(' vs ')} <StatusBadge status={x.status} testId="experiment-status" />
        </h1>
        <div className="row-gap">
          <span data-testid="experiment-progress">
            {x.progress.done}/{x.progress.cells} runs
          </span>
          <span data-testid="experiment-cost" title="What the runs spent, and what shared nodes would have cost again">
            {usd(x.cost.usd)} spent · {usd(x.cost.savedUsd)} saved
          </span>
          <a className="btn btn-sm" href={csv} download={`experiment-${x.id.slice(0, 8)}.csv`} data-testid="export-csv">
            Export CSV
          </a>
          {x.status === 'running' && (
            <button className="btn btn-sm btn-danger" onClick={() => void api.cancelExperiment(x.id).catch((e: Error) => setError(e.message))} data-testid="cancel-experiment">
              Cancel
            </button>
          )}
        </div>
      </div>
      {x.error && <div className="alert alert-error">{x.error}</div>}
      <table className="table" data-testid="experiment-summary">
        <thead>
          <tr>
            <th>Variant</th>
            <th>Done</th>
            <th>Failures</th>
            <th>Pass rate</th>
            <th>Mean score</th>
            <th>Cost</th>
            <th>p50 time</th>
          </tr>
        </thead>
        <tbody>
          {x.summary.map((s) => (
            <tr key={s.label}>
              <td>{s.label}</td>
              <td>{s.completed}</td>
              <td>{s.failed}</td>
              <td>{s.passRate === null ? '—' : `${Math.round(s.passRate * 100)}%`}</td>
              <td>{s.meanScore === null ? '—' : s.meanScore.toFixed(2)}</td>
              <td>{usd(s.costUsd)}</td>
              <td>{s.p50Ms === null ? '—' : formatMs(s.p50Ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="chips">
        {(['row', 'difference', 'score', 'cost'] as Sort[]).map((s) => (
          <button key={s} className={`chip${sort === s ? ' active' : ''}`} onClick={() => setSort(s)} data-testid={`sort-${s}`}>
            by {s}
          </button>
        ))}
        <label className="small">
          <input type="checkbox" checked={differsOnly} onChange={(e) => setDiffersOnly(e.target.checked)} data-testid="differs-only" /> only rows whose outputs differ
        </label>
      </div>
      <table className="table exp-table" data-testid="comparison">
        <thead>
          <tr>
            <th>Input</th>
            {x.variants.map((v) => (
              <th key={v.label}>
                {v.label} <span className="muted small">{v.version === null ? 'overrides' : `v${v.version}`}</span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.idx} data-testid="comparison-row">
              <td className="mono small">{JSON.stringify(r.input)}</td>
              {r.variants.map((c) => (
                <Cell key={c.variant} cell={c} base={r.variants[0]} />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
