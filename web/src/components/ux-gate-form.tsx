/**
 * Answer a waiting UX gate: a form generated from the gate's `config.inputSchema`, or a JSON answer
 * when it declares none, or declares fields the form cannot show (a schema saved before the server
 * checked them: the answer is still possible, and checked against the schema by the server).
 */
import { useState } from 'react';
import { api } from '../api';
import { readFieldSchemas } from '../lib/field-schemas';
import { FieldInput, JsonInput } from './field-input';
import { Icon } from './icons';

interface UxGateFormProps {
  runId: string;
  instanceId: string;
  message?: string;
  /** As stored: not trusted to be well-formed. */
  schema?: unknown;
  onDone(): void;
}

export function UxGateForm({ runId, instanceId, message, schema, onDone }: UxGateFormProps) {
  const read = readFieldSchemas(schema);
  // Required fields first (the stored schema's key order is not the author's: jsonb sorts keys).
  const fields = read.problems.length ? [] : read.fields.sort(([, a], [, b]) => Number(!!b.required) - Number(!!a.required));
  const [values, setValues] = useState<Record<string, unknown>>(() =>
    Object.fromEntries(fields.filter(([, f]) => f.default !== undefined || f.type === 'boolean').map(([k, f]) => [k, f.default ?? false])),
  );
  const [raw, setRaw] = useState<unknown>({});
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const missing = fields.filter(([k, f]) => f.required && (values[k] === undefined || values[k] === '')).map(([k]) => k);

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.completeGate(runId, instanceId, fields.length ? values : raw);
      onDone();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="ux-form"
      data-testid="ux-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="ux-form-head">
        <Icon name="ux" size={15} /> Waiting for your answer
      </div>
      {message && <p className="ux-message">{message}</p>}
      {read.problems.length > 0 && (
        <div className="alert alert-error" data-testid="ux-form-problems">
          This gate’s form cannot be shown ({read.problems.join('; ')}): answer with JSON instead.
        </div>
      )}
      {fields.map(([name, schema]) => (
        <FieldInput key={name} name={name} schema={schema} value={values[name]} onChange={(v) => setValues((s) => ({ ...s, [name]: v }))} testId={`ux-${name}`} />
      ))}
      {!fields.length && (
        <div className="field">
          <label className="field-label">
            <span className="field-name">Answer (JSON)</span>
          </label>
          <JsonInput value={raw} onChange={setRaw} testId="ux-raw" />
        </div>
      )}
      {error && <div className="alert alert-error">{error}</div>}
      <button className="btn btn-primary" type="submit" disabled={busy || missing.length > 0} data-testid="ux-submit" title={missing.length ? `Required: ${missing.join(', ')}` : undefined}>
        {busy ? 'Sending…' : 'Submit'}
      </button>
    </form>
  );
}
