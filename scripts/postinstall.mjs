// Runs after `npm install`. Builds the canvas when its sources exist, so that `npm start` serves it
// with no separate step. Kept tolerant: a missing web/ (early checkouts) is not an error.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

if (existsSync('web/index.html') && existsSync('node_modules/vite')) {
  const result = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'web', '--logLevel', 'warn'], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = result.status ?? 1;
}
