/**
 * The only module that reads `process.env`. `getConfig()` merges, in increasing priority,
 * `.env`, `.env.local` (read once, from the working directory) and the process environment
 * into one typed, frozen object. Nothing happens at import time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { secretSource, withVaultSecrets, type SecretSource } from './vault/resolve';

export interface WorkerKeys {
  anthropicApiKey: string | undefined;
  minimaxApiKey: string | undefined;
  elevenlabsApiKey: string | undefined;
  shotstackApiKey: string | undefined;
  /**
   * Every other `*_API_KEY`, `*_API_ENDPOINT` and `*_API_URL` variable, camel-cased:
   * `WEATHER_API_KEY` → `weatherApiKey`, `MY_API_ENDPOINT` → `myApiEndpoint`; and every other
   * variable of a vendor — one with such a key, or a built-in integration's — likewise:
   * `MINIMAX_GROUP_ID` → `minimaxGroupId`, `WEATHER_UNITS` → `weatherUnits`. A new worker's
   * settings therefore reach `getConfig().workers` without editing this file.
   */
  [key: string]: string | undefined;
}

/** Vendors whose every `<VENDOR>_*` variable reaches `workers`, besides those with an `*_API_KEY`-like variable. */
const BUILT_IN_VENDORS = ['ANTHROPIC', 'MINIMAX', 'ELEVENLABS', 'SHOTSTACK'];

export interface Config {
  /** External PostgreSQL; unset = the embedded database under `dataDir`. */
  databaseUrl: string | undefined;
  /** Where the embedded database, local media and other state live. */
  dataDir: string;
  /** Public base URL of this Stitch server, used in callback URLs. */
  baseUrl: string;
  host: string;
  port: number;
  /** Bearer key for management routes; unset = loopback only. */
  apiKey: string | undefined;
  /** HMAC secret for callback tokens; unset = generated once and kept in the database. */
  secret: string | undefined;
  /** Jobs one queue runner executes at once. */
  concurrency: number;
  /** Jobs a runner fetches (and locks) per queue query; 0 = one at a time. Default: concurrency + 1. */
  fetchBatchSize: number;
  /** Seconds between runner heartbeats. */
  heartbeatSeconds: number;
  /** A runner silent for this long is presumed dead and its jobs are released. */
  staleRunnerSeconds: number;
  /** How long a process waits for a database that is down (at start, or after an outage) before it gives up. */
  databaseWaitSeconds: number;
  logLevel: string;
  /** Request body limit for the HTTP API, in bytes. */
  bodyLimitBytes: number;
  /** Allow the http-webhook worker to call private, loopback and link-local addresses. */
  webhookAllowPrivate: boolean;
  /** HMAC key for the http-webhook worker's signature header; unset = derived from the callback secret. */
  webhookSigningSecret: string | undefined;
  /** Where media is stored (src/lib/storage). */
  storage: StorageConfig;
  /** Sub-flows nested deeper than this fail at run time (`STITCH_MAX_FLOW_DEPTH`). */
  maxFlowDepth: number;
  /** Per-integration limit overrides by worker type (src/lib/workers/limits.ts holds the defaults). */
  integrationLimits: Record<string, IntegrationLimitConfig>;
  /** Vault key (base64 or hex, 32 bytes); unset = a key file beside the embedded database (src/lib/vault/key.ts). */
  encryptionKey: string | undefined;
  /** A schedule tick this late is "missed" (the processes were down): its catchUp mode decides. */
  scheduleMisfireSeconds: number;
  /** How long a step-cache node waits for an identical node executing elsewhere (`STITCH_CACHE_WAIT_SECONDS`). */
  cacheWaitSeconds: number;
  /** How long finished runs are kept (`STITCH_RETENTION`); flows may say otherwise (src/lib/runs/retention.ts). */
  retention: RetentionConfig;
  /** At most one alert message per flow, event and target in this many seconds (`STITCH_ALERT_WINDOW_SECONDS`). */
  alertWindowSeconds: number;
  /** OpenTelemetry trace export; undefined = off (no SDK is loaded). */
  tracing: TracingConfig | undefined;
  /** Bounds on what clients can grow or send (docs/architecture.md, "Limits"). */
  limits: Limits;
  /** `*_API_KEY`-style values: the environment first, then the vault (src/lib/vault/resolve.ts). */
  workers: WorkerKeys;
}

