/** Pretty JSON, collapsed when long. */
import { useState } from 'react';

export function JsonView({ value, testId, empty = 'nothing' }: { value: unknown; testId?: string; empty?: string }) {
  const [expanded, setExpanded] = useState(false);
  if (value === undefined || value === null) return <div className="muted small">{empty}</div>;
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const long = text.length > 4000 && !expanded;
  return (
    <div className="json-view">
      <pre className="mono" data-testid={testId}>
        {long ? `${text.slice(0, 4000)}…` : text}
      </pre>
      <div className="json-actions">
        {long && (
          <button className="btn btn-ghost btn-sm" onClick={() => setExpanded(true)}>
            Show all ({Math.round(text.length / 1024)} KB)
          </button>
        )}
        <button className="btn btn-ghost btn-sm" onClick={() => void navigator.clipboard?.writeText(text)}>
          Copy
        </button>
      </div>
    </div>
  );
}
