/**
 * `npx tsx bench/canvas.ts`: how the editor copes with a 200-node flow, in Debian's Chromium against
 * a real Stitch server on loopback. Prints figures, asserts nothing. Each figure is the median of
 * BENCH_CANVAS_LOADS page loads (default 5), from navigation start:
 *
 *   scripts_ms        the last script chunk has arrived (the editor's chunk is loaded lazily)
 *   graph_loaded_ms   the flow's JSON has arrived (GET /api/flows/:id responseEnd)
 *   first_node_ms     the first node card is in the DOM and a frame has been painted after it
 *   all_nodes_ms      all 200 node cards are in the DOM, painted
 *   graph_set_ms      the editor hands the graph to React Flow (performance mark `stitch:editor-graph`)
 *   render_ms         all_nodes_ms − graph_set_ms: React Flow's own cost for the graph
 *   interactive_ms    time to interactive: the end of the last long task (> 50 ms) before a
 *                     1.5 s window without any, and not before all_nodes_ms
 *   long_tasks_ms     total time in long tasks during the load (main-thread blocking)
 *   click_panel_ms    click on a node → its side panel is painted
 *   drag_frame_ms     dragging a node: mean time from a pointer move to the next painted frame
 *   heap_mb           JS heap in use after the load
 *
 * Uses DATABASE_URL when set, else a fresh embedded PostgreSQL in a temporary directory.
 * CHROMIUM_PATH overrides /usr/bin/chromium.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import type { VisualGraph } from '@/types/stitch';
import { getConfig } from '@/lib/config';
import { startEmbeddedPostgres } from '@/lib/db/embedded';
import { createFlow } from '@/lib/engine/flows';
import { startStitch } from '@/lib/stitch';
import { startServer } from '@/server/listen';
import { CHROMIUM_ARGS, CHROMIUM_PATH, freePort } from '../test/e2e/browser';

const NODES = Number(process.env.BENCH_CANVAS_NODES ?? 200);
const LOADS = Number(process.env.BENCH_CANVAS_LOADS ?? 5);

/** A layered DAG: start → columns of transform workers (each wired to one or two of the previous column) → end. */
export function bigGraph(total: number): VisualGraph {
  const perColumn = 10;
  const workers = total - 2;
  const nodes: VisualGraph['nodes'] = [{ id: 'start', type: 'start', position: { x: 0, y: 450 }, data: { label: 'Start' } }];
  const edges: VisualGraph['edges'] = [];
  let previous = ['start'];
  for (let col = 0; col * perColumn < workers; col++) {
    const column: string[] = [];
    for (let row = 0; row < perColumn && col * perColumn + row < workers; row++) {
      const id = `w${col}_${row}`;
      column.push(id);
      nodes.push({ id, type: 'worker', position: { x: 320 * (col + 1), y: row * 110 }, data: { label: `Step ${col}.${row}`, workerType: 'transform', config: { set: { [`f${row}`]: `{{f${row}}}` } } } });
      edges.push({ id: `e_${id}_a`, source: previous[row % previous.length], target: id });
      if (previous.length > 1 && row % 3 === 0) edges.push({ id: `e_${id}_b`, source: previous[(row + 1) % previous.length], target: id });
    }
    previous = column;
  }
  nodes.push({ id: 'end', type: 'end', position: { x: 320 * (Math.ceil(workers / perColumn) + 1), y: 450 }, data: { label: 'End' } });
  for (const id of previous) edges.push({ id: `e_${id}_end`, source: id, target: 'end' });
  return { nodes, edges };
}

/** Recorders installed before the app loads. */
function installProbes(expected: number) {
  const w = window as unknown as { __bench: Record<string, unknown> };
  const bench: { firstNode?: number; allNodes?: number; longTasks: Array<[number, number]> } = { longTasks: [] };
  w.__bench = bench;
  new PerformanceObserver((list) => list.getEntries().forEach((e) => bench.longTasks.push([e.startTime, e.duration]))).observe({ type: 'longtask', buffered: true });
  const painted = (key: 'firstNode' | 'allNodes') => requestAnimationFrame(() => setTimeout(() => (bench[key] ??= performance.now())));
  const observer = new MutationObserver(() => {
    const n = document.querySelectorAll('.react-flow__node').length;
    if (n >= 1 && bench.firstNode === undefined) painted('firstNode');
    if (n >= expected && bench.allNodes === undefined) {
      painted('allNodes');
      observer.disconnect();
    }
  });
  document.addEventListener('DOMContentLoaded', () => observer.observe(document.body, { childList: true, subtree: true }));
}

interface LoadFigures {
  scripts_ms: number;
  graph_loaded_ms: number;
  graph_set_ms: number;
  first_node_ms: number;
  all_nodes_ms: number;
  render_ms: number;
  interactive_ms: number;
  long_tasks_ms: number;
  click_panel_ms: number;
  drag_frame_ms: number;
  heap_mb: number;
}

