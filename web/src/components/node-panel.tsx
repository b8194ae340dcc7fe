/**
 * The side panel for the selected node: a form generated from its worker definition (config fields
 * and input fields with types, required markers, defaults and descriptions), where each input comes
 * from (edge mappings), the core types' own settings, and per-node policy (retry, timeout).
 */
import { memo } from 'react';
import type { EdgeMapping, EdgeMappingSource, FieldSchema, ValidationIssue, VisualNodeData, WorkerDefinition } from '@/types/stitch';
import { configFields, readFieldSchemas } from '../lib/field-schemas';
import { accentOf, coreType, workerTypeOf, type FlowEdge, type FlowNode } from '../lib/graph';
import { NodeIcon } from './icons';
import { FieldInput, JsonInput } from './field-input';
import { parseConstant } from './mapping-editor';
import { CoreSettings } from './core-settings';

export interface NodePanelProps {
  node: Pick<FlowNode, 'id' | 'type' | 'data'>;
  defs: Record<string, WorkerDefinition>;
  incoming: FlowEdge[];
  issues: ValidationIssue[];
  readOnly: boolean;
  onData(patch: Partial<VisualNodeData>): void;
  onEdgeMapping(edgeId: string, mapping: EdgeMapping | undefined): void;
  onDelete(): void;
}

function NodePanelView({ node, defs, incoming, issues, readOnly, onData, onEdgeMapping, onDelete }: NodePanelProps) {
  const data = node.data;
  const core = coreType(node.type);
  const workerType = workerTypeOf(data);
  const def = workerType ? defs[workerType] : undefined;
  const config = data.config ?? {};
  const setConfig = (key: string, value: unknown) => {
    const next = { ...config };
    if (value === undefined) delete next[key];
    else next[key] = value;
    onData({ config: next });
  };
  const issueFor = (field: string) => issues.find((i) => i.field === field)?.message;
  // The definition's field schemas, read defensively: a remote type registered before the server
  // checked them may declare fields no form can show.
  const configs = configFields(def);
  const inputs = readFieldSchemas(def?.input);
  const outputs = readFieldSchemas(def?.output);
  const schemaProblems = [...configs.problems.map((p) => `config ${p}`), ...inputs.problems.map((p) => `input ${p}`), ...outputs.problems.map((p) => `output ${p}`)];
  const formFields = new Set([...configs.fields, ...inputs.fields].map(([name]) => name));
  const generalIssues = issues.filter((i) => !i.field || !formFields.has(i.field));

  return (
    <div className="panel-body" data-testid="node-panel">
      <div className="panel-title">
        <NodeIcon type={core.type} category={def?.category} color={accentOf(core.type, def)} />
        <div>
          <div className="panel-heading">{data.label || node.id}</div>
          <div className="muted small mono">
            {core.name} · {node.id}
          </div>
        </div>
      </div>
      {generalIssues.map((issue, i) => (
        <div className="alert alert-error" key={i}>
          {issue.message}
        </div>
      ))}
      {schemaProblems.length > 0 && (
        <div className="alert alert-error" data-testid="worker-schema-problems">
          Worker “{workerType}” declares fields that cannot be shown: {schemaProblems.join('; ')}.
        </div>
      )}
      <section>
        <div className="field">
          <label className="field-label" htmlFor="node-label">
            <span className="field-name">Label</span>
          </label>
          <input id="node-label" data-testid="node-label" value={data.label ?? ''} disabled={readOnly} onChange={(e) => onData({ label: e.target.value })} />
        </div>
        {node.type === 'worker' && (
          <div className="field">
            <label className="field-label" htmlFor="node-worker">
              <span className="field-name">Worker</span>
            </label>
            <select id="node-worker" data-testid="node-worker-type" value={workerType ?? ''} disabled={readOnly} onChange={(e) => onData({ workerType: e.target.value, worker_type: undefined })}>
              <option value="">— choose —</option>
              {Object.values(defs).map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({d.id})
                </option>
              ))}
              {workerType && !def && <option value={workerType}>{workerType} (not registered)</option>}
            </select>
            {def && <div className="field-help">{def.description}</div>}
          </div>
        )}
      </section>

      {configs.fields.length > 0 && (
        <section>
          <h4>Configuration</h4>
          {configs.fields.map(([key, schema]) => (
            <FieldInput key={`${node.id}:${key}`} name={key} schema={schema} value={config[key]} onChange={(v) => setConfig(key, v)} disabled={readOnly} error={issueFor(key)} testId={`config-${key}`} />
          ))}
        </section>
      )}

      {inputs.fields.length > 0 && (
        <section>
          <h4>Inputs</h4>
          <p className="muted small">Inputs arrive from upstream nodes. Map a field from a path of the upstream output, or set a constant.</p>
          {inputs.fields.map(([field, schema]) => (
            <InputRow key={`${node.id}:${field}`} field={field} schema={schema} incoming={incoming} readOnly={readOnly} error={issueFor(field)} onEdgeMapping={onEdgeMapping} />
          ))}
        </section>
      )}

      {outputs.fields.length > 0 && (
        <section>
          <h4>Outputs</h4>
          {outputs.fields.map(([field, schema]) => (
            <div className="io-row" key={field}>
              <span className="mono">{field}</span> <span className="type-tag">{schema.type}</span>
              <div className="field-help">{schema.description}</div>
            </div>
          ))}
        </section>
      )}

      <CoreSettings node={node} readOnly={readOnly} setConfig={setConfig} onData={onData} issueFor={issueFor} />

      <details className="advanced">
        <summary>Advanced</summary>
        <label className="check">
          <input type="checkbox" checked={data.continueOnError === true} disabled={readOnly} onChange={(e) => onData({ continueOnError: e.target.checked || undefined })} />
          Continue on error (downstream receives <code>{'{error}'}</code>)
        </label>
        {node.type === 'worker' && (
          <div className="grid-2">
            <FieldInput name="retry attempts" schema={{ type: 'number', description: `Total attempts (default ${def?.retry?.attempts ?? 3}).` }} value={data.retry?.attempts} onChange={(v) => onData({ retry: clean({ ...data.retry, attempts: v as number | undefined }) })} disabled={readOnly} />
            <FieldInput name="timeout seconds" schema={{ type: 'number', description: `Callback deadline (default ${def?.timeoutSeconds ?? 600}).` }} value={data.timeoutSeconds} onChange={(v) => onData({ timeoutSeconds: v as number | undefined })} disabled={readOnly} />
          </div>
        )}
        {node.type === 'worker' && (
          // Fair share (docs/limits.md): checked at save; a bad limit is listed with the node's issues.
          <div className="grid-2">
            <div className="field">
              <label className="field-label">
                <span className="field-name">concurrency</span>
              </label>
              <JsonInput value={data.concurrency} onChange={(v) => onData({ concurrency: v as VisualNodeData['concurrency'] })} disabled={readOnly} placeholder='{"limit": 2, "key": "{{tags.customer}}"}' testId="node-concurrency" />
            </div>
            <div className="field">
              <label className="field-label">
                <span className="field-name">rate limit</span>
              </label>
              <JsonInput value={data.rateLimit} onChange={(v) => onData({ rateLimit: v as VisualNodeData['rateLimit'] })} disabled={readOnly} placeholder='{"limit": 60, "per": "minute"}' testId="node-rate-limit" />
            </div>
          </div>
        )}
        <div className="field">
          <label className="field-label">
            <span className="field-name">config (JSON)</span>
          </label>
          <JsonInput value={data.config} onChange={(v) => onData({ config: v as VisualNodeData['config'] })} disabled={readOnly} rows={5} testId="node-config-json" />
        </div>
      </details>

      {!readOnly && (
        <button className="btn btn-danger-ghost btn-sm" onClick={onDelete} data-testid="delete-node">
          Delete node
        </button>
      )}
    </div>
  );
}

