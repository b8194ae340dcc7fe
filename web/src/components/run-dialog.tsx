/**
 * Start a run: a JSON editor for the run input, prefilled from the last run's input or, for a flow
 * never run, from the start node's `data.inputSchema`.
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { exampleInput, readFieldSchemas } from '../lib/field-schemas';
import { ErrorBoundary } from './error-boundary';
import { Modal } from './modal';

interface RunDialogProps {
  flowId: string | null;
  /** The start node's, as stored or edited: not trusted to be well-formed. */
  inputSchema?: unknown;
  onRun(input: unknown): Promise<void>;
  onClose(): void;
}

/** The dialog stays closable whatever fails inside it. */
export function RunDialog(props: RunDialogProps) {
  return (
    <Modal title="Run flow" onClose={props.onClose} testId="run-dialog">
      <ErrorBoundary what="The run dialog">
        <RunDialogBody {...props} />
      </ErrorBoundary>
    </Modal>
  );
}

function RunDialogBody({ flowId, inputSchema, onRun, onClose }: RunDialogProps) {
  const schema = readFieldSchemas(inputSchema);
  const [text, setText] = useState<string>();
  const [source, setSource] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    const fromSchema = () => {
      setText(JSON.stringify(exampleInput(inputSchema), null, 2));
      setSource(readFieldSchemas(inputSchema).fields.length ? 'from the start node’s input schema' : '');
    };
    if (!flowId) return fromSchema();
    api
      .listRuns({ flowId }, { limit: 1 })
      .then(async ({ runs }) => {
        if (!live) return;
        const last = runs[0];
        if (!last) return fromSchema();
        const input = last.input !== undefined ? last.input : (await api.getRun(last.id)).input;
        if (!live) return;
        setText(JSON.stringify(input ?? {}, null, 2));
        setSource('from the last run');
      })
      .catch(() => live && fromSchema());
    return () => {
      live = false;
    };
  }, [flowId, inputSchema]);

  let parsed: unknown;
  let parseError: string | undefined;
  try {
    parsed = text === undefined || text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    parseError = (e as Error).message;
  }

  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onRun(parsed);
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };

  return (
    <>
      <div className="field">
        <label className="field-label" htmlFor="run-input">
          <span className="field-name">Input (JSON)</span>
          {source && <span className="muted small">prefilled {source}</span>}
        </label>
        {text === undefined ? (
          <div className="muted small">Loading…</div>
        ) : (
          <textarea id="run-input" className="mono" rows={10} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} data-testid="run-input" />
        )}
        {parseError && <div className="field-msg">Invalid JSON: {parseError}</div>}
      </div>
      {schema.fields.length > 0 && (
        <div className="schema-hint">
          {schema.fields.map(([k, f]) => (
            <div key={k} className="small">
              <span className="mono">{k}</span>
              {f.required && <span className="req">*</span>} <span className="type-tag">{f.type}</span> <span className="muted">{f.description}</span>
            </div>
          ))}
        </div>
      )}
      {schema.problems.length > 0 && (
        <div className="alert alert-error" data-testid="run-schema-problems">
          The start node’s input schema cannot be read in full: {schema.problems.join('; ')}.
        </div>
      )}
      {error && <div className="alert alert-error">{error}</div>}
      <div className="modal-actions">
        <button className="btn" onClick={onClose}>
          Cancel
        </button>
        <button className="btn btn-primary" disabled={busy || !!parseError || text === undefined} onClick={run} data-testid="run-start">
          {busy ? 'Starting…' : '▶ Run'}
        </button>
      </div>
    </>
  );
}
