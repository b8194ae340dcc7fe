/** The flows list: name, last run status, updated; create, rename, delete. */
import { useCallback, useEffect, useState } from 'react';
import type { RunStatus } from '@/types/stitch';
import { api } from '../api';
import { RUN_EVENT_STATUS } from '../lib/run-state';
import { followEvents } from '../lib/sse';
import { StatusBadge } from '../components/status-badge';
import { useToast } from '../components/toast';
import { timeAgo, usd } from '../lib/format';
import { href, navigate } from '../router';
import type { FlowSummary } from '../types';

type LastRun = { id: string; status: RunStatus; createdAt: string; costUsd?: number; costMock?: true } | null;

export function FlowsListPage() {
  const toast = useToast();
  const [flows, setFlows] = useState<FlowSummary[]>();
  const [lastRuns, setLastRuns] = useState<Record<string, LastRun>>({});
  const [error, setError] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [newName, setNewName] = useState('');
  const [renaming, setRenaming] = useState<{ id: string; name: string }>();
  const [deleting, setDeleting] = useState<string>();

  const load = useCallback(async () => {
    try {
      const list = await api.listFlows();
      setFlows(list);
      setLastRuns(Object.fromEntries(list.map((f) => [f.id, f.lastRun])));
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // Last-run badges follow the all-runs event stream.
  useEffect(
    () =>
      followEvents('/api/events', {
        onEvents: (events) =>
          setLastRuns((prev) => {
            let next = prev;
            for (const e of events) {
              const flowId = e.type === 'run:created' && typeof e.payload?.flowId === 'string' ? e.payload.flowId : undefined;
              if (flowId) next = { ...next, [flowId]: { id: e.runId, status: 'running', createdAt: e.createdAt } };
              const status = RUN_EVENT_STATUS[e.type];
              if (!status || status === 'running') continue;
              const owner = Object.entries(next).find(([, r]) => r?.id === e.runId)?.[0];
              if (owner) next = { ...next, [owner]: { ...next[owner]!, status } };
            }
            return next;
          }),
      }),
    [],
  );

  const rename = async () => {
    if (!renaming) return;
    const name = renaming.name.trim();
    if (!name) return;
    try {
      const flow = await api.getFlow(renaming.id);
      await api.updateFlow(renaming.id, flow.graph ?? { nodes: [], edges: [] }, name);
      setRenaming(undefined);
      toast.show(`Renamed to “${name}”`, 'success');
      void load();
    } catch (e) {
      toast.show((e as Error).message, 'error');
    }
  };

  const remove = async (id: string) => {
    try {
      await api.deleteFlow(id);
      setDeleting(undefined);
      toast.show('Flow deleted', 'success');
      void load();
    } catch (e) {
      toast.show((e as Error).message, 'error');
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Flows</h1>
          <div className="muted">Build a flow on the canvas, run it, and watch every node live.</div>
        </div>
        {creating ? (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              navigate(href.newFlow(newName.trim() || 'Untitled flow'));
            }}
          >
            <input autoFocus placeholder="Flow name" value={newName} onChange={(e) => setNewName(e.target.value)} data-testid="new-flow-name" />
            <button className="btn btn-primary" type="submit" data-testid="new-flow-create">
              Create
            </button>
            <button className="btn" type="button" onClick={() => setCreating(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <button className="btn btn-primary" onClick={() => setCreating(true)} data-testid="new-flow">
            + New flow
          </button>
        )}
      </div>
      {error && <div className="alert alert-error">Could not load flows: {error}</div>}
      {!flows && !error && <div className="muted pad">Loading…</div>}
      {flows && flows.length === 0 && (
        <div className="empty-state">
          <div className="empty-title">No flows yet</div>
          <div className="muted">Create one to start building.</div>
        </div>
      )}
      {flows && flows.length > 0 && (
        <table className="table" data-testid="flows-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Last run</th>
              <th>Updated</th>
              <th>Version</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => {
              const last = lastRuns[f.id];
              return (
                <tr key={f.id} data-testid={`flow-row-${f.name}`}>
                  <td>
                    {renaming?.id === f.id ? (
                      <form
                        className="inline-form"
                        onSubmit={(e) => {
                          e.preventDefault();
                          void rename();
                        }}
                      >
                        <input autoFocus value={renaming.name} onChange={(e) => setRenaming({ id: f.id, name: e.target.value })} data-testid="rename-input" />
                        <button className="btn btn-sm btn-primary" type="submit">
                          Save
                        </button>
                        <button className="btn btn-sm" type="button" onClick={() => setRenaming(undefined)}>
                          Cancel
                        </button>
                      </form>
                    ) : (
                      <a className="flow-link" href={href.flow(f.id)}>
                        {f.name}
                      </a>
                    )}
                  </td>
                  <td>
                    {last === undefined ? (
                      <span className="muted small">…</span>
                    ) : last ? (
                      <a href={href.run(last.id)} className="run-link">
                        <StatusBadge status={last.status} /> <span className="muted small">{timeAgo(last.createdAt)}</span>
                        {typeof last.costUsd === 'number' && last.costUsd > 0 && (
                          <span
                            className="node-cost"
                            data-testid="flow-last-cost"
                            title={last.costMock ? 'Estimate: mock workers, priced as the real calls would be' : 'What the vendors billed for this run'}
                          >
                            {' '}
                            {last.costMock ? `≈${usd(last.costUsd)} est.` : usd(last.costUsd)}
                          </span>
                        )}
                      </a>
                    ) : (
                      <StatusBadge status={null} />
                    )}
                  </td>
                  <td className="muted">{timeAgo(f.updatedAt)}</td>
                  <td className="muted">{f.version ? `v${f.version}` : '—'}</td>
                  <td className="row-actions">
                    {deleting === f.id ? (
                      <>
                        <span className="small">Delete “{f.name}”?</span>
                        <button className="btn btn-sm btn-danger" onClick={() => void remove(f.id)} data-testid="confirm-delete">
                          Delete
                        </button>
                        <button className="btn btn-sm" onClick={() => setDeleting(undefined)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <>
                        <a className="btn btn-sm btn-ghost" href={href.runs(f.id)}>
                          Runs
                        </a>
                        <button className="btn btn-sm btn-ghost" onClick={() => setRenaming({ id: f.id, name: f.name })} data-testid="rename">
                          Rename
                        </button>
                        <button className="btn btn-sm btn-danger-ghost" onClick={() => setDeleting(f.id)} data-testid="delete">
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
