/**
 * The card every node type renders as: accent, icon, label, worker type, and the overlays — run
 * status, attempt, progress bar, splitter item counts, validation issues. Memoised and subscribed
 * to its own overlay entry, so a status change re-renders one card, not 200.
 */
import '@xyflow/react/dist/base.css';
import { memo } from 'react';
import type { VisualNodeData, WorkerDefinition } from '@/types/stitch';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { useCanvas } from '../canvas-context';
import { accentOf, coreType, workerTypeOf, type FlowNode } from '../lib/graph';
import { NodeIcon } from './icons';
import { useOverlay } from '../lib/overlay-store';
import { statusLabel, usd } from '../lib/format';
import { href } from '../router';

function FlowNodeCard({ id, type, data, selected }: NodeProps<FlowNode>) {
  const { defs, overlays } = useCanvas();
  const overlay = useOverlay(overlays, id);
  const core = coreType(type);
  const workerType = workerTypeOf(data);
  const def = workerType ? defs[workerType] : undefined;
  const accent = accentOf(type, def);
  const runtime = overlay?.runtime;
  const issues = overlay?.issues;
  const status = runtime?.status;
  const provenance = overlay?.provenance;
  const origin = provenance?.origin === 'reused' || provenance?.origin === 'cached' ? provenance.origin : undefined;
  const subtitle = subtitleOf(type, data, def, workerType);
  const progress = runtime?.items ? runtime.items.done / Math.max(1, runtime.items.total) : runtime?.progress;
  const showProgress = status === 'running' && typeof progress === 'number';

  return (
    <div
      className={`node-card${selected ? ' selected' : ''}${issues?.length ? ' has-issues' : ''}${status ? ` status-${status}` : ''}${origin ? ` origin-${origin}` : ''}`}
      style={{ '--accent': accent } as React.CSSProperties}
      data-testid={`node-${id}`}
      data-status={status ?? 'idle'}
      data-origin={provenance?.origin ?? undefined}
    >
      {type !== 'start' && <Handle type="target" position={Position.Left} />}
      <div className="node-head">
        <NodeIcon type={core.type} category={def?.category} color={accent} />
        <div className="node-titles">
          <div className="node-label" title={data.label || id}>
            {data.label || id}
          </div>
          <div className="node-sub">{subtitle}</div>
        </div>
        {status && <StatusMark status={runtime?.retrying ? 'retrying' : status} />}
      </div>
      {provenance && (origin || provenance.costUsd > 0) && (
        <div className="node-run" data-testid="node-provenance">
          <div className="node-meta">
            {origin && provenance.fromRunId && (
              <a className="node-origin node-link nodrag nopan" href={href.run(provenance.fromRunId)} onClick={(e) => e.stopPropagation()} data-testid="node-origin-link" title="The run this output came from">
                {origin === 'cached' ? 'cached' : 'reused'} from run {provenance.fromRunId.slice(0, 8)}
              </a>
            )}
            {provenance.costUsd > 0 && (
              <span className="node-cost" data-testid="node-cost">
                {usd(provenance.costUsd)}
              </span>
            )}
          </div>
        </div>
      )}
      {(showProgress || runtime?.items || (runtime && runtime.attempt > 1) || runtime?.message || runtime?.childRunId) && (
        <div className="node-run">
          {showProgress && (
            <div className="progress" role="progressbar" aria-valuenow={Math.round(progress! * 100)} aria-valuemin={0} aria-valuemax={100}>
              <div style={{ width: `${Math.round(progress! * 100)}%` }} />
            </div>
          )}
          <div className="node-meta">
            {runtime?.items && (
              <span data-testid="node-items">
                {runtime.items.done}/{runtime.items.total}
                {runtime.items.failed ? ` · ${runtime.items.failed} failed` : ''}
              </span>
            )}
            {runtime && runtime.attempt > 1 && <span data-testid="node-attempt">attempt {runtime.attempt}</span>}
            {runtime?.message && (status === 'running' || status === 'pending') && !runtime.childRunId && (
              <span className="node-message" data-testid="node-message">
                {runtime.message}
              </span>
            )}
            {runtime?.childRunId && (
              // The child run of a sub-flow node (its latest attempt); the child's view links back.
              <a className="node-link nodrag nopan" href={href.run(runtime.childRunId)} onClick={(e) => e.stopPropagation()} data-testid="child-run-link">
                sub-flow run ↗
              </a>
            )}
          </div>
        </div>
      )}
      {issues?.length ? (
        <div className="node-issues" data-testid="node-issues">
          {issues.slice(0, 2).map((issue, i) => (
            <div key={i}>{issue.message}</div>
          ))}
          {issues.length > 2 && <div>+{issues.length - 2} more</div>}
        </div>
      ) : null}
      {type !== 'end' && <Handle type="source" position={Position.Right} />}
    </div>
  );
}

function subtitleOf(type: string | undefined, data: VisualNodeData, def: WorkerDefinition | undefined, workerType: string | undefined): string {
  const config = data.config ?? {};
  switch (type) {
    case 'worker':
      return def ? `${def.name}${def.type === 'async' ? ' · async' : ''}` : workerType ? `${workerType} (not registered)` : 'choose a worker type';
    case 'start': {
      const fields = Object.keys(data.inputSchema ?? {});
      return fields.length ? `input: ${fields.join(', ')}` : 'Run input';
    }
    case 'end':
      return 'Run output';
    case 'splitter':
      return `for each ${typeof config.arrayPath === 'string' && config.arrayPath ? config.arrayPath : 'item'}`;
    case 'collector':
      return 'Collect items in order';
    case 'switch': {
      const n = Array.isArray(config.cases) ? config.cases.length : 0;
      return `${n} case${n === 1 ? '' : 's'} + default`;
    }
    case 'ux':
      return typeof config.prompt === 'string' && config.prompt ? config.prompt : 'Waits for a person';
    case 'flow':
      return typeof config.flowId === 'string' && config.flowId
        ? `runs flow ${config.flowId.slice(0, 8)}${typeof config.version === 'number' ? ` v${config.version}` : ''}`
        : 'choose the flow to run';
    default:
      return coreType(type).name;
  }
}

const MARK_ICON: Record<string, string | undefined> = {
  completed: 'M5 12.5l4.5 4.5L19 7.5',
  failed: 'M7 7l10 10M17 7L7 17',
  waiting_for_user: 'M9.5 7v10M14.5 7v10',
  skipped: 'M7 12h10',
  cancelled: 'M7 12h10',
  retrying: 'M5 12a7 7 0 0 1 12-4.9L19 9M19 4v5h-5',
};

/** A compact status mark (icon in a coloured disc) that leaves room for the label. */
function StatusMark({ status }: { status: string }) {
  const path = MARK_ICON[status];
  return (
    <span className={`status-mark sm-${status}`} title={statusLabel(status)} data-testid="node-status" aria-label={statusLabel(status)}>
      {path ? (
        <svg width="12" height="12" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="3.2" strokeLinecap="round" strokeLinejoin="round" aria-hidden>
          <path d={path} />
        </svg>
      ) : null}
    </span>
  );
}

export const FlowNodeView = memo(FlowNodeCard);

export const nodeTypes = {
  start: FlowNodeView,
  worker: FlowNodeView,
  ux: FlowNodeView,
  splitter: FlowNodeView,
  collector: FlowNodeView,
  switch: FlowNodeView,
  end: FlowNodeView,
  flow: FlowNodeView,
};
