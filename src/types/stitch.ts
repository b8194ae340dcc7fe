/**
 * Stitch's vocabulary: graph, run, node-instance, callback and worker-definition types.
 * Everything that crosses a module boundary (engine ↔ db ↔ workers ↔ server ↔ canvas) is declared here.
 */

// ───────────────────────────── Flow graphs (React Flow JSON) ─────────────────────────────

/**
 * A worker node's settings (`node.data.config`). Workers read arbitrary keys from it
 * (`config.endpoint || 'https://…'`), so values are deliberately untyped: the worker's
 * definition, not this type, says which keys exist.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the seed's workers read config keys untyped
export type NodeConfig = { [key: string]: any };

export const NODE_TYPES = ['start', 'worker', 'ux', 'splitter', 'collector', 'switch', 'end', 'flow'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** A constant (`{value}`) or a dot path into the upstream output (`"scenes.0.title"`). */
export type EdgeMappingSource = string | { value: unknown };
/** `targetField → source`: only mapped fields flow along an edge that has a mapping. */
export type EdgeMapping = Record<string, EdgeMappingSource>;

/** Per-node retry override (`data.retry`) and a worker definition's default policy. */
export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  attempts: number;
  /** Delay before the 2nd attempt; doubles each attempt, with ±25% jitter. */
  backoffMs: number;
  /** Upper bound for one backoff delay. */
  maxBackoffMs: number;
}

export interface VisualNodeData {
  label?: string;
  workerType?: string;
  /** Accepted alias of `workerType` (older exports). */
  worker_type?: string;
  config?: NodeConfig;
  /** A failure of this node does not fail the run; downstream receives `{error}`. */
  continueOnError?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Callback deadline for async workers, overriding the definition's. */
  timeoutSeconds?: number;
  /** On `start` nodes: the fields the run input provides (used by validation). */
  inputSchema?: Record<string, FieldSchema>;
  /** Fair share on worker nodes (docs/limits.md). */
  concurrency?: ConcurrencySetting;
  rateLimit?: RateLimitSetting;
  [key: string]: unknown;
}

export interface VisualNode {
  id: string;
  type?: string;
  position?: { x: number; y: number };
  data?: VisualNodeData;
  [key: string]: unknown;
}