/** The standard OTEL_* variables Stitch honours (docs/operations.md, "Tracing"). */
export interface TracingConfig {
  /** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  serviceName: string;
  /** OTEL_EXPORTER_OTLP_(TRACES_)HEADERS: `key=value,key2=value2`. */
  headers: Record<string, string>;
}

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/** `key=value,…` with URL-encoded values (the OTEL_*_HEADERS format). */
function parseOtelHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

/** Tracing from the standard variables: on when an OTLP endpoint is set and the SDK is not disabled. */
function parseTracing(nonEmpty: (name: string) => string | undefined): TracingConfig | undefined {
  if (nonEmpty('OTEL_SDK_DISABLED') === 'true' || nonEmpty('OTEL_TRACES_EXPORTER') === 'none') return undefined;
  const base = nonEmpty('OTEL_EXPORTER_OTLP_ENDPOINT');
  const url = nonEmpty('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url) return undefined;
  const protocol = nonEmpty('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? nonEmpty('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL must be ${OTLP_PROTOCOLS.join(' or ')} (grpc is not supported), got "${protocol}"`);
  }
  return Object.freeze({
    url,
    protocol: protocol as TracingConfig['protocol'],
    serviceName: nonEmpty('OTEL_SERVICE_NAME') ?? 'stitch',
    headers: { ...parseOtelHeaders(nonEmpty('OTEL_EXPORTER_OTLP_HEADERS')), ...parseOtelHeaders(nonEmpty('OTEL_EXPORTER_OTLP_TRACES_HEADERS')) },
  });
}

/**
 * Every collection a client can grow has a bound, and so has every stored input: each is a
 * variable with a default, and a row of the "Limits" table in docs/architecture.md
 * (`test/limits-documented.test.ts` holds the two together, and README and .env.example with them).
 */
export const LIMIT_VARIABLES = {
  schedulesPerFlow: { variable: 'STITCH_MAX_SCHEDULES_PER_FLOW', default: 100 },
  scheduleInputBytes: { variable: 'STITCH_MAX_SCHEDULE_INPUT_BYTES', default: 16_384 },
  triggersPerFlow: { variable: 'STITCH_MAX_TRIGGERS_PER_FLOW', default: 100 },
  credentials: { variable: 'STITCH_MAX_CREDENTIALS', default: 500 },
  idempotencyHours: { variable: 'STITCH_IDEMPOTENCY_HOURS', default: 24 },
  remoteTypes: { variable: 'STITCH_MAX_REMOTE_TYPES', default: 200 },
  remoteTypesPerWorker: { variable: 'STITCH_MAX_REMOTE_TYPES_PER_WORKER', default: 50 },
  remoteDefinitionBytes: { variable: 'STITCH_MAX_REMOTE_DEFINITION_BYTES', default: 16_384 },
  remoteWorkers: { variable: 'STITCH_MAX_REMOTE_WORKERS', default: 1000 },
  remoteOfflineSeconds: { variable: 'STITCH_REMOTE_OFFLINE_SECONDS', default: 604_800 },
  mcpSessions: { variable: 'STITCH_MAX_MCP_SESSIONS', default: 500 },
  mcpSessionIdleSeconds: { variable: 'STITCH_MCP_SESSION_IDLE_SECONDS', default: 1800 },
  streamChars: { variable: 'STITCH_STREAM_MAX_CHARS', default: 1_000_000 },
  /** Runs one bulk action may act on (src/lib/runs/bulk.ts); a filter matching more is refused. */
  bulkRuns: { variable: 'STITCH_MAX_BULK_RUNS', default: 10_000 },
  /** Bulk jobs kept: the oldest finished go first; running ones are never dropped. */
  bulkJobs: { variable: 'STITCH_MAX_BULK_JOBS', default: 1000 },
  alertsPerFlow: { variable: 'STITCH_MAX_ALERTS_PER_FLOW', default: 10 },
  datasets: { variable: 'STITCH_MAX_DATASETS', default: 200 },
  datasetRows: { variable: 'STITCH_MAX_DATASET_ROWS', default: 1000 },
  datasetVersions: { variable: 'STITCH_MAX_DATASET_VERSIONS', default: 10 },
  experiments: { variable: 'STITCH_MAX_EXPERIMENTS', default: 100 },
  experimentVariants: { variable: 'STITCH_MAX_EXPERIMENT_VARIANTS', default: 10 },
  runTags: { variable: 'STITCH_MAX_RUN_TAGS', default: 16 },
  deployFlows: { variable: 'STITCH_MAX_DEPLOY_FLOWS', default: 500 },
} as const;

export type Limits = { readonly [K in keyof typeof LIMIT_VARIABLES]: number };

function parseLimits(env: Record<string, string | undefined>): Limits {
  const entries = Object.entries(LIMIT_VARIABLES).map(([field, { variable, default: fallback }]) => {
    const value = intOf(env[variable], fallback, variable);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${variable} must be a whole number of at least 1, got "${env[variable]}"`);
    return [field, value];
  });
  return Object.freeze(Object.fromEntries(entries)) as Limits;
}

