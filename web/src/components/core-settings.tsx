/**
 * Settings of the core node types, in the keys the engine reads: splitter (`arrayPath`, `as`,
 * `concurrency`), collector (`onItemError`, `field`, `from`), switch (`cases`, `default`),
 * UX gate (`prompt`, `inputSchema`, `timeoutSeconds`, `defaultAnswer`), start (`data.inputSchema`).
 */
import { useEffect, useState } from 'react';
import type { FieldSchema, FlowSummary, NodeConfig, SwitchCase, VisualNodeData } from '@/types/stitch';
import { api } from '../api';
import type { FlowNode } from '../lib/graph';
import { href } from '../router';
import { FieldInput, JsonInput } from './field-input';
import { SchemaEditor } from './schema-editor';

interface CoreSettingsProps {
  node: Pick<FlowNode, 'type' | 'data'>;
  readOnly: boolean;
  setConfig(key: string, value: unknown): void;
  onData(patch: Partial<VisualNodeData>): void;
  issueFor(field: string): string | undefined;
}

const str = (description: string, required = false): FieldSchema => ({ type: 'string', description, required });
const num = (description: string): FieldSchema => ({ type: 'number', description });

export function CoreSettings({ node, readOnly, setConfig, onData, issueFor }: CoreSettingsProps) {
  const config: NodeConfig = node.data.config ?? {};
  const field = (key: string, schema: FieldSchema) => (
    <FieldInput name={key} schema={schema} value={config[key]} onChange={(v) => setConfig(key, v === '' ? undefined : v)} disabled={readOnly} error={issueFor(key)} testId={`config-${key}`} />
  );
  switch (node.type) {
    case 'start':
      return (
        <section>
          <h4>Run input schema</h4>
          <p className="muted small">The fields a run’s input provides. Save-time validation checks required worker inputs against them, and the run dialog is prefilled from them.</p>
          <SchemaEditor value={node.data.inputSchema} onChange={(inputSchema) => onData({ inputSchema })} disabled={readOnly} testId="start-schema" />
        </section>
      );
    case 'event':
      return (
        <section>
          <h4>Event from outside</h4>
          {field('event', str('The event name senders POST to /api/events/:name, e.g. payment.succeeded.'))}
          {field('match', str('The key to wait for, a template over the input, e.g. {{orderId}}.'))}
          {field('timeoutSeconds', num('Without the event by then, the node fails.'))}
        </section>
      );
    case 'ux':
      return (
        <section>
          <h4>Form for a person</h4>
          {field('prompt', str('Shown to the person answering.'))}
          <div className="field-label">
            <span className="field-name">inputSchema</span>
          </div>
          <SchemaEditor value={config.inputSchema as Record<string, FieldSchema> | undefined} onChange={(v) => setConfig('inputSchema', v)} disabled={readOnly} testId="ux-schema" />
          {field('timeoutSeconds', num('Answer deadline; without a default answer the gate then fails.'))}
          <div className="field">
            <div className="field-label">
              <span className="field-name">defaultAnswer</span> <span className="type-tag">object</span>
            </div>
            <JsonInput value={config.defaultAnswer} onChange={(v) => setConfig('defaultAnswer', v)} disabled={readOnly} placeholder='{"approved": false}' />
          </div>
        </section>
      );
    case 'splitter':
      return (
        <section>
          <h4>Split</h4>
          {field('arrayPath', str('Dot path of the array in the input (empty: the input is the array). The branch up to the collector runs once per item.'))}
          {field('as', str('Put each item under this field of the branch input (empty: the item is the input).'))}
          {field('concurrency', num('At most this many items in flight (empty: no limit).'))}
        </section>
      );
    case 'collector':
      return (
        <section>
          <h4>Collect</h4>
          <div className="field">
            <div className="field-label">
              <span className="field-name">onItemError</span>
            </div>
            <select value={String(config.onItemError ?? 'fail')} disabled={readOnly} onChange={(e) => setConfig('onItemError', e.target.value === 'fail' ? undefined : e.target.value)}>
              <option value="fail">fail — a failed item fails the run</option>
              <option value="collect">collect — keep going, record the error</option>
            </select>
          </div>
          {field('from', str('Node inside the scope whose output is each item’s result (empty: the collector’s upstreams).'))}
          {field('field', str('Dot path into each result (empty: the whole result).'))}
        </section>
      );
    case 'switch':
      return <SwitchCases config={config} readOnly={readOnly} setConfig={setConfig} error={issueFor('cases')} />;
    case 'flow':
      return <SubFlowSettings config={config} readOnly={readOnly} setConfig={setConfig} issueFor={issueFor} />;
    default:
      return null;
  }
}

