/**
 * Start the editor's requests while its code chunk (React Flow) is still loading: the flow and the
 * worker catalogue arrive in parallel with the script instead of after it.
 */
import { api } from '../api';
import { prefetchWorkerDefs } from './use-workers';

// A prefetched flow is only used if it is fresh: one the editor did not take (it already held the
// graph) must not stand in for a later visit.
const FRESH_MS = 3000;
const flows = new Map<string, { at: number; pending: ReturnType<typeof api.getFlow> }>();

export function prefetchForRoute(route: { page: string; flowId?: string | null; versionId?: string }): void {
  if (route.page !== 'editor' && route.page !== 'run') return;
  prefetchWorkerDefs();
  if (route.page === 'editor' && route.flowId && !route.versionId) {
    const pending = api.getFlow(route.flowId);
    pending.catch(() => {}); // the editor reports the failure when it takes the promise
    flows.set(route.flowId, { at: Date.now(), pending });
  }
}

/** The prefetched flow (once), else a fresh request. */
export function takeFlow(flowId: string): ReturnType<typeof api.getFlow> {
  const entry = flows.get(flowId);
  flows.delete(flowId);
  return entry && Date.now() - entry.at < FRESH_MS ? entry.pending : api.getFlow(flowId);
}
