/**
 * A flow's alerts (docs/operations.md, "Alerts"): read them with their delivery state, replace
 * them without saving a new version (the canvas's alert panel), and send a test message through
 * the queue (its outcome shows on the next read).
 */
import { createRoute } from '@hono/zod-openapi';
import type { Config } from '@/lib/config';
import { NotFoundError, ValidationError } from '@/lib/errors';
import { getPool } from '@/lib/db/pool';
import { isUuid } from '@/lib/db/rows';
import { addTestAlertJob, listAlertStates, readFlowAlerts, updateFlowAlerts } from '@/lib/db/queries/alerts';
import { checkAlerts } from '@/lib/alerts/spec';
import { newRouter, z } from '../openapi';
import { AlertList, AlertSchema, FlowIdParams, errors, json } from '../schemas';

const tags = ['Flows'];

const AlertWithState = AlertSchema.extend({
  pending: z.number().openapi({ description: 'Occurrences waiting for the next message' }),
  lastResult: z.string().nullable().openapi({ description: 'Outcome of the last delivery attempt: `200`, `500: …`, `refused: …`, `test: 200`' }),
  lastAttemptAt: z.string().nullable(),
  lastSentAt: z.string().nullable(),
}).openapi('AlertWithState');

async function flowAlertsOrThrow(flowId: string) {
  const flow = isUuid(flowId) ? await readFlowAlerts(getPool(), flowId) : undefined;
  if (!flow) throw new NotFoundError(`Flow ${flowId}`);
  return flow;
}

export function alertRoutes(config: Config) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/flows/{id}/alerts',
      tags,
      summary: "A flow's alerts with their delivery state",
      request: { params: FlowIdParams },
      responses: { 200: json(z.object({ alerts: z.array(AlertWithState) }), 'Alerts'), ...errors(401, 404) },
    }),
    async (c) => {
      const flowId = c.req.valid('param').id;
      const { alerts } = await flowAlertsOrThrow(flowId);
      const states = await listAlertStates(getPool(), flowId);
      return c.json(
        {
          alerts: alerts.map((a) => {
            const s = states.get(`${a.on} ${a.to}`);
            return { ...a, pending: s?.pending ?? 0, lastResult: s?.lastResult ?? null, lastAttemptAt: s?.lastAttemptAt ?? null, lastSentAt: s?.lastSentAt?.toISOString() ?? null };
          }),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/flows/{id}/alerts',
      tags,
      summary: "Replace a flow's alerts (no new version)",
      request: { params: FlowIdParams, body: { content: { 'application/json': { schema: z.object({ alerts: AlertList }) } }, required: true } },
      responses: { 200: json(z.object({ alerts: z.array(AlertSchema) }), 'Saved'), ...errors(400, 401, 404, 413) },
    }),
    async (c) => {
      const flowId = c.req.valid('param').id;
      const alerts = checkAlerts(c.req.valid('json').alerts, { allowPrivate: config.webhookAllowPrivate, maxPerFlow: config.limits.alertsPerFlow });
      if (!isUuid(flowId) || !(await updateFlowAlerts(getPool(), flowId, alerts))) throw new NotFoundError(`Flow ${flowId}`);
      return c.json({ alerts }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/flows/{id}/alerts/test',
      tags,
      summary: 'Send a test message to every alert of the flow (or to one, by its index)',
      description: 'Queued at once (202); each outcome shows as `lastResult` in GET /api/flows/{id}/alerts.',
      request: {
        params: FlowIdParams,
        body: { content: { 'application/json': { schema: z.object({ index: z.number().int().min(0).optional() }) } }, required: false },
      },
      responses: { 202: json(z.object({ queued: z.number() }), 'Queued'), ...errors(400, 401, 404) },
    }),
    async (c) => {
      const flowId = c.req.valid('param').id;
      const { alerts } = await flowAlertsOrThrow(flowId);
      const index = c.req.valid('json')?.index;
      if (index !== undefined && index >= alerts.length) throw new ValidationError(`The flow has ${alerts.length} alert(s); there is no alert ${index}`);
      const chosen = index === undefined ? alerts : [alerts[index]];
      for (const a of chosen) await addTestAlertJob(getPool(), { flowId, on: a.on, to: a.to });
      return c.json({ queued: chosen.length }, 202);
    },
  );

  return app;
}
