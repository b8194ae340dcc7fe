/**
 * A run's tags as chips (`customer=acme`) and its priority when it is not the default (docs/limits.md).
 */
export function RunTags({ tags, priority }: { tags?: Record<string, string>; priority?: number }) {
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0 && !priority) return null;
  return (
    <span className="run-tags" data-testid="run-tags">
      {entries.map(([name, value]) => (
        <span key={name} className="tag" title={`tag ${name} = ${value}`} data-testid="run-tag">
          {name}={value}
        </span>
      ))}
      {!!priority && (
        <span className="tag" title="Priority: higher runs first when work is backed up" data-testid="run-priority">
          priority {priority > 0 ? `+${priority}` : priority}
        </span>
      )}
    </span>
  );
}
