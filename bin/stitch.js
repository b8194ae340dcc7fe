#!/usr/bin/env node
// The `stitch` command (`npx stitch …`, or a global install): runs the TypeScript CLI through tsx,
// with this checkout's tsconfig so `@/` imports resolve from any working directory.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/index.ts');
