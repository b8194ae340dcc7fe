/**
 * The run timeline: one bar per node instance from its first `running` to its end (a lighter
 * segment while pending), on a shared time axis; and the raw event log.
 */
import { memo, useEffect, useMemo, useState } from 'react';
import { formatMs, statusLabel } from '../lib/format';
import type { RunView } from '../lib/run-state';

interface Row {
  instanceId: string;
  status: string;
  queued: number;
  start?: number;
  end?: number;
}

function useNow(active: boolean, ms = 500): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return active ? now : 0;
}

function TimelineView({ view, onPick }: { view: RunView; onPick(nodeId: string): void }) {
  const [tab, setTab] = useState<'gantt' | 'events'>('gantt');
  const [open, setOpen] = useState(true);
  const active = view.status === 'running' || view.status === 'pending';
  const now = useNow(active);
  const origin = Date.parse(view.createdAt);
  const rows = useMemo(() => {
    const map = new Map<string, Row>();
    for (const e of view.events) {
      if (!e.instanceId) continue;
      const t = Date.parse(e.createdAt);
      const row = map.get(e.instanceId) ?? { instanceId: e.instanceId, status: 'pending', queued: t };
      if (e.type === 'node:pending' && (e.payload?.retry || row.end !== undefined)) {
        // A retried or reopened instance: its bar restarts.
        row.queued = t;
        row.start = undefined;
        row.end = undefined;
      }
      if ((e.type === 'node:running' || e.type === 'node:progress' || e.type === 'node:waiting') && row.start === undefined) row.start = t;
      if (['node:completed', 'node:failed', 'node:cancelled', 'node:skipped'].includes(e.type)) row.end = t;
      map.set(e.instanceId, row);
    }
    // Instances known from the snapshot only (events not replayed): use their timestamps.
    for (const inst of Object.values(view.instances)) {
      const row = map.get(inst.instanceId) ?? { instanceId: inst.instanceId, status: inst.status, queued: inst.startedAt ? Date.parse(inst.startedAt) : origin };
      row.status = inst.retrying ? 'retrying' : inst.status;
      if (row.start === undefined && inst.startedAt) row.start = Date.parse(inst.startedAt);
      if (row.end === undefined && inst.finishedAt) row.end = Date.parse(inst.finishedAt);
      map.set(inst.instanceId, row);
    }
    // Started rows in start order; rows still waiting go last.
    const key = (r: Row) => r.start ?? r.end ?? Number.MAX_SAFE_INTEGER;
    return [...map.values()].sort((a, b) => key(a) - key(b) || a.queued - b.queued);
  }, [view.events, view.instances, origin]);
  const finish = view.finishedAt ? Date.parse(view.finishedAt) : 0;
  const last = Math.max(finish, now, ...rows.map((r) => r.end ?? r.start ?? r.queued));
  const span = Math.max(1, last - origin);
  const pct = (t: number) => `${(Math.max(0, t - origin) / span) * 100}%`;
  const width = (a: number, b: number) => `${Math.max(0.4, ((b - a) / span) * 100)}%`;

  return (
    <div className={`timeline${open ? '' : ' collapsed'}`} data-testid="timeline">
      <div className="timeline-head">
        <div className="tabs">
          <button className={`tab${tab === 'gantt' ? ' active' : ''}`} onClick={() => (setTab('gantt'), setOpen(true))}>
            Timeline
          </button>
          <button className={`tab${tab === 'events' ? ' active' : ''}`} onClick={() => (setTab('events'), setOpen(true))} data-testid="tab-events">
            Events ({view.events.length})
          </button>
        </div>
        <span className="timeline-tools">
          <span className="muted small">{formatMs(span)}</span>
          <button className="icon-btn" onClick={() => setOpen(!open)} title={open ? 'Hide the timeline' : 'Show the timeline'} aria-expanded={open}>
            {open ? '▾' : '▴'}
          </button>
        </span>
      </div>
      {open && <div className="timeline-body">
        {tab === 'gantt' ? (
          rows.slice(0, 300).map((r) => {
            const end = r.end ?? (active ? now : (r.start ?? r.queued));
            return (
              <div className="tl-row" key={r.instanceId} onClick={() => onPick(r.instanceId.replace(/\[.*$/, ''))} data-testid={`tl-${r.instanceId}`}>
                <div className="tl-label mono" title={r.instanceId}>
                  {r.instanceId}
                </div>
                <div className="tl-track">
                  {r.start !== undefined && r.start > r.queued && <div className="tl-wait" style={{ left: pct(r.queued), width: width(r.queued, r.start) }} />}
                  {r.start !== undefined && (
                    <div className={`tl-bar status-${r.status}`} style={{ left: pct(r.start), width: width(r.start, end) }} title={`${statusLabel(r.status)} · ${formatMs(end - r.start)}`}>
                      <span>{formatMs(end - r.start)}</span>
                    </div>
                  )}
                  {r.start === undefined && r.end !== undefined && r.status === 'completed' && (
                    <div className={`tl-bar status-${r.status}`} style={{ left: pct(r.queued), width: width(r.queued, r.end) }} title={`${statusLabel(r.status)} · ${formatMs(r.end - r.queued)}`} />
                  )}
                  {r.start === undefined && !(r.end !== undefined && r.status === 'completed') && <div className={`tl-dot status-${r.status}`} style={{ left: pct(r.end ?? r.queued) }} title={statusLabel(r.status)} />}
                </div>
              </div>
            );
          })
        ) : (
          <table className="table compact events" data-testid="events">
            <tbody>
              {view.events
                .slice(-500)
                .reverse()
                .map((e) => (
                  <tr key={e.id} data-testid="event-row" data-type={e.type} data-instance={e.instanceId ?? ''}>
                    <td className="muted mono small">+{formatMs(Date.parse(e.createdAt) - origin)}</td>
                    <td>
                      <span className={`ev ev-${e.type.split(':')[1]}`}>{e.type}</span>
                    </td>
                    <td className="mono small">{e.instanceId ?? ''}</td>
                    <td className="muted small mono ev-payload">{Object.keys(e.payload ?? {}).length ? JSON.stringify(e.payload) : ''}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
        {tab === 'gantt' && rows.length === 0 && <div className="muted small pad">No node has started yet.</div>}
      </div>}
    </div>
  );
}

export const Timeline = memo(TimelineView);
