/**
 * `stitch schedules list|add|rm`: a flow's cron schedules, from the database (or a server, `--url`).
 */
import type { Command } from 'commander';
import { checkBudgetUsd } from '@/lib/budget/budget-usd';
import { findFlowByName } from '@/lib/db/queries/flows';
import { isUuid } from '@/lib/db/runs';
import { ValidationError } from '@/lib/errors';
import { createSchedule, deleteSchedule, listSchedules, type CatchUp, type Schedule } from '@/lib/schedules/store';
import { api, withDatabase } from './inspect';
import { collectTag, parsePriority } from '../tag-options';
import { getPool } from '@/lib/db/pool';
import { allPages } from '@/lib/db/queries/keyset-cursor';

interface AddOptions {
  cron: string;
  timezone: string;
  input?: string;
  catchUp: string;
  disabled?: boolean;
  budgetUsd?: string;
  tag?: Record<string, string>;
  priority?: string;
  url?: string;
}

function parseInput(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ValidationError('--input must be a JSON object, e.g. --input \'{"topic":"otters"}\'');
}

/** `--budget-usd`: checked here, so a typo never reaches a server as JSON null (no budget). */
function parseBudget(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = text.trim() === '' ? Number.NaN : Number(text);
  checkBudgetUsd(value);
  return value;
}

/** A flow id, or (against the database) a flow name. */
async function flowIdOf(flow: string): Promise<string> {
  if (isUuid(flow)) return flow;
  const found = await findFlowByName(getPool(), flow);
  if (!found) throw new ValidationError(`No flow named "${flow}": pass its id or exact name (stitch flows list)`);
  return found.id;
}

function print(schedules: Schedule[]): void {
  if (schedules.length === 0) console.log('No schedules.');
  for (const s of schedules) {
    console.log(`${s.id}  ${s.enabled ? 'on ' : 'off'}  ${s.cron}  ${s.timezone}  catchUp=${s.catchUp}  budget=${s.budgetUsd === null ? '-' : `$${s.budgetUsd}`}  next=${s.nextRunAt ?? '-'}`);
  }
}

export function registerScheduleCommands(program: Command): void {
  const schedules = program.command('schedules').description("Start flows on a cron schedule (a flow's schedules)");

  schedules
    .command('list')
    .argument('<flow>', 'flow id (or name)')
    .description("List a flow's schedules")
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (flow: string, options: { url?: string }) => {
      const list = options.url
        ? await api(options.url).listAll<Schedule>(`/api/flows/${encodeURIComponent(flow)}/schedules`, 'schedules')
        : await withDatabase(async () => {
            const flowId = await flowIdOf(flow);
            return allPages(async (page) => {
              const { schedules: items, nextCursor } = await listSchedules(flowId, page);
              return { items, nextCursor };
            });
          });
      print(list);
    });

  schedules
    .command('add')
    .argument('<flow>', 'flow id (or name)')
    .description('Add a schedule: 5 cron fields, or 6 with seconds first')
    .requiredOption('--cron <expression>', 'e.g. "0 9 * * 1-5"')
    .option('--timezone <zone>', 'IANA time zone the expression is read in', 'UTC')
    .option('--input <json>', 'the input of every run it starts')
    .option('--catch-up <mode>', 'after downtime: none (skip missed ticks) or latest (run the most recent once)', 'none')
    .option('--disabled', 'create it switched off')
    .option('--budget-usd <usd>', "spend cap in USD of every run it starts (default: the flow's)")
    .option('--tag <name=value>', 'a tag of every run it starts (repeatable)', collectTag)
    .option('--priority <n>', 'priority of every run it starts (0…100, higher first; default 0)')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (flow: string, options: AddOptions) => {
      if (options.catchUp !== 'none' && options.catchUp !== 'latest') throw new ValidationError('--catch-up must be none or latest');
      const body = {
        cron: options.cron,
        timezone: options.timezone,
        input: parseInput(options.input),
        enabled: !options.disabled,
        catchUp: options.catchUp as CatchUp,
        budgetUsd: parseBudget(options.budgetUsd),
        tags: options.tag,
        priority: parsePriority(options.priority),
      };
      const created = options.url
        ? await api(options.url).request<Schedule>('POST', `/api/flows/${encodeURIComponent(flow)}/schedules`, body)
        : await withDatabase(async () => createSchedule(await flowIdOf(flow), body));
      print([created]);
    });

  schedules
    .command('rm')
    .argument('<flow>', 'flow id (or name)')
    .argument('<scheduleId>')
    .description('Delete a schedule')
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (flow: string, scheduleId: string, options: { url?: string }) => {
      if (options.url) await api(options.url).request('DELETE', `/api/flows/${encodeURIComponent(flow)}/schedules/${encodeURIComponent(scheduleId)}`);
      else await withDatabase(async () => deleteSchedule(await flowIdOf(flow), scheduleId));
      console.log(`Deleted schedule ${scheduleId}.`);
    });
}