export interface VisualEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  targetHandle?: string | null;
  data?: { mapping?: EdgeMapping; case?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** What the canvas exports and `POST /api/flows` accepts. */
export interface VisualGraph {
  nodes: VisualNode[];
  edges: VisualEdge[];
  [key: string]: unknown;
}

/** One node of the compiled, immutable execution graph. */
export interface ExecutionNode {
  id: string;
  type: NodeType;
  label?: string;
  workerType?: string;
  config: NodeConfig;
  continueOnError: boolean;
  /** Node-level retry override (merged over the worker definition's at run time). */
  retry?: Partial<RetryPolicy>;
  timeoutSeconds?: number;
  inputSchema?: Record<string, FieldSchema>;
  /** Splitter ids enclosing this node, outermost first (absent or empty: top level). */
  scope?: string[];
  /** Step cache setting (`data.cache`); overrides the worker definition's `cache`. */
  cache?: boolean | { ttlSeconds: number };
  /** At most `limit` instances of this node active at once per key value (docs/limits.md). */
  concurrency?: ConcurrencySetting;
  /** At most `limit` starts of this node per window per key value (docs/limits.md). */
  rateLimit?: RateLimitSetting;
}

/**
 * `concurrency: {limit, key?}` on a node's `data` or a flow's graph: `key` is a template over the
 * node's input (a flow's: the run input) with the run's tags under `tags` (`"{{tags.customer}}"`);
 * without it the limit is global.
 */
export interface ConcurrencySetting {
  limit: number;
  key?: string;
}

export type RatePer = 'second' | 'minute' | 'hour';

/** `rateLimit: {limit, per, key?}` on a node's `data`: a budget of starts shared by every process. */
export interface RateLimitSetting {
  limit: number;
  per: RatePer;
  key?: string;
}

export interface ExecutionEdge {
  id: string;
  source: string;
  target: string;
  mapping?: EdgeMapping;
  sourceHandle?: string;
  case?: string;
}

/** The compiled form a run executes: built once per version, cached in memory. */
export interface ExecutionGraph {
  nodes: Record<string, ExecutionNode>;
  edges: ExecutionEdge[];
  /** node id → ids of its outgoing edges' targets, in edge order. */
  adjacency: Record<string, string[]>;
  /** node id → ids of its incoming edges' sources, in edge order. */
  reverseAdjacency: Record<string, string[]>;
  /** node id → incoming edges in edge order (the input-merge order). */
  inEdges: Record<string, ExecutionEdge[]>;
  outEdges: Record<string, ExecutionEdge[]>;
  entryNodes: string[];
  terminalNodes: string[];
  /** A topological order of all nodes. */
  order: string[];
  /** Splitter id → its scope (the subgraph run once per item). Absent in graphs without splitters. */
  scopes?: Record<string, SplitterScope>;
  /** What the flow takes and gives, for the type-check of `flow` nodes that call it (absent in older versions). */
  signature?: FlowSignature;
  /** The graph's `concurrency`: at most `limit` runs of the flow active per key value. */
  concurrency?: ConcurrencySetting;
}

/** A `flow` node's `data.config`: which flow it runs as a child run, at which version. */
export interface SubFlowRef {
  flowId: string;
  /** A saved version number, or `"latest"` (default): the flow's current version when the node runs. */
  version: number | 'latest';
}

/**
 * A flow seen from a `flow` node: the start node's `inputSchema` and the fields the run's output
 * surely / possibly has (`null`: unknowable, e.g. an undeclared run input passed through).
 */
export interface FlowSignature {
  input?: Record<string, FieldSchema>;
  output: { sure: string[] | null; maybe: string[] | null };
}

/** Per-item failure policy of a collector: fail the run (default) or collect errors beside results. */
export type ItemErrorPolicy = 'fail' | 'collect';

/** The subgraph between a splitter and its collector, compiled once per version. */
export interface SplitterScope {
  splitter: string;
  collector: string;
  /** Nodes directly inside the scope (nested splitters and collectors included, their insides not). */
  members: string[];
  /** Scope nodes the splitter feeds, with edge counts: instantiated per item at fan-out. */
  children: Array<{ node: string; edges: number }>;
  /** Edges from the splitter straight to its collector (the item itself is then a result). */
  directEdges: number;
  /** Nodes whose output is an item's result: `config.from`, else the collector's upstreams in edge order. */
  resultNodes: string[];
  /** Path into each result (`config.field`), or undefined for the whole output. */
  resultField?: string;
  onItemError: ItemErrorPolicy;
  /** At most this many items in flight (`config.concurrency` on the splitter). */
  concurrency?: number;
}

/** One case of a switch node: the first case whose condition holds routes the input. */
export interface SwitchCase {
  /** Matched against the outgoing edge's `sourceHandle` or `data.case`. */
  name: string;
  /** A condition in the switch language (`status == "ok" and score >= 0.5`; see docs/nodes.md). */
  when: unknown;
}

export interface ValidationIssue {
  code: string;
  nodeId?: string;
  edgeId?: string;
  field?: string;
  message: string;
  /** Closest existing name when the issue is a likely typo (e.g. the upstream field `promt`). */
  suggestion?: string;
}

// ───────────────────────────── Runs and node instances ─────────────────────────────

export const RUN_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A bulk action on runs (POST /api/runs/bulk) and its progress, as the API and the canvas see it. */
export type BulkAction = 'cancel' | 'retry' | 'rerun';
export interface BulkJob {
  id: string;
  action: BulkAction;
  /** The filter as posted. */
  filter: unknown;
  state: 'running' | 'completed';
  total: number;
  done: number;
  succeeded: number;
  skipped: number;
  failed: number;
  createdAt: string;
  finishedAt: string | null;
}

export const NODE_STATUSES = [
  'pending',
  'running',
  'waiting_for_user',
  'completed',
  'failed',
  'cancelled',
  'skipped',
] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
export const FINAL_NODE_STATUSES: readonly NodeStatus[] = ['completed', 'failed', 'cancelled', 'skipped'];

/** What a worker reports through `triggerCallback` (or a vendor through the callback URL). */
export interface WorkerCallback {
  status: 'completed' | 'failed';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- worker outputs are free-form JSON
  output?: any;
  error?: string;
}

/** Progress and intermediate state a worker stores with `updateNodeState`. */
export interface NodeStateUpdate {
  status: NodeStatus;
  output?: unknown;
  error?: string;
  metadata?: { progress?: number; message?: string; [key: string]: unknown };
}

export interface RunRow {
  id: string;
  flowId: string | null;
  versionId: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  trigger: unknown;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** A sub-flow's child run: the run and `flow` node instance that started it (else null). */
  parentRunId: string | null;
  parentInstanceId: string | null;
  /** What the run was started with to say whose it is (`{customer: "acme"}`); never a secret. */
  tags: Record<string, string>;
  /** 0…100, higher first: its queued work is ordered as if queued that many minutes earlier. */
  priority: number;
}

/** What a flow's alert listens to (docs/operations.md, "Alerts"). */
export const ALERT_EVENTS = ['run.failed', 'node.failed', 'budget_exceeded', 'run.slower_than'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** One alert of a flow: `on` an event, POST a message `to` a URL. */
export interface AlertSpec {
  on: AlertEvent;
  to: string;
  /** `run.slower_than` only: a run still open this many seconds after its start raises it. */
  seconds?: number;
  /** The message's shape; default `slack` for a Slack incoming-webhook URL, else `json`. */
  format?: 'json' | 'slack';
}

/** A flow as lists show it: its current version and its last run. */
export interface FlowSummary {
  id: string;
  name: string;
  currentVersionId: string | null;
  version: number | null;
  createdAt: string;
  updatedAt: string;
  lastRun: {
    id: string;
    status: RunStatus;
    createdAt: string;
    /** What it cost (GET /api/flows). */
    costUsd?: number;
    /** Mock workers reported some of that cost: an estimate of the real calls, not spend. */
    costMock?: true;
  } | null;
}

export interface NodeRunRow {
  runId: string;
  /** `nodeId` for top-level nodes, `nodeId[2]` / `nodeId[2][0]` for splitter items. */
  instanceId: string;
  nodeId: string;
  status: NodeStatus;
  attempt: number;
  input: unknown;
  output: unknown;
  error: string | null;
  progress: number | null;
  metadata: Record<string, unknown>;
  startedAt: string | null;
  finishedAt: string | null;
  /** Callback deadline (async workers) or answer deadline (UX gates). */
  deadlineAt: string | null;
}

export const EVENT_TYPES = [
  'run:created',
  'run:completed',
  'run:failed',
  'run:cancelled',
  'node:pending',
  'node:running',
  'node:progress',
  'node:completed',
  'node:failed',
  'node:retrying',
  'node:cancelled',
  'node:skipped',
  'node:waiting',
  'node:cached',
  // Fair share: a node or run waits for a concurrency or rate slot (`queued: true`, with its reason), or got one.
  'node:queued',
  'run:queued',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One row of the append-only `stitch_events` log (and one SSE message). */
export interface StitchEvent {
  id: number;
  runId: string;
  instanceId: string | null;
  type: EventType;
  payload: Record<string, unknown>;
  createdAt: string;
}

/** What a worker streams with `streamOutput`: text as it is produced, or a small JSON object (≤ 4 KiB). */
export type StreamChunk = string | { [key: string]: unknown };

/**
 * A node attempt's streamed output as `GET /api/runs/:id/events` delivers it: an SSE message
 * without an `id` (it is not in the event log: streamed output is never stored, only the node's
 * final output is). Parts are numbered from 0 per attempt and arrive once each, in order; adjacent
 * text chunks are merged. A client that subscribes mid-stream first gets what was streamed so far.
 */
export interface StreamMessage {
  type: 'node:stream';
  runId: string;
  instanceId: string;
  attempt: number;
  /** Number of the first part (0-based) in the attempt's stream. */
  seq: number;
  parts: StreamChunk[];
}

// ───────────────────────────── Worker definitions ─────────────────────────────

export type FieldType = 'string' | 'number' | 'boolean' | 'array' | 'object';

export interface FieldSchema {
  type: FieldType;
  required?: boolean;
  /** Shown in the canvas form and docs (optional, as in the original Stitch's definitions). */
  description?: string;
  default?: unknown;
  /** Other names accepted for this field (e.g. `visualPrompt` for `visual_prompt`). */
  aliases?: string[];
}

export interface OutputFieldSchema {
  type: FieldType;
  description?: string;
}

/** A definition's default node config: vendor settings such as `endpoint` and `model`, and any others. */
export interface WorkerConfig {
  /** The vendor API URL. */
  endpoint?: string;
  /** The vendor's model identifier. */
  model?: string;
  [key: string]: unknown;
}

/** The seed's worker definition, plus optional execution policy. */
export interface WorkerDefinition {
  id: string;
  name: string;
  /** `sync`: completes before `execute` returns. `async`: completes when its callback arrives. */
  type: 'sync' | 'async';
  description: string;
  input: Record<string, FieldSchema>;
  output: Record<string, OutputFieldSchema>;
  /** Default node config (the canvas pre-fills it; nodes override it). Optional: none = `{}`. */
  config?: WorkerConfig;
  /** Retry policy; default: 3 attempts, 1 s backoff doubling up to 60 s. */
  retry?: Partial<RetryPolicy>;
  /** Callback deadline for async workers; default 600 s. */
  timeoutSeconds?: number;
  /** Palette group in the canvas. */
  category?: string;
  /** Catalogue only, for types served by remote workers (docs/remote-workers.md). */
  remote?: RemoteWorkerStatus;
  /**
   * Behaviour version, part of every node's fingerprint (default 1): bump it when the worker's
   * output for the same settings and input changes, so re-runs and the step cache stop reusing
   * results of the old behaviour.
   */
  version?: number;
  /** Step-cache default for this worker's nodes (a node's `cache` setting overrides it). */
  cache?: boolean | { ttlSeconds: number };
}

/** How a remote worker type is served: workers heard from within 45 s, and the last time one was. */
export interface RemoteWorkerStatus {
  online: number;
  lastSeenAt: string | null;
  leaseSeconds: number;
}

/** After downtime, a schedule's missed ticks: `none` skips them, `latest` runs the most recent once. */
export type ScheduleCatchUp = 'none' | 'latest';

/** A cron schedule that starts its flow (`/api/flows/:id/schedules`; src/lib/schedules). */
export interface Schedule {
  id: string;
  flowId: string;
  cron: string;
  timezone: string;
  input: unknown;
  enabled: boolean;
  catchUp: ScheduleCatchUp;
  /** Spend cap in USD of every run it starts (null: the flow's default). */
  budgetUsd: number | null;
  /** Tags and priority of every run it starts (docs/limits.md). */
  tags: Record<string, string>;
  priority: number;
  /** The tick the schedule fires at next (null when disabled, or when the expression has no more ticks). */
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastRunId: string | null;
  createdAt: string;
  updatedAt: string;
}
