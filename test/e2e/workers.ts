/**
 * Workers the browser tests register in the Stitch process they start: one with a required input
 * (validation), one that fails its first attempt (manual retry), one that reports progress.
 */
import { updateNodeState } from '@/lib/db/runs';
import { NonRetriableError } from '@/lib/errors';
import { triggerCallback } from '@/lib/workers/utils';
import { registerTestWorker, syncWorker } from '../helpers';

const failedOnce = new Set<string>();

export function registerE2EWorkers(): void {
  registerTestWorker(
    'shout',
    syncWorker((input: { text: string }, config) => ({ shout: `${String(input.text).toUpperCase()}${config.suffix ?? '!'}` })),
    {
      name: 'Shout',
      category: 'Text',
      description: 'Upper-cases a text and adds a suffix.',
      input: { text: { type: 'string', required: true, description: 'The text to shout' } },
      output: { shout: { type: 'string', description: 'The shouted text' } },
      config: { suffix: '!' },
    },
  );
  registerTestWorker(
    'flaky',
    class {
      async execute(runId: string, nodeId: string, _config: unknown, input: unknown) {
        if (!failedOnce.has(runId)) {
          failedOnce.add(runId);
          throw new NonRetriableError('vendor said 503 (first attempt always fails)');
        }
        await triggerCallback(runId, nodeId, { status: 'completed', output: { ok: true, input } });
      }
    },
    { name: 'Flaky', category: 'Testing', description: 'Fails its first attempt, succeeds after a retry.', retry: { attempts: 1 } },
  );
  registerTestWorker(
    'progress',
    class {
      async execute(runId: string, nodeId: string, config: { steps?: number; stepMs?: number }, input: unknown) {
        const steps = config.steps ?? 4;
        for (let i = 1; i < steps; i++) {
          await updateNodeState(runId, nodeId, { status: 'running', metadata: { progress: i / steps, message: `step ${i} of ${steps}` } });
          await new Promise((r) => setTimeout(r, config.stepMs ?? 400));
        }
        await triggerCallback(runId, nodeId, { status: 'completed', output: { steps, input } });
      }
    },
    { name: 'Progress', category: 'Testing', description: 'Reports progress in steps, then completes.', config: { steps: 4, stepMs: 400 }, retry: { attempts: 1 } },
  );
}
