/**
 * Issue 21, item 12: every collection a client can grow has a limit, and every list is a page.
 * Schedules and triggers per flow and credentials in the vault are refused past their limit with
 * 409 `limit_reached` (concurrent additions too: the count and the insert hold one lock), a
 * schedule's input has a size limit, idempotency keys and webhook delivery ids are forgotten after
 * STITCH_IDEMPOTENCY_HOURS, and flows, versions, schedules, triggers and credentials answer
 * `{items, nextCursor}` pages that join to the whole list with no repeat, as MCP's tools/list does
 * with its own cursor. Small limits here; the
 * defaults are checked by test/limits-documented.test.ts.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createFlow } from '@/lib/engine/flows';
import { TOOLS_PAGE } from '@/lib/mcp/server';
import { getPool } from '@/lib/db/pool';
import { generateKeyText } from '@/lib/vault/cipher';
import { graph } from '../helpers';
import { startTestServer, type TestServer } from './http';

let t: TestServer;
const flowGraph = (tag: string) => graph(['s:start', { id: 'x', workerType: 'transform', config: { set: { tag } } }, 'e:end'], [['s', 'x'], ['x', 'e']]);
const newFlow = async (name: string) => (await t.api('POST', '/api/flows', { name, graph: flowGraph(name) })).body.id as string;

/** Every page of a list, with the page size asked for; fails on a repeated item. */
async function pages(path: string, key: string, limit: number, id: (item: any) => string = (item) => item.id): Promise<{ ids: string[]; pageCount: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pageCount = 0;
  do {
    const r: { status: number; body: any } = await t.api('GET', `${path}${path.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body[key].length).toBeLessThanOrEqual(limit);
    ids.push(...r.body[key].map(id));
    cursor = r.body.nextCursor;
    pageCount += 1;
  } while (cursor);
  expect(new Set(ids).size, 'no item twice').toBe(ids.length);
  return { ids, pageCount };
}

const expectLimit = (r: { status: number; body: any }, variable: string, limit: number) => {
  expect(r.status, JSON.stringify(r.body)).toBe(409);
  expect(r.body.error).toMatchObject({ code: 'limit_reached', details: { limit, variable } });
};

beforeAll(async () => {
  t = await startTestServer({
    env: {
      STITCH_ENCRYPTION_KEY: generateKeyText(),
      STITCH_MAX_SCHEDULES_PER_FLOW: '5',
      STITCH_MAX_SCHEDULE_INPUT_BYTES: '1000',
      STITCH_MAX_TRIGGERS_PER_FLOW: '3',
      STITCH_MAX_CREDENTIALS: '4',
      STITCH_IDEMPOTENCY_HOURS: '1',
    },
  });
}, 60_000);
afterAll(() => t?.close());

describe('schedules', () => {
  it('a flow has at most STITCH_MAX_SCHEDULES_PER_FLOW: the next is 409 limit_reached, even when sent at once', async () => {
    const flowId = await newFlow('many-schedules');
    const create = (i: number) => t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 9 * * *', input: { i } });
    // Eight at once for five places: the count and the insert are under one lock, so exactly five land.
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => create(i)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(5);
    for (const r of answers.filter((r) => r.status !== 201)) expectLimit(r, 'STITCH_MAX_SCHEDULES_PER_FLOW', 5);
    const { rows } = await getPool().query('SELECT count(*)::int AS n FROM stitch_schedules WHERE flow_id = $1', [flowId]);
    expect(rows[0].n).toBe(5);

    // Another flow has its own five; a deleted schedule makes room.
    expect((await t.api('POST', `/api/flows/${await newFlow('other-schedules')}/schedules`, { cron: '0 9 * * *' })).status).toBe(201);
    const [first] = (await t.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules;
    expect((await t.api('DELETE', `/api/flows/${flowId}/schedules/${first.id}`)).status).toBe(200);
    expect((await create(9)).status).toBe(201);
    expectLimit(await create(10), 'STITCH_MAX_SCHEDULES_PER_FLOW', 5);
  });

  it("a schedule's input is at most STITCH_MAX_SCHEDULE_INPUT_BYTES, at creation and on PATCH", async () => {
    const flowId = await newFlow('big-input');
    const big = { text: 'x'.repeat(1000) };
    const refused = await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 9 * * *', input: big });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0]).toMatchObject({ field: 'input' });
    expect(refused.body.error.message).toContain('STITCH_MAX_SCHEDULE_INPUT_BYTES');
    const ok = await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: '0 9 * * *', input: { text: 'small' } });
    expect(ok.status).toBe(201);
    expect((await t.api('PATCH', `/api/flows/${flowId}/schedules/${ok.body.id}`, { input: big })).status).toBe(400);
    expect((await t.api('GET', `/api/flows/${flowId}/schedules`)).body.schedules.map((s: any) => s.input)).toEqual([{ text: 'small' }]);
  });

  it('the list is paginated oldest first: pages join to every schedule once, the last has nextCursor null', async () => {
    const flowId = await newFlow('paged-schedules');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await t.api('POST', `/api/flows/${flowId}/schedules`, { cron: `${i} 9 * * *` })).body.id);
    const { ids, pageCount } = await pages(`/api/flows/${flowId}/schedules`, 'schedules', 2);
    expect(ids).toEqual(created);
    expect(pageCount).toBe(3);
    const whole = await t.api('GET', `/api/flows/${flowId}/schedules`);
    expect(whole.body.nextCursor).toBeNull();
    expect(whole.body.schedules).toHaveLength(5);
  });
});

describe('webhook triggers', () => {
  it('a flow has at most STITCH_MAX_TRIGGERS_PER_FLOW live triggers; a deleted one makes room; the list pages', async () => {
    const flowId = await newFlow('many-triggers');
    const create = () => t.api('POST', `/api/flows/${flowId}/triggers`, {});
    const answers = await Promise.all(Array.from({ length: 5 }, create));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(3);
    for (const r of answers.filter((r) => r.status !== 201)) expectLimit(r, 'STITCH_MAX_TRIGGERS_PER_FLOW', 3);

    const { ids } = await pages(`/api/flows/${flowId}/triggers`, 'triggers', 2);
    expect(ids.sort()).toEqual(answers.filter((r) => r.status === 201).map((r) => r.body.id).sort());
    const listed = (await t.api('GET', `/api/flows/${flowId}/triggers?limit=1`)).body;
    expect(JSON.stringify(listed)).not.toContain('"secret"');

    expect((await t.api('DELETE', `/api/flows/${flowId}/triggers/${ids[0]}`)).status).toBe(200);
    expect((await create()).status).toBe(201);
    expectLimit(await create(), 'STITCH_MAX_TRIGGERS_PER_FLOW', 3);
  });

  it('a delivery id is remembered STITCH_IDEMPOTENCY_HOURS: older ones are forgotten', async () => {
    const flowId = await newFlow('deliveries');
    const trigger = (await t.api('POST', `/api/flows/${flowId}/triggers`, {})).body;
    const deliver = (delivery: string) => {
      const body = JSON.stringify({ n: 1 });
      const signature = `sha256=${createHmac('sha256', trigger.secret).update(body).digest('hex')}`;
      return t.api('POST', `/api/webhooks/${trigger.slug}`, body, { 'x-stitch-signature': signature, 'x-stitch-delivery': delivery });
    };
    const first = await deliver('d-1');
    expect(first.status).toBe(202);
    expect((await deliver('d-1')).body).toEqual({ runId: first.body.runId, duplicate: true });
    // Two hours on, past the window of one: the same id starts a new run, and the old row is gone.
    await getPool().query("UPDATE stitch_webhook_deliveries SET created_at = now() - interval '2 hours' WHERE trigger_id = $1", [trigger.id]);
    const again = await deliver('d-1');
    expect(again.status).toBe(202);
    expect(again.body.runId).not.toBe(first.body.runId);
    const { rows } = await getPool().query('SELECT count(*)::int AS n FROM stitch_webhook_deliveries WHERE trigger_id = $1', [trigger.id]);
    expect(rows[0].n).toBe(1);
  });
});

describe('credentials', () => {
  it('the vault holds at most STITCH_MAX_CREDENTIALS names; replacing one at the limit is allowed; the list pages in name order', async () => {
    const put = (name: string) => t.api('PUT', `/api/credentials/${name}`, { value: `value-of-${name.toLowerCase()}` });
    const names = ['CRED_A_KEY', 'CRED_B_KEY', 'CRED_C_KEY', 'CRED_D_KEY', 'CRED_E_KEY', 'CRED_F_KEY'];
    const answers = await Promise.all(names.map(put));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(4);
    for (const r of answers.filter((r) => r.status !== 201)) expectLimit(r, 'STITCH_MAX_CREDENTIALS', 4);

    const stored = answers.filter((r) => r.status === 201).map((r) => r.body.name as string);
    expect((await put(stored[0])).status).toBe(200);
    const { ids, pageCount } = await pages('/api/credentials', 'credentials', 3, (c) => c.name);
    expect(ids).toEqual([...stored].sort());
    expect(pageCount).toBe(2);
    expect((await t.api('DELETE', `/api/credentials/${stored[0]}`)).status).toBe(200);
    expect((await put('CRED_G_KEY')).status).toBe(201);
  });
});

describe('idempotency keys', () => {
  it('are remembered STITCH_IDEMPOTENCY_HOURS: past it, the same key starts a new run', async () => {
    const flowId = await newFlow('idem-hours');
    const headers = { 'idempotency-key': 'hours-1' };
    const first = await t.api('POST', `/api/flows/${flowId}/run`, { input: {} }, headers);
    expect(first.status).toBe(202);
    expect((await t.api('POST', `/api/flows/${flowId}/run`, { input: {} }, headers)).status).toBe(200);
    await getPool().query("UPDATE stitch_idempotency_keys SET created_at = now() - interval '2 hours' WHERE key = 'hours-1'");
    const later = await t.api('POST', `/api/flows/${flowId}/run`, { input: {} }, headers);
    expect(later.status).toBe(202);
    expect(later.body.runId).not.toBe(first.body.runId);
  });
});

describe('every list is a page', () => {
  it('flows and versions page like /api/runs; a bad cursor or limit is a 400', async () => {
    const flowIds: string[] = [];
    for (let i = 0; i < 3; i++) flowIds.push(await newFlow(`paged-flow-${i}`));
    // Most recently updated first: a save moves a flow to the front.
    await t.api('PUT', `/api/flows/${flowIds[0]}`, { graph: flowGraph('changed') });
    const { ids } = await pages('/api/flows', 'flows', 2);
    expect(ids.slice(0, 3)).toEqual([flowIds[0], flowIds[2], flowIds[1]]);
    const { rows } = await getPool().query('SELECT count(*)::int AS n FROM stitch_flows WHERE deleted_at IS NULL');
    expect(ids).toHaveLength(rows[0].n);

    for (let i = 0; i < 3; i++) await t.api('PUT', `/api/flows/${flowIds[1]}`, { graph: flowGraph(`v${i}`) });
    const versions = await pages(`/api/flows/${flowIds[1]}/versions`, 'versions', 3, (v) => String(v.version));
    expect(versions.ids).toEqual(['4', '3', '2', '1']);
    expect(versions.pageCount).toBe(2);

    for (const path of ['/api/flows', `/api/flows/${flowIds[1]}/versions`, `/api/flows/${flowIds[1]}/schedules`, `/api/flows/${flowIds[1]}/triggers`, '/api/credentials', '/api/runs']) {
      for (const query of ['cursor=nope', `cursor=${Buffer.from('["1","x"]').toString('base64url')}`, 'limit=0', 'limit=201', 'limit=many']) {
        const r = await t.api('GET', `${path}?${query}`);
        expect(r.status, `${path}?${query}`).toBe(400);
        expect(r.body.error.code).toBe('validation_failed');
      }
    }
  });
});

describe('MCP tools/list is a page too', () => {
  it('answers TOOLS_PAGE tools and a nextCursor; the pages name every flow once; a bad cursor is InvalidParams', async () => {
    const { rows } = await getPool().query('SELECT count(*)::int AS n FROM stitch_flows WHERE deleted_at IS NULL');
    for (let i = rows[0].n; i < TOOLS_PAGE + 5; i++) await createFlow(`tool flow ${i}`, flowGraph(`tool-${i}`));
    const flowCount = (await getPool().query('SELECT count(*)::int AS n FROM stitch_flows WHERE deleted_at IS NULL')).rows[0].n;

    const client = new Client({ name: 'stitch-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/mcp`)));
    try {
      const first = await client.listTools();
      expect(first.tools).toHaveLength(TOOLS_PAGE);
      expect(first.nextCursor).toEqual(expect.any(String));
      const names = first.tools.map((tool) => tool.name);
      let cursor = first.nextCursor;
      while (cursor) {
        const page = await client.listTools({ cursor });
        names.push(...page.tools.map((tool) => tool.name));
        cursor = page.nextCursor;
      }
      expect(new Set(names).size).toBe(names.length);
      expect(names).toHaveLength(flowCount + 2); // every flow, get_run and cancel_run
      await expect(client.listTools({ cursor: 'nope' })).rejects.toThrow(/cursor is not valid/);
    } finally {
      await client.close();
    }
  });
});
