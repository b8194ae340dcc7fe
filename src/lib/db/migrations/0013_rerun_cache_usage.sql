-- 0013: what a node's work is (its fingerprint), what it cost (usage), re-runs that reuse earlier
-- work, a step cache across runs, and budgets. See docs/rerun-and-cache.md.

-- Usage a worker reported (`reportUsage`), priced when reported: a later price change never
-- rewrites what a past run cost. One row per report line; every attempt's usage counts (it was billed).
CREATE TABLE stitch_node_usage (
  id          bigserial PRIMARY KEY,
  run_id      uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  instance_id text NOT NULL,
  attempt     integer NOT NULL,
  worker_type text,
  unit        text NOT NULL,
  quantity    double precision NOT NULL,
  usd         double precision NOT NULL DEFAULT 0,
  -- Reported by a mock (what the real call would have used): shown, never counted as spend.
  mock        boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stitch_node_usage_run_idx ON stitch_node_usage (run_id, instance_id);

-- The static half of a node's fingerprint per version: node and worker type, the worker
-- definition's version, settings and inbound mappings (src/lib/rerun/fingerprint.ts). Written by the
-- first process that executes a node of the version.
CREATE TABLE stitch_node_fingerprints (
  version_id  uuid NOT NULL REFERENCES stitch_flow_versions (id),
  node_id     text NOT NULL,
  static_hash text NOT NULL,
  PRIMARY KEY (version_id, node_id)
);

-- A completed instance's fingerprint: `<static hash>.<md5 of its input as jsonb text>` (jsonb's text
-- form is canonical: key order and spacing are normalised). Reruns match and reuse by it.
ALTER TABLE stitch_node_runs ADD COLUMN fingerprint text;
CREATE INDEX stitch_node_runs_fingerprint_idx ON stitch_node_runs (run_id, node_id, fingerprint) WHERE fingerprint IS NOT NULL;

CREATE FUNCTION stitch_input_fingerprint(p_static text, p_input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT p_static || '.' || md5(coalesce(p_input, 'null'::jsonb)::text) $$;

-- Set on the transition to completed, inside the settling statement itself: no extra round trip.
CREATE FUNCTION stitch_set_fingerprint() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  s text;
BEGIN
  SELECT f.static_hash INTO s FROM stitch_runs r
    JOIN stitch_node_fingerprints f ON f.version_id = r.version_id AND f.node_id = NEW.node_id
  WHERE r.id = NEW.run_id;
  IF s IS NOT NULL THEN
    NEW.fingerprint := stitch_input_fingerprint(s, NEW.input);
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER stitch_node_runs_fingerprint BEFORE UPDATE OF status ON stitch_node_runs
  FOR EACH ROW WHEN (NEW.status = 'completed' AND OLD.status <> 'completed' AND NEW.fingerprint IS NULL)
  EXECUTE FUNCTION stitch_set_fingerprint();

-- Re-runs and budgets. `rerun` holds the plan: {of, forced: [nodeIds]}; the source run never changes.
ALTER TABLE stitch_runs ADD COLUMN rerun_of uuid REFERENCES stitch_runs (id) ON DELETE SET NULL;
ALTER TABLE stitch_runs ADD COLUMN rerun jsonb;
ALTER TABLE stitch_runs ADD COLUMN budget_usd double precision;
ALTER TABLE stitch_flows ADD COLUMN budget_usd double precision;

-- The step cache (opt-in per node or worker definition). `key` is the fingerprint plus the
-- credential's identity (its variable name and mode), never its value. A row with status
-- 'running' is a flight: the instance computing it; identical nodes elsewhere wait for it.
CREATE TABLE stitch_cache (
  key          text PRIMARY KEY,
  worker_type  text,
  status       text NOT NULL CHECK (status IN ('running', 'ready')),
  output       jsonb,
  usd          double precision NOT NULL DEFAULT 0,
  run_id       uuid,
  instance_id  text,
  attempt      integer,
  ttl_seconds  double precision,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz
);
CREATE INDEX stitch_cache_worker_idx ON stitch_cache (worker_type);

-- A flight ends with its node: completed → the entry is ready (output, what it cost, expiry);
-- failed, cancelled or skipped → the flight is dropped, so a waiting twin executes instead.
-- Only nodes that claimed a flight carry `metadata.cacheKey`, so other nodes never run this.
CREATE FUNCTION stitch_end_cache_flight() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'completed' THEN
    UPDATE stitch_cache c
    SET status = 'ready', output = NEW.output, created_at = now(),
        expires_at = CASE WHEN c.ttl_seconds IS NULL THEN NULL ELSE now() + make_interval(secs => c.ttl_seconds) END,
        usd = coalesce((SELECT sum(u.usd) FROM stitch_node_usage u WHERE u.run_id = NEW.run_id AND u.instance_id = NEW.instance_id), 0)
    WHERE c.key = NEW.metadata ->> 'cacheKey' AND c.status = 'running' AND c.run_id = NEW.run_id AND c.instance_id = NEW.instance_id;
  ELSE
    DELETE FROM stitch_cache c
    WHERE c.key = NEW.metadata ->> 'cacheKey' AND c.status = 'running' AND c.run_id = NEW.run_id AND c.instance_id = NEW.instance_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER stitch_node_runs_cache_flight AFTER UPDATE OF status ON stitch_node_runs
  FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled', 'skipped') AND OLD.status <> NEW.status AND NEW.metadata ? 'cacheKey')
  EXECUTE FUNCTION stitch_end_cache_flight();
