/**
 * Server-Sent Events: one run's state changes, or every run's (the canvas's run list). Fed by
 * PostgreSQL LISTEN/NOTIFY, so they show changes made by any process on the database.
 */
import { createRoute } from '@hono/zod-openapi';
import { getRun } from '@/lib/db/runs';
import { newRouter, z } from '../openapi';
import { streamEvents } from '../events/sse';
import { RunIdParams, errors } from '../schemas';

const sse = (description: string) => ({
  content: { 'text/event-stream': { schema: z.string().openapi({ description: '`id: <event id>` + `data: <StitchEvent JSON>` per message' }) } },
  description,
});

const resumeHeaders = z.object({
  'last-event-id': z.string().optional().openapi({ description: 'Resume after this event id (sent by EventSource on reconnect)' }),
});
const resumeQuery = z.object({
  after: z.string().optional().openapi({ description: 'Same as Last-Event-ID, for clients that cannot set headers' }),
  api_key: z.string().optional().openapi({ description: 'The API key, for EventSource (which cannot send Authorization)' }),
});

export function eventRoutes() {
  const app = newRouter();
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/api/runs/{runId}/events',
      tags: ['Events'],
      summary: "Live stream of a run's events (history first)",
      request: { params: RunIdParams, headers: resumeHeaders, query: resumeQuery },
      responses: { 200: sse('The event stream'), ...errors(401, 404) },
    }),
  );
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/api/events',
      tags: ['Events'],
      summary: "Live stream of every run's events (from now, or after Last-Event-ID)",
      request: { headers: resumeHeaders, query: resumeQuery },
      responses: { 200: sse('The event stream'), ...errors(401) },
    }),
  );

  app.get('/api/runs/:runId/events', async (c) => {
    const run = await getRun(c.req.param('runId'));
    return streamEvents(c, run.id);
  });
  app.get('/api/events', (c) => streamEvents(c, null));
  return app;
}