function clean<T extends object>(value: T): T | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return entries.length ? (Object.fromEntries(entries) as T) : undefined;
}

interface InputRowProps {
  field: string;
  schema: FieldSchema;
  incoming: FlowEdge[];
  readOnly: boolean;
  error?: string;
  onEdgeMapping(edgeId: string, mapping: EdgeMapping | undefined): void;
}

/** One worker input: its schema, and where it comes from (a mapping on an incoming edge). */
function InputRow({ field, schema, incoming, readOnly, error, onEdgeMapping }: InputRowProps) {
  const mappedEdge = incoming.find((e) => e.data?.mapping && field in e.data.mapping);
  const edge = mappedEdge ?? incoming[0];
  const source: EdgeMappingSource | undefined = mappedEdge?.data?.mapping?.[field];
  const constant = typeof source === 'object';
  const setSource = (next: EdgeMappingSource | undefined) => {
    if (!edge) return;
    const mapping = { ...edge.data?.mapping };
    if (next === undefined || next === '') delete mapping[field];
    else mapping[field] = next;
    onEdgeMapping(edge.id, Object.keys(mapping).length ? mapping : undefined);
  };
  const defaultText = schema.default !== undefined ? ` · default ${JSON.stringify(schema.default)}` : '';
  return (
    <div className={`field${error ? ' field-error' : ''}`} data-testid={`input-${field}`}>
      <div className="field-label">
        <span className="field-name">{field}</span>
        {schema.required && <span className="req" title="required">*</span>}
        <span className="type-tag">{schema.type}</span>
        {schema.aliases?.length ? <span className="muted small">alias {schema.aliases.join(', ')}</span> : null}
      </div>
      {edge ? (
        <div className="mapping-row compact">
          <select aria-label="source kind" value={constant ? 'value' : 'path'} disabled={readOnly} onChange={(e) => setSource(e.target.value === 'value' ? { value: '' } : undefined)}>
            <option value="path">← path</option>
            <option value="value">= value</option>
          </select>
          <input
            className="mono"
            data-testid={`input-source-${field}`}
            value={source === undefined ? '' : constant ? (typeof source.value === 'string' ? source.value : JSON.stringify(source.value)) : source}
            placeholder={constant ? 'constant' : `upstream field (${field})`}
            disabled={readOnly}
            onChange={(e) => setSource(constant ? { value: parseConstant(e.target.value) } : e.target.value)}
          />
        </div>
      ) : (
        <div className="muted small">Connect an upstream node to provide it.</div>
      )}
      <div className="field-help">
        {schema.description}
        {defaultText}
      </div>
      {error && <div className="field-msg">{error}</div>}
    </div>
  );
}

export const NodePanel = memo(NodePanelView);
