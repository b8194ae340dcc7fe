/**
 * Flows as files (docs/flows-as-files.md): `stitch export [flow…] --dir flows/` writes each flow as
 * a JSON file; `stitch deploy flows/` creates or updates every flow of a directory by name, in one
 * step (`--dry-run` prints what would change, `--message` labels the versions it makes). Against
 * the database, or a server with `--url`.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { getPool } from '@/lib/db/pool';
import { exportFlows } from '@/lib/flow-files/export';
import { deployFlows, type DeployInput, type DeployReport } from '@/lib/flow-files/deploy';
import { fileNameFor, flowFileText, type FlowDocument } from '@/lib/flow-files/format';
import { ValidationError } from '@/lib/errors';
import { api, withDatabase } from './inspect';

/** Flows as files from a server: its flows by name (the same order and file names as an export from the database). */
async function exportFromServer(url: string, wanted: string[]): Promise<Array<{ fileName: string; text: string }>> {
  const client = api(url);
  const flows = await client.listAll<{ id: string; name: string }>('/api/flows', 'flows');
  const chosen = flows
    .filter((f) => wanted.length === 0 || wanted.includes(f.name) || wanted.includes(f.id))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  const missing = wanted.filter((w) => !chosen.some((f) => f.name === w || f.id === w));
  if (missing.length) throw new Error(`No flow named or with the id ${missing.map((m) => `"${m}"`).join(', ')}`);
  const taken = new Set<string>();
  const files: Array<{ fileName: string; text: string }> = [];
  for (const flow of chosen) {
    const { document } = await client.request<{ document: FlowDocument }>('GET', `/api/flows/${encodeURIComponent(flow.id)}/export`);
    files.push({ fileName: fileNameFor(flow.name, taken), text: flowFileText(document) });
  }
  return files;
}

/** Every `*.json` of a directory, parsed (a file that is not JSON is refused with the others' problems unread). */
function readDirectory(dir: string): DeployInput[] {
  const names = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  const inputs: DeployInput[] = [];
  const unreadable: string[] = [];
  for (const name of names) {
    try {
      inputs.push({ where: name, content: JSON.parse(readFileSync(path.join(dir, name), 'utf8')) });
    } catch (error) {
      unreadable.push(`${name}: ${(error as Error).message}`);
    }
  }
  if (unreadable.length) {
    throw new ValidationError(
      `The deploy was refused, nothing changed: ${unreadable.length} file(s) are not JSON`,
      unreadable.map((message) => ({ code: 'invalid_json', message })),
    );
  }
  return inputs;
}

const money = (usd: number | null) => (usd === null ? 'none' : `$${usd}`);

/** What a deploy did (or would do), one line a flow, then the secrets of new webhook triggers. */
export function formatDeployReport(report: DeployReport): string[] {
  const lines = [report.dryRun ? `Dry run: nothing was changed. ${report.flows.length} flow(s) would be:` : `Deployed ${report.flows.length} flow(s):`];
  for (const flow of report.flows) {
    const parts = [`v${flow.version}`];
    if (flow.budgetUsd) parts.push(`budget ${money(flow.budgetUsd.from)} → ${money(flow.budgetUsd.to)}`);
    const s = flow.schedules;
    if (s.added || s.removed) parts.push(`schedules +${s.added} −${s.removed}`);
    const t = flow.triggers;
    if (t.added.length) parts.push(`triggers added: ${t.added.join(', ')}`);
    if (t.changed.length) parts.push(`triggers changed: ${t.changed.join(', ')}`);
    if (t.removed.length) parts.push(`triggers removed: ${t.removed.join(', ')}`);
    lines.push(`  ${flow.change.padEnd(9)}  ${flow.name} (${flow.where}): ${parts.join('; ')}`);
  }
  for (const flow of report.flows) {
    for (const { slug, secret } of flow.secrets) lines.push(`Webhook trigger "${slug}" of "${flow.name}": its signing secret, shown this once: ${secret}`);
  }
  return lines;
}

export function registerFlowFileCommands(program: Command): void {
  program
    .command('export')
    .argument('[flows...]', 'flow names or ids (default: every flow)')
    .option('--dir <dir>', 'directory to write the files to', 'flows')
    .option('--url <url>', 'read from a Stitch server instead of the database')
    .description('Write each flow as a readable JSON file (graph, budget, schedules, triggers; never a secret)')
    .action(async (wanted: string[], options: { dir: string; url?: string }) => {
      const files = options.url
        ? await exportFromServer(options.url, wanted)
        : await withDatabase(async () => (await exportFlows(getPool(), wanted)).map(({ fileName, text }) => ({ fileName, text })));
      mkdirSync(options.dir, { recursive: true });
      for (const { fileName, text } of files) writeFileSync(path.join(options.dir, fileName), text);
      console.log(files.length ? `Wrote ${files.length} flow file(s) to ${options.dir}: ${files.map((f) => f.fileName).join(', ')}` : 'No flows to export.');
    });

  program
    .command('deploy')
    .argument('<dir>', 'a directory of flow files (as `stitch export` writes them)')
    .option('--dry-run', 'print what would change, change nothing')
    .option('--message <text>', "kept on each version the deploy makes (e.g. the commit's message)")
    .option('--url <url>', 'deploy to a Stitch server instead of the database')
    .description('Create or update every flow of a directory by name, in one step: all or nothing; a version only where the graph changed')
    .action(async (dir: string, options: { dryRun?: boolean; message?: string; url?: string }) => {
      const flows = readDirectory(dir);
      const body = { dryRun: Boolean(options.dryRun), message: options.message };
      const report = options.url
        ? await api(options.url).request<DeployReport>('POST', '/api/deploy', { flows, ...body })
        : await withDatabase(() => deployFlows(flows, body));
      for (const line of formatDeployReport(report)) console.log(line);
    });
}
