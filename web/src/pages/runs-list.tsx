/**
 * Runs of one flow, newest first, filtered by status, paginated with the server's cursor. Selected
 * runs' inputs become a dataset for an experiment (docs/experiments.md).
 */
import { useEffect, useState } from 'react';
import { RUN_STATUSES, type RunStatus } from '@/types/stitch';
import { api } from '../api';
import { followEvents } from '../lib/sse';
import { RUN_EVENT_STATUS } from '../lib/run-state';
import { StatusBadge } from '../components/status-badge';
import { duration, shortId, timeAgo, triggerLabel } from '../lib/format';
import { RunTags } from '../components/run-tags';
import { href, navigate } from '../router';
import type { FlowSummary, RunListItem } from '../types';

const PAGE = 25;

export function RunsListPage({ flowId }: { flowId: string }) {
  const [flow, setFlow] = useState<FlowSummary>();
  const [status, setStatus] = useState<RunStatus | undefined>();
  const [runs, setRuns] = useState<RunListItem[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [reloadKey, setReloadKey] = useState(0);
  const [selected, setSelected] = useState<string[]>([]);
  const [datasetName, setDatasetName] = useState('');
  const toggle = (id: string) => setSelected((list) => (list.includes(id) ? list.filter((x) => x !== id) : [...list, id]));
  const makeDataset = async () => {
    try {
      const dataset = await api.createDatasetFromRuns(datasetName.trim() || `runs of ${flow?.name ?? flowId}`, selected);
      navigate(href.experiments(flowId, dataset.id));
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const [versions, setVersions] = useState<Record<string, number>>({});
  useEffect(() => {
    api.getFlow(flowId).then(setFlow, (e: Error) => setError(e.message));
    api.listVersions(flowId).then((list) => setVersions(Object.fromEntries(list.map((v) => [v.id, v.version]))), () => {});
  }, [flowId]);

  useEffect(() => {
    let live = true;
    if (!reloadKey) setRuns(undefined);
    api.listRuns({ flowId, status, limit: PAGE }).then(
      (page) => {
        if (!live) return;
        setRuns(page.runs);
        setCursor(page.nextCursor);
      },
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [flowId, status, reloadKey]);

  // Live: run status changes and new runs of this flow arrive on the all-runs event stream.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = followEvents('/api/events', {
      onEvents: (events) => {
        const settled = new Map<string, RunStatus>();
        let created = false;
        for (const e of events) {
          if (e.type === 'run:created' && e.payload?.flowId === flowId) created = true;
          const status = RUN_EVENT_STATUS[e.type];
          if (status) settled.set(e.runId, status);
        }
        if (settled.size) setRuns((list) => list?.map((r) => (settled.has(r.id) ? { ...r, status: settled.get(r.id)!, finishedAt: r.finishedAt ?? (settled.get(r.id) === 'running' ? null : new Date().toISOString()) } : r)));
        if (created) {
          clearTimeout(timer);
          timer = setTimeout(() => setReloadKey((k) => k + 1), 200);
        }
      },
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [flowId]);

  const more = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await api.listRuns({ flowId, status, limit: PAGE, cursor });
      setRuns((r) => [...(r ?? []), ...page.runs]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <div className="page">
      <div className="crumbs">
        <a href={href.flows()}>Flows</a> / <a href={href.flow(flowId)}>{flow?.name ?? '…'}</a> / Runs
      </div>
      <div className="page-head">
        <h1>Runs</h1>
        <div className="row-gap">
          <a className="btn" href={href.experiments(flowId)} data-testid="experiments-link">
            Experiments
          </a>
          <a className="btn" href={href.flow(flowId)}>
            Open editor
          </a>
        </div>
      </div>
      {selected.length > 0 && (
        <div className="row-gap pad" data-testid="dataset-bar">
          <span>{selected.length} selected</span>
          <input placeholder="dataset name" value={datasetName} onChange={(e) => setDatasetName(e.target.value)} data-testid="dataset-name" />
          <button className="btn btn-primary btn-sm" onClick={() => void makeDataset()} data-testid="create-dataset">
            Dataset from their inputs
          </button>
        </div>
      )}
      <div className="chips" role="tablist" data-testid="status-filter">
        {[undefined, ...RUN_STATUSES].map((s) => (
          <button key={s ?? 'all'} role="tab" aria-selected={status === s} className={`chip${status === s ? ' active' : ''}`} onClick={() => setStatus(s)} data-testid={`filter-${s ?? 'all'}`}>
            {s ?? 'all'}
          </button>
        ))}
      </div>
      {error && <div className="alert alert-error">{error}</div>}
      {!runs && !error && <div className="muted pad">Loading…</div>}
      {runs && runs.length === 0 && (
        <div className="empty-state">
          <div className="empty-title">No {status ?? ''} runs</div>
          <div className="muted">Start one from the editor’s Run button.</div>
        </div>
      )}
      {runs && runs.length > 0 && (
        <table className="table" data-testid="runs-table">
          <thead>
            <tr>
              <th aria-label="select" />
              <th>Run</th>
              <th>Status</th>
              <th>Trigger</th>
              <th>Tags</th>
              <th>Started</th>
              <th>Duration</th>
              <th>Version</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} data-testid="run-row" data-status={r.status}>
                <td>
                  <input type="checkbox" checked={selected.includes(r.id)} onChange={() => toggle(r.id)} data-testid="run-select" aria-label={`select run ${shortId(r.id)}`} />
                </td>
                <td>
                  <a className="mono" href={href.run(r.id)}>
                    {shortId(r.id)}
                  </a>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td className="muted" data-testid="run-trigger" title={r.trigger ? JSON.stringify(r.trigger) : undefined}>
                  {triggerLabel(r.trigger)}
                </td>
                <td>
                  <RunTags tags={r.tags} priority={r.priority} />
                </td>
                <td className="muted">{timeAgo(r.createdAt)}</td>
                <td className="muted">{duration(r.startedAt ?? r.createdAt, r.finishedAt)}</td>
                <td className="muted">{r.versionId ? <a href={href.version(flowId, r.versionId)}>{versions[r.versionId] ? `v${versions[r.versionId]}` : shortId(r.versionId)}</a> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button className="btn" onClick={() => void more()} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  );
}
