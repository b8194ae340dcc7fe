/**
 * Hash routes (`#/flows/…`): the server serves one static page, so every view is reachable without
 * server-side fallbacks.
 */
import { useSyncExternalStore } from 'react';

export type Route =
  | { page: 'flows' }
  | { page: 'editor'; flowId: string | null; versionId?: string; name?: string }
  /** The runs list: one flow's (`#/flows/:id/runs`) or every flow's (`#/runs`); `query` holds its filters. */
  | { page: 'runs'; flowId: string | null; query: string }
  | { page: 'run'; runId: string; nodeId?: string }
  | { page: 'experiments'; flowId: string; datasetId?: string }
  | { page: 'experiment'; experimentId: string }
  | { page: 'settings' };

export function parseRoute(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'flows' && parts[1] === 'new') return { page: 'editor', flowId: null, name: params.get('name') ?? undefined };
  if (parts[0] === 'flows' && parts[1] && parts[2] === 'versions' && parts[3]) return { page: 'editor', flowId: parts[1], versionId: parts[3] };
  if (parts[0] === 'flows' && parts[1] && parts[2] === 'runs') return { page: 'runs', flowId: parts[1], query };
  if (parts[0] === 'flows' && parts[1] && parts[2] === 'experiments') return { page: 'experiments', flowId: parts[1], datasetId: params.get('dataset') ?? undefined };
  if (parts[0] === 'experiments' && parts[1]) return { page: 'experiment', experimentId: parts[1] };
  if (parts[0] === 'flows' && parts[1]) return { page: 'editor', flowId: parts[1] };
  if (parts[0] === 'settings') return { page: 'settings' };
  if (parts[0] === 'runs' && parts[1]) return { page: 'run', runId: parts[1], nodeId: params.get('node') ?? undefined };
  if (parts[0] === 'runs') return { page: 'runs', flowId: null, query };
  return { page: 'flows' };
}

const enc = encodeURIComponent;

export const href = {
  flows: () => '#/',
  newFlow: (name?: string) => (name ? `#/flows/new?name=${enc(name)}` : '#/flows/new'),
  flow: (id: string) => `#/flows/${enc(id)}`,
  version: (id: string, versionId: string) => `#/flows/${enc(id)}/versions/${enc(versionId)}`,
  /** A flow's runs, or every run (`id` null), with the filters of `query` (the API's own parameters). */
  runs: (id: string | null, query = '') => `${id ? `#/flows/${enc(id)}/runs` : '#/runs'}${query ? `?${query}` : ''}`,
  run: (runId: string) => `#/runs/${enc(runId)}`,
  experiments: (flowId: string, datasetId?: string) => `#/flows/${enc(flowId)}/experiments${datasetId ? `?dataset=${enc(datasetId)}` : ''}`,
  experiment: (id: string) => `#/experiments/${enc(id)}`,
  settings: () => '#/settings',
};

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) {
    history.replaceState(null, '', to);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = to.replace(/^#/, '');
  }
}

function subscribe(cb: () => void) {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

export function useHash(): string {
  return useSyncExternalStore(subscribe, () => location.hash);
}
