-- 0010_schedules_and_vault: cron schedules that start flows, and the credentials vault.

-- A schedule starts its flow at every tick of `cron` (read in `timezone`). The tick due next is a
-- graphile-worker job keyed `stitch_schedule:<id>` (one job per schedule, whatever the number of
-- processes); `next_run_at` is the tick that job is for. A run started for a tick also writes the
-- idempotency key ("schedule:<id>", tick) in the same statement (0007), so a tick never starts two.
CREATE TABLE stitch_schedules (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  flow_id     uuid NOT NULL REFERENCES stitch_flows (id) ON DELETE CASCADE,
  cron        text NOT NULL,
  timezone    text NOT NULL DEFAULT 'UTC',
  input       jsonb NOT NULL DEFAULT '{}',
  enabled     boolean NOT NULL DEFAULT true,
  -- after downtime: 'none' skips the ticks missed, 'latest' runs the most recent of them once
  catch_up    text NOT NULL DEFAULT 'none' CHECK (catch_up IN ('none', 'latest')),
  next_run_at timestamptz,
  last_run_at timestamptz,
  last_run_id uuid REFERENCES stitch_runs (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stitch_schedules_flow_idx ON stitch_schedules (flow_id);

-- Secrets, encrypted with AES-256-GCM by the application. The key (STITCH_ENCRYPTION_KEY, or a
-- key file beside the embedded database) is never stored here: a copy of this table is useless
-- without it. `name` is the environment variable the value stands in for (ANTHROPIC_API_KEY).
CREATE TABLE stitch_credentials (
  name       text PRIMARY KEY CHECK (name ~ '^[A-Z][A-Z0-9_]{0,127}$'),
  iv         bytea NOT NULL,
  ciphertext bytea NOT NULL,
  auth_tag   bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every process keeps the decrypted values in memory (workers read them synchronously through
-- getConfig()). A change bumps this version and notifies `stitch_vault`: listeners reload at once,
-- and a process whose listener is down compares the version before each node execution.
CREATE TABLE stitch_vault_version (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint NOT NULL
);
INSERT INTO stitch_vault_version (version) VALUES (0);

CREATE FUNCTION stitch_vault_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stitch_vault_version SET version = version + 1;
  PERFORM pg_notify('stitch_vault', '');
  RETURN NULL;
END $$;

CREATE TRIGGER stitch_credentials_changed AFTER INSERT OR UPDATE OR DELETE ON stitch_credentials
  FOR EACH STATEMENT EXECUTE FUNCTION stitch_vault_changed();
