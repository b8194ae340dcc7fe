/**
 * In-process `stitch run` and callbacks (issue 25.1): with an async node and no Stitch server at the
 * base URL, the run's process serves the callback routes on that port; a Stitch server that answers
 * there is left to do it; a port taken by something else is said at once.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExecutionGraph } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { freePort } from '@/lib/db/embedded';
import { startTestStitch, type TestStitch } from '../../../test/db';
import { serveCallbacksIfNeeded } from '../callback-server';

let stitch: TestStitch;
beforeAll(async () => {
  stitch = await startTestStitch({ runner: false });
});
afterAll(() => stitch?.destroy());

const graphOf = (workerType: string) => ({ nodes: { w: { id: 'w', type: 'worker', workerType, config: {} } } }) as unknown as ExecutionGraph;
const configAt = (port: number, baseUrl = `http://127.0.0.1:${port}`) => getConfig({ DATABASE_URL: stitch.url, PORT: String(port), STITCH_BASE_URL: baseUrl });

it('serves the callbacks when nothing answers at the base URL, and leaves them to a Stitch server that does', async () => {
  const said: string[] = [];
  const port = await freePort();
  const server = await serveCallbacksIfNeeded(configAt(port), graphOf('wait'), (line) => said.push(line));
  try {
    expect(server?.url).toBe(`http://127.0.0.1:${port}`);
    expect(said).toEqual([expect.stringMatching(/^No Stitch server answered at http:\/\/127\.0\.0\.1:\d+: this process serves the callbacks/)]);
    expect((await fetch(`${server!.url}/api/health`)).status).toBe(200);
    // A second run while this one serves: the server answers, nothing more to do, nothing said.
    expect(await serveCallbacksIfNeeded(configAt(await freePort(), server!.url), graphOf('wait'), (line) => said.push(line))).toBeUndefined();
    expect(said).toHaveLength(1);
  } finally {
    await server?.close();
  }
});

it('serves nothing for a flow without async nodes', async () => {
  const said: string[] = [];
  expect(await serveCallbacksIfNeeded(configAt(await freePort()), graphOf('transform'), (line) => said.push(line))).toBeUndefined();
  expect(said).toEqual([]);
});

it('says at once when the port is taken by something that is not Stitch', async () => {
  const squatter: Server = createServer((_req, res) => res.writeHead(404).end('not stitch'));
  const port = await freePort();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  try {
    const said: string[] = [];
    expect(await serveCallbacksIfNeeded(configAt(port), graphOf('wait'), (line) => said.push(line))).toBeUndefined();
    expect(said).toEqual([expect.stringContaining(`port ${port} is taken by something that is not Stitch`)]);
    expect(said[0]).toMatch(/will wait for a callback that cannot arrive.*set PORT and STITCH_BASE_URL/);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
});
