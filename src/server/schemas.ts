/**
 * The HTTP API's shapes, as zod schemas: they validate requests and generate /api/openapi.json.
 * Response schemas document; they are not re-validated on the way out.
 */
import { ALERT_EVENTS } from '@/types/stitch';
import { z } from './openapi';
import { PRIORITY_MAX, PRIORITY_MIN } from '@/lib/fair/run-tags';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

export const OkSchema = z.object({ ok: z.literal(true) }).openapi('Ok');

const idParam = (name: string, description: string) =>
  z.string().min(1).max(200).openapi({ param: { name, in: 'path' }, description });

export const FlowIdParams = z.object({ id: idParam('id', 'Flow id (uuid)') });
export const FlowVersionParams = z.object({ id: idParam('id', 'Flow id'), versionId: idParam('versionId', 'Version id') });
export const RunIdParams = z.object({ runId: idParam('runId', 'Run id (uuid)') });
export const RunNodeParams = z.object({
  runId: idParam('runId', 'Run id (uuid)'),
  nodeId: idParam('nodeId', 'Node instance id: `node`, or `node[2]` inside a splitter (URL-encoded)'),
});

/** React Flow JSON; the graph compiler validates the rest and lists every problem. */
export const GraphSchema = z
  .object({
    nodes: z.array(z.record(z.string(), z.unknown())).max(5000),
    edges: z.array(z.record(z.string(), z.unknown())).max(20000),
  })
  .catchall(z.unknown())
  .openapi('Graph', { description: 'A React Flow graph: `{nodes:[{id,type,position,data}], edges:[{id,source,target,…}]}`' });

const FlowName = z.string().trim().min(1).max(200);

export const BudgetUsd = z.number().finite().min(0).openapi({ description: 'Spend cap in USD: once a run has spent it, no further priced node starts (soft cap)' });
const FlowBudget = BudgetUsd.nullable().optional().openapi({ description: "Default budget of the flow's runs (null: none)" });
/** A trigger's or a schedule's budget for the runs it starts; null: the flow's default. */
export const TriggerBudget = BudgetUsd.nullable().openapi({ description: "Spend cap in USD of every run it starts (null: the flow's default)" });
export const AlertSchema = z
  .object({
    on: z.enum(ALERT_EVENTS).openapi({ description: 'run.failed, node.failed (after its last attempt), budget_exceeded, or run.slower_than (needs `seconds`)' }),
    to: z.string().max(2048).openapi({ description: 'Where the message is POSTed (signed like http-webhook calls; public addresses only unless STITCH_WEBHOOK_ALLOW_PRIVATE)' }),
    seconds: z.number().optional().openapi({ description: 'run.slower_than: a run still open this many seconds after its start raises the alert' }),
    format: z.enum(['json', 'slack']).optional().openapi({ description: 'Message shape; default slack for hooks.slack.com URLs, else json' }),
  })
  .strict()
  .openapi('Alert');
/** The shape only: targets, thresholds and the per-flow limit are checked by src/lib/alerts/spec.ts. */
export const AlertList = z.array(AlertSchema).max(1000).openapi({ description: "The flow's alerts (at most STITCH_MAX_ALERTS_PER_FLOW); replaces the list" });

export const CreateFlowBody = z.object({ name: FlowName, graph: GraphSchema, budgetUsd: FlowBudget, alerts: AlertList.optional() }).openapi('CreateFlow');
export const UpdateFlowBody = z.object({ graph: GraphSchema, name: FlowName.optional(), budgetUsd: FlowBudget, alerts: AlertList.optional() }).openapi('UpdateFlow');

export const FlowSummarySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    currentVersionId: z.string().nullable(),
    version: z.number().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    lastRun: z
      .object({
        id: z.string(),
        status: z.string(),
        createdAt: z.string(),
        costUsd: z.number().optional(),
        costMock: z.literal(true).optional().openapi({ description: 'Mock workers reported some of the cost: an estimate of the real calls, not spend' }),
      })
      .nullable(),
  })
  .openapi('FlowSummary');

export const FlowSchema = FlowSummarySchema.extend({ graph: GraphSchema.nullable(), alerts: z.array(AlertSchema) }).openapi('Flow');

/** Where a version came from: a save, or `stitch deploy` (with its message). */
const VersionOriginFields = {
  deployed: z.boolean().openapi({ description: 'Made by a deploy of flow files (`stitch deploy`, `POST /api/deploy`), not a save' }),
  message: z.string().nullable().openapi({ description: "The deploy's message (`--message`, e.g. the commit's); null for saves" }),
};

export const VersionSummarySchema = z
  .object({ id: z.string(), version: z.number(), createdAt: z.string(), ...VersionOriginFields })
  .openapi('FlowVersionSummary');

