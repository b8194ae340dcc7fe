/** The validation problems the server returned on save; click one to select what it points at. */
import type { ValidationIssue } from '@/types/stitch';

interface IssuesListProps {
  issues: ValidationIssue[];
  onPick(issue: ValidationIssue): void;
  onClose(): void;
}

export function IssuesList({ issues, onPick, onClose }: IssuesListProps) {
  if (!issues.length) return null;
  return (
    <div className="issues" data-testid="issues-list" role="alert">
      <div className="issues-head">
        <strong>
          {issues.length} problem{issues.length === 1 ? '' : 's'} — not saved
        </strong>
        <button className="icon-btn" onClick={onClose} title="Hide">
          ×
        </button>
      </div>
      <ul>
        {issues.map((issue, i) => (
          <li key={i}>
            <button className="issue" onClick={() => onPick(issue)} data-testid="issue">
              <span className="issue-code mono">{issue.code}</span>
              {(issue.nodeId || issue.edgeId) && <span className="issue-target mono">{issue.nodeId ?? issue.edgeId}</span>}
              <span className="issue-msg">{issue.message}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