/** `STITCH_STORAGE=local` (default: files under `dataDir/files`, served at `/files/…`) or `s3`. */
export interface StorageConfig {
  driver: 'local' | 's3';
  s3: {
    bucket: string | undefined;
    region: string;
    /** S3-compatible endpoint (R2, Supabase Storage, MinIO); unset = AWS. */
    endpoint: string | undefined;
    accessKeyId: string | undefined;
    secretAccessKey: string | undefined;
    /** Public base URL of the bucket; unset = `${endpoint}/${bucket}` (or the AWS bucket URL). */
    publicUrl: string | undefined;
    forcePathStyle: boolean;
  };
}

/** Days a finished run of each status is kept; a status left out is kept for ever. */
export type RetentionPolicy = Partial<Record<'completed' | 'failed' | 'cancelled', number>>;

export interface RetentionConfig {
  /** `STITCH_RETENTION=completed=30,failed=90,cancelled=30` (days; unset = keep every run). */
  policy: RetentionPolicy;
  /** Root runs (each with its sub-flow runs) one pruning transaction deletes (`STITCH_RETENTION_BATCH`). */
  batch: number;
  /** Seconds between pruning passes once nothing is left to prune (`STITCH_RETENTION_INTERVAL_SECONDS`). */
  intervalSeconds: number;
}

export const RETENTION_STATUSES = ['completed', 'failed', 'cancelled'] as const;

/** `completed=30,failed=90` → `{completed: 30, failed: 90}`: days, fractions allowed. */
export function parseRetention(text: string | undefined, name = 'STITCH_RETENTION'): RetentionPolicy {
  const policy: RetentionPolicy = {};
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(completed|failed|cancelled)\s*=\s*(\d+(?:\.\d+)?)\s*d?$/.exec(part);
    if (!match) throw new Error(`${name} is a list like completed=30,failed=90,cancelled=30 (days a finished run of that status is kept), got "${part}"`);
    policy[match[1] as keyof RetentionPolicy] = Number(match[2]);
  }
  return Object.freeze(policy);
}

/** Any field left out keeps the worker type's default. */
export interface IntegrationLimitConfig {
  /** Jobs of this worker type in flight at once, across all processes (async jobs count until their callback). */
  maxInFlight?: number;
  /** Executions started per `intervalSeconds`, across all processes. */
  maxRequests?: number;
  intervalSeconds?: number;
}

const LIMIT_FIELDS: Record<string, keyof IntegrationLimitConfig> = {
  MAX_IN_FLIGHT: 'maxInFlight',
  MAX_REQUESTS: 'maxRequests',
  INTERVAL_SECONDS: 'intervalSeconds',
};

/**
 * `STITCH_LIMITS` (JSON: `{"minimax":{"maxInFlight":2}}`), then per-type variables such as
 * `STITCH_LIMIT_MINIMAX_MAX_IN_FLIGHT=2` or `STITCH_LIMIT_HTTP_WEBHOOK_MAX_REQUESTS=30`.
 */
