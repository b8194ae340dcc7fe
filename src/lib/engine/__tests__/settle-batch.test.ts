/**
 * Settle batching (settle-batch.ts): settles sent together commit together, each with its own
 * result; one that fails for its own reason fails alone while the others of its batch settle.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { getPool } from '@/lib/db/pool';
import { startRun } from '@/lib/engine/start-run';
import { submitSettle, type SettleItem } from '@/lib/engine/settle-batch';
import { graph } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;
beforeAll(async () => {
  stitch = await startTestStitch({ runner: false }); // nothing executes: the entry nodes stay pending
});
afterAll(() => stitch?.destroy());

it('settles sent at once each get their own result; a bad one fails alone, the rest of its batch commits', async () => {
  const flow = await createFlow('batch', graph(['s:start'], []));
  const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => startRun(flow.id, { input: { i } })));
  const item = (runId: string, versionId: string): SettleItem => ({
    run: runId,
    version: versionId,
    instance: 's',
    attempt: 1,
    status: 'completed',
    output: { ok: runId },
    merge: false,
    arrivals: [],
    outputNodes: ['s'],
    extra: { notify: true },
    asyncCommit: false,
  });
  // Two go alone (the statements in flight), the other six queue and go as one batch; the sixth
  // item's version is no uuid, which fails its batch, so the batch is resent item by item.
  const results = await Promise.allSettled(runs.map((r, i) => submitSettle(item(r.runId, i === 5 ? 'not-a-uuid' : r.versionId))));
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  for (const r of results) if (r.status === 'fulfilled') expect(r.value).toMatchObject({ ok: true });
  const { rows } = await getPool().query(`SELECT id, status, output FROM stitch_runs WHERE id = ANY ($1)`, [runs.map((r) => r.runId)]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  runs.forEach((r, i) => {
    if (i === 5) expect(byId.get(r.runId)).toMatchObject({ status: 'running' });
    else expect(byId.get(r.runId)).toMatchObject({ status: 'completed', output: { ok: r.runId } });
  });
  // A settle repeated for an attempt that settled already changes nothing and says so.
  expect(await submitSettle(item(runs[0].runId, runs[0].versionId))).toEqual({ ok: false });
});
