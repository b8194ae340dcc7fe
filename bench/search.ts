/**
 * `npm run bench:search`: the run search at scale. Seeds BENCH_SEARCH_RUNS runs (default 1,000,000)
 * straight into stitch_runs — statuses, triggers, 90 days of creation times, costs, errors, inputs
 * and tags spread as a busy project's are — then times the first page (50 runs) of each filtered
 * search as GET /api/runs builds it (queries/list-runs.ts runPageQuery), median of 5 after a warm-up,
 * and prints each plan. The last line is one JSON object of milliseconds per search.
 *
 * Uses DATABASE_URL when set, else a fresh embedded PostgreSQL in a temporary directory (bench-db.ts).
 */
import { performance } from 'node:perf_hooks';
import { createBenchDatabase, openBenchServer } from './bench-db';
import { getConfig } from '@/lib/config';
import { createFlow } from '@/lib/engine/flows';
import { runPageQuery } from '@/lib/db/queries/list-runs';
import { normalizeRunFilter, type RunFilterSpec } from '@/lib/runs/filter';
import { startStitch } from '@/lib/stitch';

const RUNS = Number(process.env.BENCH_SEARCH_RUNS ?? 1_000_000);
const CHUNK = 100_000;

async function main() {
  const server = await openBenchServer();
  const url = await createBenchDatabase(server.adminUrl, 'stitch_search');
  const stitch = await startStitch({ runner: false, config: getConfig({ DATABASE_URL: url, STITCH_LOG_LEVEL: 'warn', STITCH_SECRET: 'bench-secret-0123456789' }) });
  const pool = stitch.runtime.pool;
  try {
    const graph = { nodes: [{ id: 's', type: 'start', position: { x: 0, y: 0 }, data: {} }, { id: 'e', type: 'end', position: { x: 200, y: 0 }, data: {} }], edges: [{ id: 'e0', source: 's', target: 'e' }] };
    const flows = [await createFlow('search-a', graph), await createFlow('search-b', graph)];
    const { rows } = await pool.query<{ id: string; current_version_id: string }>('SELECT id, current_version_id FROM stitch_flows ORDER BY name');
    const t0 = performance.now();
    for (let from = 0; from < RUNS; from += CHUNK) {
      // Flow b is rare (5%); failures 8%, cancellations 2%; one customer in 200, one topic in 50.
      await pool.query(
        `INSERT INTO stitch_runs (flow_id, version_id, status, trigger, created_at, finished_at, cost_usd, error, input, tags)
         SELECT CASE WHEN r.flow < 0.05 THEN $1::uuid ELSE $3::uuid END,
                CASE WHEN r.flow < 0.05 THEN $2::uuid ELSE $4::uuid END,
                r.status, jsonb_build_object('type', (ARRAY['api','schedule','webhook','rerun','cli'])[1 + (g % 5)]),
                r.created, CASE WHEN r.status IN ('completed','failed','cancelled') THEN r.created + interval '1 minute' * (g % 30) END,
                CASE WHEN g % 10 = 0 THEN (g % 300) / 100.0 ELSE 0 END,
                CASE WHEN r.status = 'failed' THEN (ARRAY['Timeout after 30s waiting for vendor','HTTP 500 from MiniMax','quota exceeded for key','invalid input: seconds'])[1 + (g % 4)] || ' #' || g END,
                jsonb_build_object('topic', 'topic-' || (g % 50), 'n', g % 1000),
                jsonb_build_object('customer', 'customer-' || (g % 200), 'env', CASE WHEN g % 3 = 0 THEN 'staging' ELSE 'prod' END)
         FROM generate_series($5::int, $6::int) g,
         LATERAL (SELECT random() AS flow,
                         CASE WHEN g % 100 < 8 THEN 'failed' WHEN g % 100 < 10 THEN 'cancelled' WHEN g % 1000 < 101 THEN 'running' ELSE 'completed' END AS status,
                         now() - interval '90 days' * ((g::bigint * 7919) % ${RUNS} / ${RUNS}::float8) AS created) r`,
        [rows[0].id, rows[0].current_version_id, rows[1].id, rows[1].current_version_id, from, Math.min(from + CHUNK, RUNS) - 1],
      );
      console.log(`seeded ${Math.min(from + CHUNK, RUNS)} runs (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    await pool.query('VACUUM ANALYZE stitch_runs');
    const rare = flows[0].id;
    const searches: Record<string, RunFilterSpec> = {
      'no filter': {},
      'status=failed': { status: 'failed' },
      'flowId (rare flow)': { flowId: rare },
      'flowId (rare) + status=failed': { flowId: rare, status: 'failed' },
      'status=failed,cancelled + createdAfter=24h': { status: ['failed', 'cancelled'], createdAfter: '24h' },
      'tag.customer + status=failed + createdAfter=7d': { tag: { customer: 'customer-17' }, status: 'failed', createdAfter: '7d' },
      'tag.customer': { tag: { customer: 'customer-17' } },
      'input.topic': { input: { topic: 'topic-7' } },
      'trigger=schedule + finishedAfter=24h': { trigger: 'schedule', finishedAfter: '24h' },
      'costAbove=2.5': { costAbove: 2.5 },
      'error=quota': { error: 'quota' },
      'error text, rare (#12345)': { error: '#12345' },
    };
    const results: Record<string, number> = {};
    for (const [name, spec] of Object.entries(searches)) {
      const query = runPageQuery(normalizeRunFilter(spec), { limit: 50 });
      await pool.query(query);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        await pool.query(query);
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      results[name] = Number(times[2].toFixed(2));
      const plan = await pool.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${query.text}`, values: query.values });
      console.log(`\n${name}: ${results[name]} ms`);
      for (const line of plan.rows.map((r) => r['QUERY PLAN'])) console.log(`  ${line}`);
    }
    console.log(JSON.stringify({ runs: RUNS, first_page_ms: results }));
  } finally {
    await stitch.stop();
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
