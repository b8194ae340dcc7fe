/**
 * The run search (GET /api/runs): every filter alone and combined, against a seeded database and a
 * model of it — the same runs filtered in memory. Seeded rows are written directly (times, costs
 * and errors chosen, not waited for); one real metered run checks that cost is kept by the engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestServer, type TestServer } from './http';
import { createFlow } from '@/lib/engine/flows';
import { startRun } from '@/lib/engine/start-run';
import { graph, registerMeteredWorker, waitForRun } from '../helpers';
import { registerHttpTestWorkers } from './test-workers';

let t: TestServer;

interface Seeded {
  id: string;
  flowId: string;
  status: string;
  trigger: string;
  createdAt: Date;
  finishedAt: Date | null;
  cost: number;
  error: string | null;
  input: Record<string, unknown>;
  tags: Record<string, string>;
}
const seeded: Seeded[] = [];
let flows: string[] = [];
const NOW = Date.now();
const DAY = 86_400_000;

/** A small deterministic generator, so a failure replays. */
function prng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}
const rnd = prng(24);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];

const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
const TRIGGERS = ['api', 'schedule', 'webhook', 'rerun'] as const;
const ERRORS = ['Timeout after 30s waiting for vendor', 'HTTP 500 from MiniMax', '50% done_x then crashed', 'Cancelled by request'];

beforeAll(async () => {
  registerHttpTestWorkers();
  t = await startTestServer();
  for (const name of ['search-a', 'search-b']) {
    flows.push((await createFlow(name, graph(['a:echo'], []))).id);
  }
  const { rows } = await t.stitch.db.pool.query<{ id: string; current_version_id: string }>('SELECT id, current_version_id FROM stitch_flows');
  const versionOf = new Map(rows.map((r) => [r.id, r.current_version_id]));
  for (let i = 0; i < 240; i++) {
    const status = pick(STATUSES);
    const createdAt = new Date(NOW - Math.floor(rnd() * 10 * DAY));
    const finished = status === 'completed' || status === 'failed' || status === 'cancelled';
    const run: Seeded = {
      id: randomUUID(),
      flowId: pick(flows),
      status,
      trigger: pick(TRIGGERS),
      createdAt,
      finishedAt: finished ? new Date(createdAt.getTime() + Math.floor(rnd() * 2 * DAY)) : null,
      cost: rnd() < 0.5 ? 0 : Math.round(rnd() * 300) / 100,
      error: status === 'failed' || status === 'cancelled' ? pick(ERRORS) : null,
      input: { topic: pick(['otters', 'seals', 'Otters']), n: pick([1, 2, '2', 3]), nested: { k: pick(['a', 'b']) }, flag: pick([true, false]), list: ['otters'] },
      tags: { customer: pick(['acme', 'globex', 'Acme']), ...(rnd() < 0.3 ? { tier: 'gold' } : {}) },
    };
    seeded.push(run);
  }
  // Two runs in the same microsecond: the keyset must tell them apart by id.
  seeded[1].createdAt = seeded[0].createdAt;
  await t.stitch.db.pool.query(
    `INSERT INTO stitch_runs (id, flow_id, version_id, status, trigger, created_at, finished_at, cost_usd, error, input, tags)
     SELECT x.id, x.flow, x.version, x.status, jsonb_build_object('type', x.trigger), x.created, x.finished, x.cost, x.error, x.input, x.tags
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, flow uuid, version uuid, status text, trigger text, created timestamptz, finished timestamptz, cost float8, error text, input jsonb, tags jsonb)`,
    [
      JSON.stringify(
        seeded.map((r) => ({
          id: r.id,
          flow: r.flowId,
          version: versionOf.get(r.flowId),
          status: r.status,
          trigger: r.trigger,
          created: r.createdAt.toISOString(),
          finished: r.finishedAt?.toISOString() ?? null,
          cost: r.cost,
          error: r.error,
          input: r.input,
          tags: r.tags,
        })),
      ),
    ],
  );
});

afterAll(async () => {
  await t?.close();
});

