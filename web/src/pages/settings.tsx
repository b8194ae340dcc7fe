/**
 * Settings: the API keys of the integrations, kept in the credentials vault. Each key shows where
 * its value comes from now (environment, vault, or none: the integration runs in mock mode); a
 * value typed here is sent once and never shown again. The environment wins over the vault.
 */
import { useCallback, useEffect, useState } from 'react';
import type { WorkerDefinition } from '@/types/stitch';
import { api } from '../api';
import { timeAgo } from '../lib/format';
import { invalidateWorkerDefs } from '../lib/use-workers';
import { useAction } from '../lib/use-action';
import type { Credential, Integration } from '../types';

type CatalogueEntry = WorkerDefinition & { integration?: Integration };

interface KeyRow {
  name: string;
  source: 'env' | 'vault' | 'none';
  workers: string[];
}

/** One row per key name, with the integrations that read it. */
function keyRows(defs: CatalogueEntry[]): KeyRow[] {
  const rows = new Map<string, KeyRow>();
  for (const d of defs) {
    for (const k of d.integration?.keys ?? []) {
      const row = rows.get(k.name) ?? { name: k.name, source: k.source, workers: [] };
      row.workers.push(d.name);
      rows.set(k.name, row);
    }
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const SOURCE_TEXT = { env: 'from the environment', vault: 'from the vault', none: 'not set: mock mode' } as const;

export function SettingsPage() {
  const [defs, setDefs] = useState<CatalogueEntry[]>();
  const [credentials, setCredentials] = useState<Credential[]>();
  const [values, setValues] = useState<Record<string, string>>({});
  const [otherName, setOtherName] = useState('');
  const [otherValue, setOtherValue] = useState('');

  const reload = useCallback(async () => {
    invalidateWorkerDefs(); // the palette re-reads modes too
    const [workers, stored] = await Promise.all([api.listWorkers(), api.listCredentials()]);
    setDefs(workers as CatalogueEntry[]);
    setCredentials(stored);
  }, []);
  useEffect(() => {
    reload().catch((e: Error) => setError(e.message));
  }, [reload]);

  const { busy, error, setError, act } = useAction(reload);
  const save = (name: string, value: string, clear: () => void) =>
    act(async () => {
      await api.setCredential(name, value);
      clear();
    });

  const rows = defs ? keyRows(defs) : [];
  const known = new Set(rows.map((r) => r.name));
  const others = credentials?.filter((c) => !known.has(c.name)) ?? [];
  const stored = new Map(credentials?.map((c) => [c.name, c]) ?? []);

  return (
    <div className="page" data-testid="settings">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <p className="muted">
        API keys are stored encrypted in the database and apply to the next node that runs — no restart. A value set in the environment takes
        precedence over the vault. Values are never shown again once saved.
      </p>
      {error && (
        <div className="alert alert-error" data-testid="settings-error">
          {error}
        </div>
      )}
      <h2>Integration keys</h2>
      {!defs && !error && <div className="muted pad">Loading…</div>}
      {rows.map((r) => (
        <div className="key-row" key={r.name} data-testid={`key-row-${r.name}`} data-source={r.source}>
          <div>
            <code>{r.name}</code>
            <div className="muted small">{r.workers.join(', ')}</div>
          </div>
          <span className={`tag ${r.source === 'none' ? 'tag-amber' : 'tag-green'}`} data-testid={`key-source-${r.name}`}>
            {r.source}
          </span>
          <input
            type="password"
            autoComplete="off"
            placeholder={r.source === 'none' ? 'paste the key' : `replace (${SOURCE_TEXT[r.source]}${stored.get(r.name) ? `, set ${timeAgo(stored.get(r.name)!.updatedAt)}` : ''})`}
            value={values[r.name] ?? ''}
            onChange={(e) => setValues((v) => ({ ...v, [r.name]: e.target.value }))}
            data-testid={`key-input-${r.name}`}
          />
          <button
            className="btn btn-primary btn-sm"
            disabled={busy || !values[r.name]}
            onClick={() => void save(r.name, values[r.name], () => setValues((v) => ({ ...v, [r.name]: '' })))}
            data-testid={`key-save-${r.name}`}
          >
            Save
          </button>
          {stored.has(r.name) ? (
            <button className="btn btn-danger-ghost btn-sm" disabled={busy} onClick={() => void act(() => api.deleteCredential(r.name))} data-testid={`key-remove-${r.name}`}>
              Remove
            </button>
          ) : (
            <span />
          )}
        </div>
      ))}
      <h2>Other credentials</h2>
      {others.map((c) => (
        <div className="key-row" key={c.name} data-testid={`key-row-${c.name}`}>
          <code>{c.name}</code>
          <span className="tag tag-green">vault</span>
          <span className="muted small">set {timeAgo(c.updatedAt)}</span>
          <span />
          <button className="btn btn-danger-ghost btn-sm" disabled={busy} onClick={() => void act(() => api.deleteCredential(c.name))} data-testid={`key-remove-${c.name}`}>
            Remove
          </button>
        </div>
      ))}
      <div className="key-row">
        <input placeholder="NAME_API_KEY" value={otherName} onChange={(e) => setOtherName(e.target.value.toUpperCase())} data-testid="other-name" />
        <span />
        <input type="password" autoComplete="off" placeholder="value" value={otherValue} onChange={(e) => setOtherValue(e.target.value)} data-testid="other-value" />
        <button
          className="btn btn-sm"
          disabled={busy || !otherName || !otherValue}
          onClick={() => void save(otherName, otherValue, () => (setOtherName(''), setOtherValue('')))}
          data-testid="other-save"
        >
          Add
        </button>
        <span />
      </div>
    </div>
  );
}
