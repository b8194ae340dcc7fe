/**
 * The runs list: one flow's runs (`#/flows/:id/runs`) or every flow's (`#/runs`), newest first,
 * filtered by the run search's filters kept in the URL (lib/run-filters.ts), paginated with the
 * server's cursor, live over the all-runs event stream; and bulk actions (cancel, retry, re-run)
 * on the selected runs or on everything the filters match. A flow's selected runs' inputs become a
 * dataset for an experiment (docs/experiments.md).
 */
import { useEffect, useMemo, useState } from 'react';
import { RUN_STATUSES, type RunStatus } from '@/types/stitch';
import { api } from '../api';
import { followEvents } from '../lib/sse';
import { RUN_EVENT_STATUS } from '../lib/run-state';
import { bulkFilterOf, filtersOf, SINCE_CHOICES, splitPair, statusesOf, TRIGGER_TYPES, withFilter } from '../lib/run-filters';
import { StatusBadge } from '../components/status-badge';
import { BulkDialog } from '../components/bulk-dialog';
import { duration, shortId, timeAgo, triggerLabel } from '../lib/format';
import { RunTags } from '../components/run-tags';
import { href, navigate } from '../router';
import type { BulkAction, BulkFilter, FlowSummary, RunListItem } from '../types';

const PAGE = 25;

/** A text filter applied on Enter or when the field is left (not on every keystroke). */
function TextFilter({ value, placeholder, testId, onApply, width = 150 }: { value: string; placeholder: string; testId: string; onApply: (v: string) => void; width?: number }) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  return (
    <input
      data-testid={testId}
      placeholder={placeholder}
      value={draft}
      style={{ width }}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => draft !== value && onApply(draft.trim())}
      onKeyDown={(e) => e.key === 'Enter' && onApply(draft.trim())}
    />
  );
}

