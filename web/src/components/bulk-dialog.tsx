/**
 * A bulk action on the runs list: first the dry run's count ("Re-run 12 runs?"), then, once
 * confirmed, the job's progress as the server streams it (GET /api/runs/bulk/:id/events).
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { followSnapshots } from '../lib/sse';
import type { BulkAction, BulkDryRun, BulkFilter, BulkJob } from '../types';
import { Modal } from './modal';

const VERB: Record<BulkAction, string> = { cancel: 'Cancel', retry: 'Retry', rerun: 'Re-run' };
const APPLIES: Record<BulkAction, string> = {
  cancel: 'pending and running runs',
  retry: 'failed runs (every failed node, as the Retry button does)',
  rerun: 'finished runs (reusing unchanged work, on the latest version)',
};

export function BulkDialog({ action, filter, scope, onClose, onFinished }: {
  action: BulkAction;
  filter: BulkFilter;
  /** What the filter means to the person: "3 selected runs", "all runs matching the filters". */
  scope: string;
  onClose: () => void;
  onFinished: () => void;
}) {
  const [dry, setDry] = useState<BulkDryRun>();
  const [job, setJob] = useState<BulkJob>();
  const [error, setError] = useState<string>();
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    api.bulkDryRun(action, filter).then(setDry, (e: Error) => setError(e.message));
  }, [action, filter]);

  useEffect(() => {
    if (!job?.id) return;
    return followSnapshots<BulkJob>(`/api/runs/bulk/${encodeURIComponent(job.id)}/events`, setJob, (j) => j.state === 'completed');
  }, [job?.id]); // once per job, not on every snapshot

  const completed = job?.state === 'completed';
  useEffect(() => {
    if (completed) onFinished();
  }, [completed]); // once, when the job completes

  const start = async () => {
    setStarting(true);
    try {
      setJob(await api.startBulk(action, filter));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };

  const pct = job && job.total ? Math.round((job.done / job.total) * 100) : completed ? 100 : 0;
  return (
    <Modal title={`${VERB[action]} runs`} onClose={job && !completed ? undefined : onClose} testId="bulk-dialog">
      {error && <div className="alert alert-error">{error}</div>}
      {!job && !dry && !error && <div className="muted">Counting…</div>}
      {!job && dry && (
        <>
          <p data-testid="bulk-count" data-count={dry.count}>
            {dry.exceedsMax
              ? `More than ${dry.max} runs match: narrow the filters (a flow, a time range) and act on each part.`
              : `${VERB[action]} ${dry.count} ${dry.count === 1 ? 'run' : 'runs'} — ${scope}? It applies to ${APPLIES[action]}.`}
          </p>
          <div className="modal-actions">
            <button className="btn" onClick={onClose}>
              Close
            </button>
            <button className="btn btn-primary" data-testid="bulk-confirm" disabled={dry.exceedsMax || dry.count === 0 || starting} onClick={() => void start()}>
              {VERB[action]} {dry.count}
            </button>
          </div>
        </>
      )}
      {job && (
        <>
          <div className="progress big" data-testid="bulk-progress" data-done={job.done} data-total={job.total} data-state={job.state}>
            <div style={{ width: `${pct}%` }} />
          </div>
          <p className="muted" data-testid="bulk-summary">
            {job.done} of {job.total} · {job.succeeded} done · {job.skipped} skipped · {job.failed} failed{completed ? ' — finished' : ''}
          </p>
          {completed && (
            <div className="modal-actions">
              <button className="btn btn-primary" data-testid="bulk-close" onClick={onClose}>
                Close
              </button>
            </div>
          )}
        </>
      )}
    </Modal>
  );
}
