/**
 * Edit a `Record<name, FieldSchema>`: the start node's run-input schema and a UX gate's form.
 */
import type { FieldSchema, FieldType } from '@/types/stitch';

const TYPES: FieldType[] = ['string', 'number', 'boolean', 'array', 'object'];

interface SchemaEditorProps {
  value: Record<string, FieldSchema> | undefined;
  onChange(value: Record<string, FieldSchema>): void;
  disabled?: boolean;
  testId: string;
}

export function SchemaEditor({ value, onChange, disabled, testId }: SchemaEditorProps) {
  const entries = Object.entries(value ?? {});
  const update = (index: number, name: string, field: FieldSchema) => {
    const next = entries.map((e, i) => (i === index ? ([name, field] as [string, FieldSchema]) : e));
    onChange(Object.fromEntries(next));
  };
  const remove = (index: number) => onChange(Object.fromEntries(entries.filter((_, i) => i !== index)));
  const add = () => {
    let name = 'field';
    for (let i = 2; value && name in value; i++) name = `field${i}`;
    onChange({ ...value, [name]: { type: 'string', required: true, description: '' } });
  };
  return (
    <div className="schema-editor" data-testid={testId}>
      {entries.length === 0 && <div className="muted small">No fields declared: any input is accepted.</div>}
      {entries.map(([name, field], i) => (
        <div className="schema-row" key={i}>
          <input aria-label="field name" className="mono" value={name} disabled={disabled} onChange={(e) => update(i, e.target.value, field)} data-testid={`${testId}-name-${i}`} />
          <select aria-label="type" value={field.type} disabled={disabled} onChange={(e) => update(i, name, { ...field, type: e.target.value as FieldType })}>
            {TYPES.map((t) => (
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