async function measureLoad(page: Page, url: string): Promise<LoadFigures> {
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __bench: { allNodes?: number } }).__bench.allNodes !== undefined, undefined, { timeout: 60_000 });
  // Quiet window: no long task for 1.5 s.
  await page.waitForFunction(
    () => {
      const b = (window as unknown as { __bench: { longTasks: Array<[number, number]> } }).__bench;
      const last = b.longTasks.reduce((m, [s, d]) => Math.max(m, s + d), 0);
      return performance.now() - last > 1500;
    },
    undefined,
    { timeout: 60_000, polling: 250 },
  );
  const load = await page.evaluate(() => {
    const b = (window as unknown as { __bench: { firstNode: number; allNodes: number; longTasks: Array<[number, number]> } }).__bench;
    const lastLong = b.longTasks.reduce((m, [s, d]) => Math.max(m, s + d), 0);
    const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
    const flow = performance.getEntriesByType('resource').find((e) => /\/api\/flows\/[^/]+$/.test(new URL(e.name).pathname)) as PerformanceResourceTiming | undefined;
    const scripts = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js')) as PerformanceResourceTiming[];
    return {
      scripts: Math.max(0, ...scripts.map((e) => e.responseEnd)),
      set: performance.getEntriesByName('stitch:editor-graph')[0]?.startTime ?? NaN,
      graph: flow ? flow.responseEnd : NaN,
      first: b.firstNode,
      all: b.allNodes,
      interactive: Math.max(b.allNodes, lastLong),
      longTotal: b.longTasks.reduce((s, [, d]) => s + d, 0),
      heap: memory ? memory.usedJSHeapSize / 2 ** 20 : NaN,
    };
  });

  // Click a node; time until its side panel has been painted.
  await page.evaluate(() => {
    const b = (window as unknown as { __bench: Record<string, number> }).__bench;
    document.addEventListener('pointerdown', () => (b.clickAt = performance.now()), { capture: true, once: true });
    const observer = new MutationObserver(() => {
      if (document.querySelector('[data-testid="node-panel"]')) {
        observer.disconnect();
        requestAnimationFrame(() => setTimeout(() => (b.panelAt = performance.now())));
      }
    });
    observer.observe(document.body, { childList: true, subtree: true });
  });
  const target = page.locator('.react-flow__node[data-id="w5_5"]');
  await target.click();
  await page.waitForFunction(() => (window as unknown as { __bench: { panelAt?: number } }).__bench.panelAt !== undefined);
  const click = await page.evaluate(() => {
    const b = (window as unknown as { __bench: Record<string, number> }).__bench;
    return b.panelAt - b.clickAt;
  });

  // Drag that node: each pointer move → the next painted frame.
  await page.evaluate(() => {
    const b = (window as unknown as { __bench: { frames: number[] } }).__bench;
    b.frames = [];
    document.addEventListener(
      'pointermove',
      (e) => {
        if (!e.buttons) return;
        const t = performance.now();
        requestAnimationFrame(() => setTimeout(() => b.frames.push(performance.now() - t)));
      },
      { capture: true },
    );
  });
  const box = (await target.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  for (let i = 1; i <= 30; i++) await page.mouse.move(box.x + box.width / 2 + i * 6, box.y + box.height / 2 + i * 3);
  await page.mouse.up();
  await page.waitForTimeout(200);
  const frames = await page.evaluate(() => (window as unknown as { __bench: { frames: number[] } }).__bench.frames);
  return {
    scripts_ms: load.scripts,
    graph_loaded_ms: load.graph,
    graph_set_ms: load.set,
    first_node_ms: load.first,
    all_nodes_ms: load.all,
    render_ms: load.all - load.set,
    interactive_ms: load.interactive,
    long_tasks_ms: load.longTotal,
    click_panel_ms: click,
    drag_frame_ms: frames.reduce((s, f) => s + f, 0) / Math.max(1, frames.length),
    heap_mb: load.heap,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Math.round(x * 10) / 10;

async function main() {
  let stopDb = async () => {};
  let databaseUrl = process.env.DATABASE_URL;
  const dir = mkdtempSync(path.join(tmpdir(), 'stitch-bench-canvas-'));
  chmodSync(dir, 0o755);
  if (!databaseUrl) {
    const embedded = await startEmbeddedPostgres(path.join(dir, 'pg'));
    databaseUrl = embedded.url;
    stopDb = () => embedded.stop();
  }
  const webDir = path.join(dir, 'web');
  const buildStart = performance.now();
  execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'web', '--outDir', webDir, '--emptyOutDir', '--logLevel', 'error'], { stdio: 'inherit' });
  console.log(`canvas build: ${Math.round(performance.now() - buildStart)} ms`);

  const port = await freePort();
  const config = getConfig({ DATABASE_URL: databaseUrl, PORT: String(port), STITCH_LOG_LEVEL: 'error', STITCH_SECRET: 'bench-canvas', STITCH_DATA_DIR: path.join(dir, 'data') });
  const stitch = await startStitch({ config, runner: false });
  const server = await startServer(config, { webDir });
  const graph = bigGraph(NODES);
  const { id } = await createFlow(`Bench ${NODES} nodes`, graph);
  console.log(`flow: ${graph.nodes.length} nodes, ${graph.edges.length} edges`);

  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const runs: LoadFigures[] = [];
  try {
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      // tsx compiles with esbuild's keepNames: functions sent to the page call a `__name` helper.
      await page.addInitScript('window.__name = (f) => f;');
      await page.addInitScript(installProbes, graph.nodes.length);
      const figures = await measureLoad(page, `${server.url}/#/flows/${id}`);
      runs.push(figures);
      console.log(`load ${i + 1}: ${Object.entries(figures).map(([k, v]) => `${k}=${round(v)}`).join(' ')}`);
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
    await stitch.stop();
    await stopDb();
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, round(median(runs.map((r) => r[k as keyof LoadFigures])))]));
  console.log(JSON.stringify({ nodes: graph.nodes.length, edges: graph.edges.length, loads: LOADS, ...summary }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
