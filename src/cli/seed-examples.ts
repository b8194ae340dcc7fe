/**
 * First-start seeding: every `examples/*.json` flow whose name no flow has yet is created, so a
 * newcomer's canvas opens with flows that run in mock mode. An example that does not validate
 * (e.g. it needs a worker this checkout lacks) is skipped with a warning, never fatal.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFlow } from '@/lib/engine/flows';
import { findFlowByName } from '@/lib/db/queries/flows';
import { getPool } from '@/lib/db/pool';
import { lockSession, unlockSession } from '@/lib/db/queries/advisory-locks';
import { getLogger } from '@/lib/log';
import { readFlowFile } from './flow-file';

/** Arbitrary constant: "stitch seed examples" as an advisory lock key. */
const SEED_LOCK_KEY = 7_357_001_124;

export const EXAMPLES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples');

/** Returns the names of the flows created. */
export async function seedExamples(dir = EXAMPLES_DIR): Promise<string[]> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const created: string[] = [];
  // Two `start` processes on one database must not both seed: serialise on an advisory lock.
  const lock = await getPool().connect();
  await lockSession(lock, SEED_LOCK_KEY);
  try {
    await seedFiles(dir, files, created);
  } finally {
    await unlockSession(lock, SEED_LOCK_KEY).catch(() => {});
    lock.release();
  }
  return created;
}

async function seedFiles(dir: string, files: string[], created: string[]): Promise<void> {
  for (const file of files) {
    try {
      const flow = readFlowFile(path.join(dir, file));
      if (await findFlowByName(getPool(), flow.name)) continue;
      await createFlow(flow.name, flow.graph);
      created.push(flow.name);
    } catch (error) {
      getLogger().warn({ file, error: (error as Error).message }, 'example flow not seeded');
    }
  }
}
