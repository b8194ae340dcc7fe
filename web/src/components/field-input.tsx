/**
 * One form control per field schema type: text, number, switch, or JSON for arrays and objects.
 * Used by the node panel (worker config), edge mappings (constants) and UX gate forms.
 */
import { useEffect, useId, useState } from 'react';
import type { FieldSchema } from '@/types/stitch';

interface FieldInputProps {
  name: string;
  schema: FieldSchema;
  value: unknown;
  onChange(value: unknown): void;
  disabled?: boolean;
  /** Show name, type, required marker and description around the control. */
  labelled?: boolean;
  error?: string;
  testId?: string;
}

export function FieldInput({ name, schema, value, onChange, disabled, labelled = true, error, testId }: FieldInputProps) {
  const id = useId();
  const control = <Control id={id} schema={schema} value={value} onChange={onChange} disabled={disabled} name={name} testId={testId} />;
  if (!labelled) return control;
  return (
    <div className={`field${error ? ' field-error' : ''}`}>
      <label htmlFor={id} className="field-label">
        <span className="field-name">{name}</span>
        {schema.required && <span className="req" title="required">*</span>}
        <span className="type-tag">{schema.type}</span>
      </label>
      {control}
      {schema.description && <div className="field-help">{schema.description}</div>}
      {error && <div className="field-msg">{error}</div>}
    </div>
  );
}

function Control({ id, name, schema, value, onChange, disabled, testId }: { id: string; name: string; schema: FieldSchema; value: unknown; onChange(v: unknown): void; disabled?: boolean; testId?: string }) {
  const placeholder = schema.default !== undefined && typeof schema.default !== 'object' ? `default: ${String(schema.default)}` : undefined;
  const tid = testId ?? `field-${name}`;
  switch (schema.type) {
    case 'boolean':
      return (
        <label className="switch">
          <input id={id} type="checkbox" data-testid={tid} checked={value === undefined ? schema.default === true : value === true} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
          <span>{(value ?? schema.default) === true ? 'true' : 'false'}</span>
        </label>
      );
    case 'number':
      return (
        <input
          id={id}
          type="number"
          data-testid={tid}
          value={typeof value === 'number' ? value : ''}
          placeholder={placeholder}
          disabled={disabled}
          onChange={(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))}
        />
      );
    case 'array':
    case 'object':
      return <JsonInput id={id} testId={tid} value={value} onChange={onChange} disabled={disabled} placeholder={schema.default !== undefined ? JSON.stringify(schema.default) : schema.type === 'array' ? '[]' : '{}'} />;
    default: {
      const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
      const long = text.length > 60 || /prompt|text|script|template|message|body/i.test(name);
      return long ? (
        <textarea id={id} data-testid={tid} rows={3} value={text} placeholder={placeholder} disabled={disabled} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input id={id} type="text" data-testid={tid} value={text} placeholder={placeholder} disabled={disabled} onChange={(e) => onChange(e.target.value)} />
      );
    }
  }
}

/** A JSON textarea that only reports parseable values and says why otherwise. */
export function JsonInput({ id, value, onChange, disabled, placeholder, rows = 3, testId }: { id?: string; value: unknown; onChange(v: unknown): void; disabled?: boolean; placeholder?: string; rows?: number; testId?: string }) {
  const serialise = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2));
  const [text, setText] = useState(() => serialise(value));
  const [error, setError] = useState<string>();
  useEffect(() => {
    // Follow outside changes (another node selected, undo) unless the text already means the same.
    setText((current) => {
      try {
        if (current.trim() && JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        /* the user is mid-edit: replace below */
      }
      return current.trim() === '' && value === undefined ? current : serialise(value);
    });
  }, [value]);
  return (
    <>
      <textarea
        id={id}
        className="mono"
        data-testid={testId}
        rows={rows}
        value={text}
        placeholder={placeholder}
        disabled={disabled}
        spellCheck={false}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === '') {
            setError(undefined);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setError(undefined);
          } catch (err) {
            setError((err as Error).message);
          }
        }}
      />
      {error && <div className="field-msg">Invalid JSON: {error}</div>}
    </>
  );
}
