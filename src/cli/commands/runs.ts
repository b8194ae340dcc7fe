/**
 * `stitch runs list`: the run search from a terminal — the same filter as `GET /api/runs`
 * (src/lib/runs/filter.ts), read from the database or from a server (`--url`).
 *
 *   stitch runs list --status failed --since 24h --tag customer=acme
 *   stitch runs list --flow <id> --input topic=otters --cost-above 0.5 --json
 */
import type { Command } from 'commander';
import { getPool } from '@/lib/db/pool';
import { listRuns, type RunListPage } from '@/lib/db/queries/list-runs';
import { filterSpecToQuery, normalizeRunFilter, type RunFilterSpec } from '@/lib/runs/filter';
import { ValidationError } from '@/lib/errors';
import { api, withDatabase } from './inspect';

export interface RunFilterOptions {
  flow?: string;
  status?: string[];
  trigger?: string[];
  since?: string;
  until?: string;
  finishedSince?: string;
  finishedUntil?: string;
  costAbove?: string;
  costBelow?: string;
  error?: string;
  input?: string[];
  tag?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `key=value` pairs → an object (the first `=` splits; the value may contain more). */
function pairs(list: string[] | undefined, option: string): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const at = item.indexOf('=');
    if (at <= 0) throw new ValidationError(`${option} takes key=value, got "${item}"`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

/** The filter options, shared by every command that selects runs (`runs list`, `runs bulk`). */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--flow <flowId>', 'runs of this flow')
    .option('--status <status>', 'pending, running, completed, failed, cancelled (comma-separated or repeated)', collect)
    .option('--trigger <type>', 'trigger type: api, cli, webhook, schedule, flow, rerun, mcp (comma-separated or repeated)', collect)
    .option('--since <time>', 'created at or after: ISO 8601 or a duration back from now (24h, 7d, 30m)')
    .option('--until <time>', 'created before: ISO 8601 or a duration back from now')
    .option('--finished-since <time>', 'finished at or after')
    .option('--finished-until <time>', 'finished before')
    .option('--cost-above <usd>', "the run's recorded spend is above this")
    .option('--cost-below <usd>', "the run's recorded spend is below this")
    .option('--error <text>', "the run's error contains this text (case-insensitive)")
    .option('--input <path=value>', 'a field of the run input equals this value (dotted path; repeatable)', collect)
    .option('--tag <key=value>', 'the run carries this tag (repeatable)', collect);
}

export function filterSpecOf(options: RunFilterOptions): RunFilterSpec {
  return {
    flowId: options.flow,
    status: options.status,
    trigger: options.trigger,
    createdAfter: options.since,
    createdBefore: options.until,
    finishedAfter: options.finishedSince,
    finishedBefore: options.finishedUntil,
    costAbove: options.costAbove,
    costBelow: options.costBelow,
    error: options.error,
    input: pairs(options.input, '--input'),
    tag: pairs(options.tag, '--tag'),
  };
}

const pad = (text: string, width: number) => (text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length));

function printPage(page: RunListPage): void {
  if (page.runs.length === 0) return console.log('No runs match.');
  for (const r of page.runs) {
    const trigger = (r.trigger as { type?: string } | null)?.type ?? '-';
    const cost = r.costUsd ? `$${r.costUsd.toFixed(4)}` : '-';
    console.log(`${r.id}  ${pad(r.status, 9)}  ${pad(trigger, 8)}  ${r.createdAt}  ${pad(cost, 10)}  ${(r.error ?? '').replace(/\s+/g, ' ').slice(0, 80)}`);
  }
  if (page.nextCursor) console.log(`… more: --cursor ${page.nextCursor}`);
}

/** Adds `list` under `runs` (after registerInspectCommands, which creates `runs show`). */
export function registerRunsListCommand(program: Command): void {
  const runs = program.commands.find((c) => c.name() === 'runs') ?? program.command('runs').description('Search and inspect runs');
  addFilterOptions(runs.command('list').description('Search runs, newest first (the filters of GET /api/runs)'))
    .option('--limit <n>', 'runs per page (1-200)', '50')
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .option('--json', 'print the page as JSON')
    .option('--url <url>', 'read from a Stitch server instead of the database')
    .action(async (options: RunFilterOptions & { limit: string; cursor?: string; json?: boolean; url?: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new ValidationError('--limit is a whole number from 1 to 200');
      const spec = filterSpecOf(options);
      let page: RunListPage;
      if (options.url) {
        const query = filterSpecToQuery(spec);
        query.set('limit', String(limit));
        if (options.cursor) query.set('cursor', options.cursor);
        page = await api(options.url).request<RunListPage>('GET', `/api/runs?${query}`);
      } else {
        const filter = normalizeRunFilter(spec);
        page = await withDatabase(() => listRuns(getPool(), filter, { limit, cursor: options.cursor }));
      }
      if (options.json) console.log(JSON.stringify(page, null, 2));
      else printPage(page);
    });
}
