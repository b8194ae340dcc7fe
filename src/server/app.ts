/**
 * The Hono app: middleware, every route, OpenAPI document and docs page, canvas and media.
 * `createApp()` builds it without listening, so tests can call `app.request()`; `listen.ts`
 * puts it on a socket. Needs a started Stitch (`startStitch`) in the process for its database.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { except } from 'hono/combine';
import { getConfig, type Config } from '@/lib/config';
import { getStitch } from '@/lib/stitch';
import { renderDocsPage } from './docs-page';
import { handleError, handleNotFound } from './error-handler';
import { apiKeyAuth } from './middleware/api-key';
import { limitBody } from './middleware/body-limit';
import { rejectNonFiniteNumbers } from './middleware/finite-json';
import { sameSiteOnly } from './middleware/same-site';
import { requestLog } from './middleware/request-log';
import { newRouter } from './openapi';
import { callbackRoutes } from './routes/callbacks';
import { credentialRoutes } from './routes/credentials';
import { datasetRoutes } from './routes/datasets';
import { experimentRoutes } from './routes/experiments';
import { eventRoutes } from './routes/events';
import { flowFileRoutes } from './routes/flow-files';
import { bulkRoutes } from './routes/bulk';
import { flowRoutes } from './routes/flows';
import { alertRoutes } from './routes/alerts';
import { healthRoutes } from './routes/health';
import { mcpRoutes } from './routes/mcp';
import { metricsRoutes } from './routes/metrics';
import { remoteWorkerRoutes } from './routes/remote-workers';
import { rerunRoutes } from './routes/rerun';
import { retentionRoutes } from './routes/retention';
import { cacheRoutes } from './routes/cache';
import { queueRoutes } from './routes/queues';
import { runRoutes } from './routes/runs';
import { scheduleRoutes } from './routes/schedules';
import { staticRoutes } from './routes/static';
import { streamRoutes } from './routes/stream';
import { taskRoutes } from './routes/tasks';
import { UPLOAD_PATH, uploadRoutes } from './routes/uploads';
import { webhookRoutes } from './routes/webhooks';
import { workerRoutes } from './routes/workers';

export interface AppOptions {
  /** Default: the started Stitch's config, else `getConfig()`. */
  config?: Config;
  /** The canvas build to serve (default `web/dist` of this checkout). */
  webDir?: string;
  /** Aborted when the server begins to close: long-polls answer at once instead of waiting on. */
  closing?: AbortSignal;
}

/** Routes that authenticate otherwise (callback token, webhook signature) or describe the API only. */
const PUBLIC_API = [/^\/api\/stitch\/(callback|stream)\//, /^\/api\/webhooks\//, UPLOAD_PATH, /^\/api\/health$/, /^\/api\/openapi\.json$/, /^\/api\/docs$/];
const isPublic = (path: string) => PUBLIC_API.some((re) => re.test(path));
const isEventStream = (path: string) => path === '/api/events' || /^\/api\/(runs\/(bulk\/)?|experiments\/)[^/]+\/events$/.test(path);

/**
 * Headers for every answer: no MIME sniffing, no Referer carrying a callback token elsewhere, and
 * the canvas (which holds the API key) not framed by other sites.
 */
const baseHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.set('X-Content-Type-Options', 'nosniff');
  c.res.headers.set('Referrer-Policy', 'no-referrer');
  c.res.headers.set('X-Frame-Options', 'SAMEORIGIN');
};

export function createApp(options: AppOptions = {}): OpenAPIHono {
  const config = options.config ?? getStitch()?.config ?? getConfig();
  const app = newRouter();
  app.onError(handleError);
  app.notFound(handleNotFound);

  app.use('*', requestLog({ quiet: (path) => path === '/api/health' || path === '/metrics' || !path.startsWith('/api/') }));
  app.use('*', baseHeaders);
  const auth = apiKeyAuth({ apiKey: config.apiKey, isPublic, allowQueryKey: isEventStream });
  app.use('/api/*', auth);
  app.use('/metrics', auth);
  app.use('/mcp', auth);
  app.use('*', sameSiteOnly({ apiKey: config.apiKey, baseUrl: config.baseUrl, isPublic }));
  // A presigned upload is a file, not an API body: its route checks the signature before reading a
  // byte and streams it into storage, whatever its type and size. Every other body is an API body:
  // limited, and refused when a JSON number would not survive a round trip.
  const isUpload = (c: Context) => c.req.method === 'PUT' && UPLOAD_PATH.test(c.req.path);
  app.use('*', except(isUpload, limitBody(config.bodyLimitBytes), rejectNonFiniteNumbers()));

  app.route('/', flowRoutes(config));
  app.route('/', flowFileRoutes());
  app.route('/', retentionRoutes(config));
  app.route('/', bulkRoutes(config)); // before runRoutes: /api/runs/bulk is not a run id
  app.route('/', alertRoutes(config));
  app.route('/', runRoutes());
  app.route('/', rerunRoutes(config));
  app.route('/', cacheRoutes());
  app.route('/', queueRoutes());
  app.route('/', callbackRoutes());
  app.route('/', streamRoutes());
  app.route('/', eventRoutes());
  app.route('/', workerRoutes(config));
  app.route('/', remoteWorkerRoutes(config));
  app.route('/', taskRoutes(config, options.closing));
  app.route('/', uploadRoutes());
  app.route('/', webhookRoutes(config));
  app.route('/', scheduleRoutes());
  app.route('/', credentialRoutes());
  app.route('/', datasetRoutes());
  app.route('/', experimentRoutes());
  app.route('/', healthRoutes(config));
  app.route('/', metricsRoutes(config));
  app.route('/', mcpRoutes(config));

  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Stitch',
      version: '0.1.0',
      description:
        'Durable workflow orchestration on PostgreSQL. Management routes need `Authorization: Bearer $STITCH_API_KEY` ' +
        'when the server has a key; callbacks authenticate with their URL token, webhooks with an HMAC signature.',
    },
    components: { securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer' } } },
    security: config.apiKey ? [{ bearer: [] }] : [],
  };
  app.doc31('/api/openapi.json', document);
  app.get('/api/docs', (c) => c.html(renderDocsPage(app.getOpenAPI31Document(document) as unknown as Record<string, unknown>)));

  app.route('/', staticRoutes(config, options.webDir));
  return app;
}
