/** A run or node status as a coloured pill. */
import { statusLabel } from '../lib/format';

export function StatusBadge({ status, testId }: { status: string | null | undefined; testId?: string }) {
  if (!status) return <span className="muted small">never run</span>;
  return (
    <span className={`pill pill-${status}`} data-testid={testId} data-status={status}>
      {status === 'running' && <span className="pulse" aria-hidden />}
      {statusLabel(status)}
    </span>
  );
}
