/**
 * The module graph of `src/` (server, lib, cli), type imports included: no import cycles, and the
 * layers point one way — `db` imports neither `engine` nor `workers`; `host` (the worker host
 * contract) imports none of `db`, `engine`, `workers`; the worker SDK (`workers/utils.ts`) imports
 * only `host`, `config`, `log` and types. `npm run check:layers` prints the findings; the suite
 * runs it (test/import-cycles.test.ts).
 */
import madge from 'madge';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** [importer pattern, forbidden import pattern, why] over paths relative to src/. */
const RULES: Array<[RegExp, RegExp, string]> = [
  [/^lib\/db\//, /^lib\/(engine|workers)\//, 'db imports neither engine nor workers'],
  [/^lib\/host\//, /^lib\/(db|engine|workers)\//, 'host is a leaf for db, engine and workers'],
  [/^lib\/workers\/utils\.ts$/, /^(?!lib\/(host\/|config\.ts|log\.ts|errors\.ts)|types\/)/, 'the worker SDK reaches the engine only through its host'],
];

export interface LayerReport {
  cycles: string[][];
  violations: string[];
  modules: number;
}

export async function checkLayers(): Promise<LayerReport> {
  const graph = await madge(['src/server', 'src/lib', 'src/cli'], {
    baseDir: `${root}/src`,
    fileExtensions: ['ts', 'tsx'],
    tsConfig: `${root}/tsconfig.json`,
    excludeRegExp: [/\.test\.tsx?$/, /__tests__\//],
  });
  const deps = graph.obj();
  const violations: string[] = [];
  for (const [from, imports] of Object.entries(deps)) {
    for (const [importer, forbidden, why] of RULES) {
      if (!importer.test(from)) continue;
      for (const to of imports) if (forbidden.test(to)) violations.push(`${from} -> ${to} (${why})`);
    }
  }
  return { cycles: graph.circular(), violations, modules: Object.keys(deps).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = await checkLayers();
  console.log(`${report.modules} modules, ${report.cycles.length} import cycles, ${report.violations.length} layer violations`);
  for (const cycle of report.cycles) console.log(`cycle: ${cycle.join(' -> ')}`);
  for (const v of report.violations) console.log(`layer: ${v}`);
  process.exitCode = report.cycles.length || report.violations.length ? 1 : 0;
}
