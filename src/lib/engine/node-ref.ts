/** One attempt of one node instance of a run: what every transition and job names. */
export interface NodeRef {
  runId: string;
  versionId: string;
  instanceId: string;
  attempt: number;
}
