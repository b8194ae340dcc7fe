/**
 * The node inspector of a run: status, attempts and timings, input, output (with media previews),
 * error; retry for a failed instance; the answer form for a waiting UX gate. Splitter scopes list
 * their item instances (`node[i]`).
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { StitchEvent, WorkerDefinition } from '@/types/stitch';
import { api } from '../api';
import { clockTime, duration, formatMs, shortId, statusLabel, usd } from '../lib/format';
import { href } from '../router';
import { ErrorBoundary } from './error-boundary';
import { NodeIcon } from './icons';
import { accentOf, coreType, workerTypeOf, type FlowNode } from '../lib/graph';
import type { InstanceView, RunView } from '../lib/run-state';
import type { RunDetail } from '../types';
import { JsonView } from './json-view';
import { MediaPreview } from './media-preview';
import { StatusBadge } from './status-badge';
import { UxGateForm } from './ux-gate-form';
import { useToast } from './toast';

interface InspectorProps {
  runId: string;
  nodeId: string;
  node?: FlowNode;
  defs: Record<string, WorkerDefinition>;
  view: RunView;
  detail?: RunDetail;
  onClose(): void;
  /** A finished run: re-run from this node (it and everything downstream execute). */
  onRunFromHere?(): void;
}

interface Attempt {
  attempt: number;
  /** When this attempt was enqueued (its `node:pending`). */
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  outcome: string;
  error?: string;
}

function attemptsOf(events: StitchEvent[], instanceId: string): Attempt[] {
  const byAttempt = new Map<number, Attempt>();
  for (const e of events) {
    if (e.instanceId !== instanceId) continue;
    const n = typeof e.payload?.attempt === 'number' ? e.payload.attempt : 1;
    const a = byAttempt.get(n) ?? { attempt: n, outcome: 'pending', queuedAt: e.createdAt };
    if (e.type === 'node:running' && !a.startedAt) a.startedAt = e.createdAt;
    if (['node:completed', 'node:failed', 'node:retrying', 'node:cancelled', 'node:skipped'].includes(e.type)) {
      a.finishedAt = e.createdAt;
      a.outcome = e.type.slice(5);
      if (typeof e.payload?.error === 'string') a.error = e.payload.error;
    } else if (e.type === 'node:waiting') a.outcome = 'waiting';
    else if (e.type === 'node:running' || e.type === 'node:progress') a.outcome = 'running';
    byAttempt.set(n, a);
  }
  return [...byAttempt.values()].sort((x, y) => x.attempt - y.attempt);
}

/** Everything the event log says about one instance: transitions, progress messages, errors. */
function NodeLog({ events, instanceId, origin }: { events: StitchEvent[]; instanceId: string; origin: string }) {
  const mine = events.filter((e) => e.instanceId === instanceId);
  if (!mine.length) return <div className="muted small">No events yet.</div>;
  const start = Date.parse(origin);
  return (
    <div className="node-log mono" data-testid="inspector-log">
      {mine.map((e) => {
        const p = e.payload ?? {};
        const detail = [typeof p.attempt === 'number' ? `attempt ${p.attempt}` : '', typeof p.progress === 'number' ? `${Math.round(p.progress * 100)}%` : '', typeof p.message === 'string' ? p.message : '', typeof p.error === 'string' ? p.error : '']
          .filter(Boolean)
          .join(' · ');
        return (
          <div key={e.id} className="log-line">
            <span className="muted">+{formatMs(Date.parse(e.createdAt) - start)}</span> <span className={`ev ev-${e.type.split(':')[1]}`}>{e.type.slice(5)}</span> {detail}
          </div>
        );
      })}
    </div>
  );
}

function gatePrompt(node: FlowNode | undefined, metadata: Record<string, unknown> | undefined): string | undefined {
  const prompt = node?.data.config?.prompt ?? metadata?.prompt;
  return typeof prompt === 'string' ? prompt : undefined;
}

const indexOf = (id: string) => (id.match(/\d+/g) ?? []).map(Number);

