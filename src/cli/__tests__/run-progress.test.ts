/**
 * `stitch run`'s progress lines (issue 25.6): a retried node says why its last attempt failed —
 * also when the snapshots never caught its pending state — and a plain first pending says nothing.
 */
import { expect, it } from 'vitest';
import { ProgressPrinter, type RunSnapshot } from '../run-progress';

function printer() {
  let text = '';
  const out = { isTTY: false, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
  return { printer: new ProgressPrinter(out, 2), text: () => text };
}

const snapshot = (status: RunSnapshot['status'], nodes: Array<[string, RunSnapshot['nodes'][string]['status'], number, string | null]>): RunSnapshot => ({
  id: 'r',
  status,
  output: null,
  error: null,
  nodes: Object.fromEntries(nodes.map(([id, s, attempt, error]) => [id, { nodeId: id, status: s, attempt, error, progress: null }])),
});

it('prints each failed attempt’s error when the node retries, then its outcome', () => {
  const { printer: p, text } = printer();
  p.update(snapshot('running', [['call', 'pending', 1, null]]));
  p.update(snapshot('running', [['call', 'running', 1, null]]));
  p.update(snapshot('running', [['call', 'pending', 2, 'vendor answered 503: busy']]));
  // The third attempt's pending was never seen: its retry is announced all the same.
  p.update(snapshot('running', [['call', 'running', 3, 'timeout after 30 s']]));
  p.update(snapshot('completed', [['call', 'completed', 3, null]]));
  expect(text()).toBe(
    [
      '  ▶ call running',
      '  ↻ call attempt 1 failed: vendor answered 503: busy; retrying (attempt 2)',
      '  ↻ call attempt 2 failed: timeout after 30 s; retrying (attempt 3)',
      '  ▶ call running (attempt 3)',
      '  ✓ call completed (attempt 3)',
      '',
    ].join('\n'),
  );
});
