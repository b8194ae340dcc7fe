/**
 * End-to-end harness: a real Stitch (fresh test database, queue runner, HTTP server on a loopback
 * port) in this process, the canvas built into a private folder, and Debian's Chromium driven by
 * playwright-core. Every page's `console` errors/warnings and `pageerror`s are collected so each
 * test can assert there were none.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { VisualGraph } from '@/types/stitch';
import { startServer, type RunningServer } from '@/server/listen';
import { startTestStitch, type TestStitch } from '../db';
import { CHROMIUM_ARGS, CHROMIUM_PATH, freePort } from './browser';

export const ARTIFACTS = path.resolve('test-artifacts');

/** Build the canvas once per test file into a temporary folder (parallel files never share one). */
export function buildCanvas(): string {
  const outDir = mkdtempSync(path.join(tmpdir(), 'stitch-web-'));
  execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'web', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
    stdio: 'inherit',
  });
  return outDir;
}

export interface E2E {
  stitch: TestStitch;
  server: RunningServer;
  baseUrl: string;
  context: BrowserContext;
  /** Problems reported by pages: console errors and warnings, uncaught exceptions. */
  problems: string[];
  /** Remove one expected problem (e.g. the browser's own log line for a deliberate 400). */
  allowProblem(pattern: RegExp): void;
  /** Remove every problem matching; returns how many there were. */
  allowProblems(pattern: RegExp): number;
  newPage(): Promise<Page>;
  /** Call the HTTP API directly (setting up flows a test does not build by hand). */
  api<T = unknown>(method: string, url: string, body?: unknown): Promise<T>;
  createFlow(name: string, graph: VisualGraph): Promise<string>;
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startE2E(options: { env?: Record<string, string> } = {}): Promise<E2E> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  }
  const webDir = buildCanvas();
  const port = await freePort();
  // The base URL must be the real one: callback and media URLs are built from it.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'stitch-e2e-data-'));
  // Media storage reads its base URL and data directory from the process environment (getConfig()),
  // not from the started instance's config: point both at this server (each test file is its own process).
  process.env.STITCH_BASE_URL = `http://127.0.0.1:${port}`;
  process.env.STITCH_DATA_DIR = dataDir;
  const stitch = await startTestStitch({
    env: { PORT: String(port), STITCH_BASE_URL: `http://127.0.0.1:${port}`, STITCH_DATA_DIR: dataDir, ...options.env },
  });
  const server = await startServer(stitch.config, { webDir });
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'stitch-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  const problems: string[] = [];
  const apiKey = options.env?.STITCH_API_KEY;

  const api = async <T,>(method: string, url: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  return {
    stitch,
    server,
    baseUrl: server.url,
    context,
    problems,
    allowProblem(pattern) {
      const index = problems.findIndex((p) => pattern.test(p));
      if (index === -1) throw new Error(`expected a page problem matching ${pattern}, saw: ${JSON.stringify(problems)}`);
      problems.splice(index, 1);
    },
    allowProblems(pattern) {
      const before = problems.length;
      const kept = problems.filter((p) => !pattern.test(p));
      problems.splice(0, problems.length, ...kept);
      return before - kept.length;
    },
    api,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console.${msg.type()}: ${msg.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      return page;
    },
    async createFlow(name, graph) {
      const { id } = await api<{ id: string }>('POST', '/api/flows', { name, graph });
      return id;
    },
    async screenshot(page, name) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    async close() {
      await context.close().catch(() => {});
      await server.close();
      await stitch.destroy();
      rmSync(userDataDir, { recursive: true, force: true });
      rmSync(webDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Record every `data-status` a node card shows, in order, from inside the page (a
 * MutationObserver installed before the app loads): proof of what was on screen, not of what the
 * test happened to poll.
 */
export async function recordNodeStatuses(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const log: Record<string, string[]> = {};
    (window as unknown as { __statusLog: typeof log }).__statusLog = log;
    const note = (el: Element) => {
      const id = el.getAttribute('data-testid')?.replace(/^node-/, '');
      const status = el.getAttribute('data-status');
      if (!id || !status) return;
      const list = (log[id] ??= []);
      if (list[list.length - 1] !== status) list.push(status);
    };
    const observer = new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.type === 'attributes' && m.target instanceof Element && m.target.matches('.node-card')) note(m.target);
        m.addedNodes.forEach((n) => n instanceof Element && n.querySelectorAll('.node-card').forEach(note));
      }
    });
    document.addEventListener('DOMContentLoaded', () => observer.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] }));
  });
}

export async function statusLog(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(() => (window as unknown as { __statusLog: Record<string, string[]> }).__statusLog);
}

/** A node of a test graph, in a row at `x` and labelled with its id. */
export const node = (id: string, type: string, x: number, data: Record<string, unknown> = {}) => ({ id, type, position: { x, y: 0 }, data: { label: id, ...data } });
/** Edges `ids[0] → ids[1] → …`, named e0, e1, …. */
export const chain = (...ids: string[]) => ids.slice(1).map((id, i) => ({ id: `e${i}`, source: ids[i], target: id }));

/** Drag a palette entry onto the canvas at (x, y) relative to the canvas's top-left corner. */
export async function dropFromPalette(page: Page, testId: string, x: number, y: number): Promise<void> {
  await page.getByTestId(testId).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
}

/** Connect node `from`'s output handle to node `to`'s input handle with the mouse. */
export async function connect(page: Page, from: string, to: string): Promise<void> {
  const source = page.locator(`.react-flow__node[data-id="${from}"] .react-flow__handle.source`);
  const target = page.locator(`.react-flow__node[data-id="${to}"] .react-flow__handle.target`);
  const a = (await source.boundingBox())!;
  const b = (await target.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}
