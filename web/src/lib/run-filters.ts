/**
 * The runs list's filters live in the URL (`#/runs?status=failed&createdAfter=24h&input.topic=otters`)
 * under GET /api/runs's own parameter names, so a filtered list is a link, and the same
 * parameters become a bulk action's JSON filter.
 */
import type { BulkFilter } from '../types';

export const SINCE_CHOICES: Array<[string, string]> = [
  ['', 'Any time'],
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
];

export const TRIGGER_TYPES = ['api', 'cli', 'webhook', 'schedule', 'flow', 'rerun', 'mcp'];

/** The filters of a URL query (anything but paging). */
export function filtersOf(query: string): URLSearchParams {
  const params = new URLSearchParams(query);
  params.delete('limit');
  params.delete('cursor');
  return params;
}

/** The same filters with `name` set (or removed when empty). */
export function withFilter(params: URLSearchParams, name: string, value: string | undefined): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value === undefined || value === '') next.delete(name);
  else next.set(name, value);
  return next;
}

/** `path=value` (the input and tag fields) → [path, value]; undefined unless both are there. */
export function splitPair(text: string): [string, string] | undefined {
  const at = text.indexOf('=');
  return at > 0 ? [text.slice(0, at).trim(), text.slice(at + 1).trim()] : undefined;
}

/** The URL's filters as POST /api/runs/bulk's `filter`. */
export function bulkFilterOf(params: URLSearchParams): BulkFilter {
  const filter: BulkFilter & Record<string, unknown> = {};
  for (const [name, value] of params) {
    if (name.startsWith('input.')) (filter.input ??= {})[name.slice(6)] = value;
    else if (name.startsWith('tag.')) (filter.tag ??= {})[name.slice(4)] = value;
    else if (name === 'costAbove' || name === 'costBelow') filter[name] = Number(value);
    else filter[name] = value;
  }
  return filter;
}

/** The statuses the URL asks for (`status=failed,cancelled`). */
export const statusesOf = (params: URLSearchParams): string[] => (params.get('status') ?? '').split(',').filter(Boolean);
