/**
 * Edit a `Record<name, FieldSchema>`: the start node's run-input schema and a UX gate's form. A
 * stored or hand-typed schema may be malformed: what is wrong is said above the rows, each row shows
 * what can be read of its field, and an edit writes the schema back repaired.
 */
import type { FieldSchema, FieldType } from '@/types/stitch';
import { FIELD_TYPES, inspectField, readFieldSchemas } from '../lib/field-schemas';

interface SchemaEditorProps {
  /** As stored or typed: not trusted to be well-formed. */
  value: unknown;
  onChange(value: Record<string, FieldSchema>): void;
  disabled?: boolean;
  testId: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function SchemaEditor({ value, onChange, disabled, testId }: SchemaEditorProps) {
  const { problems } = readFieldSchemas(value);
  const entries: Array<[string, FieldSchema]> = Object.entries(isPlainObject(value) ? value : {}).map(([name, raw]) => [name, inspectField(raw).field]);
  const update = (index: number, name: string, field: FieldSchema) => {
    const next = entries.map((e, i) => (i === index ? ([name, field] as [string, FieldSchema]) : e));
    onChange(Object.fromEntries(next));
  };
  const remove = (index: number) => onChange(Object.fromEntries(entries.filter((_, i) => i !== index)));
  const add = () => {
    const taken = new Set(entries.map(([name]) => name));
    let name = 'field';
    for (let i = 2; taken.has(name); i++) name = `field${i}`;
    onChange({ ...Object.fromEntries(entries), [name]: { type: 'string', required: true, description: '' } });
  };
  return (
    <div className="schema-editor" data-testid={testId}>
      {problems.length > 0 && (
        <div className="alert alert-error" data-testid={`${testId}-problems`}>
          Fix these fields (the server refuses them on save): {problems.join('; ')}.
        </div>
      )}
      {entries.length === 0 && <div className="muted small">No fields declared: any input is accepted.</div>}
      {entries.map(([name, field], i) => (
        <div className="schema-row" key={i}>
          <input aria-label="field name" className="mono" value={name} disabled={disabled} onChange={(e) => update(i, e.target.value, field)} data-testid={`${testId}-name-${i}`} />
          <select aria-label="type" value={field.type} disabled={disabled} onChange={(e) => update(i, name, { ...field, type: e.target.value as FieldType })}>
            {FIELD_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          <label className="check" title="required">
            <input type="checkbox" checked={!!field.required} disabled={disabled} onChange={(e) => update(i, name, { ...field, required: e.target.checked })} />
            req
          </label>
          <button className="icon-btn" title="Remove field" disabled={disabled} onClick={() => remove(i)}>
            ×
          </button>
          <input className="schema-desc" placeholder="description" value={field.description ?? ''} disabled={disabled} onChange={(e) => update(i, name, { ...field, description: e.target.value })} />
        </div>
      ))}
      {!disabled && (
        <button className="btn btn-ghost btn-sm" onClick={add} data-testid={`${testId}-add`}>
          + Add field
        </button>
      )}
    </div>
  );
}
