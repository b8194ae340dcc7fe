/**
 * The editor's schedule panel: the flow's cron schedules (next tick, on/off, catch-up mode,
 * budget), a form to add one, and delete. The server validates the expression and the time zone; its
 * message is shown under the form as given.
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { timeAgo, usd } from '../lib/format';
import { useAction } from '../lib/use-action';
import type { Schedule } from '../types';

interface SchedulePanelProps {
  flowId: string;
  onClose(): void;
}

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function parseInput(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  const value = JSON.parse(text) as unknown;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('The input must be a JSON object.');
  return value as Record<string, unknown>;
}

/** Empty: the flow's default budget. Checked here because JSON cannot carry NaN (it would send null). */
function parseBudget(text: string): number | undefined {
  if (!text.trim()) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error('The budget must be a non-negative number of USD (or empty for the flow\'s default).');
  return value;
}

export function SchedulePanel({ flowId, onClose }: SchedulePanelProps) {
  const [schedules, setSchedules] = useState<Schedule[]>();
  const [cron, setCron] = useState('0 9 * * 1-5');
  const [timezone, setTimezone] = useState(browserZone);
  const [input, setInput] = useState('');
  const [catchUp, setCatchUp] = useState<'none' | 'latest'>('none');
  const [budget, setBudget] = useState('');

  const reload = () => api.listSchedules(flowId).then(setSchedules);
  const { busy, error, setError, act } = useAction(reload);
  useEffect(() => {
    reload().catch((e: Error) => setError(e.message));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload depends on flowId only
  }, [flowId]);

  const add = () => act(() => api.createSchedule(flowId, { cron: cron.trim(), timezone: timezone.trim(), enabled: true, catchUp, input: parseInput(input), budgetUsd: parseBudget(budget) }));

  return (
    <div className="panel-body" data-testid="schedules">
      <div className="panel-title-row">
        <div className="panel-heading">Schedules</div>
        <button className="icon-btn" onClick={onClose} title="Close">
          ×
        </button>
      </div>
      {!schedules && !error && <div className="muted small">Loading…</div>}
      {schedules?.length === 0 && <div className="muted small">No schedules: this flow runs only when started.</div>}
      <ul className="schedule-list">
        {schedules?.map((s) => (
          <li key={s.id} className="schedule" data-testid="schedule-row" data-schedule-id={s.id}>
            <div className="schedule-head">
              <code data-testid="schedule-cron">{s.cron}</code>
              <span className="muted small">{s.timezone}</span>
              {s.catchUp === 'latest' && <span className="tag">catch up latest</span>}
              {s.budgetUsd !== null && (
                <span className="tag" data-testid="schedule-budget" title="Spend cap of every run it starts">
                  budget {usd(s.budgetUsd)}
                </span>
              )}
            </div>
            <div className="muted small" data-testid="schedule-next">
              {s.enabled ? `next ${s.nextRunAt ? new Date(s.nextRunAt).toLocaleString() : '—'}` : 'paused'}
              {s.lastRunAt ? ` · last ${timeAgo(s.lastRunAt)}` : ''}
            </div>
            <div className="schedule-actions">
              <label className="check">
                <input type="checkbox" checked={s.enabled} disabled={busy} onChange={(e) => void act(() => api.updateSchedule(flowId, s.id, { enabled: e.target.checked }))} data-testid="schedule-enabled" />
                enabled
              </label>
              <button className="btn btn-danger-ghost btn-sm" disabled={busy} onClick={() => void act(() => api.deleteSchedule(flowId, s.id))} data-testid="schedule-delete">
                Delete
              </button>
            </div>
          </li>
        ))}
      </ul>
      <section className="advanced">
        <div className="field">
          <label className="field-label" htmlFor="schedule-cron">
            <span className="field-name">cron</span>
          </label>
          <input id="schedule-cron" value={cron} onChange={(e) => setCron(e.target.value)} data-testid="schedule-cron-input" />
          <div className="field-help">5 fields (minute hour day month weekday), or 6 with seconds first.</div>
        </div>
        <div className="field">
          <label className="field-label" htmlFor="schedule-tz">
            <span className="field-name">timezone</span>
          </label>
          <input id="schedule-tz" value={timezone} onChange={(e) => setTimezone(e.target.value)} data-testid="schedule-timezone-input" />
        </div>
        <div className="field">
          <label className="field-label" htmlFor="schedule-catchup">
            <span className="field-name">after downtime</span>
          </label>
          <select id="schedule-catchup" value={catchUp} onChange={(e) => setCatchUp(e.target.value as 'none' | 'latest')} data-testid="schedule-catchup-input">
            <option value="none">skip missed ticks</option>
            <option value="latest">run the latest missed tick once</option>
          </select>
        </div>
        <div className="field">
          <label className="field-label" htmlFor="schedule-budget">
            <span className="field-name">budget</span> <span className="type-tag">USD</span>
          </label>
          <input id="schedule-budget" inputMode="decimal" value={budget} placeholder="the flow's default" onChange={(e) => setBudget(e.target.value)} data-testid="schedule-budget-input" />
          <div className="field-help">Spend cap of every run it starts: no further priced node starts once a run has spent it.</div>
        </div>
        <div className="field">
          <label className="field-label" htmlFor="schedule-input">
            <span className="field-name">input</span> <span className="type-tag">object</span>
          </label>
          <textarea id="schedule-input" rows={3} value={input} placeholder="{}" onChange={(e) => setInput(e.target.value)} data-testid="schedule-input-input" />
        </div>
        {error && (
          <div className="alert alert-error" data-testid="schedule-error">
            {error}
          </div>
        )}
        <button className="btn btn-primary btn-sm" disabled={busy} onClick={() => void add()} data-testid="schedule-add">
          Add schedule
        </button>
      </section>
    </div>
  );
}
