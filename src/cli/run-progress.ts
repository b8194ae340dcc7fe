/**
 * Live progress of a run in the terminal: one line per node status change, and on a TTY a
 * progress bar redrawn in place. Works from snapshots of the run (the `GET /api/runs/:id` body),
 * so it is the same whether the run is read from the database or over HTTP. Streamed output
 * (`node:stream`, when shown) is printed as it comes, after a `<node> ▸` header, indented.
 */
import type { NodeStatus, RunStatus, StreamMessage } from '@/types/stitch';

export interface RunSnapshot {
  id: string;
  status: RunStatus;
  output: unknown;
  error: string | null;
  nodes: Record<string, { nodeId: string; status: NodeStatus; attempt: number; error: string | null; progress: number | null }>;
  /** What the run cost (GET /api/runs/:id); absent from older servers. */
  cost?: { usd: number; savedUsd: number; mock?: true };
}

/** `Cost $0.4213 (saved $1.2000 by reuse and cache; mock usage priced as real)`. */
export function formatCost(cost: NonNullable<RunSnapshot['cost']>): string {
  const usd = (n: number) => `$${n.toFixed(n > 0 && n < 0.01 ? 6 : 4)}`;
  const notes = [cost.savedUsd > 0 ? `saved ${usd(cost.savedUsd)} by reuse and cache` : '', cost.mock ? 'mock usage priced as the real calls' : ''].filter(Boolean);
  return `Cost ${usd(cost.usd)}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

const FINAL_RUN: RunStatus[] = ['completed', 'failed', 'cancelled'];
const SETTLED: NodeStatus[] = ['completed', 'failed', 'cancelled', 'skipped'];
const MARK: Record<NodeStatus, string> = {
  pending: '·',
  running: '▶',
  waiting_for_user: '?',
  completed: '✓',
  failed: '✗',
  cancelled: '⊘',
  skipped: '-',
};

export function isFinal(status: RunStatus): boolean {
  return FINAL_RUN.includes(status);
}

export class ProgressPrinter {
  #seen = new Map<string, string>();
  #announced = new Set<string>();
  #barShown = false;
  /** The stream being printed on the current line (`instance#attempt`), if the line is open. */
  #streaming: string | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly nodeCount: number,
  ) {}

  update(run: RunSnapshot): void {
    const lines: string[] = [];
    for (const [instanceId, node] of Object.entries(run.nodes)) {
      const key = `${node.status}#${node.attempt}`;
      if (this.#seen.get(instanceId) === key) continue;
      this.#seen.set(instanceId, key);
      // A new attempt: say why the last one failed (a retried node keeps that error until it settles),
      // even when the snapshots skipped its pending state.
      if (node.attempt > 1 && !this.#announced.has(`${instanceId}#${node.attempt}`)) {
        this.#announced.add(`${instanceId}#${node.attempt}`);
        this.out.write(`  ↻ ${instanceId} attempt ${node.attempt - 1} failed${node.error ? `: ${node.error}` : ''}; retrying (attempt ${node.attempt})\n`);
      }
      // Every node starts pending, and a retry's pending was just announced.
      if (node.status === 'pending') continue;
      const attempt = node.attempt > 1 ? ` (attempt ${node.attempt})` : '';
      const error = node.status === 'failed' && node.error ? `: ${node.error}` : '';
      lines.push(`  ${MARK[node.status] ?? ' '} ${instanceId} ${node.status.replace(/_/g, ' ')}${attempt}${error}\n`);
    }
    // A stream line stays open (no bar under it) until something else has to be said.
    if (this.#streaming !== undefined && lines.length === 0) return;
    this.#clearBar();
    this.#endStreamLine();
    for (const line of lines) this.out.write(line);
    if (this.out.isTTY && !isFinal(run.status)) this.#drawBar(run);
  }

  /** Print streamed text as it comes (JSON parts are left to the run's output). */
  stream(message: StreamMessage): void {
    const text = message.parts.filter((p): p is string => typeof p === 'string').join('');
    if (text === '') return;
    const key = `${message.instanceId}#${message.attempt}`;
    this.#clearBar();
    if (this.#streaming !== key) {
      this.#endStreamLine();
      const attempt = message.attempt > 1 ? ` (attempt ${message.attempt})` : '';
      this.out.write(`  ${message.instanceId}${attempt} ▸ `);
      this.#streaming = key;
    }
    this.out.write(text.replace(/\n/g, '\n    '));
  }

  #endStreamLine(): void {
    if (this.#streaming === undefined) return;
    this.out.write('\n');
    this.#streaming = undefined;
  }

  #drawBar(run: RunSnapshot): void {
    const instances = Object.values(run.nodes);
    const total = Math.max(this.nodeCount, instances.length, 1);
    const done = instances.filter((n) => SETTLED.includes(n.status)).length;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const running = instances.filter((n) => n.status === 'running').length;
    this.out.write(`  [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total} nodes${running ? `, ${running} running` : ''}`);
    this.#barShown = true;
  }

  #clearBar(): void {
    if (this.#barShown) this.out.write('\r\x1b[2K');
    this.#barShown = false;
  }
}

/** Poll `read` until the run is final, printing progress; returns the final snapshot. */
export async function followRun(read: () => Promise<RunSnapshot>, printer: ProgressPrinter, intervalMs = 150): Promise<RunSnapshot> {
  for (;;) {
    const run = await read();
    printer.update(run);
    if (isFinal(run.status)) return run;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
