/**
 * Spawn the Python remote workers of test/remote/py_workers.py against a test server, and read
 * what they print ("ready", "started <taskId> <attempt>").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./py_workers.py', import.meta.url));

export interface PythonWorker {
  process: ChildProcess;
  lines: string[];
  /** The end of what it wrote to stderr (its log). */
  stderr(): string;
  /** Resolves with the first printed line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (graceful) and wait for the exit. */
  stop(): Promise<number | null>;
}

export function spawnPythonWorker(baseUrl: string, options: { concurrency?: number; env?: Record<string, string> } = {}): PythonWorker {
  const child = spawn('python3', ['-u', SCRIPT, baseUrl, String(options.concurrency ?? 1)], {
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners) l();
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    lines,
    stderr: () => stderr,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => pattern.test(l));
          if (found) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`python worker printed nothing matching ${pattern}; stdout: ${lines.join(' | ')}; stderr: ${stderr}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
  };
}
