/**
 * "Run again" and "Run from here": shows the re-run's dry run first — which nodes will execute and
 * which outputs will be reused — then starts the incremental re-run, or (Run everything) a fresh
 * run of the flow with the same input.
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { href, navigate } from '../router';
import type { RerunPlan, RunDetail } from '../types';
import { Modal } from './modal';
import { useToast } from './toast';

export function RerunDialog({ run, fromNode, onClose }: { run: RunDetail; fromNode?: string; onClose: () => void }) {
  const toast = useToast();
  const [plan, setPlan] = useState<RerunPlan>();
  const [error, setError] = useState<string>();
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    api.rerunPlan(run.id, fromNode).then(setPlan, (e: Error) => setError(e.message));
  }, [run.id, fromNode]);

  const start = async (everything: boolean) => {
    setStarting(true);
    try {
      const started = everything && run.flowId ? await api.startRun(run.flowId, run.input) : await api.rerun(run.id, fromNode);
      navigate(href.run(started.runId));
    } catch (e) {
      toast.show((e as Error).message, 'error');
      setStarting(false);
    }
  };

  return (
    <Modal title={fromNode ? `Run from ${fromNode}` : 'Run again'} onClose={onClose} testId="rerun-dialog">
      <div>
        {error && <div className="alert alert-error">{error}</div>}
        {!plan && !error && <p className="muted">Working out what changed…</p>}
        {plan && (
          <>
            <p>
              <strong data-testid="rerun-execute-count">{plan.execute.length}</strong> to execute ·{' '}
              <strong data-testid="rerun-reuse-count">{plan.reuse.length}</strong> reused from this run
              {fromNode && <> · everything from <span className="mono">{fromNode}</span> on runs again</>}
            </p>
            <InstanceList title="Will execute" ids={plan.execute} testId="rerun-execute" />
            <InstanceList title="Will be reused" ids={plan.reuse} testId="rerun-reuse" />
          </>
        )}
      </div>
      <div className="modal-actions">
        {run.flowId && (
          <button className="btn" onClick={() => void start(true)} disabled={starting} data-testid="rerun-everything" title="A fresh run of the flow with the same input: nothing reused">
            Run everything
          </button>
        )}
        <button className="btn btn-primary" onClick={() => void start(false)} disabled={starting || !plan} data-testid="rerun-start">
          {plan ? `Run ${plan.execute.length}, reuse ${plan.reuse.length}` : 'Run'}
        </button>
      </div>
    </Modal>
  );
}

function InstanceList({ title, ids, testId }: { title: string; ids: string[]; testId: string }) {
  if (ids.length === 0) return null;
  const shown = ids.slice(0, 40);
  return (
    <div className="rerun-list" data-testid={testId}>
      <h4>{title}</h4>
      <div className="mono small">
        {shown.join(', ')}
        {ids.length > shown.length && ` … and ${ids.length - shown.length} more`}
      </div>
    </div>
  );
}
