/**
 * Flows as files (issue 25, docs/flows-as-files.md). Over HTTP on one database: a deploy creates by
 * name and is idempotent (no new version, schedules and triggers kept), marks its versions with its
 * message, refuses a whole deploy for one bad file or a database-level failure (nothing half applied),
 * refuses cycles and secrets, and a dry run changes nothing. With the CLI as real processes: export →
 * deploy into a fresh database → export again gives identical files; deploying them again makes no
 * version; an exported file runs with `stitch run`; a directory with one invalid flow changes nothing.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../db';
import { startTestServer, type TestServer } from './http';
import { spawnStitch } from './processes';

let t: TestServer;
let dir: string;

const node = (id: string, type: string, x: number, data: Record<string, unknown> = {}) => ({ id, type, position: { x, y: 40 }, data });
const edge = (source: string, target: string) => ({ id: `${source}-${target}`, source, target });

/** A flow of start → transform → end, whose transform sets `stamp`. */
const childFile = (stamp = 'yes', extra: Record<string, unknown> = {}) => ({
  name: 'transcribe child',
  budgetUsd: 2,
  graph: {
    nodes: [node('start', 'start', 0), node('stamp', 'worker', 200, { workerType: 'transform', config: { set: { stamp } } }), node('end', 'end', 400)],
    edges: [edge('start', 'stamp'), edge('stamp', 'end')],
  },
  schedules: [{ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', input: { who: 'ada' } }],
  triggers: [{ slug: 'child-hook', tags: { source: 'git' } }],
  ...extra,
});

/** A flow that runs the child by name. */
const parentFile = (x = 200) => ({
  name: 'parent',
  graph: {
    nodes: [node('start', 'start', 0), node('child', 'flow', x, { config: { flowName: 'transcribe child' } }), node('end', 'end', 400)],
    edges: [edge('start', 'child'), edge('child', 'end')],
  },
});

const deploy = (files: Array<[string, unknown]>, options: { dryRun?: boolean; message?: string } = {}) =>
  t.api('POST', '/api/deploy', { flows: files.map(([where, content]) => ({ where, content })), ...options });

/** Every flow's versions, schedules and triggers, by name: what must not move when a deploy is refused. */
async function snapshot() {
  const { flows } = (await t.api('GET', '/api/flows')).body as { flows: Array<{ id: string; name: string }> };
  const state: Record<string, unknown> = {};
  for (const f of flows) {
    state[f.name] = {
      versions: (await t.api('GET', `/api/flows/${f.id}/versions`)).body.versions,
      schedules: (await t.api('GET', `/api/flows/${f.id}/schedules`)).body.schedules.map((s: { id: string; updatedAt: string }) => [s.id, s.updatedAt]),
      triggers: (await t.api('GET', `/api/flows/${f.id}/triggers`)).body.triggers,
      flow: (await t.api('GET', `/api/flows/${f.id}`)).body.graph,
    };
  }
  return state;
}

beforeAll(async () => {
  t = await startTestServer({ runner: false, env: { STITCH_MAX_DEPLOY_FLOWS: '6' } });
  dir = mkdtempSync(path.join(tmpdir(), 'stitch-flow-files-'));
}, 60_000);
afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /api/deploy and GET /api/flows/:id/export', () => {
  let parentId: string;

  it('creates flows by name, callees first, marks their versions, and returns new triggers\' secrets once', async () => {
    const res = await deploy([['parent.json', parentFile()], ['child.json', childFile()]], { message: 'Add the transcription flows (abc123)' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.flows.map((f: { name: string; change: string; version: number }) => [f.name, f.change, f.version])).toEqual([
      ['transcribe child', 'created', 1],
      ['parent', 'created', 1],
    ]);
    const [child, parent] = res.body.flows;
    parentId = parent.flowId;
    expect(child.schedules).toEqual({ added: 1, removed: 0, kept: 0 });
    expect(child.triggers.added).toEqual(['child-hook']);
    expect(child.secrets).toEqual([{ slug: 'child-hook', secret: expect.stringMatching(/^[\w-]{40,}$/) }]);
    expect(child.budgetUsd).toEqual({ from: null, to: 2 });
    // The parent's node runs the child by its id in this database.
    const stored = (await t.api('GET', `/api/flows/${parentId}`)).body.graph;
    expect(stored.nodes[1].data.config).toEqual({ flowId: child.flowId });
    const versions = (await t.api('GET', `/api/flows/${parentId}/versions`)).body.versions;
    expect(versions).toEqual([expect.objectContaining({ version: 1, deployed: true, message: 'Add the transcription flows (abc123)' })]);
  });

  it('exports a flow as its file: names for ids, no secret, keys sorted', async () => {
    const res = await t.api('GET', `/api/flows/${parentId}/export`);
    expect(res.status).toBe(200);
    expect(res.body.fileName).toBe('parent.json');
    expect(res.body.document.graph.nodes[1].data.config).toEqual({ flowName: 'transcribe child' });
    const { flows } = (await t.api('GET', '/api/flows')).body;
    const childId = flows.find((f: { name: string }) => f.name === 'transcribe child').id;
    const child = (await t.api('GET', `/api/flows/${childId}/export`)).body.document;
    expect(child.triggers).toEqual([{ slug: 'child-hook', budgetUsd: null, tags: { source: 'git' }, priority: 0 }]);
    expect(child.schedules).toEqual([
      { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', input: { who: 'ada' }, enabled: true, catchUp: 'none', budgetUsd: null, tags: {}, priority: 0 },
    ]);
    expect(JSON.stringify(child)).not.toMatch(/secret|[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect((await t.api('GET', '/api/flows/not-a-flow/export')).status).toBe(404);
    expect((await t.api('GET', '/api/flows/00000000-0000-4000-8000-000000000000/export')).status).toBe(404);
  });

  it('deploying the same files again changes nothing: no version, the same schedule and trigger', async () => {
    const before = await snapshot();
    const res = await deploy([['parent.json', parentFile()], ['child.json', childFile()]], { message: 'again' });
    expect(res.body.flows.map((f: { change: string }) => f.change)).toEqual(['unchanged', 'unchanged']);
    expect(res.body.flows[0]).toMatchObject({ schedules: { added: 0, removed: 0, kept: 1 }, triggers: { added: [], changed: [], removed: [] }, secrets: [] });
    expect(res.body.flows[0].budgetUsd).toBeUndefined();
    expect(await snapshot()).toEqual(before);
  });

  it('a dry run reports what would change and changes nothing', async () => {
    const before = await snapshot();
    const res = await deploy(
      [['parent.json', parentFile(260)], ['child.json', childFile('changed', { schedules: [], triggers: [{ slug: 'child-hook-2' }] })]],
      { dryRun: true },
    );
    expect(res.status).toBe(200);
    expect(res.body.dryRun).toBe(true);
    expect(res.body.flows.map((f: { name: string; change: string; version: number }) => [f.name, f.change, f.version])).toEqual([
      ['transcribe child', 'updated', 2],
      ['parent', 'updated', 2],
    ]);
    expect(res.body.flows[0]).toMatchObject({ schedules: { added: 0, removed: 1 }, triggers: { added: ['child-hook-2'], removed: ['child-hook'] }, secrets: [] });
    expect(await snapshot()).toEqual(before);
  });

  it('one invalid file refuses the whole deploy, listing every problem; nothing changes', async () => {
    const before = await snapshot();
    const bad = { name: 'bad', graph: { nodes: [node('x', 'teleport', 0)], edges: [] } };
    const badSchedule = childFile('changed', { schedules: [{ cron: 'every day' }] });
    const res = await deploy([['parent.json', parentFile(300)], ['child.json', badSchedule], ['bad.json', bad]]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(/refused, nothing changed/);
    const messages = res.body.error.details.map((d: { message: string }) => d.message);
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/^flow "bad": .*teleport/), expect.stringMatching(/^flow "transcribe child": /)]));
    expect(await snapshot()).toEqual(before);
  });

  it('a failure found inside the transaction (a slug another flow holds) rolls back the flows deployed before it', async () => {
    await deploy([['other.json', { name: 'other', graph: { nodes: [node('start', 'start', 0)], edges: [] }, triggers: [{ slug: 'taken-slug' }] }]]);
    const before = await snapshot();
    const res = await deploy([['child.json', childFile('rolled back')], ['parent.json', { ...parentFile(320), triggers: [{ slug: 'taken-slug' }] }]]);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/flow "parent" \(parent\.json\).*taken-slug/);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a cycle of flows, a file holding a secret, duplicate names, a name nobody has, and too many files', async () => {
    const loop = (name: string, callee: string) => ({ name, graph: { nodes: [node('start', 'start', 0), node('c', 'flow', 200, { config: { flowName: callee } })], edges: [edge('start', 'c')] } });
    const cycle = await deploy([['a.json', loop('a', 'b')], ['b.json', loop('b', 'a')]]);
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.message).toMatch(/cycle \(a → b → a\)/);
    const secret = await deploy([['c.json', { ...childFile(), triggers: [{ slug: 'child-hook', secret: 'shh' }] }]]);
    expect(secret.status).toBe(400);
    expect(secret.body.error.message).toMatch(/never holds a trigger's secret/);
    const twins = await deploy([['p1.json', parentFile()], ['p2.json', parentFile()]]);
    expect(twins.body.error.message).toMatch(/also in p1\.json/);
    const nobody = await deploy([['n.json', loop('n', 'nobody')]]);
    expect(nobody.status).toBe(400);
    expect(nobody.body.error.message).toMatch(/runs the flow named "nobody": there is none/);
    const many = await deploy(Array.from({ length: 7 }, (_, i) => [`f${i}.json`, parentFile()] as [string, unknown]));
    expect(many.body.error.message).toMatch(/at most 6 flows/);
  });
});