function SwitchCases({ config, readOnly, setConfig, error }: { config: NodeConfig; readOnly: boolean; setConfig(k: string, v: unknown): void; error?: string }) {
  const cases: SwitchCase[] = Array.isArray(config.cases) ? config.cases : [];
  const update = (next: SwitchCase[]) => setConfig('cases', next);
  return (
    <section>
      <h4>Cases</h4>
      <p className="muted small">
        The first case whose condition holds routes the input (e.g. <code>score &gt;= 0.5 and lang == "en"</code>); otherwise the default case. Name the case on each outgoing connection.
      </p>
      {cases.map((c, i) => (
        <div className="schema-row" key={i}>
          <input aria-label="case name" className="mono" value={c.name ?? ''} disabled={readOnly} placeholder="name" onChange={(e) => update(cases.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)))} />
          <span />
          <span />
          <button className="icon-btn" title="Remove case" disabled={readOnly} onClick={() => update(cases.filter((_, j) => j !== i))}>
            ×
          </button>
          <input className="schema-desc mono" aria-label="condition" value={typeof c.when === 'string' ? c.when : JSON.stringify(c.when ?? '')} disabled={readOnly} placeholder="condition" onChange={(e) => update(cases.map((x, j) => (j === i ? { ...x, when: e.target.value } : x)))} />
        </div>
      ))}
      {!readOnly && (
        <button className="btn btn-ghost btn-sm" onClick={() => update([...cases, { name: `case${cases.length + 1}`, when: '' }])}>
          + Add case
        </button>
      )}
      {error && <div className="field-msg">{error}</div>}
      <FieldInput name="default" schema={str('Name of the default case (default: "default").')} value={config.default} onChange={(v) => setConfig('default', v === '' ? undefined : v)} disabled={readOnly} />
    </section>
  );
}

/** A sub-flow node: which flow it runs (`flowId`) and at which version (`version`, default "latest"). */
function SubFlowSettings({ config, readOnly, setConfig, issueFor }: { config: NodeConfig; readOnly: boolean; setConfig(k: string, v: unknown): void; issueFor(field: string): string | undefined }) {
  const [flows, setFlows] = useState<FlowSummary[]>();
  useEffect(() => {
    api.listFlows().then(setFlows, () => setFlows([]));
  }, []);
  const flowId = typeof config.flowId === 'string' ? config.flowId : '';
  const version = typeof config.version === 'number' ? String(config.version) : '';
  const error = issueFor('flowId');
  return (
    <section>
      <h4>Sub-flow</h4>
      <p className="muted small">Runs the chosen flow as a child run: this node’s input is its run input, and its run output is this node’s output.</p>
      <div className="field">
        <div className="field-label">
          <span className="field-name">flowId</span>
        </div>
        <select value={flowId} disabled={readOnly} onChange={(e) => setConfig('flowId', e.target.value || undefined)} data-testid="config-flowId">
          <option value="">{flows ? 'choose a flow…' : 'loading flows…'}</option>
          {flows?.map((f) => (
            <option key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
          {flowId && flows && !flows.some((f) => f.id === flowId) && <option value={flowId}>{flowId} (not found)</option>}
        </select>
        {error && <div className="field-msg">{error}</div>}
        {flowId && (
          <a className="small" href={href.flow(flowId)}>
            open this flow ↗
          </a>
        )}
      </div>
      <FieldInput
        name="version"
        schema={{ type: 'number', description: 'A saved version number; empty runs the flow’s current (latest) version.' }}
        value={version === '' ? undefined : Number(version)}
        onChange={(v) => setConfig('version', v === '' || v === undefined ? undefined : v)}
        disabled={readOnly}
        error={issueFor('version')}
        testId="config-version"
      />
    </section>
  );
}

/** Case names a switch node offers its outgoing connections. */
export function switchCaseNames(config: NodeConfig | undefined): string[] {
  const cases: SwitchCase[] = Array.isArray(config?.cases) ? config.cases : [];
  const names = cases.map((c) => c.name).filter((n): n is string => typeof n === 'string' && n !== '');
  return [...names, typeof config?.default === 'string' && config.default ? config.default : 'default'];
}
