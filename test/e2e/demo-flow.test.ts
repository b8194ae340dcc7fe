/**
 * The integrations' demo flow (examples/video-factory.json, every vendor in mock mode) on the
 * canvas: it runs to the end live, the splitter shows its scene counts, and the inspector previews
 * the audio and video its nodes produced.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { VisualGraph } from '@/types/stitch';
import { startE2E, type E2E } from './harness';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

test('the video-factory demo renders with previews of its audio and video outputs', async () => {
  const demo = JSON.parse(readFileSync('examples/video-factory.json', 'utf8')) as { name: string; graph: VisualGraph; input: unknown };
  const flowId = await e2e.createFlow(demo.name, demo.graph);
  const { runId } = await e2e.api<{ runId: string }>('POST', `/api/flows/${flowId}/run`, { input: demo.input });
  const page = await e2e.newPage();
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);

  await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status'), { timeout: 60_000 }).toBe('completed');
  for (const node of demo.graph.nodes) expect(await page.getByTestId(`node-${node.id}`).getAttribute('data-status')).toBe('completed');
  const scenes = await page.locator('[data-testid="node-voice"] [data-testid="node-items"]').textContent();
  expect(scenes).toMatch(/^(\d+)\/\1$/);

  // Every vendor ran in mock mode: the run header labels its cost an estimate, not spend (issue 25.6);
  // so does the flows list.
  expect(await page.getByTestId('run-cost').textContent()).toMatch(/^≈\$\d+\.\d+ est\./);
  expect(await page.getByTestId('run-cost').getAttribute('title')).toMatch(/^Estimate: mock workers/);
  await page.goto(`${e2e.baseUrl}/#/`);
  await expect.poll(() => page.getByTestId(`flow-row-${demo.name}`).getByTestId('flow-last-cost').textContent()).toMatch(/≈\$\d+\.\d+ est\./);
  await page.goto(`${e2e.baseUrl}/#/runs/${runId}`);
  await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('completed');

  // The run's output: the final video, previewed in the run summary.
  await expect.poll(() => page.getByTestId('run-summary').getByTestId('media-video').count()).toBeGreaterThan(0);

  // Each scene's narration is audio; the rendered film is video.
  await page.locator('.react-flow__node[data-id="voice"]').click();
  await expect.poll(() => page.getByTestId('media-audio').count()).toBeGreaterThan(0);
  const audio = await page.getByTestId('media-audio').first().locator('audio').getAttribute('src');
  expect((await fetch(new URL(audio!, e2e.baseUrl))).status).toBe(200);
  await e2e.screenshot(page, 'demo-audio-preview');

  await page.locator('.react-flow__node[data-id="render"]').click();
  await expect.poll(() => page.getByTestId('media-video').count()).toBeGreaterThan(0);
  const video = page.getByTestId('media-video').first().locator('video');
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState >= 1 && v.duration > 0)).toBe(true);
  await e2e.screenshot(page, 'demo-video-preview');

  expect(e2e.problems).toEqual([]);
});
