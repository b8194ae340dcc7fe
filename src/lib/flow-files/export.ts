/**
 * `stitch export`: live flows as files (./format.ts) — each flow's current graph, default budget,
 * schedules and webhook triggers (without their secrets), with the flows its `flow` nodes run named.
 */
import { flowName, listFlowFileRows, type FlowFileRow } from '@/lib/db/queries/flows';
import { listSchedules } from '@/lib/db/queries/schedules';
import { listTriggers } from '@/lib/db/queries/triggers';
import { allPages } from '@/lib/db/queries/keyset-cursor';
import type { Queryable } from '@/lib/db/queries/queryable';
import { NotFoundError } from '@/lib/errors';
import { fileNameFor, flowFileText, scheduleSpec, sameSpec, triggerSpec, withFlowNames, type FlowDocument } from './format';

export interface ExportedFlow {
  flowId: string;
  fileName: string;
  document: FlowDocument;
  text: string;
}

/** Every schedule of a flow (the lists are paginated; a flow has at most STITCH_MAX_SCHEDULES_PER_FLOW). */
export const allSchedules = (db: Queryable, flowId: string) =>
  allPages(async (page) => {
    const { schedules: items, nextCursor } = await listSchedules(db, flowId, page);
    return { items, nextCursor };
  });

/** Every live webhook trigger of a flow. */
export const allTriggers = (db: Queryable, flowId: string) =>
  allPages(async (page) => {
    const { triggers: items, nextCursor } = await listTriggers(db, flowId, page);
    return { items, nextCursor };
  });

async function documentOf(db: Queryable, row: FlowFileRow, names: Map<string, string>): Promise<FlowDocument> {
  for (const node of row.graph.nodes) {
    const flowId = (node.data as { config?: { flowId?: unknown } } | undefined)?.config?.flowId;
    if (node.type === 'flow' && typeof flowId === 'string' && !names.has(flowId)) {
      const name = await flowName(db, flowId);
      if (name !== undefined) names.set(flowId, name);
    }
  }
  return {
    name: row.name,
    budgetUsd: row.budgetUsd,
    graph: withFlowNames(row.graph, (id) => names.get(id)),
    schedules: (await allSchedules(db, row.id)).map(scheduleSpec).sort((a, b) => sameSpec(a).localeCompare(sameSpec(b))),
    triggers: (await allTriggers(db, row.id)).map(triggerSpec).sort((a, b) => a.slug.localeCompare(b.slug)),
  };
}

/**
 * Every live flow, or those named (by name or id; one that matches nothing is a 404), as files named
 * after the flows, in name order.
 */
export async function exportFlows(db: Queryable, idsOrNames?: string[]): Promise<ExportedFlow[]> {
  const rows = await listFlowFileRows(db, idsOrNames?.length ? idsOrNames : undefined);
  for (const wanted of idsOrNames ?? []) {
    if (!rows.some((r) => r.id === wanted.toLowerCase() || r.name === wanted)) throw new NotFoundError(`Flow ${wanted}`);
  }
  const names = new Map(rows.map((r) => [r.id, r.name]));
  const taken = new Set<string>();
  const exported: ExportedFlow[] = [];
  for (const row of rows) {
    const document = await documentOf(db, row, names);
    exported.push({ flowId: row.id, fileName: fileNameFor(row.name, taken), document, text: flowFileText(document) });
  }
  return exported;
}
