/**
 * What an alert says: one JSON document (`format: "json"`), or Slack's incoming-webhook shape
 * (`{text, blocks}`, which Mattermost and other Slack-compatible receivers take too). Both name
 * the flow, the event, how many occurrences the message stands for, and the latest one with a
 * link to it on the canvas.
 */
import type { AlertEvent } from '@/types/stitch';

export interface AlertOccurrence {
  runId?: string;
  nodeId?: string;
  attempt?: number;
  error?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  seconds?: number;
}

export interface AlertFacts {
  flow: { id: string; name: string };
  on: AlertEvent;
  /** Occurrences this message stands for (0 for a test). */
  count: number;
  /** When the first of them happened. */
  since: string | null;
  latest: AlertOccurrence | null;
  test: boolean;
  /** The canvas's base URL (STITCH_BASE_URL), for links. */
  baseUrl: string;
  /** The delivery's id: the same on every retry of one message (receivers may dedupe on it). */
  deliveryId: string;
}

const WHAT: Record<AlertEvent, (n: number) => string> = {
  'run.failed': (n) => (n === 1 ? 'a run failed' : `${n} runs failed`),
  'node.failed': (n) => (n === 1 ? 'a node failed' : `${n} nodes failed`),
  budget_exceeded: (n) => (n === 1 ? 'a run exceeded its budget' : `${n} runs exceeded their budget`),
  'run.slower_than': (n) => (n === 1 ? 'a run is slower than its threshold' : `${n} runs are slower than their threshold`),
};

function runUrl(facts: AlertFacts): string | undefined {
  const runId = facts.latest?.runId;
  return runId ? `${facts.baseUrl}/#/runs/${encodeURIComponent(runId)}${facts.latest?.nodeId ? `?node=${encodeURIComponent(facts.latest.nodeId)}` : ''}` : undefined;
}

/** One line a person reads first. */
export function headline(facts: AlertFacts): string {
  if (facts.test) return `Stitch: test alert for flow "${facts.flow.name}" (${facts.on})`;
  const latest = facts.latest;
  const where = latest?.nodeId ? ` at node ${latest.nodeId}` : '';
  const slow = facts.on === 'run.slower_than' && latest?.seconds !== undefined ? ` (${latest.seconds} s)` : '';
  const error = latest?.error ? `: ${latest.error.slice(0, 300)}` : '';
  const latestPart = facts.count > 1 ? ` Latest${where}${error}` : `${where}${error}`;
  return `Stitch: ${WHAT[facts.on](facts.count)}${slow} in flow "${facts.flow.name}".${latestPart}`.trim();
}

export function alertBody(facts: AlertFacts, format: 'json' | 'slack'): string {
  const text = headline(facts);
  const url = runUrl(facts);
  if (format === 'slack') {
    const link = url ? ` <${url}|Open the run>` : '';
    return JSON.stringify({ text: `${text}${link}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `${text}${link}` } }] });
  }
  return JSON.stringify({
    type: 'stitch.alert',
    deliveryId: facts.deliveryId,
    event: facts.on,
    test: facts.test,
    flow: { ...facts.flow, url: `${facts.baseUrl}/#/flows/${encodeURIComponent(facts.flow.id)}` },
    count: facts.count,
    since: facts.since,
    latest: facts.latest && { ...facts.latest, url },
    text,
  });
}
