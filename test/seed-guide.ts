/**
 * Reading the seed guide (test/fixtures/seed/adding-workers.md, a verbatim copy of the contract):
 * its TypeScript blocks, and the worker files, registrations and definitions it tells you to add.
 */
import { readFileSync } from 'node:fs';

export const SEED_GUIDE = 'test/fixtures/seed/adding-workers.md';

export function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```typescript\n([\s\S]*?)```/g)].map((m) => m[1]);
}

export function seedBlocks(): string[] {
  return typescriptBlocks(readFileSync(SEED_GUIDE, 'utf8'));
}

/** The one block that satisfies `predicate` (throws when there are none or several). */
export function theBlock(blocks: string[], what: string, predicate: (block: string) => boolean): string {
  const found = blocks.filter(predicate);
  if (found.length !== 1) throw new Error(`expected exactly one ${what} block in the guide, found ${found.length}`);
  return found[0];
}

/** The entries of a `WORKER_DEFINITIONS = { // ... existing workers <entries> };` block. */
export function definitionEntries(block: string): string {
  const start = block.indexOf('// ... existing workers');
  const end = block.lastIndexOf('};');
  return block.slice(start + '// ... existing workers'.length, end).trim();
}
