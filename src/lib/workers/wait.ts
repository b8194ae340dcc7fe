/**
 * Wait: an async worker that completes after `config.seconds` through a scheduled queue job
 * (the durable replacement for an in-process setTimeout: a restart in between loses nothing).
 */
import type { NodeConfig } from '@/types/stitch';
import { NonRetriableError } from '@/lib/errors';
import { updateNodeState } from '@/lib/db/runs';
import type { IWorker } from './base';
import { scheduleCallback } from './utils';

export class WaitWorker implements IWorker {
  async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown): Promise<void> {
    const seconds = Number(config.seconds ?? 1);
    if (!Number.isFinite(seconds) || seconds < 0) throw new NonRetriableError('config.seconds must be a number ≥ 0');
    await updateNodeState(runId, nodeId, { status: 'running', output: input, metadata: { message: `waiting ${seconds}s` } });
    await scheduleCallback(runId, nodeId, { status: 'completed', output: { waitedSeconds: seconds } }, seconds);
  }
}
