/**
 * Fake Shotstack Edit API (shotstack.io/docs/api): POST /{stage}/render → 201 QueuedResponse,
 * GET /{stage}/render/{id} → RenderResponse; `finish()` POSTs the render webhook payload
 * ({type: "edit", action: "render", id, owner, status, url, error, completed}) to the edit's callback.
 */
import { postJson, sendJson, startVendorServer, type Failure, type VendorServer } from './server';

export const SHOTSTACK_KEY = 'ss-test-key';

export interface FakeRender {
  id: string;
  edit: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  status: 'queued' | 'rendering' | 'done' | 'failed';
}

export interface FakeShotstack extends VendorServer {
  renders: Map<string, FakeRender>;
  failure: Failure;
  finish(id: string, options?: { fail?: boolean; callback?: boolean }): Promise<{ status: number; body: unknown } | undefined>;
}

export async function startFakeShotstack(): Promise<FakeShotstack> {
  const renders = new Map<string, FakeRender>();
  let n = 0;
  const fake = { renders, failure: 'none' } as FakeShotstack;
  const outputUrl = (id: string) => `https://shotstack-api-stage-output.s3-ap-southeast-2.amazonaws.com/owner1/${id}.mp4`;
  const base = await startVendorServer((req, res) => {
    if (req.headers['x-api-key'] !== SHOTSTACK_KEY) return sendJson(res, 403, { message: 'Forbidden' });
    if (req.method === 'POST' && /^\/[^/]+\/render$/.test(req.path)) {
      switch (fake.failure) {
        case 'timeout':
          return;
        case '4xx':
          return sendJson(res, 400, { success: false, message: 'Bad Request', response: { error: 'timeline.tracks[0].clips[0].asset.src is required' } });
        case '5xx':
          return sendJson(res, 500, { success: false, message: 'Internal Server Error' });
        case 'malformed':
          return sendJson(res, 201, { success: true, message: 'Created' });
      }
      const id = `2abd5c11-0f3d-4c6d-ba20-${String(++n).padStart(12, '0')}`;
      renders.set(id, { id, edit: req.body, status: 'queued' });
      return sendJson(res, 201, { success: true, message: 'Created', response: { message: 'Render Successfully Queued', id } });
    }
    const get = /^\/[^/]+\/render\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && get) {
      const render = renders.get(get[1]);
      if (!render) return sendJson(res, 404, { success: false, message: 'Not Found' });
      return sendJson(res, 200, {
        success: true,
        message: 'OK',
        response: {
          id: render.id,
          owner: 'owner1',
          plan: 'sandbox',
          status: render.status,
          error: render.status === 'failed' ? 'Asset could not be fetched' : '',
          duration: 18,
          renderTime: 9000,
          url: render.status === 'done' ? outputUrl(render.id) : '',
          created: '2026-01-01T00:00:00.000Z',
          updated: '2026-01-01T00:00:09.000Z',
        },
      });
    }
    sendJson(res, 404, { success: false, message: 'Not Found' });
  });
  Object.assign(fake, base, {
    async finish(id: string, options: { fail?: boolean; callback?: boolean } = {}) {
      const render = renders.get(id)!;
      render.status = options.fail ? 'failed' : 'done';
      if (options.callback === false || !render.edit.callback) return undefined;
      return postJson(render.edit.callback, {
        type: 'edit',
        action: 'render',
        id,
        owner: 'owner1',
        status: render.status,
        url: options.fail ? null : outputUrl(id),
        error: options.fail ? 'Asset could not be fetched' : null,
        completed: '2026-01-01T00:00:09.810Z',
      });
    },
  });
  return fake;
}
