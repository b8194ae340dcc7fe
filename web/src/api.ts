/**
 * The HTTP client of the canvas: JSON in and out, errors as `ApiError` carrying the server's
 * `{error:{code,message,details}}`, and the API key. When the server answers 401 the request waits
 * for the key prompt (`auth.ts`) and is sent again, so callers never see the 401.
 */
import type { ValidationIssue, VisualGraph, WorkerDefinition } from '@/types/stitch';
import { authHeader, waitForKey } from './auth';
import type { AlertSpec, AlertWithState, BulkAction, BulkDryRun, BulkFilter, BulkJob, Credential, Dataset, Experiment, FlowSummary, FlowVersionSummary, FlowVersion, RunDetail, RunListItem, RunsPage, RerunPlan, Schedule, ScheduleFields, StartedRun, VariantRequest } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ValidationIssue[];
  constructor(status: number, code: string, message: string, details: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? (details as ValidationIssue[]) : [];
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  for (;;) {
    const headers: Record<string, string> = { Accept: 'application/json', ...authHeader() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, 'network', `Cannot reach the Stitch server (${(error as Error).message})`, undefined);
    }
    if (res.status === 401) {
      await waitForKey(true);
      continue;
    }
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `${method} ${path} failed with HTTP ${res.status}`, err?.details);
    }
    return json as T;
  }
}

/** Lists may come bare or wrapped (`{flows:[…]}`, `{items:[…]}`): accept both. */
function listOf<T>(value: unknown, ...keys: string[]): T[] {
  if (Array.isArray(value)) return value as T[];
  if (value && typeof value === 'object') {
    for (const key of [...keys, 'items', 'data']) {
      const v = (value as Record<string, unknown>)[key];
      if (Array.isArray(v)) return v as T[];
    }
    // A record keyed by id (e.g. worker definitions keyed by type).
    const values = Object.values(value);
    if (values.length && values.every((v) => v && typeof v === 'object' && 'id' in (v as object))) return values as T[];
  }
  return [];
}

const enc = encodeURIComponent;

/**
 * Every item of a paginated list (`{[key]: [...], nextCursor}`, pages of 200), page by page: the
 * server answers one bounded page per request; the canvas shows the whole list.
 */
async function allPages<T>(path: string, key: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '200', ...(cursor ? { cursor } : {}) });
    const body: unknown = await request('GET', `${path}?${query}`);
    items.push(...listOf<T>(body, key));
    const next = body && typeof body === 'object' ? (body as { nextCursor?: unknown }).nextCursor : null;
    cursor = typeof next === 'string' && next ? next : null;
  } while (cursor);
  return items;
}

