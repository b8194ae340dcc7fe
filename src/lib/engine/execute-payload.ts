/** The payload of the queue's `stitch_execute` (and deadline) jobs: one attempt, in short keys. */
export interface ExecutePayload {
  r: string;
  v: string;
  i: string;
  a: number;
}

/** The node attempt a payload names, as the job guard and transitions take it. */
export const attemptOf = (p: ExecutePayload) => ({ runId: p.r, versionId: p.v, instanceId: p.i, attempt: p.a });
