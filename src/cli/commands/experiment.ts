/**
 * `stitch experiment run --flow F --dataset topics --variants v3,v4`: start an experiment (each
 * dataset row once per variant; docs/experiments.md), show a progress bar until it ends, then the
 * summary per variant. In this process against the database (its runner runs the experiment), or
 * on a server with `--url`.
 */
import type { Command } from 'commander';
import { findFlowByName } from '@/lib/db/queries/flows';
import { getPool } from '@/lib/db/pool';
import { isUuid } from '@/lib/db/runs';
import { createExperiment, getExperiment, type ExperimentRequest, type ExperimentView } from '@/lib/experiments/store';
import type { VariantRequest } from '@/lib/experiments/variants';
import { startStitch } from '@/lib/stitch';
import { api } from './inspect';

const POLL_MS = 500;
const BAR = 30;
const usd = (n: number) => `$${n.toFixed(n > 0 && n < 0.01 ? 6 : 4)}`;

/** `v3` or `3`: saved version 3; `current`: the current version; `LABEL=v3` names the variant. */
export function parseVariants(list: string, overrides: string[]): VariantRequest[] {
  const variants: VariantRequest[] = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const [label, version] = item.includes('=') ? (item.split('=', 2) as [string, string]) : [item, item];
      if (version === 'current') return { label, version: 'current' as const };
      const match = /^v?(\d+)$/.exec(version);
      if (!match) throw new Error(`--variants: "${item}" is not a version (v3, 3, current, or LABEL=one of those)`);
      return { label, version: Number(match[1]) };
    });
  // --override 'v4:script={"prompt":"…"}': settings merged over that node's config in that variant.
  for (const o of overrides) {
    const match = /^([^:]+):([^=]+)=(.*)$/s.exec(o);
    const variant = match && variants.find((v) => v.label === match[1]);
    if (!match || !variant) throw new Error(`--override "${o}": write LABEL:NODE={json}, LABEL one of the --variants`);
    variant.nodeOverrides = { ...variant.nodeOverrides, [match[2]]: { config: JSON.parse(match[3]) as Record<string, unknown> } };
  }
  return variants;
}

function progressLine(x: ExperimentView): string {
  const filled = x.progress.cells ? Math.round((x.progress.done / x.progress.cells) * BAR) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${x.progress.done}/${x.progress.cells} runs  ${usd(x.cost.usd)} spent, ${usd(x.cost.savedUsd)} saved`;
}

function printSummary(x: ExperimentView): void {
  console.log(`Experiment ${x.id} ${x.status}${x.error ? `: ${x.error}` : ''}`);
  console.log(['variant', 'done', 'failed', 'pass rate', 'mean score', 'cost', 'p50'].join('\t'));
  for (const s of x.summary) {
    const rate = s.passRate === null ? '-' : `${Math.round(s.passRate * 100)}%`;
    console.log([s.label, s.completed, s.failed, rate, s.meanScore === null ? '-' : s.meanScore.toFixed(2), usd(s.costUsd), s.p50Ms === null ? '-' : `${Math.round(s.p50Ms)} ms`].join('\t'));
  }
  console.log(`Cost ${usd(x.cost.usd)} (saved ${usd(x.cost.savedUsd)} by sharing what the variants have in common)`);
}

async function follow(read: () => Promise<ExperimentView>): Promise<ExperimentView> {
  let last = '';
  for (;;) {
    const x = await read();
    const line = progressLine(x);
    if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
    else if (line !== last) console.log(line);
    last = line;
    if (x.status !== 'running') {
      if (process.stdout.isTTY) process.stdout.write('\n');
      return x;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function registerExperimentCommands(program: Command): void {
  const experiment = program.command('experiment').description("Experiments: a flow's variants over a dataset, compared (docs/experiments.md)");
  experiment
    .command('run')
    .description('Run every dataset row once per variant; print progress, then the summary')
    .requiredOption('--flow <flow>', 'the flow (id or name)')
    .requiredOption('--dataset <dataset>', 'the dataset (id or name)')
    .requiredOption('--variants <list>', 'comma-separated versions: v3,v4 (or 3, current, LABEL=current)')
    .option('--override <label:node=json>', 'settings merged over a node\'s config in one variant (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--concurrency <n>', 'runs in flight at once', (v) => Number(v))
    .option('--budget-usd <usd>', 'stop the experiment once its runs have spent this', (v) => Number(v))
    .option('--url <url>', 'use a Stitch server instead of the database')
    .action(async (options: { flow: string; dataset: string; variants: string; override: string[]; concurrency?: number; budgetUsd?: number; url?: string }) => {
      const body: Omit<ExperimentRequest, 'flowId'> = {
        datasetId: options.dataset,
        variants: parseVariants(options.variants, options.override),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.budgetUsd !== undefined ? { budgetUsd: options.budgetUsd } : {}),
      };
      let final: ExperimentView;
      if (options.url) {
        const client = api(options.url);
        const flows = isUuid(options.flow) ? [] : await client.listAll<{ id: string; name: string }>('/api/flows', 'flows');
        const flowId = isUuid(options.flow) ? options.flow : flows.find((f) => f.name === options.flow)?.id ?? options.flow;
        const started = await client.request<ExperimentView>('POST', '/api/experiments', { flowId, ...body });
        final = await follow(() => client.request<ExperimentView>('GET', `/api/experiments/${started.id}?limit=0`));
      } else {
        const stitch = await startStitch();
        try {
          const flowId = isUuid(options.flow) ? options.flow : ((await findFlowByName(getPool(), options.flow))?.id ?? options.flow);
          const started = await createExperiment({ flowId, ...body });
          final = await follow(() => getExperiment(started.id, { limit: 0 }));
        } finally {
          await stitch.stop();
        }
      }
      printSummary(final);
      if (final.status !== 'completed') process.exitCode = 1;
    });
}