export const api = {
  listFlows: () => allPages<FlowSummary>('/api/flows', 'flows'),
  getFlow: (id: string) => request<FlowSummary & { graph: VisualGraph | null }>('GET', `/api/flows/${enc(id)}`),
  createFlow: (name: string, graph: VisualGraph) => request<{ id: string; versionId: string }>('POST', '/api/flows', { name, graph }),
  updateFlow: (id: string, graph: VisualGraph, name?: string) =>
    request<{ id: string; versionId: string; version?: number; unchanged?: boolean }>('PUT', `/api/flows/${enc(id)}`, name === undefined ? { graph } : { graph, name }),
  deleteFlow: (id: string) => request<unknown>('DELETE', `/api/flows/${enc(id)}`),
  listVersions: (id: string) => allPages<FlowVersionSummary>(`/api/flows/${enc(id)}/versions`, 'versions'),
  getVersion: (id: string, versionId: string) => request<FlowVersion>('GET', `/api/flows/${enc(id)}/versions/${enc(versionId)}`),
  listWorkers: async () => listOf<WorkerDefinition>(await request('GET', '/api/workers'), 'workers', 'definitions'),
  startRun: (flowId: string, input: unknown) => request<StartedRun>('POST', `/api/flows/${enc(flowId)}/run`, { input }),
  /** One page of the run search: `filters` are GET /api/runs's own parameters (status, input.topic, …). */
  listRuns: async (filters: URLSearchParams | Record<string, string | undefined>, page: { limit?: number; cursor?: string } = {}): Promise<RunsPage> => {
    const params = new URLSearchParams();
    for (const [k, v] of filters instanceof URLSearchParams ? filters.entries() : Object.entries(filters)) if (v !== undefined && v !== '') params.set(k, v);
    if (page.limit) params.set('limit', String(page.limit));
    if (page.cursor) params.set('cursor', page.cursor);
    const body = await request<unknown>('GET', `/api/runs?${params}`);
    const next = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const cursor = next.nextCursor ?? next.cursor ?? null;
    return { runs: listOf<RunListItem>(body, 'runs'), nextCursor: typeof cursor === 'string' && cursor ? cursor : null };
  },
  /** How many runs a bulk action would touch (nothing changes). */
  bulkDryRun: (action: BulkAction, filter: BulkFilter) => request<BulkDryRun>('POST', '/api/runs/bulk', { action, filter, dryRun: true }),
  startBulk: (action: BulkAction, filter: BulkFilter) => request<BulkJob & { duplicate: boolean; eventsUrl: string }>('POST', '/api/runs/bulk', { action, filter }),
  getBulkJob: (id: string) => request<BulkJob>('GET', `/api/runs/bulk/${enc(id)}`),
  getRun: (runId: string) => request<RunDetail>('GET', `/api/runs/${enc(runId)}`),
  cancelRun: (runId: string) => request<unknown>('POST', `/api/runs/${enc(runId)}/cancel`, {}),
  /** A re-run reusing what did not change (`fromNode`: force it and everything downstream). */
  rerun: (runId: string, fromNode?: string) => request<StartedRun & { rerunOf: string }>('POST', `/api/runs/${enc(runId)}/rerun`, fromNode ? { fromNode } : {}),
  rerunPlan: (runId: string, fromNode?: string) => request<RerunPlan>('POST', `/api/runs/${enc(runId)}/rerun`, { dryRun: true, ...(fromNode ? { fromNode } : {}) }),
  retryNode: (runId: string, instanceId: string) => request<unknown>('POST', `/api/stitch/retry/${enc(runId)}/${enc(instanceId)}`, {}),
  completeGate: (runId: string, instanceId: string, input: unknown) =>
    request<unknown>('POST', `/api/stitch/complete/${enc(runId)}/${enc(instanceId)}`, { input }),
  listSchedules: (flowId: string) => allPages<Schedule>(`/api/flows/${enc(flowId)}/schedules`, 'schedules'),
  createSchedule: (flowId: string, fields: ScheduleFields) => request<Schedule>('POST', `/api/flows/${enc(flowId)}/schedules`, fields),
  updateSchedule: (flowId: string, id: string, patch: Partial<ScheduleFields>) => request<Schedule>('PATCH', `/api/flows/${enc(flowId)}/schedules/${enc(id)}`, patch),
  deleteSchedule: (flowId: string, id: string) => request<unknown>('DELETE', `/api/flows/${enc(flowId)}/schedules/${enc(id)}`),
  listAlerts: async (flowId: string) => listOf<AlertWithState>(await request('GET', `/api/flows/${enc(flowId)}/alerts`), 'alerts'),
  saveAlerts: (flowId: string, alerts: AlertSpec[]) => request<{ alerts: AlertSpec[] }>('PUT', `/api/flows/${enc(flowId)}/alerts`, { alerts }),
  testAlert: (flowId: string, index: number) => request<{ queued: number }>('POST', `/api/flows/${enc(flowId)}/alerts/test`, { index }),
  listCredentials: () => allPages<Credential>('/api/credentials', 'credentials'),
  setCredential: (name: string, value: string) => request<Credential>('PUT', `/api/credentials/${enc(name)}`, { value }),
  deleteCredential: (name: string) => request<unknown>('DELETE', `/api/credentials/${enc(name)}`),
  listDatasets: async () => listOf<Dataset>(await request('GET', '/api/datasets?limit=200'), 'datasets'),
  /** A dataset of these runs' inputs. */
  createDatasetFromRuns: (name: string, runIds: string[]) => request<Dataset>('POST', '/api/datasets', { name, fromRuns: runIds }),
  listExperiments: async (flowId: string) => listOf<Experiment>(await request('GET', `/api/experiments?flowId=${enc(flowId)}&limit=50`), 'experiments'),
  startExperiment: (body: { flowId: string; datasetId: string; variants: VariantRequest[]; concurrency?: number }) => request<Experiment>('POST', '/api/experiments', body),
  /** The comparison: `limit` rows after row `cursor`. */
  getExperiment: (id: string, limit = 200, cursor?: string) => request<Experiment>('GET', `/api/experiments/${enc(id)}?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  cancelExperiment: (id: string) => request<unknown>('POST', `/api/experiments/${enc(id)}/cancel`, {}),
};