export function RunsListPage({ flowId, query }: { flowId: string | null; query: string }) {
  const filters = useMemo(() => filtersOf(query), [query]);
  const apiFilters = useMemo(() => (flowId ? withFilter(filters, 'flowId', flowId) : filters), [filters, flowId]);
  const [flow, setFlow] = useState<FlowSummary>();
  const [flows, setFlows] = useState<FlowSummary[]>([]);
  const [runs, setRuns] = useState<RunListItem[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [reloadKey, setReloadKey] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [datasetName, setDatasetName] = useState('');
  const makeDataset = async (forFlow: string) => {
    try {
      const dataset = await api.createDatasetFromRuns(datasetName.trim() || `runs of ${flow?.name ?? forFlow}`, [...selected]);
      navigate(href.experiments(forFlow, dataset.id));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const [bulk, setBulk] = useState<{ action: BulkAction; filter: BulkFilter; scope: string }>();

  const [versions, setVersions] = useState<Record<string, number>>({});
  useEffect(() => {
    if (!flowId) {
      api.listFlows().then(setFlows, () => {});
      return;
    }
    api.getFlow(flowId).then(setFlow, (e: Error) => setError(e.message));
    api.listVersions(flowId).then((list) => setVersions(Object.fromEntries(list.map((v) => [v.id, v.version]))), () => {});
  }, [flowId]);

  const apiKey = apiFilters.toString();
  useEffect(() => {
    let live = true;
    if (!reloadKey) setRuns(undefined);
    setError(undefined);
    api.listRuns(apiFilters, { limit: PAGE }).then(
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
  }, [apiKey, reloadKey]); // apiFilters is rebuilt whenever the URL changes; its text says when it differs

  // A new filter is a new list: what was selected in the old one is not in view.
  useEffect(() => setSelected(new Set()), [apiKey]);

  // Live: run status changes and new runs arrive on the all-runs event stream.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = followEvents('/api/events', {
      onEvents: (events) => {
        const settled = new Map<string, RunStatus>();
        let created = false;
        for (const e of events) {
          if (e.type === 'run:created' && (!flowId || e.payload?.flowId === flowId)) created = true;
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
      const page = await api.listRuns(apiFilters, { limit: PAGE, cursor });
      setRuns((r) => [...(r ?? []), ...page.runs]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoadingMore(false);
    }
  };

  const setFilter = (name: string, value: string | undefined) => navigate(href.runs(flowId, withFilter(filters, name, value).toString()), { replace: true });
  const statuses = statusesOf(filters);
  // A click shows one status; Ctrl/⌘-click adds or removes it from those shown.
  const clickStatus = (s: RunStatus | undefined, add: boolean) => {
    if (!s) return setFilter('status', undefined);
    const next = add ? (statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s]) : [s];
    setFilter('status', next.join(','));
  };
  /** The one `input.<path>` (or `tag.<key>`) filter the bar edits, as `path=value`. */
  const pairFilter = (prefix: 'input.' | 'tag.') => {
    const key = [...filters.keys()].find((k) => k.startsWith(prefix));
    return key ? `${key.slice(prefix.length)}=${filters.get(key)}` : '';
  };
  const setPairFilter = (prefix: 'input.' | 'tag.', text: string) => {
    let next = new URLSearchParams(filters);
    for (const k of [...next.keys()]) if (k.startsWith(prefix)) next.delete(k);
    const pair = splitPair(text);
    if (pair) next = withFilter(next, `${prefix}${pair[0]}`, pair[1]);
    navigate(href.runs(flowId, next.toString()), { replace: true });
  };

  const openBulk = (action: BulkAction) => {
    const all = selected.size === 0;
    setBulk({
      action,
      filter: all ? bulkFilterOf(apiFilters) : { ids: [...selected] },
      scope: all ? 'every run matching the filters' : `the ${selected.size} selected`,
    });
  };
  const pageIds = runs?.map((r) => r.id) ?? [];
  const allSelected = pageIds.length > 0 && pageIds.every((id) => selected.has(id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  const statusText = statuses.length ? statuses.join(', ') : '';
  return (
    <div className="page">
      <div className="crumbs">
        <a href={href.flows()}>Flows</a> / {flowId ? <><a href={href.flow(flowId)}>{flow?.name ?? '…'}</a> / Runs</> : 'All runs'}
      </div>
      <div className="page-head">
        <h1>Runs</h1>
        {flowId && (
          <div className="row-gap">
            <a className="btn" href={href.experiments(flowId)} data-testid="experiments-link">
              Experiments
            </a>
            <a className="btn" href={href.flow(flowId)}>
              Open editor
            </a>
          </div>
        )}
      </div>
      <div className="chips" role="tablist" data-testid="status-filter" title="Click: one status; Ctrl/⌘-click: several">
        {[undefined, ...RUN_STATUSES].map((s) => {
          const active = s ? statuses.includes(s) : statuses.length === 0;
          return (
            <button key={s ?? 'all'} role="tab" aria-selected={active} className={`chip${active ? ' active' : ''}`} onClick={(e) => clickStatus(s, e.ctrlKey || e.metaKey)} data-testid={`filter-${s ?? 'all'}`}>
              {s ?? 'all'}
            </button>
          );
        })}
      </div>
      <div className="filter-bar" data-testid="run-filters">
        {!flowId && (
          <select data-testid="filter-flow" value={filters.get('flowId') ?? ''} onChange={(e) => setFilter('flowId', e.target.value)}>
            <option value="">All flows</option>
            {flows.map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
          </select>
        )}
        <select data-testid="filter-trigger" value={filters.get('trigger') ?? ''} onChange={(e) => setFilter('trigger', e.target.value)}>
          <option value="">Any trigger</option>
          {TRIGGER_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <select data-testid="filter-since" value={filters.get('createdAfter') ?? ''} onChange={(e) => setFilter('createdAfter', e.target.value)}>
          {SINCE_CHOICES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <TextFilter testId="filter-error" placeholder="Error contains…" value={filters.get('error') ?? ''} onApply={(v) => setFilter('error', v)} />
        <TextFilter testId="filter-input" placeholder="input.field=value" value={pairFilter('input.')} onApply={(v) => setPairFilter('input.', v)} width={170} />
        <TextFilter testId="filter-tag" placeholder="tag key=value" value={pairFilter('tag.')} onApply={(v) => setPairFilter('tag.', v)} width={150} />
        <TextFilter testId="filter-cost-above" placeholder="Cost above $" value={filters.get('costAbove') ?? ''} onApply={(v) => setFilter('costAbove', v)} width={110} />
        {filters.toString() && (
          <button className="btn btn-sm btn-ghost" data-testid="filter-clear" onClick={() => navigate(href.runs(flowId), { replace: true })}>
            Clear filters
          </button>
        )}
      </div>
      <div className="bulk-bar" data-testid="bulk-bar">
        <span className="muted">{selected.size ? `${selected.size} selected` : 'Nothing selected: actions apply to every run matching the filters'}</span>
        <button className="btn btn-sm" data-testid="bulk-cancel" onClick={() => openBulk('cancel')}>
          Cancel
        </button>
        <button className="btn btn-sm" data-testid="bulk-retry" onClick={() => openBulk('retry')}>
          Retry
        </button>
        <button className="btn btn-sm" data-testid="bulk-rerun" onClick={() => openBulk('rerun')}>
          Re-run
        </button>
        {flowId && selected.size > 0 && (
          <>
            <input placeholder="dataset name" value={datasetName} onChange={(e) => setDatasetName(e.target.value)} data-testid="dataset-name" />
            <button className="btn btn-sm btn-primary" onClick={() => void makeDataset(flowId)} data-testid="create-dataset" title="A dataset of the selected runs' inputs, for an experiment">
              Dataset from their inputs
            </button>
          </>
        )}
      </div>
      {error && <div className="alert alert-error">{error}</div>}
      {!runs && !error && <div className="muted pad">Loading…</div>}
      {runs && runs.length === 0 && (
        <div className="empty-state">
          <div className="empty-title">No {statusText} runs{filters.toString() ? ' match these filters' : ''}</div>
          <div className="muted">{flowId ? 'Start one from the editor’s Run button.' : 'Runs of every flow appear here.'}</div>
        </div>
      )}
      {runs && runs.length > 0 && (
        <table className="table" data-testid="runs-table">
          <thead>
            <tr>
              <th>
                <input
                  type="checkbox"
                  data-testid="select-all"
                  aria-label="Select the runs shown"
                  checked={allSelected}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(pageIds))}
                />
              </th>
              <th>Run</th>
              <th>Status</th>
              <th>Trigger</th>
              <th>Tags</th>
              <th>Started</th>
              <th>Duration</th>
              <th>Cost</th>
              <th>{flowId ? 'Version' : 'Flow'}</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} data-testid="run-row" data-status={r.status} data-run-id={r.id}>
                <td>
                  <input type="checkbox" data-testid="select-run" aria-label={`Select run ${shortId(r.id)}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
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
                <td className="muted">{r.costUsd ? `$${r.costUsd.toFixed(4)}` : '—'}</td>
                <td className="muted">
                  {flowId ? (
                    r.versionId ? <a href={href.version(flowId, r.versionId)}>{versions[r.versionId] ? `v${versions[r.versionId]}` : shortId(r.versionId)}</a> : '—'
                  ) : r.flowId ? (
                    <a href={href.runs(r.flowId)}>{flows.find((f) => f.id === r.flowId)?.name ?? shortId(r.flowId)}</a>
                  ) : (
                    '—'
                  )}
                </td>
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
      {bulk && (
        <BulkDialog
          action={bulk.action}
          filter={bulk.filter}
          scope={bulk.scope}
          onClose={() => setBulk(undefined)}
          onFinished={() => {
            setSelected(new Set());
            setReloadKey((k) => k + 1);
          }}
        />
      )}
    </div>
  );
}
