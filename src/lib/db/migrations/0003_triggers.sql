-- 0003_triggers: webhook triggers. A trigger starts its flow when an external system POSTs to
-- /api/webhooks/<slug> with an HMAC-SHA256 signature of the raw body made with the trigger's secret.
-- The secret is stored as given (HMAC verification needs it); it is returned once, at creation.

CREATE TABLE stitch_triggers (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  flow_id      uuid NOT NULL REFERENCES stitch_flows (id),
  slug         text NOT NULL UNIQUE CHECK (slug ~ '^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$'),
  -- NULL = no secret configured: every delivery is refused (never "unsigned means allowed").
  secret       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  deleted_at   timestamptz
);
CREATE INDEX stitch_triggers_flow_idx ON stitch_triggers (flow_id) WHERE deleted_at IS NULL;

-- Replay protection: a sender that names its deliveries (X-Stitch-Delivery / X-GitHub-Delivery)
-- starts at most one run per delivery id; a repeat answers with the first run.
CREATE TABLE stitch_webhook_deliveries (
  trigger_id  uuid NOT NULL REFERENCES stitch_triggers (id) ON DELETE CASCADE,
  delivery_id text NOT NULL,
  run_id      uuid REFERENCES stitch_runs (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trigger_id, delivery_id)
);

-- The run list pages by (created_at, id); 0001 indexes created_at only under flow and status.
CREATE INDEX stitch_runs_created_idx ON stitch_runs (created_at DESC, id DESC);