function parseIntegrationLimits(env: Record<string, string | undefined>): Record<string, IntegrationLimitConfig> {
  const limits: Record<string, IntegrationLimitConfig> = {};
  if (env.STITCH_LIMITS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.STITCH_LIMITS);
    } catch {
      throw new Error('STITCH_LIMITS must be JSON like {"minimax":{"maxInFlight":2,"maxRequests":10,"intervalSeconds":60}}');
    }
    for (const [type, value] of Object.entries(parsed as Record<string, Record<string, unknown>>)) {
      limits[type] = {};
      for (const field of Object.values(LIMIT_FIELDS)) {
        if (value?.[field] !== undefined) limits[type][field] = intOf(String(value[field]), 0, `STITCH_LIMITS.${type}.${field}`);
      }
    }
  }
  for (const [name, value] of Object.entries(env)) {
    const match = /^STITCH_LIMIT_([A-Z0-9_]+?)_(MAX_IN_FLIGHT|MAX_REQUESTS|INTERVAL_SECONDS)$/.exec(name);
    if (!match || value === undefined || value === '') continue;
    const type = match[1].toLowerCase().replace(/_/g, '-');
    (limits[type] ??= {})[LIMIT_FIELDS[match[2]]] = intOf(value, 0, name);
  }
  return limits;
}

let fileEnvCache: Record<string, string> | undefined;

