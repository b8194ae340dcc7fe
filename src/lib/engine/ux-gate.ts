/**
 * UX gates: `ux` nodes park in `waiting_for_user` until a human answers.
 * Placeholder until the node-vocabulary work lands: answering is refused with a clear error.
 */
import { StitchError } from '@/lib/errors';

/** Answer a waiting UX gate with the human's input; the node completes with input merged with the answer. */
export async function answerUserTask(runId: string, instanceId: string, answer: unknown): Promise<void> {
  void answer;
  throw new StitchError('not_supported', `UX gates are not supported by this engine yet (run ${runId}, node ${instanceId})`);
}