/** Every run the query matches, through every page. */
async function search(query: string, limit = 37): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: any } = await t.api('GET', `/api/runs?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    ids.push(...res.body.runs.map((r: { id: string }) => r.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

/** The model: the seeded runs that match, newest first (ties by id, descending). */
function model(match: (r: Seeded) => boolean): string[] {
  return seeded
    .filter(match)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
    .map((r) => r.id);
}

const valueAt = (input: Record<string, unknown>, path: string[]) => path.reduce<unknown>((v, k) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined), input);
/** input.<path>=<text>: the value is that string, or the number, boolean or null the text spells. */
const inputIs = (r: Seeded, path: string, text: string) => {
  const v = valueAt(r.input, path.split('.'));
  return v !== null && typeof v === 'object' ? false : v !== undefined && (v === text || (typeof v !== 'string' && String(v) === text));
};

const T = (ms: number) => new Date(ms).toISOString();
const cases: Array<[string, string, (r: Seeded) => boolean]> = [
  ['no filter', '', () => true],
  ['flowId', `flowId=${'FLOW0'}`, (r) => r.flowId === flows[0]],
  ['one status', 'status=failed', (r) => r.status === 'failed'],
  ['several statuses', 'status=failed,cancelled', (r) => r.status === 'failed' || r.status === 'cancelled'],
  ['statuses repeated', 'status=pending&status=running', (r) => r.status === 'pending' || r.status === 'running'],
  ['trigger', 'trigger=schedule', (r) => r.trigger === 'schedule'],
  ['triggers', 'trigger=webhook,rerun', (r) => r.trigger === 'webhook' || r.trigger === 'rerun'],
  ['createdAfter (duration)', 'createdAfter=3d', (r) => r.createdAt.getTime() >= NOW - 3 * DAY],
  ['createdBefore (ISO)', `createdBefore=${T(NOW - 5 * DAY)}`, (r) => r.createdAt.getTime() < NOW - 5 * DAY],
  ['finishedAfter', `finishedAfter=${T(NOW - 4 * DAY)}`, (r) => r.finishedAt !== null && r.finishedAt.getTime() >= NOW - 4 * DAY],
  ['finishedBefore', `finishedBefore=${T(NOW - 6 * DAY)}`, (r) => r.finishedAt !== null && r.finishedAt.getTime() < NOW - 6 * DAY],
  ['costAbove', 'costAbove=1.5', (r) => r.cost > 1.5],
  ['costBelow', 'costBelow=0.5', (r) => r.cost < 0.5],
  ['costAbove 0', 'costAbove=0', (r) => r.cost > 0],
  ['error text, any case', 'error=timeout', (r) => r.error !== null && r.error.toLowerCase().includes('timeout')],
  ['error text with % and _ taken literally', `error=${encodeURIComponent('50% done_x')}`, (r) => r.error !== null && r.error.includes('50% done_x')],
  ['error wildcard characters alone', `error=${encodeURIComponent('%')}`, (r) => r.error !== null && r.error.includes('%')],
  ['input string', 'input.topic=otters', (r) => inputIs(r, 'topic', 'otters')],
  ['input: case matters', 'input.topic=Otters', (r) => inputIs(r, 'topic', 'Otters')],
  ['input number or numeric string', 'input.n=2', (r) => inputIs(r, 'n', '2')],
  ['input boolean', 'input.flag=true', (r) => inputIs(r, 'flag', 'true')],
  ['input nested path', 'input.nested.k=b', (r) => inputIs(r, 'nested.k', 'b')],
  ['input: an array is not a value', 'input.list=otters', (r) => inputIs(r, 'list', 'otters')],
  ['input: a missing field', 'input.nope=1', () => false],
  ['tag', 'tag.customer=acme', (r) => r.tags.customer === 'acme'],
  ['tag: case matters', 'tag.customer=Acme', (r) => r.tags.customer === 'Acme'],
  ['two tags', 'tag.customer=globex&tag.tier=gold', (r) => r.tags.customer === 'globex' && r.tags.tier === 'gold'],
  ['tag: a missing key', 'tag.region=eu', () => false],
];
const combined: Array<[string, string, (r: Seeded) => boolean]> = [
  ['flow + failed + error', `flowId=FLOW1&status=failed&error=vendor`, (r) => r.flowId === flows[1] && r.status === 'failed' && r.error!.toLowerCase().includes('vendor')],
  ['statuses + trigger + created range', `status=completed,failed&trigger=api,schedule&createdAfter=8d&createdBefore=${T(NOW - 2 * DAY)}`,
    (r) => ['completed', 'failed'].includes(r.status) && ['api', 'schedule'].includes(r.trigger) && r.createdAt.getTime() >= NOW - 8 * DAY && r.createdAt.getTime() < NOW - 2 * DAY],
  ["one customer's failed runs of the last days", 'status=failed&tag.customer=acme&createdAfter=5d',
    (r) => r.status === 'failed' && r.tags.customer === 'acme' && r.createdAt.getTime() >= NOW - 5 * DAY],
  ['cost window + input', 'costAbove=0.2&costBelow=2&input.topic=seals', (r) => r.cost > 0.2 && r.cost < 2 && inputIs(r, 'topic', 'seals')],
  ['two input fields + finished range', `input.topic=otters&input.nested.k=a&finishedAfter=9d&finishedBefore=${T(NOW - DAY)}`,
    (r) => inputIs(r, 'topic', 'otters') && inputIs(r, 'nested.k', 'a') && r.finishedAt !== null && r.finishedAt.getTime() >= NOW - 9 * DAY && r.finishedAt.getTime() < NOW - DAY],
  ['everything at once', `flowId=FLOW0&status=failed,cancelled,completed&trigger=api,webhook,schedule,rerun&createdAfter=10d&costBelow=3&input.flag=false`,
    (r) => r.flowId === flows[0] && ['failed', 'cancelled', 'completed'].includes(r.status) && r.createdAt.getTime() >= NOW - 10 * DAY && r.cost < 3 && inputIs(r, 'flag', 'false')],
];

describe('GET /api/runs filters', () => {
  const resolve = (query: string) => query.replace('FLOW0', flows[0]).replace('FLOW1', flows[1]);
  for (const [name, query, match] of [...cases, ...combined]) {
    it(name, async () => {
      const expected = model(match);
      expect(await search(resolve(query))).toEqual(expected);
    });
  }

  it('the seeded data makes every case say something (none empty but the missing field, none everything but no filter)', () => {
    for (const [name, , match] of [...cases, ...combined]) {
      const n = model(match).length;
      if (name === 'input: a missing field' || name === 'input: an array is not a value' || name === 'tag: a missing key') expect(n, name).toBe(0);
      else if (name === 'no filter') expect(n).toBe(seeded.length);
      else expect(n, name).toBeGreaterThan(0), expect(n, name).toBeLessThan(seeded.length);
    }
  });

  it('ids', async () => {
    const some = [seeded[3].id, seeded[7].id, seeded[100].id];
    expect(new Set(await search(`ids=${some.join(',')}`))).toEqual(new Set(some));
  });

  it('random combinations agree with the model', async () => {
    const all = [...cases.slice(1)];
    for (let i = 0; i < 25; i++) {
      const a = pick(all);
      const b = pick(all);
      if (a[1].split('=')[0] === b[1].split('=')[0]) continue; // the same parameter twice is a different question
      const query = resolve(`${a[1]}&${b[1]}`);
      expect(await search(query, 50), query).toEqual(model((r) => a[2](r) && b[2](r)));
    }
  });

  it('pages are stable while runs are inserted: no run repeated, none that existed skipped', async () => {
    const before = model(() => true);
    const seen: string[] = [];
    let cursor: string | null = null;
    const flowVersion = (await t.stitch.db.pool.query('SELECT current_version_id AS v FROM stitch_flows WHERE id = $1', [flows[0]])).rows[0].v;
    do {
      const res: { body: any } = await t.api('GET', `/api/runs?limit=13${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.body.runs.map((r: { id: string }) => r.id));
      cursor = res.body.nextCursor;
      // Runs keep arriving between pages: now, and with creation times inside the range being paged.
      await t.stitch.db.pool.query(
        `INSERT INTO stitch_runs (flow_id, version_id, status, created_at) SELECT $1, $2, 'running', now() - random() * interval '10 days' FROM generate_series(1, 5)`,
        [flows[0], flowVersion],
      );
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    const old = new Set(before);
    expect(seen.filter((id) => old.has(id))).toEqual(before);
    await t.stitch.db.pool.query(`DELETE FROM stitch_runs WHERE NOT (id = ANY($1::uuid[]))`, [seeded.map((r) => r.id)]);
  });

  it('a bad filter is a 400 naming the field, never a match-everything', async () => {
    const bad: Array<[string, string]> = [
      ['status=sideways', 'status'],
      ['trigger=Not A Type', 'trigger'],
      ['createdAfter=yesterday', 'createdAfter'],
      ['finishedBefore=2024-13-45', 'finishedBefore'],
      ['costAbove=-1', 'costAbove'],
      ['costBelow=lots', 'costBelow'],
      [`error=${'x'.repeat(201)}`, 'error'],
      ['flowId=nope', 'flowId'],
      ['ids=1,2', 'ids'],
      ['statsu=failed', 'statsu'],
      [`input.${'a.'.repeat(9)}b=1`, 'input'],
      ['input.a..b=1', 'input'],
      ['flowId=a&flowId=b', 'flowId'],
      ['cursor=garbage', 'cursor'],
    ];
    for (const [query, field] of bad) {
      const res = await t.api('GET', `/api/runs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('validation_failed');
      expect(JSON.stringify(res.body.error.details), query).toContain(field);
    }
  });
});

describe('cost is kept with the usage that makes it', () => {
  it('a metered run is found by costAbove once its usage is recorded', async () => {
    const metered = registerMeteredWorker('search-metered', 0.25);
    try {
      const flow = await createFlow('metered', graph(['a:search-metered', 'b:search-metered'], [['a', 'b']]));
      const { runId } = await startRun(flow.id, { input: { topic: 'cost' } });
      await waitForRun(runId);
      const res = await t.api('GET', `/api/runs?flowId=${flow.id}&costAbove=0.4`);
      expect(res.body.runs.map((r: { id: string; costUsd: number }) => [r.id, r.costUsd])).toEqual([[runId, 0.5]]);
      expect((await t.api('GET', `/api/runs?flowId=${flow.id}&costAbove=0.5`)).body.runs).toEqual([]);
    } finally {
      metered.restore();
    }
  });
});