export const VersionSchema = z
  .object({
    id: z.string(),
    flowId: z.string().nullable(),
    version: z.number(),
    visualGraph: GraphSchema,
    executionGraph: z.unknown(),
    createdAt: z.string(),
    ...VersionOriginFields,
  })
  .openapi('FlowVersion');

export const RunTagsSchema = z
  .record(z.string(), z.string())
  .openapi('RunTags', {
    description: 'Tags of the run: names of 1–64 letters, digits, `_` or `-`; values of 1–256 characters; at most 16 (STITCH_MAX_RUN_TAGS). Never secrets.',
    example: { customer: 'acme', plan: 'pro' },
  });
export const RunPriority = z
  .number()
  .int()
  .min(PRIORITY_MIN)
  .max(PRIORITY_MAX)
  .openapi({ description: `Higher first, ${PRIORITY_MIN}…${PRIORITY_MAX} (default 0): when work is backed up, a run of priority p starts as if queued p minutes earlier (docs/limits.md)` });
export const RunBody = z
  .object({ input: z.unknown().optional(), budgetUsd: BudgetUsd.optional(), tags: RunTagsSchema.optional(), priority: RunPriority.optional() })
  .openapi('RunRequest');

/** Save-time warnings: possibly-missing optional inputs (errors are a 400 instead). */
export const WarningsSchema = z
  .array(
    z.object({
      code: z.string(),
      nodeId: z.string().optional(),
      edgeId: z.string().optional(),
      field: z.string().optional(),
      message: z.string(),
    }),
  )
  .openapi('ValidationWarnings');

export const StartedRunSchema = z
  .object({
    runId: z.string(),
    versionId: z.string(),
    status: z.string(),
    statusUrl: z.string().openapi({ description: 'GET this for the run and its node states' }),
  })
  .openapi('StartedRun');

export const RUN_STATUS = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']);

/** Every list is one page (`limit`, default 50, at most 200) and a cursor for the next (src/lib/db/queries/keyset-cursor.ts). */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: 'limit', in: 'query' }, description: 'Items per page (1–200, default 50)' }),
  cursor: z.string().max(200).optional().openapi({ param: { name: 'cursor', in: 'query' }, description: '`nextCursor` of the previous page' }),
});

/** `nextCursor`: pass it as `cursor` for the next page; null on the last. */
export const NextCursor = z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last page' });

const queryParam = (name: string, description: string) =>
  z
    .union([z.string().max(2000), z.array(z.string().max(2000)).max(20)])
    .optional()
    .openapi({ param: { name, in: 'query' }, description });

/**
 * The run search's query (src/lib/runs/filter.ts). Besides these, `input.<dotted.path>=<value>`
 * (a field of the run input equals the value, as text) and `tag.<key>=<value>` (the run carries the
 * tag); any other name is refused.
 */
export const RunListQuery = z
  .object({
    flowId: queryParam('flowId', 'Runs of this flow (uuid)'),
    status: queryParam('status', 'Any of these statuses, comma-separated or repeated: `failed,cancelled`'),
    trigger: queryParam('trigger', 'Trigger types, comma-separated: `api`, `cli`, `webhook`, `schedule`, `flow`, `rerun`, `mcp`'),
    createdAfter: queryParam('createdAfter', 'Created at or after: ISO 8601, or a duration back from now (`24h`, `7d`, `30m`)'),
    createdBefore: queryParam('createdBefore', 'Created before: ISO 8601 or a duration back from now'),
    finishedAfter: queryParam('finishedAfter', 'Finished at or after: ISO 8601 or a duration back from now'),
    finishedBefore: queryParam('finishedBefore', 'Finished before: ISO 8601 or a duration back from now'),
    costAbove: queryParam('costAbove', "The run's recorded spend is above this (USD)"),
    costBelow: queryParam('costBelow', "The run's recorded spend is below this (USD)"),
    error: queryParam('error', "The run's error contains this text (case-insensitive)"),
    ids: queryParam('ids', 'These runs (uuids, comma-separated, at most 1,000)'),
    ...PageQuery.shape,
  })
  .catchall(z.union([z.string().max(2000), z.array(z.string().max(2000)).max(20)]));

const NodeStateSchema = z.object({
  nodeId: z.string(),
  status: z.string(),
  attempt: z.number(),
  input: z.unknown(),
  output: z.unknown(),
  error: z.string().nullable(),
  progress: z.number().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  usage: z
    .array(z.object({ unit: z.string(), quantity: z.number(), usd: z.number(), mock: z.literal(true).optional() }))
    .openapi({ description: 'What the vendor billed, by unit (reportUsage), priced from the price table' }),
  costUsd: z.number().openapi({ description: 'Sum of usage in USD' }),
  origin: z.enum(['executed', 'reused', 'cached']).nullable().openapi({ description: 'Where a settled node\'s output came from' }),
  reusedFrom: z
    .object({ runId: z.string(), instanceId: z.string() })
    .nullable()
    .openapi({ description: 'The earlier run instance a reused or cached output came from' }),
});

