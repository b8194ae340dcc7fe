-- 0007_idempotency: `Idempotency-Key` on run starts. A client that retries a start after an
-- ambiguous network error (did the first request arrive?) gets the same run, not a second one.
-- The key row is written in the same statement as the run it names, so a key never points at a
-- run that does not exist and a run started under a key always has its row. Keys are kept at least
-- 24 hours (STITCH_IDEMPOTENCY_HOURS); older ones are pruned as new ones arrive.
CREATE TABLE stitch_idempotency_keys (
  -- the client's key, scoped to what it starts (e.g. "flow:<id>")
  scope        text NOT NULL,
  key          text NOT NULL,
  -- sha256 of the request (target and body): the same key with another request is refused
  request_hash text NOT NULL,
  run_id       uuid NOT NULL REFERENCES stitch_runs (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX stitch_idempotency_keys_created_idx ON stitch_idempotency_keys (created_at);
