/**
 * Edit an edge's `data.mapping` (`{targetField: "dot.path" | {value}}`). Suggestions come from the
 * target worker's inputs and the source worker's outputs. Note the design's rule, repeated in the
 * UI: an edge with a mapping passes only the mapped fields.
 */
import type { EdgeMapping, EdgeMappingSource, WorkerDefinition } from '@/types/stitch';
import { useId } from 'react';

interface MappingEditorProps {
  mapping: EdgeMapping | undefined;
  onChange(mapping: EdgeMapping | undefined): void;
  targetDef?: WorkerDefinition;
  sourceDef?: WorkerDefinition;
  sourceFields?: string[];
  disabled?: boolean;
  testId?: string;
}

export function parseConstant(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function MappingEditor({ mapping, onChange, targetDef, sourceDef, sourceFields = [], disabled, testId = 'mapping' }: MappingEditorProps) {
  const listId = useId();
  const targetsId = useId();
  const entries = Object.entries(mapping ?? {});
  const commit = (next: Array<[string, EdgeMappingSource]>) => onChange(next.length ? Object.fromEntries(next) : undefined);
  const setEntry = (i: number, entry: [string, EdgeMappingSource]) => commit(entries.map((e, j) => (j === i ? entry : e)));
  const suggestions = [...new Set([...Object.keys(sourceDef?.output ?? {}), ...sourceFields])];
  const targets = Object.keys(targetDef?.input ?? {}).filter((f) => !(mapping && f in mapping));
  return (
    <div className="mapping-editor" data-testid={testId}>
      <datalist id={listId}>
        {suggestions.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <datalist id={targetsId}>
        {targets.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      {entries.length === 0 && <div className="muted small">No mapping: every field of the upstream output flows through.</div>}
      {entries.map(([field, source], i) => {
        const constant = typeof source === 'object';
        return (
          <div className="mapping-row" key={i}>
            <input aria-label="target field" className="mono" list={targetsId} value={field} disabled={disabled} placeholder="target field" onChange={(e) => setEntry(i, [e.target.value, source])} data-testid={`${testId}-target-${i}`} />
            <select
              aria-label="source kind"
              value={constant ? 'value' : 'path'}
              disabled={disabled}
              onChange={(e) => setEntry(i, [field, e.target.value === 'value' ? { value: typeof source === 'string' ? source : '' } : typeof source === 'object' ? String(source.value ?? '') : source])}
            >
              <option value="path">← path</option>
              <option value="value">= value</option>
            </select>
            <input
              aria-label="source"
              className="mono"
              list={constant ? undefined : listId}
              value={constant ? (typeof source.value === 'string' ? source.value : JSON.stringify(source.value)) : source}
              placeholder={constant ? 'constant (JSON or text)' : 'upstream.path'}
              disabled={disabled}
              onChange={(e) => setEntry(i, [field, constant ? { value: parseConstant(e.target.value) } : e.target.value])}
              data-testid={`${testId}-source-${i}`}
            />
            <button className="icon-btn" title="Remove" disabled={disabled} onClick={() => commit(entries.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        );
      })}
      {!disabled && (
        <button className="btn btn-ghost btn-sm" data-testid={`${testId}-add`} onClick={() => commit([...entries, [targets[0] ?? '', suggestions[0] ?? '']])}>
          + Add mapping
        </button>
      )}
      {entries.length > 0 && <div className="muted small">Only mapped fields flow along this edge.</div>}
    </div>
  );
}