export const RunSummarySchema = z
  .object({
    id: z.string(),
    flowId: z.string().nullable(),
    versionId: z.string(),
    status: RUN_STATUS,
    input: z.unknown(),
    output: z.unknown(),
    error: z.string().nullable(),
    trigger: z.unknown(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    parentRunId: z.string().nullable().openapi({ description: 'For a sub-flow run: the run whose `flow` node started it' }),
    parentInstanceId: z.string().nullable().openapi({ description: 'For a sub-flow run: that `flow` node instance' }),
    tags: RunTagsSchema,
    priority: z.number().int().openapi({ description: 'Higher first (default 0)' }),
  })
  .openapi('RunSummary');

export const RunSchema = RunSummarySchema.extend({
  nodes: z.record(z.string(), NodeStateSchema).openapi({ description: 'Node instances keyed by instance id' }),
  waitingFor: z
    .array(
      z.object({
        instanceId: z.string(),
        prompt: z.unknown(),
        inputSchema: z.unknown(),
        input: z.unknown(),
        deadlineAt: z.string().nullable(),
      }),
    )
    .openapi({ description: 'UX gates waiting for a human (POST /api/stitch/complete/{runId}/{instanceId})' }),
  cost: z
    .object({ usd: z.number(), savedUsd: z.number(), mock: z.literal(true).optional() })
    .openapi({ description: 'What the run cost, and what its reused and cached nodes cost when they executed' }),
  rerunOf: z.string().nullable().openapi({ description: 'The run this one re-ran (POST /api/runs/{runId}/rerun)' }),
  budgetUsd: z.number().nullable().openapi({ description: 'Spend cap in USD, if any' }),
}).openapi('Run');

export const RunListSchema = z
  .object({
    runs: z.array(RunSummarySchema.extend({ costUsd: z.number().openapi({ description: "The run's own recorded spend in USD" }) })),
    nextCursor: NextCursor,
  })
  .openapi('RunList');

export const CallbackBody = z
  .object({
    status: z.enum(['completed', 'failed']),
    output: z.unknown().optional(),
    error: z.string().max(100_000).nullable().optional(),
  })
  .openapi('Callback');

export const CallbackQuery = z.object({
  token: z.string().max(200).optional().openapi({ param: { name: 'token', in: 'query' }, description: 'The token in the URL from buildCallbackUrl' }),
});

export const CallbackResultSchema = z.object({ ok: z.literal(true), duplicate: z.boolean().optional() }).openapi('CallbackResult');

export const CompleteBody = z.object({ input: z.unknown().optional() }).openapi('UserTaskAnswer');

/** A trigger's tags: each value a template over the delivery's JSON body, or a constant. */
const TriggerTags = z.record(z.string(), z.string()).openapi({
  description: 'Tags of every run it starts, each a template over the JSON body (`{"customer": "{{account.id}}"}`) or a constant; a tag whose template finds nothing is left out',
  example: { customer: '{{account.id}}', source: 'github' },
});

export const CreateTriggerBody = z
  .object({
    slug: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/, '3–64 letters, digits, "-" or "_", starting with a letter or digit')
      .optional(),
    budgetUsd: TriggerBudget.optional(),
    tags: TriggerTags.optional(),
    priority: RunPriority.optional().openapi({ description: 'Priority of every run it starts (default 0)' }),
  })
  // A misspelt key (`budget_usd`) is refused, not ignored: the trigger would start runs without it.
  .strict()
  .openapi('CreateTrigger');

export const UpdateTriggerBody = z
  .object({ budgetUsd: TriggerBudget.optional(), tags: TriggerTags.optional(), priority: RunPriority.optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'Nothing to change: give budgetUsd, tags or priority' })
  .openapi('UpdateTrigger');

export const TriggerSchema = z
  .object({
    id: z.string(),
    flowId: z.string(),
    slug: z.string(),
    url: z.string(),
    budgetUsd: TriggerBudget,
    tags: TriggerTags,
    priority: z.number().int(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi('Trigger');

export const CreatedTriggerSchema = TriggerSchema.extend({
  secret: z.string().openapi({ description: 'Shown once: sign each delivery with HMAC-SHA256(secret, raw body)' }),
}).openapi('CreatedTrigger');

export const WebhookParams = z.object({ slug: idParam('slug', 'The trigger slug') });

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...statuses: Array<400 | 401 | 404 | 409 | 413 | 501 | 503>) {
  const text: Record<number, string> = {
    400: 'Invalid request (body, params or graph)',
    401: 'Missing or invalid credentials',
    404: 'Not found',
    409: 'Conflict with the current state',
    413: 'Body too large',
    501: 'Not supported by this engine',
    503: 'Unavailable',
  };
  return Object.fromEntries(statuses.map((s) => [s, json(ErrorSchema, text[s])]));
}
