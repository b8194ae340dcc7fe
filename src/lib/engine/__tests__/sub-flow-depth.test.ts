/**
 * The sub-flow depth limit (STITCH_MAX_FLOW_DEPTH) is the started runtime's: this file starts its
 * own Stitch with a limit of 2, as a deployment sets it, and nothing on the execute path reads the
 * environment again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;

beforeAll(async () => {
  registerTestWorker('double', syncWorker((input) => ({ ...input, doubled: (input.n ?? 0) * 2 })));
  stitch = await startTestStitch({ env: { STITCH_MAX_FLOW_DEPTH: '2' } });
});
afterAll(() => stitch?.destroy());

const flowNode = (id: string, flowId: string) => ({ id, type: 'flow', config: { flowId } });

it('stops at the depth limit the runtime started with (STITCH_MAX_FLOW_DEPTH)', async () => {
  const d = await createFlow('level 3', graph(['x:double'], []));
  const c = await createFlow('level 2', graph([flowNode('to3', d.id)], []));
  const b = await createFlow('level 1', graph([flowNode('to2', c.id)], []));
  const a = await createFlow('level 0', graph([flowNode('to1', b.id)], []));
  const run = await waitForRun((await startRun(a.id)).runId);
  expect(run.status).toBe('failed');
  // level 0 → 1 → 2 are within the limit; level 2's node would start a third level.
  expect(run.error).toMatch(/Sub-flow run .* failed: .*Sub-flow run .* failed: .*depth limit reached.*STITCH_MAX_FLOW_DEPTH=2/);
});
