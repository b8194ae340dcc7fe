/** Small display helpers: relative times, durations, short ids. */

export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
}

export function duration(from: string | null | undefined, to: string | null | undefined, now = Date.now()): string {
  if (!from) return '—';
  const ms = (to ? Date.parse(to) : now) - Date.parse(from);
  return formatMs(ms);
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const shortId = (id: string) => id.slice(0, 8);

export function clockTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false }) + '.' + String(new Date(iso).getMilliseconds()).padStart(3, '0');
}

export const statusLabel = (status: string) => (status === 'waiting_for_user' ? 'waiting' : status);

/** What started a run, for lists: "schedule 09:00:00", "webhook my-hook", "API", "CLI". */
export function triggerLabel(trigger: unknown): string {
  const t = (trigger && typeof trigger === 'object' ? trigger : {}) as Record<string, unknown>;
  switch (t.type) {
    case 'schedule':
      return `schedule ${typeof t.scheduledFor === 'string' ? new Date(t.scheduledFor).toLocaleTimeString() : ''}${t.catchUp ? ' (catch-up)' : ''}`.trim();
    case 'webhook':
      return `webhook ${typeof t.slug === 'string' ? t.slug : ''}`.trim();
    case 'api':
      return 'API';
    case 'cli':
      return 'CLI';
    default:
      return typeof t.type === 'string' ? t.type : '—';
  }
}

/** `$0.4213`; small amounts keep their significant digits (`$0.000450`). */
export function usd(amount: number): string {
  return `$${amount.toFixed(amount > 0 && amount < 0.01 ? 6 : 4)}`;
}
