/**
 * The editor's alert panel: the flow's alerts (what they listen to, where they go, what the last
 * delivery answered), a form to add one, remove, and a test message per alert. Saved with
 * PUT /api/flows/{id}/alerts (no new version); the server checks targets and thresholds and its
 * message is shown under the form as given (docs/operations.md, "Alerts").
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { timeAgo } from '../lib/format';
import { useAction } from '../lib/use-action';
import type { AlertEvent, AlertSpec, AlertWithState } from '../types';

interface AlertPanelProps {
  flowId: string;
  onClose(): void;
}

const EVENTS: Array<{ on: AlertEvent; label: string }> = [
  { on: 'run.failed', label: 'a run fails' },
  { on: 'node.failed', label: 'a node fails' },
  { on: 'budget_exceeded', label: 'a run exceeds its budget' },
  { on: 'run.slower_than', label: 'a run is slower than…' },
];

/** What the server keeps of an alert (the list is replaced whole on each change). */
const specOf = ({ on, to, seconds, format }: AlertSpec): AlertSpec => ({ on, to, ...(seconds === undefined ? {} : { seconds }), ...(format === undefined ? {} : { format }) });

export function AlertPanel({ flowId, onClose }: AlertPanelProps) {
  const [alerts, setAlerts] = useState<AlertWithState[]>();
  const [on, setOn] = useState<AlertEvent>('run.failed');
  const [to, setTo] = useState('');
  const [seconds, setSeconds] = useState('600');
  const [notice, setNotice] = useState<string>();

  const reload = () => api.listAlerts(flowId).then(setAlerts);
  const { busy, error, setError, act } = useAction(reload);
  useEffect(() => {
    reload().catch((e: Error) => setError(e.message));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reload depends on flowId only
  }, [flowId]);

  const save = (next: AlertSpec[]) => act(() => api.saveAlerts(flowId, next.map(specOf)));
  const add = () => {
    const alert: AlertSpec = { on, to: to.trim(), ...(on === 'run.slower_than' ? { seconds: Number(seconds) } : {}) };
    setNotice(undefined);
    return save([...(alerts ?? []), alert]).then(() => setTo(''));
  };
  const sendTest = (index: number) =>
    act(async () => {
      await api.testAlert(flowId, index);
      setNotice('Test message queued: its answer shows on the alert in a moment (reopen the panel to refresh).');
    });

  return (
    <div className="panel-body" data-testid="alerts">
      <div className="panel-title-row">
        <div className="panel-heading">Alerts</div>
        <button className="icon-btn" onClick={onClose} title="Close">
          ×
        </button>
      </div>
      {!alerts && !error && <div className="muted small">Loading…</div>}
      {alerts?.length === 0 && <div className="muted small">No alerts: failures show on the canvas only.</div>}
      <ul className="schedule-list">
        {alerts?.map((a, i) => (
          <li key={`${a.on} ${a.to}`} className="schedule" data-testid="alert-row">
            <div className="schedule-head">
              <code data-testid="alert-on">{a.on}</code>
              {a.seconds !== undefined && <span className="tag">{a.seconds} s</span>}
            </div>
            <div className="muted small alert-target" data-testid="alert-to" title={a.to}>
              → {a.to}
            </div>
            <div className="muted small" data-testid="alert-state">
              {a.lastResult ? `last: ${a.lastResult}${a.lastAttemptAt ? ` (${timeAgo(a.lastAttemptAt)})` : ''}` : 'not sent yet'}
              {a.pending > 0 ? ` · ${a.pending} pending` : ''}
            </div>
            <div className="schedule-actions">
              <button className="btn btn-sm" disabled={busy} onClick={() => void sendTest(i)} data-testid="alert-test">
                Send test
              </button>
              <button className="btn btn-danger-ghost btn-sm" disabled={busy} onClick={() => void save(alerts.filter((_, j) => j !== i))} data-testid="alert-delete">
                Remove
              </button>
            </div>
          </li>
        ))}
      </ul>
      <section className="advanced">
        <div className="field">
          <label className="field-label" htmlFor="alert-on">
            <span className="field-name">when</span>
          </label>
          <select id="alert-on" value={on} onChange={(e) => setOn(e.target.value as AlertEvent)} data-testid="alert-on-input">
            {EVENTS.map((e) => (
              <option key={e.on} value={e.on}>
                {e.label}
              </option>
            ))}
          </select>
        </div>
        {on === 'run.slower_than' && (
          <div className="field">
            <label className="field-label" htmlFor="alert-seconds">
              <span className="field-name">seconds</span>
            </label>
            <input id="alert-seconds" inputMode="numeric" value={seconds} onChange={(e) => setSeconds(e.target.value)} data-testid="alert-seconds-input" />
          </div>
        )}
        <div className="field">
          <label className="field-label" htmlFor="alert-to">
            <span className="field-name">send to</span> <span className="type-tag">URL</span>
          </label>
          <input id="alert-to" value={to} placeholder="https://hooks.slack.com/services/…" onChange={(e) => setTo(e.target.value)} data-testid="alert-to-input" />
          <div className="field-help">A signed POST; Slack's message shape for Slack incoming webhooks. A storm of failures is one message with a count.</div>
        </div>
        {error && (
          <div className="alert alert-error" data-testid="alert-error">
            {error}
          </div>
        )}
        {notice && (
          <div className="muted small" data-testid="alert-notice">
            {notice}
          </div>
        )}
        <button className="btn btn-primary btn-sm" disabled={busy || !to.trim()} onClick={() => void add()} data-testid="alert-add">
          Add alert
        </button>
      </section>
    </div>
  );
}
