/**
 * Spawn Stitch processes (real OS processes) for crash and scale-out tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface SpawnedProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the process printed `marker` on stdout. */
  ready: Promise<void>;
  exited: Promise<number | null>;
}

export function spawnTsx(script: string, env: Record<string, string>, marker = 'ready'): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes(marker)) resolve();
    });
    child.stderr!.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before "${marker}":\n${out}`)));
  });
  ready.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, ready, exited };
}
