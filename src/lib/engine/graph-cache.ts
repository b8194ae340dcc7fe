/**
 * Execution graphs by version id. Versions are immutable, so a graph read once is good forever;
 * the cache is bounded so a long-lived process with many versions does not grow without limit.
 */
import type { ExecutionGraph } from '@/types/stitch';
import { getVersion } from '@/lib/db/flows';

const MAX_ENTRIES = 500;
const cache = new Map<string, Promise<ExecutionGraph>>();

export function getExecutionGraph(versionId: string): Promise<ExecutionGraph> {
  let entry = cache.get(versionId);
  if (!entry) {
    entry = getVersion(versionId).then((v) => v.executionGraph);
    entry.catch(() => cache.delete(versionId));
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(versionId, entry);
  }
  return entry;
}
