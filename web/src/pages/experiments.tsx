/**
 * A flow's experiments: the list, and a form that starts one — a dataset and two variants (a saved
 * version or the current one, optionally with one node's settings overridden, so a prompt can be
 * tried without saving a version). docs/experiments.md.
 */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { StatusBadge } from '../components/status-badge';
import { timeAgo } from '../lib/format';
import { href, navigate } from '../router';
import type { Dataset, Experiment, FlowVersionSummary, VariantRequest } from '../types';

interface VariantForm {
  label: string;
  version: string; // 'current' or a number
  node: string;
  config: string;
}

function variantRequest(v: VariantForm): VariantRequest {
  const request: VariantRequest = { label: v.label.trim(), version: v.version === 'current' ? 'current' : Number(v.version) };
  if (v.node && v.config.trim()) request.nodeOverrides = { [v.node]: { config: JSON.parse(v.config) as Record<string, unknown> } };
  return request;
}

function VariantFields({ index, value, onChange, versions, nodes }: { index: number; value: VariantForm; onChange: (v: VariantForm) => void; versions: FlowVersionSummary[]; nodes: string[] }) {
  return (
    <fieldset className="variant-form" data-testid={`variant-${index}`}>
      <legend>Variant {index + 1}</legend>
      <label>
        Label <input value={value.label} onChange={(e) => onChange({ ...value, label: e.target.value })} data-testid={`variant-${index}-label`} />
      </label>
      <label>
        Version
        <select value={value.version} onChange={(e) => onChange({ ...value, version: e.target.value })} data-testid={`variant-${index}-version`}>
          <option value="current">current</option>
          {versions.map((v) => (
            <option key={v.id} value={String(v.version)}>
              v{v.version}
            </option>
          ))}
        </select>
      </label>
      <label>
        Override node
        <select value={value.node} onChange={(e) => onChange({ ...value, node: e.target.value })} data-testid={`variant-${index}-node`}>
          <option value="">none</option>
          {nodes.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      {value.node && (
        <label>
          Settings merged over its config (JSON)
          <textarea rows={3} value={value.config} onChange={(e) => onChange({ ...value, config: e.target.value })} data-testid={`variant-${index}-config`} placeholder='{"prompt": "…"}' />
        </label>
      )}
    </fieldset>
  );
}

export function ExperimentsPage({ flowId, datasetId }: { flowId: string; datasetId?: string }) {
  const [name, setName] = useState('…');
  const [nodes, setNodes] = useState<string[]>([]);
  const [versions, setVersions] = useState<FlowVersionSummary[]>([]);
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [experiments, setExperiments] = useState<Experiment[]>();
  const [dataset, setDataset] = useState(datasetId ?? '');
  const [variants, setVariants] = useState<VariantForm[]>([
    { label: 'A', version: 'current', node: '', config: '' },
    { label: 'B', version: 'current', node: '', config: '' },
  ]);
  const [error, setError] = useState<string>();
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    api.getFlow(flowId).then((f) => {
      setName(f.name);
      setNodes((f.graph?.nodes ?? []).filter((n) => (n.type ?? '').toLowerCase() === 'worker').map((n) => n.id));
    }, (e: Error) => setError(e.message));
    api.listVersions(flowId).then(setVersions, () => {});
    api.listDatasets().then((list) => {
      setDatasets(list);
      setDataset((d) => d || list[0]?.id || '');
    }, (e: Error) => setError(e.message));
    api.listExperiments(flowId).then(setExperiments, (e: Error) => setError(e.message));
  }, [flowId]);

  const start = async () => {
    setError(undefined);
    setStarting(true);
    try {
      const started = await api.startExperiment({ flowId, datasetId: dataset, variants: variants.map(variantRequest) });
      navigate(href.experiment(started.id));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };

  return (
    <div className="page">
      <div className="crumbs">
        <a href={href.flows()}>Flows</a> / <a href={href.flow(flowId)}>{name}</a> / Experiments
      </div>
      <div className="page-head">
        <h1>Experiments</h1>
        <a className="btn" href={href.runs(flowId)}>
          Runs
        </a>
      </div>
      {error && (
        <div className="alert alert-error" data-testid="experiment-error">
          {error}
        </div>
      )}
      <section className="card pad" data-testid="new-experiment">
        <h2>New experiment</h2>
        <p className="muted small">Each dataset row runs once per variant; nodes the variants share execute once.</p>
        <label>
          Dataset
          <select value={dataset} onChange={(e) => setDataset(e.target.value)} data-testid="experiment-dataset">
            {datasets.length === 0 && <option value="">no datasets: select runs in the runs list to make one</option>}
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} (v{d.version}, {d.rowCount} rows)
              </option>
            ))}
          </select>
        </label>
        <div className="variants">
          {variants.map((v, i) => (
            <VariantFields key={i} index={i} value={v} versions={versions} nodes={nodes} onChange={(next) => setVariants((list) => list.map((x, j) => (j === i ? next : x)))} />
          ))}
        </div>
        <button className="btn btn-primary" disabled={!dataset || starting} onClick={() => void start()} data-testid="start-experiment">
          {starting ? 'Starting…' : 'Start experiment'}
        </button>
      </section>
      {experiments && experiments.length > 0 && (
        <table className="table" data-testid="experiments-table">
          <thead>
            <tr>
              <th>Experiment</th>
              <th>Status</th>
              <th>Variants</th>
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {experiments.map((x) => (
              <tr key={x.id}>
                <td>
                  <a href={href.experiment(x.id)}>{x.id.slice(0, 8)}</a>
                </td>
                <td>
                  <StatusBadge status={x.status} />
                </td>
                <td>{x.variants.map((v) => v.label).join(' vs ')}</td>
                <td className="muted">{timeAgo(x.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {experiments?.length === 0 && <div className="muted pad">No experiments yet.</div>}
    </div>
  );
}