/** Parse `KEY=value` lines (with optional quotes and `export`), ignoring comments. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2];
    else value = value.replace(/\s+#.*$/, '');
    out[match[1]] = value;
  }
  return out;
}

function readFileEnv(): Record<string, string> {
  if (fileEnvCache) return fileEnvCache;
  const merged: Record<string, string> = {};
  for (const name of ['.env', '.env.local']) {
    try {
      Object.assign(merged, parseDotenv(readFileSync(path.resolve(name), 'utf8')));
    } catch {
      // A missing .env file is the normal case.
    }
  }
  fileEnvCache = merged;
  return merged;
}

function camelCase(envName: string): string {
  return envName.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function intOf(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${value}"`);
  return n;
}

/** Build the configuration from an environment (default: `.env` files + `process.env`). */
export function getConfig(env: Record<string, string | undefined> = { ...readFileEnv(), ...process.env }): Config {
  const nonEmpty = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const port = intOf(env.PORT, 3000, 'PORT');
  const host = nonEmpty('HOST') ?? '127.0.0.1';
  const workers: WorkerKeys = {
    anthropicApiKey: nonEmpty('ANTHROPIC_API_KEY'),
    minimaxApiKey: nonEmpty('MINIMAX_API_KEY'),
    elevenlabsApiKey: nonEmpty('ELEVENLABS_API_KEY'),
    shotstackApiKey: nonEmpty('SHOTSTACK_API_KEY'),
  };
  const vendorKey = /^([A-Z][A-Z0-9]*?)_(API_KEY|API_ENDPOINT|API_URL)$/;
  const vendors = new Set(BUILT_IN_VENDORS);
  for (const name of Object.keys(env)) {
    const vendor = vendorKey.exec(name)?.[1];
    if (vendor && vendor !== 'STITCH' && nonEmpty(name)) vendors.add(vendor);
  }
  for (const name of Object.keys(env)) {
    const vendor = name.split('_')[0];
    const isVendorSetting = vendors.has(vendor) && name.length > vendor.length + 1;
    if ((isVendorSetting || /_(API_KEY|API_ENDPOINT|API_URL)$/.test(name)) && nonEmpty(name)) {
      const key = camelCase(name);
      if (workers[key] === undefined) workers[key] = env[name];
    }
  }
  const baseUrl = (nonEmpty('STITCH_BASE_URL') ?? nonEmpty('NEXT_PUBLIC_BASE_URL') ?? `http://localhost:${port}`).replace(
    /\/+$/,
    '',
  );
  const concurrency = Math.max(1, intOf(env.STITCH_CONCURRENCY, 10, 'STITCH_CONCURRENCY'));
  return Object.freeze({
    databaseUrl: nonEmpty('DATABASE_URL'),
    dataDir: path.resolve(nonEmpty('STITCH_DATA_DIR') ?? '.stitch'),
    baseUrl,
    host,
    port,
    apiKey: nonEmpty('STITCH_API_KEY'),
    secret: nonEmpty('STITCH_SECRET'),
    concurrency,
    fetchBatchSize: intOf(env.STITCH_FETCH_BATCH, concurrency + 1, 'STITCH_FETCH_BATCH'),
    heartbeatSeconds: Math.max(0.2, intOf(env.STITCH_HEARTBEAT_SECONDS, 5, 'STITCH_HEARTBEAT_SECONDS')),
    staleRunnerSeconds: Math.max(1, intOf(env.STITCH_STALE_RUNNER_SECONDS, 30, 'STITCH_STALE_RUNNER_SECONDS')),
    databaseWaitSeconds: Math.max(0, intOf(env.STITCH_DB_WAIT_SECONDS, 600, 'STITCH_DB_WAIT_SECONDS')),
    logLevel: nonEmpty('STITCH_LOG_LEVEL') ?? nonEmpty('LOG_LEVEL') ?? 'info',
    bodyLimitBytes: intOf(env.STITCH_BODY_LIMIT_BYTES, 1024 * 1024, 'STITCH_BODY_LIMIT_BYTES'),
    webhookAllowPrivate: env.STITCH_WEBHOOK_ALLOW_PRIVATE === '1' || env.STITCH_WEBHOOK_ALLOW_PRIVATE === 'true',
    webhookSigningSecret: nonEmpty('STITCH_WEBHOOK_SIGNING_SECRET'),
    storage: Object.freeze({
      driver: nonEmpty('STITCH_STORAGE') === 's3' ? ('s3' as const) : ('local' as const),
      s3: Object.freeze({
        bucket: nonEmpty('STITCH_S3_BUCKET'),
        region: nonEmpty('STITCH_S3_REGION') ?? 'us-east-1',
        endpoint: nonEmpty('STITCH_S3_ENDPOINT'),
        accessKeyId: nonEmpty('STITCH_S3_ACCESS_KEY_ID'),
        secretAccessKey: nonEmpty('STITCH_S3_SECRET_ACCESS_KEY'),
        publicUrl: nonEmpty('STITCH_S3_PUBLIC_URL')?.replace(/\/+$/, ''),
        forcePathStyle: env.STITCH_S3_FORCE_PATH_STYLE === '1' || env.STITCH_S3_FORCE_PATH_STYLE === 'true',
      }),
    }),
    maxFlowDepth: intOf(env.STITCH_MAX_FLOW_DEPTH, 8, 'STITCH_MAX_FLOW_DEPTH'),
    integrationLimits: parseIntegrationLimits(env),
    encryptionKey: nonEmpty('STITCH_ENCRYPTION_KEY'),
    scheduleMisfireSeconds: Math.max(1, intOf(env.STITCH_SCHEDULE_MISFIRE_SECONDS, 60, 'STITCH_SCHEDULE_MISFIRE_SECONDS')),
    cacheWaitSeconds: intOf(env.STITCH_CACHE_WAIT_SECONDS, 120, 'STITCH_CACHE_WAIT_SECONDS'),
    retention: Object.freeze({
      policy: parseRetention(nonEmpty('STITCH_RETENTION')),
      batch: Math.max(1, intOf(env.STITCH_RETENTION_BATCH, 50, 'STITCH_RETENTION_BATCH')),
      intervalSeconds: Math.max(1, intOf(env.STITCH_RETENTION_INTERVAL_SECONDS, 3600, 'STITCH_RETENTION_INTERVAL_SECONDS')),
    }),
    alertWindowSeconds: intOf(env.STITCH_ALERT_WINDOW_SECONDS, 300, 'STITCH_ALERT_WINDOW_SECONDS'),
    tracing: parseTracing(nonEmpty),
    limits: parseLimits(env),
    workers: Object.freeze(withVaultSecrets(workers, nonEmpty, camelCase)),
  });
}

/** Where variable `name` (ANTHROPIC_API_KEY) gets its value: the environment, the vault, or nowhere. */
export function secretSourceOf(name: string): SecretSource {
  const env: Record<string, string | undefined> = { ...readFileEnv(), ...process.env };
  return secretSource(name, (n) => (env[n] === '' ? undefined : env[n]));
}
