/**
 * The module graph stays a graph of layers: no import cycles in src/ (type imports included), and
 * the rules of scripts/check-layers.ts hold (db → neither engine nor workers; host a leaf; the
 * worker SDK only through its host).
 */
import { expect, it } from 'vitest';
import { checkLayers } from '../scripts/check-layers';

it('src/ has no import cycles and its layers point one way', async () => {
  const report = await checkLayers();
  expect(report.modules).toBeGreaterThan(100); // the graph was read (paths resolved), not empty
  expect(report.cycles).toEqual([]);
  expect(report.violations).toEqual([]);
});