describe('stitch export / stitch deploy (CLI processes)', () => {
  let fresh: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    fresh = await createTestDatabase();
  });
  afterAll(() => fresh?.drop());

  async function cli(args: string[], env: Record<string, string> = {}) {
    const p = spawnStitch(args, { STITCH_SECRET: 'flow-files-secret-0123', ...env });
    const code = await p.exited;
    return { code, output: p.output(), stdout: p.stdout() };
  }
  const onFresh = (args: string[]) => cli(args, { DATABASE_URL: fresh.url });
  const filesOf = (d: string) => Object.fromEntries(readdirSync(d).sort().map((f) => [f, readFileSync(path.join(d, f), 'utf8')]));

  it('export → deploy into a fresh database → export gives identical files; again: no version; one invalid flow: nothing changes', async () => {
    const a = path.join(dir, 'a');
    const exported = await cli(['export', '--url', t.url, '--dir', a]);
    expect(exported.code, exported.output).toBe(0);
    expect(Object.keys(filesOf(a))).toEqual(['other.json', 'parent.json', 'transcribe-child.json']);
    expect(filesOf(a)['parent.json']).toContain('"flowName": "transcribe child"');

    const deployed = await onFresh(['deploy', a, '--message', 'from git']);
    expect(deployed.code, deployed.output).toBe(0);
    expect(deployed.stdout).toMatch(/created\s+transcribe child \(transcribe-child\.json\): v1; budget none → \$2; schedules \+1 −0; triggers added: child-hook/);
    expect(deployed.stdout).toMatch(/Webhook trigger "child-hook" of "transcribe child": its signing secret, shown this once: \S{40,}/);

    const b = path.join(dir, 'b');
    expect((await onFresh(['export', '--dir', b])).code).toBe(0);
    expect(filesOf(b)).toEqual(filesOf(a));

    const again = await onFresh(['deploy', a]);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout.match(/unchanged\s+\S.*: v1$/gm)).toHaveLength(3);
    // An exported file runs as it is: its sub-flow is looked up by name, and the run makes no version
    // (the dry run below still finds parent at v1).
    const ran = await cli(['run', path.join(a, 'parent.json')], { DATABASE_URL: fresh.url });
    expect(ran.output).toContain('Run completed');

    // One invalid flow next to a changed one: refused, exit 1, every flow as it was.
    const c = path.join(dir, 'c');
    mkdirSync(c);
    cpSync(a, c, { recursive: true });
    writeFileSync(path.join(c, 'parent.json'), filesOf(a)['parent.json'].replace('"x": 200', '"x": 240'));
    writeFileSync(path.join(c, 'broken.json'), JSON.stringify({ name: 'broken', graph: { nodes: [node('x', 'teleport', 0)], edges: [] } }));
    const refused = await onFresh(['deploy', c]);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/refused, nothing changed/);
    expect(refused.output).toMatch(/flow "broken": .*teleport/);
    rmSync(path.join(c, 'broken.json'));
    const dry = await onFresh(['deploy', c, '--dry-run']);
    expect(dry.stdout).toMatch(/Dry run: nothing was changed/);
    expect(dry.stdout).toMatch(/updated\s+parent \(parent\.json\): v2/);
    const d = path.join(dir, 'd');
    expect((await onFresh(['export', '--dir', d])).code).toBe(0);
    expect(filesOf(d)).toEqual(filesOf(a));
  }, 300_000); // seven CLI processes, each starting Stitch, on a machine the suite shares
});
