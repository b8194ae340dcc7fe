/** The side panel for the selected edge: its mapping, its switch case, delete. */
import type { EdgeMapping, ValidationIssue, WorkerDefinition } from '@/types/stitch';
import { workerTypeOf, type FlowEdge, type FlowNode } from '../lib/graph';
import { MappingEditor } from './mapping-editor';
import { switchCaseNames } from './core-settings';

interface EdgePanelProps {
  edge: FlowEdge;
  source?: FlowNode;
  target?: FlowNode;
  defs: Record<string, WorkerDefinition>;
  issues: ValidationIssue[];
  readOnly: boolean;
  onData(data: FlowEdge['data']): void;
  onDelete(): void;
}

export function EdgePanel({ edge, source, target, defs, issues, readOnly, onData, onDelete }: EdgePanelProps) {
  const sourceType = workerTypeOf(source?.data);
  const targetType = workerTypeOf(target?.data);
  const sourceFields = source?.type === 'start' ? Object.keys(source.data.inputSchema ?? {}) : [];
  const setMapping = (mapping: EdgeMapping | undefined) => {
    const next = { ...edge.data };
    if (mapping) next.mapping = mapping;
    else delete next.mapping;
    onData(next);
  };
  return (
    <div className="panel-body" data-testid="edge-panel">
      <div className="panel-heading">Connection</div>
      <div className="muted small mono">
        {source?.data.label || edge.source} → {target?.data.label || edge.target}
      </div>
      {issues.map((issue, i) => (
        <div className="alert alert-error" key={i}>
          {issue.message}
        </div>
      ))}
      <section>
        <h4>Mapping</h4>
        <MappingEditor
          mapping={edge.data?.mapping}
          onChange={setMapping}
          sourceDef={sourceType ? defs[sourceType] : undefined}
          targetDef={targetType ? defs[targetType] : undefined}
          sourceFields={sourceFields}
          disabled={readOnly}
          testId="edge-mapping"
        />
      </section>
      {source?.type === 'switch' && (
        <section>
          <h4>Switch case</h4>
          <select value={typeof edge.data?.case === 'string' ? edge.data.case : (edge.sourceHandle ?? '')} disabled={readOnly} onChange={(e) => onData({ ...edge.data, case: e.target.value || undefined })} data-testid="edge-case">
            <option value="">— choose the case this connection takes —</option>
            {switchCaseNames(source.data.config).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </section>
      )}
      {!readOnly && (
        <button className="btn btn-danger-ghost btn-sm" onClick={onDelete}>
          Delete connection
        </button>
      )}
    </div>
  );
}