export function Inspector({ runId, nodeId, node, defs, view, detail, onClose, onRunFromHere }: InspectorProps) {
  const toast = useToast();
  const instances = useMemo(
    () =>
      Object.values(view.instances)
        .filter((i) => i.nodeId === nodeId)
        .sort((a, b) => {
          const [x, y] = [indexOf(a.instanceId), indexOf(b.instanceId)];
          for (let k = 0; k < Math.max(x.length, y.length); k++) if ((x[k] ?? -1) !== (y[k] ?? -1)) return (x[k] ?? -1) - (y[k] ?? -1);
          return 0;
        }),
    [view.instances, nodeId],
  );
  const [chosen, setChosen] = useState<string>();
  const [tab, setTab] = useState<'output' | 'input' | 'error' | 'log'>('output');
  const [retrying, setRetrying] = useState(false);
  const current: InstanceView | undefined = instances.find((i) => i.instanceId === chosen) ?? instances.find((i) => i.status === 'failed' || i.status === 'waiting_for_user') ?? instances[0];
  const state = current ? detail?.nodes?.[current.instanceId] : undefined;
  const attempts = useMemo(() => {
    if (!current) return [];
    const list = attemptsOf(view.events, current.instanceId);
    // Sync workers complete without a separate `running` event: an attempt then starts when queued.
    for (const a of list) a.startedAt ??= a.queuedAt;
    return list;
  }, [view.events, current]);
  const thisAttempt = attempts.find((a) => a.attempt === current?.attempt);
  const startedAt = thisAttempt?.startedAt ?? state?.startedAt ?? current?.startedAt;
  const finishedAt = thisAttempt ? thisAttempt.finishedAt : (state?.finishedAt ?? current?.finishedAt);
  useEffect(() => {
    if (current?.status === 'failed') setTab('error');
  }, [current?.status]);

  const core = coreType(node?.type);
  const workerType = workerTypeOf(node?.data);
  const def = workerType ? defs[workerType] : undefined;

  const retry = async () => {
    if (!current) return;
    setRetrying(true);
    try {
      await api.retryNode(runId, current.instanceId);
      toast.show(`Retrying ${current.instanceId}`, 'info');
    } catch (e) {
      toast.show((e as Error).message, 'error');
    } finally {
      setRetrying(false);
    }
  };

  return (
    <div className="panel-body inspector" data-testid="inspector">
      <div className="panel-title-row">
        <div className="panel-title">
          <NodeIcon type={core.type} category={def?.category} color={accentOf(core.type, def)} />
          <div>
            <div className="panel-heading">{node?.data.label || nodeId}</div>
            <div className="muted small mono">{def ? `${def.name} · ${nodeId}` : `${core.name} · ${nodeId}`}</div>
          </div>
        </div>
        <button className="icon-btn" onClick={onClose} title="Close">
          ×
        </button>
      </div>

      {!instances.length && <div className="muted small">Not reached in this run.</div>}

      {instances.length > 1 && (
        <div className="instances" data-testid="instances">
          {instances.map((i) => (
            <button key={i.instanceId} className={`instance-chip status-${i.status}${i === current ? ' active' : ''}`} onClick={() => setChosen(i.instanceId)} title={`${i.instanceId}: ${statusLabel(i.status)}`}>
              {i.instanceId.slice(nodeId.length) || nodeId}
            </button>
          ))}
        </div>
      )}

      {current && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={current.retrying ? 'retrying' : current.status} testId="inspector-status" />
            </dd>
            <dt>Attempt</dt>
            <dd data-testid="inspector-attempt">{current.attempt}</dd>
            <dt>Started</dt>
            <dd>{clockTime(startedAt)}</dd>
            <dt>Duration</dt>
            <dd>{current.status === 'pending' ? '—' : duration(startedAt, finishedAt)}</dd>
            {current.instanceId !== nodeId && (
              <>
                <dt>Instance</dt>
                <dd className="mono">{current.instanceId}</dd>
              </>
            )}
            {state?.origin && state.origin !== 'executed' && state.reusedFrom && (
              <>
                <dt>Output</dt>
                <dd data-testid="inspector-origin">
                  {state.origin === 'cached' ? 'from the step cache, computed by ' : 'reused from '}
                  <a href={href.run(state.reusedFrom.runId)} data-testid="inspector-origin-link">
                    run {shortId(state.reusedFrom.runId)}
                  </a>{' '}
                  (<span className="mono">{state.reusedFrom.instanceId}</span>)
                </dd>
              </>
            )}
            {state?.usage && state.usage.length > 0 && (
              <>
                <dt>Cost</dt>
                <dd data-testid="inspector-cost">
                  {usd(state.costUsd ?? 0)} ({state.usage.map((u) => `${u.quantity} ${u.unit}`).join(', ')}
                  {state.usage.some((u) => u.mock) ? ', mock' : ''})
                </dd>
              </>
            )}
          </dl>
          {onRunFromHere && (
            <button className="btn btn-sm" onClick={onRunFromHere} data-testid="run-from-here" title="Re-run: this node and everything after it execute, the rest is reused">
              ↻ Run from here
            </button>
          )}

          {current.status === 'running' && typeof current.progress === 'number' && (
            <div className="progress big">
              <div style={{ width: `${Math.round(current.progress * 100)}%` }} />
            </div>
          )}

          {view.streams[current.instanceId]?.attempt === current.attempt && view.streams[current.instanceId].text !== '' && (
            <div className="stream-box">
              <div className="muted small">{current.status === 'running' || current.status === 'pending' ? 'Streaming…' : 'Streamed'}</div>
              <StreamText text={view.streams[current.instanceId].text} />
            </div>
          )}

          {current.status === 'waiting_for_user' && (
            <ErrorBoundary what="This gate’s form" resetKey={current.instanceId}>
              <UxGateForm
                key={current.instanceId}
                runId={runId}
                instanceId={current.instanceId}
                message={gatePrompt(node, state?.metadata)}
                schema={node?.data.config?.inputSchema ?? state?.metadata?.inputSchema}
                onDone={() => toast.show('Answer sent', 'success')}
              />
            </ErrorBoundary>
          )}

          {current.status === 'failed' && (
            <div className="alert alert-error">
              <div className="alert-row">
                <span>{current.error || state?.error || 'Failed'}</span>
                <button className="btn btn-sm" onClick={() => void retry()} disabled={retrying} data-testid="retry-node">
                  ↻ Retry
                </button>
              </div>
            </div>
          )}

          <div className="tabs">
            {(['output', 'input', 'error', 'log'] as const).map((t) => (
              <button key={t} className={`tab${tab === t ? ' active' : ''}`} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
                {t}
              </button>
            ))}
          </div>
          {!state && detail === undefined ? (
            <div className="muted small">Loading…</div>
          ) : tab === 'output' ? (
            <>
              <MediaPreview value={state?.output} />
              <JsonView value={state?.output} testId="inspector-output" empty={current.status === 'completed' ? 'no output' : 'no output yet'} />
            </>
          ) : tab === 'input' ? (
            <JsonView value={state?.input} testId="inspector-input" empty="no input recorded" />
          ) : tab === 'log' ? (
            <NodeLog events={view.events} instanceId={current.instanceId} origin={view.createdAt} />
          ) : (
            <JsonView value={state?.error ?? current.error} testId="inspector-error" empty="no error" />
          )}

          {attempts.length > 0 && (
            <>
              <h4>Attempts</h4>
              <div className="attempts" data-testid="attempts">
                {attempts.map((a) => (
                  <div className="attempt" key={a.attempt} data-testid="attempt">
                    <div className="attempt-row">
                      <span className="attempt-num">#{a.attempt}</span>
                      <StatusBadge status={a.outcome} />
                      <span className="muted small">{clockTime(a.startedAt)}</span>
                      <span className="muted small attempt-dur">{a.startedAt && a.finishedAt ? duration(a.startedAt, a.finishedAt) : ''}</span>
                    </div>
                    {a.error && <div className="small err-text attempt-err">{a.error}</div>}
                  </div>
                ))}
              </div>
            </>
          )}
        </>
      )}
    </div>
  );
}

/** Streamed text, kept scrolled to its end while it grows. */
function StreamText({ text }: { text: string }) {
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [text]);
  return (
    <pre className="stream-text" ref={ref} data-testid="inspector-stream">
      {text}
    </pre>
  );
}
