/**
 * Test helpers: register throw-away workers, build graphs, wait for runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NodeConfig, RunRow, VisualGraph, WorkerDefinition } from '@/types/stitch';
import { WORKER_DEFINITIONS, workerRegistry } from '@/lib/workers/registry';
import type { IWorker, WorkerClass } from '@/lib/workers/base';
import { getRun, getRunWithNodes } from '@/lib/db/runs';

/** Register a worker class with a definition (both required, as at start-up). */
export function registerTestWorker(type: string, WorkerClass: WorkerClass, definition: Partial<WorkerDefinition> = {}): void {
  WORKER_DEFINITIONS[type] = {
    id: type,
    name: type,
    type: 'sync',
    description: `test worker ${type}`,
    input: {},
    output: {},
    config: {},
    ...definition,
  };
  workerRegistry.unregister(type);
  workerRegistry.register(type, WorkerClass);
}

/** A sync worker from a function: its return value is the node's output. */
export function syncWorker(fn: (input: any, config: NodeConfig, ids: { runId: string; nodeId: string }) => unknown | Promise<unknown>): WorkerClass {
  return class implements IWorker {
    async execute(runId: string, nodeId: string, config: NodeConfig, input: unknown) {
      const { triggerCallback } = await import('@/lib/workers/utils');
      const output = await fn(input, config, { runId, nodeId });
      await triggerCallback(runId, nodeId, { status: 'completed', output });
    }
  };
}

type NodeSpec = string | { id: string; type?: string; workerType?: string; config?: NodeConfig; [k: string]: unknown };

/** Build React Flow JSON: `graph(['a:echo', 'b:echo'], [['a','b']])`; a bare id is a worker of type 'echo'. */
export function graph(nodes: NodeSpec[], edges: Array<[string, string] | { source: string; target: string; [k: string]: unknown }>): VisualGraph {
  return {
    nodes: nodes.map((spec, i) => {
      if (typeof spec === 'string') {
        const [id, workerType = 'echo'] = spec.split(':');
        if (workerType === 'start' || workerType === 'end') return { id, type: workerType, position: { x: i * 200, y: 0 }, data: {} };
        return { id, type: 'worker', position: { x: i * 200, y: 0 }, data: { workerType } };
      }
      const { id, type = 'worker', workerType, config, ...data } = spec;
      return { id, type, position: { x: i * 200, y: 0 }, data: { workerType, config, ...data } };
    }),
    edges: edges.map((e, i) =>
      Array.isArray(e) ? { id: `e${i}`, source: e[0], target: e[1] } : { id: `e${i}`, ...e },
    ),
  };
}

const FINAL = ['completed', 'failed', 'cancelled'];

/** Poll until the run reaches a final status (or `status`), then return it with its nodes. */
export async function waitForRun(runId: string, options: { timeoutMs?: number; status?: RunRow['status'] } = {}) {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const run = await getRun(runId);
    if (options.status ? run.status === options.status : FINAL.includes(run.status)) return getRunWithNodes(runId);
    if (Date.now() > deadline) {
      const detail = await getRunWithNodes(runId);
      throw new Error(`run ${runId} still ${run.status} after timeout: ${JSON.stringify(detail.nodes)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Poll until `check` returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met before timeout');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Point STITCH_PRICES at a fresh price file with `table` (read at pricing time) and register
 * `type`, a sync worker that reports one `calls` unit and outputs its input plus `{[nodeId]: config.tag}`.
 * Returns the ids (`runId/nodeId`) it executed, in order, and a restore for STITCH_PRICES.
 */
export function registerMeteredWorker(type: string, usdPerCall: number, definition: Partial<WorkerDefinition> = {}): { executed: string[]; restore: () => void } {
  const previous = process.env.STITCH_PRICES;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'stitch-prices-')), 'prices.json');
  writeFileSync(file, JSON.stringify({ [type]: { source: 'test', units: { calls: usdPerCall } } }));
  process.env.STITCH_PRICES = file;
  const executed: string[] = [];
  registerTestWorker(
    type,
    class {
      async execute(runId: string, nodeId: string, config: NodeConfig, input: object) {
        const { reportUsage, triggerCallback } = await import('@/lib/workers/utils');
        executed.push(`${runId}/${nodeId}`);
        await reportUsage(runId, nodeId, [{ unit: 'calls', quantity: 1 }]);
        await triggerCallback(runId, nodeId, { status: 'completed', output: { ...input, [nodeId]: config.tag ?? 1 } });
      }
    },
    definition,
  );
  return {
    executed,
    restore: () => {
      if (previous === undefined) delete process.env.STITCH_PRICES;
      else process.env.STITCH_PRICES = previous;
    },
  };
}
