/**
 * `stitch run` in its own process, with async nodes: their vendors call back the base URL
 * (STITCH_BASE_URL), so something there must answer. When a Stitch server does (`npm start` on the
 * same database), it settles the callbacks. When nothing does, this process serves Stitch's HTTP
 * routes itself — callbacks, and the files a vendor may fetch — on that port for as long as the run
 * lasts. When it cannot (the port is taken by something else), it says so at once, with the fix,
 * instead of letting the node wait out its callback deadline.
 */
import type { ExecutionGraph } from '@/types/stitch';
import type { Config } from '@/lib/config';
import { coerceError } from '@/lib/errors';
import { getWorkerDefinition } from '@/lib/workers/registry';
import { isLoopback, startServer, type RunningServer } from '@/server/listen';

/** An async worker node (a local one: remote workers answer over their own protocol), or a sub-flow that may hold one. */
export function mayWaitForCallbacks(graph: ExecutionGraph): boolean {
  return Object.values(graph.nodes).some((node) => {
    if (node.type === 'flow') return true;
    const definition = node.workerType ? getWorkerDefinition(node.workerType) : undefined;
    return definition?.type === 'async' && !definition.remote;
  });
}

/** Does a Stitch server answer at `baseUrl`? (Its health route answers 200, or 503 without a database.) */
async function stitchAnswersAt(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(1500) });
    const body = (await res.json()) as { status?: unknown; database?: unknown };
    return typeof body === 'object' && body !== null && 'database' in body;
  } catch {
    return false;
  }
}

/**
 * The port callbacks arrive on: the base URL's own when it is a loopback URL (this machine), else
 * PORT — a public base URL (a tunnel) forwards to this machine's configured port.
 */
function callbackPort(config: Config, base: URL): number {
  if (!isLoopback(base.hostname)) return config.port;
  return base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80;
}

/**
 * Serve callbacks for this run when nothing else will; returns the server to close at the end (or
 * undefined). Every outcome but "a Stitch server answers" is printed with `say`.
 */
export async function serveCallbacksIfNeeded(config: Config, graph: ExecutionGraph, say: (line: string) => void): Promise<RunningServer | undefined> {
  if (!mayWaitForCallbacks(graph) || (await stitchAnswersAt(config.baseUrl))) return undefined;
  const base = new URL(config.baseUrl);
  const port = callbackPort(config, base);
  try {
    const server = await startServer({ ...config, port });
    say(`No Stitch server answered at ${config.baseUrl}: this process serves the callbacks of its async nodes at ${server.url} until the run ends.`);
    return server;
  } catch (error) {
    const reason = (error as { code?: string }).code === 'EADDRINUSE' ? `port ${port} is taken by something that is not Stitch` : coerceError(error).message;
    say(
      `Warning: no Stitch server answered at ${config.baseUrl} and this process cannot serve it (${reason}): ` +
        'an async node in real mode will wait for a callback that cannot arrive. Free the port, set PORT and STITCH_BASE_URL to a free one, ' +
        'or start a server (npm start) and run with --url.',
    );
    return undefined;
  }
}
