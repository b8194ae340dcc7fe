import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlow } from '@/lib/db/flows';
import { startRun } from '@/lib/engine/start-run';
import { graph, registerTestWorker, syncWorker, waitForRun } from '../../../../test/helpers';
import { startTestStitch, type TestStitch } from '../../../../test/db';

let stitch: TestStitch;

beforeAll(async () => {
  registerTestWorker('echo', syncWorker((input, config, { nodeId }) => ({ ...input, [`seen_${nodeId}`]: true, ...(config.add ?? {}) })));
  stitch = await startTestStitch();
});
afterAll(() => stitch?.destroy());

describe('engine', () => {
  it('runs a linear chain, passing data through', async () => {
    const flow = await createFlow('chain', graph(['s:start', 'a', 'b', 'e:end'], [['s', 'a'], ['a', 'b'], ['b', 'e']]));
    const { runId } = await startRun(flow.id, { input: { topic: 'otters' } });
    const run = await waitForRun(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ topic: 'otters', seen_a: true, seen_b: true });
    expect(Object.values(run.nodes).map((n) => n.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
  });
});
