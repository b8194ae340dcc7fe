/**
 * An experiment's variants, each resolved to one flow version: a saved version (by number or id),
 * or the current one — with `nodeOverrides` merged over nodes' data (`{<nodeId>: {config: {…}}}`:
 * `config` merged key by key, other fields replaced), saved as a detached version that is never the
 * flow's current one. So a prompt is tried without saving a version, and a variant's nodes keep the
 * fingerprint of the same nodes in the other variants wherever nothing differs.
 */
import type { VisualGraph } from '@/types/stitch';
import { getPool } from '@/lib/db/pool';
import { findVersionByNumber, versionInfo, type VariantSpec } from '@/lib/db/queries/experiments';
import { findCurrentVersion } from '@/lib/db/queries/start-run';
import { isUuid } from '@/lib/db/runs';
import { createDetachedVersion } from '@/lib/engine/flows';
import { closestName } from '@/lib/engine/suggest';
import { NotFoundError, ValidationError } from '@/lib/errors';

export interface VariantRequest {
  label: string;
  /** A saved version's number, or "current" (the default). */
  version?: number | 'current';
  versionId?: string;
  nodeOverrides?: Record<string, Record<string, unknown>>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function refuse(field: string, message: string): never {
  throw new ValidationError(`${field}: ${message}`, [{ code: 'invalid_variant', field, message }]);
}

async function baseVersion(flowId: string, v: VariantRequest, field: string): Promise<string> {
  if (v.versionId !== undefined) {
    const info = isUuid(v.versionId) ? await versionInfo(getPool(), v.versionId) : undefined;
    if (!info || info.flowId !== flowId) refuse(`${field}.versionId`, `"${v.versionId}" is not a version of the flow`);
    return v.versionId;
  }
  if (typeof v.version === 'number') {
    const id = await findVersionByNumber(getPool(), flowId, v.version);
    if (!id) refuse(`${field}.version`, `the flow has no version ${v.version}`);
    return id;
  }
  const current = await findCurrentVersion(getPool(), flowId);
  if (!current) throw new NotFoundError(`Flow ${flowId}`);
  return current.versionId;
}

/** The graph with the overrides merged over its nodes' data; an unknown node is a 400 that suggests the closest. */
function applyOverrides(graph: VisualGraph, overrides: Record<string, Record<string, unknown>>, field: string): VisualGraph {
  const ids = graph.nodes.map((n) => n.id);
  for (const [nodeId, override] of Object.entries(overrides)) {
    if (!ids.includes(nodeId)) {
      const hint = closestName(nodeId, ids);
      refuse(`${field}.nodeOverrides.${nodeId}`, `the flow has no node "${nodeId}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
    if (!isObject(override) || (override.config !== undefined && !isObject(override.config))) {
      refuse(`${field}.nodeOverrides.${nodeId}`, 'an override is an object merged over the node\'s data, like {"config": {"prompt": "…"}}');
    }
  }
  return {
    ...graph,
    nodes: graph.nodes.map((node) => {
      const override = overrides[node.id];
      if (!override) return node;
      const data = (node.data ?? {}) as Record<string, unknown>;
      const config = override.config === undefined ? data.config : { ...(isObject(data.config) ? data.config : {}), ...(override.config as Record<string, unknown>) };
      return { ...node, data: { ...data, ...override, ...(config === undefined ? {} : { config }) } as VisualGraph['nodes'][number]['data'] };
    }),
  };
}

export async function resolveVariants(flowId: string, requests: VariantRequest[]): Promise<VariantSpec[]> {
  const labels = new Set<string>();
  const out: VariantSpec[] = [];
  for (const [i, v] of requests.entries()) {
    const field = `variants[${i}]`;
    if (labels.has(v.label)) refuse(`${field}.label`, `"${v.label}" names two variants`);
    labels.add(v.label);
    const versionId = await baseVersion(flowId, v, field);
    const overrides = v.nodeOverrides ?? {};
    if (Object.keys(overrides).length === 0) {
      out.push({ label: v.label, versionId, version: (await versionInfo(getPool(), versionId))!.version });
      continue;
    }
    const graph = applyOverrides((await versionInfo(getPool(), versionId))!.graph as VisualGraph, overrides, field);
    let detached: string;
    try {
      detached = await createDetachedVersion(graph);
    } catch (error) {
      if (error instanceof ValidationError) throw new ValidationError(`${field}: with its overrides, ${error.message}`, error.details);
      throw error;
    }
    out.push({ label: v.label, versionId: detached, version: null, nodeOverrides: overrides });
  }
  return out;
}
