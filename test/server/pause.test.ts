/**
 * Pause and resume: a node in flight finishes while its successor waits; resume continues where
 * the run stood; cancel works on a paused run; a splitter over 1,000 items starts no item after the
 * pause is answered, and finishes every item after resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { triggerCallback } from '@/lib/workers/utils';
import { eventually, graph, registerTestWorker, waitForRun } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;

/** Gated workers wait here (by run id) until the test opens the gate. */
const gates = new Map<string, { open: () => void; opened: Promise<void>; entered: boolean }>();
function gate(runId: string) {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const g = { open, opened, entered: false };
  gates.set(runId, g);
  return g;
}
/** Every execution of `counted`, in start order: [runId, instanceId, paused already answered?]. */
const starts: Array<{ runId: string; instanceId: string; afterPause: boolean }> = [];
const pausedAnswered = new Set<string>();

beforeAll(async () => {
  registerTestWorker('gated', class {
    async execute(runId: string, nodeId: string, _config: unknown, input: Record<string, unknown>) {
      const g = gates.get(runId)!;
      g.entered = true;
      await g.opened;
      await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, gated: true } });
    }
  });
  registerTestWorker('counted', class {
    async execute(runId: string, nodeId: string, _config: unknown, input: Record<string, unknown>) {
      starts.push({ runId, instanceId: nodeId, afterPause: pausedAnswered.has(runId) });
      await new Promise((r) => setTimeout(r, 5));
      await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, counted: true } });
    }
  });
  t = await startTestServer();
});
afterAll(() => t?.close());

const parked = async (runId: string) =>
  (await t.stitch.db.pool.query<{ instance_id: string }>('SELECT instance_id FROM stitch_parked_nodes WHERE run_id = $1', [runId])).rows.map((r) => r.instance_id);
const eventTypes = async (runId: string) =>
  (await t.stitch.db.pool.query<{ type: string }>(`SELECT type FROM stitch_events WHERE run_id = $1 AND type LIKE 'run:%' ORDER BY id`, [runId])).rows.map((r) => r.type);
const nodeStatus = async (runId: string, id: string) => (await t.api('GET', `/api/runs/${runId}`)).body.nodes[id]?.status;

async function gatedRun(name: string) {
  const flow = await createFlow(`${name}-${Math.random()}`, graph(['s:start', 'g:gated', 'n:counted', 'e:end'], [['s', 'g'], ['g', 'n'], ['n', 'e']]));
  const { runId } = await startRun(flow.id, { input: { x: 1 } });
  const g = gate(runId);
  await eventually(async () => g.entered || undefined);
  return { runId, g };
}

describe('pause and resume', () => {
  it('a node in flight finishes, its successor waits while paused, resume continues where the run stood', async () => {
    const { runId, g } = await gatedRun('pause');
    const paused = await t.api('POST', `/api/runs/${runId}/pause`);
    expect(paused).toMatchObject({ status: 200, body: { ok: true, status: 'paused' } });
    pausedAnswered.add(runId);
    expect((await t.api('POST', `/api/runs/${runId}/pause`)).body.status).toBe('paused'); // idempotent
    expect((await t.api('GET', `/api/runs/${runId}`)).body.status).toBe('paused');
    expect((await t.api('GET', '/api/runs?status=paused')).body.runs.map((r: { id: string }) => r.id)).toContain(runId);

    g.open();
    // The gated node completes; its successor is parked, not started.
    await eventually(async () => (await parked(runId)).includes('n') || undefined);
    expect(await nodeStatus(runId, 'g')).toBe('completed');
    expect(await nodeStatus(runId, 'n')).toBe('pending');
    expect(starts.filter((s) => s.runId === runId)).toEqual([]);
    expect((await t.api('GET', `/api/runs/${runId}`)).body.status).toBe('paused');

    expect((await t.api('POST', `/api/runs/${runId}/resume`)).body).toEqual({ ok: true, status: 'running' });
    pausedAnswered.delete(runId);
    const done = await waitForRun(runId);
    expect(done.status).toBe('completed');
    expect(done.nodes.n.output).toMatchObject({ x: 1, gated: true, counted: true });
    expect(await parked(runId)).toEqual([]);
    expect(await eventTypes(runId)).toEqual(['run:created', 'run:paused', 'run:resumed', 'run:completed']);
    expect((await t.api('POST', `/api/runs/${runId}/pause`)).status).toBe(409);
  });

  it('cancel works on a paused run; resume is then refused', async () => {
    const { runId, g } = await gatedRun('cancel');
    expect((await t.api('POST', `/api/runs/${runId}/pause`)).status).toBe(200);
    expect((await t.api('POST', `/api/runs/${runId}/cancel`)).status).toBe(200);
    g.open();
    const run = await waitForRun(runId);
    expect(run.status).toBe('cancelled');
    expect((await t.api('GET', `/api/runs/${runId}`)).body.status).toBe('cancelled');
    expect((await t.api('POST', `/api/runs/${runId}/resume`)).status).toBe(409);
    expect(starts.filter((s) => s.runId === runId)).toEqual([]);
  });

  it('unknown runs are 404', async () => {
    expect((await t.api('POST', '/api/runs/00000000-0000-4000-8000-000000000000/pause')).status).toBe(404);
    expect((await t.api('POST', '/api/runs/not-a-uuid/resume')).status).toBe(404);
  });

  it('a splitter over 1,000 items starts no item after the pause is answered, and finishes them all after resume', async () => {
    const flow = await createFlow(
      `pause-split-${Math.random()}`,
      graph(
        [{ id: 's', type: 'start' }, { id: 'split', type: 'splitter', config: { arrayPath: 'items' } }, { id: 'w', workerType: 'counted' }, { id: 'c', type: 'collector' }, { id: 'e', type: 'end' }],
        [['s', 'split'], ['split', 'w'], ['w', 'c'], ['c', 'e']],
      ),
    );
    const items = Array.from({ length: 1000 }, (_, n) => ({ n }));
    const { runId } = await startRun(flow.id, { input: { items } });
    await eventually(async () => starts.filter((s) => s.runId === runId).length >= 20 || undefined, 60_000);
    expect((await t.api('POST', `/api/runs/${runId}/pause`)).body.status).toBe('paused');
    pausedAnswered.add(runId);
    const atPause = starts.filter((s) => s.runId === runId).length;
    expect(atPause).toBeLessThan(1000);

    // Every item either finished (it was in flight) or is parked: the run stands still.
    await eventually(async () => {
      const { rows } = await t.stitch.db.pool.query<{ done: number; parked: number }>(
        `SELECT (SELECT count(*)::int FROM stitch_node_runs WHERE run_id = $1 AND node_id = 'w' AND status = 'completed') AS done,
                (SELECT count(*)::int FROM stitch_parked_nodes WHERE run_id = $1) AS parked`,
        [runId],
      );
      return rows[0].done === starts.filter((s) => s.runId === runId).length && rows[0].done + rows[0].parked === 1000 || undefined;
    }, 60_000);
    expect(starts.filter((s) => s.runId === runId && s.afterPause)).toEqual([]);
    expect((await t.api('GET', `/api/runs/${runId}`)).body.status).toBe('paused');

    expect((await t.api('POST', `/api/runs/${runId}/resume`)).body.status).toBe('running');
    pausedAnswered.delete(runId);
    const done = await waitForRun(runId, { timeoutMs: 120_000 });
    expect(done.status).toBe('completed');
    expect(done.nodes.c.output).toHaveLength(1000);
    expect(starts.filter((s) => s.runId === runId).length).toBe(1000);
  }, 180_000);
});
