/**
 * A flow's alerts as saved (`alerts` beside `name` and `graph` in the flow's body): checked once
 * at save, so delivery never meets a malformed one. The target is checked as the http-webhook
 * worker's is (outbound-http.ts): http(s), no credentials, no private literal address unless
 * STITCH_WEBHOOK_ALLOW_PRIVATE; names are checked again on the connection itself at delivery.
 */
import { ALERT_EVENTS, type AlertEvent, type AlertSpec, type ValidationIssue } from '@/types/stitch';
import { ValidationError } from '@/lib/errors';
import { checkTarget } from '@/lib/workers/outbound-http';

/** `run.slower_than` thresholds: a second at least, thirty days at most. */
export const MAX_SLOW_SECONDS = 30 * 86_400;
const MAX_URL_LENGTH = 2048;

/** Slack's incoming webhooks get Slack's message shape unless the alert says otherwise. */
export function formatOf(alert: AlertSpec): 'json' | 'slack' {
  if (alert.format) return alert.format;
  try {
    return new URL(alert.to).hostname === 'hooks.slack.com' ? 'slack' : 'json';
  } catch {
    return 'json';
  }
}

function checkOne(raw: unknown, i: number, allowPrivate: boolean, issues: ValidationIssue[]): AlertSpec | undefined {
  const field = `alerts[${i}]`;
  const problem = (message: string, at = field) => {
    issues.push({ code: 'invalid_alert', field: at, message });
    return undefined;
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return problem(`${field} must be an object {on, to}`);
  const { on, to, seconds, format, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) return problem(`${field} has unknown field(s): ${extra.join(', ')} (allowed: on, to, seconds, format)`);
  if (!ALERT_EVENTS.includes(on as AlertEvent)) return problem(`${field}.on must be one of ${ALERT_EVENTS.join(', ')}`, `${field}.on`);
  if (typeof to !== 'string' || to.length > MAX_URL_LENGTH) return problem(`${field}.to must be a URL of at most ${MAX_URL_LENGTH} characters`, `${field}.to`);
  try {
    checkTarget(to, allowPrivate, `${field}.to`);
  } catch (error) {
    return problem((error as Error).message, `${field}.to`);
  }
  if (format !== undefined && format !== 'json' && format !== 'slack') return problem(`${field}.format must be "json" or "slack"`, `${field}.format`);
  if (on === 'run.slower_than') {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 1 || seconds > MAX_SLOW_SECONDS) {
      return problem(`${field}.seconds is required for run.slower_than: a number of seconds from 1 to ${MAX_SLOW_SECONDS}`, `${field}.seconds`);
    }
  } else if (seconds !== undefined) {
    return problem(`${field}.seconds belongs to run.slower_than alerts only`, `${field}.seconds`);
  }
  return { on: on as AlertEvent, to, ...(seconds === undefined ? {} : { seconds: seconds as number }), ...(format === undefined ? {} : { format: format as AlertSpec['format'] }) };
}

/** The alerts to save, or a ValidationError listing every problem. */
export function checkAlerts(raw: unknown, limits: { allowPrivate: boolean; maxPerFlow: number }): AlertSpec[] {
  if (!Array.isArray(raw)) throw new ValidationError('alerts must be a list of {on, to}', [{ code: 'invalid_alert', field: 'alerts', message: 'alerts must be an array' }]);
  if (raw.length > limits.maxPerFlow) {
    throw new ValidationError(`A flow has at most ${limits.maxPerFlow} alerts (STITCH_MAX_ALERTS_PER_FLOW); got ${raw.length}`, [
      { code: 'too_many_alerts', field: 'alerts', message: `at most ${limits.maxPerFlow} alerts` },
    ]);
  }
  const issues: ValidationIssue[] = [];
  const alerts = raw.map((a, i) => checkOne(a, i, limits.allowPrivate, issues));
  const seen = new Set<string>();
  alerts.forEach((a, i) => {
    if (!a) return;
    // One state row per (event, target): a second identical pair would share it.
    const key = `${a.on} ${a.to}`;
    if (seen.has(key)) issues.push({ code: 'invalid_alert', field: `alerts[${i}]`, message: `alerts[${i}] repeats ${a.on} → ${a.to}` });
    seen.add(key);
  });
  if (issues.length) throw new ValidationError(`The alerts have ${issues.length} problem(s): ${issues[0].message}`, issues);
  return alerts as AlertSpec[];
}
