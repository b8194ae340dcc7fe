/**
 * The routes the walker sends: every operation of `/api/openapi.json`, plus the short list of
 * routes that live outside it (below). `undocumentedRoutes()` compares that with what the Hono app
 * really registers, so a route added without an OpenAPI entry (or a place on the short list)
 * fails the suite the day it is added.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface WalkRoute {
  method: Method;
  /** OpenAPI-style template: `/api/flows/{id}`. */
  template: string;
  /** The operation as the document describes it (absent for routes outside the document). */
  operation?: OpenApiOperation;
  /** Needs no API key (authenticates by token or signature, or is public by design). */
  public: boolean;
}

export interface OpenApiOperation {
  parameters?: Array<{ name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: JsonSchema }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

export type JsonSchema = Record<string, unknown> & { $ref?: string };

/**
 * Routes outside the OpenAPI document, each with why. `hono` is how the app registers it (method,
 * path with Hono's `:param` and `*`); `walk` is what the walker sends.
 */
export const OUTSIDE_OPENAPI: Array<{ hono: string[]; walk: Array<{ method: Method; template: string; public: boolean }>; why: string }> = [
  {
    hono: ['ALL /mcp'],
    walk: [
      { method: 'POST', template: '/mcp', public: false },
      { method: 'GET', template: '/mcp', public: false },
      { method: 'DELETE', template: '/mcp', public: false },
    ],
    why: 'MCP over Streamable HTTP: JSON-RPC, described by the MCP specification, not by OpenAPI',
  },
  { hono: ['GET /metrics'], walk: [{ method: 'GET', template: '/metrics', public: false }], why: 'Prometheus text exposition' },
  {
    hono: ['GET /files/*', 'HEAD /files/*'],
    walk: [
      { method: 'GET', template: '/files/{key}', public: true },
      { method: 'HEAD', template: '/files/{key}', public: true },
    ],
    why: 'stored media, served by unguessable keys',
  },
  { hono: ['GET /api/openapi.json'], walk: [{ method: 'GET', template: '/api/openapi.json', public: true }], why: 'the document itself' },
  { hono: ['GET /api/docs'], walk: [{ method: 'GET', template: '/api/docs', public: true }], why: 'the document rendered as a page' },
  {
    hono: ['GET /*', 'HEAD /*'],
    walk: [
      { method: 'GET', template: '/{path}', public: true },
      { method: 'HEAD', template: '/{path}', public: true },
    ],
    why: 'the canvas (a single-page app) and its assets',
  },
];

/** `app.use` mounts: middleware, not routes (a new mount is named here on purpose). */
export const MIDDLEWARE_MOUNTS = ['ALL /*', 'ALL /api/*', 'ALL /metrics', 'ALL /mcp'];

/** Documented routes that need no API key (the app's `isPublic`, as a client sees it). */
const PUBLIC_TEMPLATES = [/^\/api\/stitch\/(callback|stream)\//, /^\/api\/webhooks\//, /^\/api\/uploads\//, /^\/api\/health$/];

/** Every route to walk: the document's operations, then the short list. */
export function walkRoutes(document: { paths: Record<string, Record<string, OpenApiOperation>> }): WalkRoute[] {
  const routes: WalkRoute[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      routes.push({ method: method.toUpperCase() as Method, template, operation, public: PUBLIC_TEMPLATES.some((re) => re.test(template)) });
    }
  }
  for (const outside of OUTSIDE_OPENAPI) routes.push(...outside.walk);
  return routes;
}

/** `/api/flows/:id` and `/api/uploads/*` → the document's `/api/flows/{id}`, `/api/uploads/{…}` shape. */
function toTemplate(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{*}');
}

/**
 * The app's routes that are neither in the document nor on the short list nor middleware mounts.
 * A wildcard route (`/api/uploads/*`) matches a document path whose last segment is a parameter.
 */
export function undocumentedRoutes(app: OpenAPIHono, document: { paths: Record<string, Record<string, unknown>> }): string[] {
  const documented = new Set<string>();
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const method of Object.keys(operations)) {
      documented.add(`${method.toUpperCase()} ${template}`);
      documented.add(`${method.toUpperCase()} ${template.replace(/\/\{[^}]+\}$/, '/{*}')}`);
    }
  }
  const outside = new Set([...OUTSIDE_OPENAPI.flatMap((o) => o.hono), ...MIDDLEWARE_MOUNTS]);
  const missing = new Set<string>();
  for (const route of app.routes) {
    const name = `${route.method} ${route.path}`;
    if (outside.has(name)) continue;
    if (!documented.has(`${route.method} ${toTemplate(route.path)}`)) missing.add(name);
  }
  return [...missing];
}
