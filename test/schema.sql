-- The live Stitch schema after every migration (generated: npm run schema:dump). Do not edit.

TABLE stitch_alert_state (
  flow_id uuid NOT NULL,
  alert_on text NOT NULL,
  alert_to text NOT NULL,
  pending integer NOT NULL DEFAULT 0,
  pending_since timestamp with time zone,
  latest jsonb,
  last_sent_at timestamp with time zone,
  last_result text,
  last_attempt_at timestamp with time zone,
  CONSTRAINT stitch_alert_state_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES stitch_flows(id) ON DELETE CASCADE,
  CONSTRAINT stitch_alert_state_pkey PRIMARY KEY (flow_id, alert_on, alert_to)
);

TABLE stitch_bulk_items (
  job_id uuid NOT NULL,
  run_id uuid NOT NULL,
  state text NOT NULL DEFAULT 'pending'::text,
  result jsonb,
  CONSTRAINT stitch_bulk_items_job_id_fkey FOREIGN KEY (job_id) REFERENCES stitch_bulk_jobs(id) ON DELETE CASCADE,
  CONSTRAINT stitch_bulk_items_pkey PRIMARY KEY (job_id, run_id),
  CONSTRAINT stitch_bulk_items_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'done'::text, 'skipped'::text, 'failed'::text])))
);
CREATE INDEX stitch_bulk_items_pending_idx ON public.stitch_bulk_items USING btree (job_id, run_id) WHERE (state = 'pending'::text);

TABLE stitch_bulk_jobs (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  action text NOT NULL,
  filter jsonb NOT NULL,
  request_hash text NOT NULL,
  state text NOT NULL DEFAULT 'running'::text,
  total integer NOT NULL,
  done integer NOT NULL DEFAULT 0,
  succeeded integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  finished_at timestamp with time zone,
  CONSTRAINT stitch_bulk_jobs_action_check CHECK ((action = ANY (ARRAY['cancel'::text, 'retry'::text, 'rerun'::text]))),
  CONSTRAINT stitch_bulk_jobs_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_bulk_jobs_state_check CHECK ((state = ANY (ARRAY['running'::text, 'completed'::text])))
);
CREATE INDEX stitch_bulk_jobs_created_idx ON public.stitch_bulk_jobs USING btree (created_at DESC, id DESC);
CREATE INDEX stitch_bulk_jobs_request_idx ON public.stitch_bulk_jobs USING btree (request_hash, created_at DESC);

TABLE stitch_cache (
  key text NOT NULL,
  worker_type text,
  status text NOT NULL,
  output jsonb,
  usd double precision NOT NULL DEFAULT 0,
  run_id uuid,
  instance_id text,
  attempt integer,
  ttl_seconds double precision,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  expires_at timestamp with time zone,
  CONSTRAINT stitch_cache_pkey PRIMARY KEY (key),
  CONSTRAINT stitch_cache_status_check CHECK ((status = ANY (ARRAY['running'::text, 'ready'::text])))
);
CREATE INDEX stitch_cache_run_idx ON public.stitch_cache USING btree (run_id) WHERE (run_id IS NOT NULL);
CREATE INDEX stitch_cache_worker_idx ON public.stitch_cache USING btree (worker_type);

TABLE stitch_credentials (
  name text NOT NULL,
  iv bytea NOT NULL,
  ciphertext bytea NOT NULL,
  auth_tag bytea NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_credentials_name_check CHECK ((name ~ '^[A-Z][A-Z0-9_]{0,127}$'::text)),
  CONSTRAINT stitch_credentials_pkey PRIMARY KEY (name)
);
CREATE TRIGGER stitch_credentials_changed AFTER INSERT OR DELETE OR UPDATE ON public.stitch_credentials FOR EACH STATEMENT EXECUTE FUNCTION stitch_vault_changed();

TABLE stitch_dataset_rows (
  dataset_id uuid NOT NULL,
  version integer NOT NULL,
  idx integer NOT NULL,
  input jsonb NOT NULL,
  expected jsonb,
  notes text,
  CONSTRAINT stitch_dataset_rows_dataset_id_version_fkey FOREIGN KEY (dataset_id, version) REFERENCES stitch_dataset_versions(dataset_id, version) ON DELETE CASCADE,
  CONSTRAINT stitch_dataset_rows_input_check CHECK ((jsonb_typeof(input) = 'object'::text)),
  CONSTRAINT stitch_dataset_rows_pkey PRIMARY KEY (dataset_id, version, idx)
);

TABLE stitch_dataset_versions (
  dataset_id uuid NOT NULL,
  version integer NOT NULL,
  row_count integer NOT NULL,
  source jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_dataset_versions_dataset_id_fkey FOREIGN KEY (dataset_id) REFERENCES stitch_datasets(id) ON DELETE CASCADE,
  CONSTRAINT stitch_dataset_versions_pkey PRIMARY KEY (dataset_id, version)
);

TABLE stitch_datasets (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL,
  version integer NOT NULL DEFAULT 1,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_datasets_name_key UNIQUE (name),
  CONSTRAINT stitch_datasets_pkey PRIMARY KEY (id)
);
CREATE INDEX stitch_datasets_created_idx ON public.stitch_datasets USING btree (created_at DESC, id DESC);

TABLE stitch_events (
  id bigint NOT NULL DEFAULT nextval('stitch_events_id_seq'::regclass),
  run_id uuid NOT NULL,
  instance_id text,
  type text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_events_pkey PRIMARY KEY (id)
);
CREATE INDEX stitch_events_run_idx ON public.stitch_events USING btree (run_id, id);

TABLE stitch_experiment_cells (
  experiment_id uuid NOT NULL,
  row_idx integer NOT NULL,
  variant integer NOT NULL,
  run_id uuid,
  status text NOT NULL DEFAULT 'pending'::text,
  cost_usd double precision,
  saved_usd double precision,
  duration_ms double precision,
  scored boolean NOT NULL DEFAULT false,
  judge_run_id uuid,
  passed boolean,
  score double precision,
  score_detail jsonb,
  CONSTRAINT stitch_experiment_cells_experiment_id_fkey FOREIGN KEY (experiment_id) REFERENCES stitch_experiments(id) ON DELETE CASCADE,
  CONSTRAINT stitch_experiment_cells_judge_run_id_fkey FOREIGN KEY (judge_run_id) REFERENCES stitch_runs(id) ON DELETE SET NULL,
  CONSTRAINT stitch_experiment_cells_pkey PRIMARY KEY (experiment_id, row_idx, variant),
  CONSTRAINT stitch_experiment_cells_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE SET NULL
);
CREATE INDEX stitch_experiment_cells_open_idx ON public.stitch_experiment_cells USING btree (experiment_id) WHERE (NOT scored);

TABLE stitch_experiments (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  flow_id uuid,
  dataset_id uuid NOT NULL,
  dataset_version integer NOT NULL,
  status text NOT NULL DEFAULT 'running'::text,
  variants jsonb NOT NULL,
  scoring jsonb NOT NULL DEFAULT '{}'::jsonb,
  concurrency integer NOT NULL,
  budget_usd double precision,
  error text,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  finished_at timestamp with time zone,
  CONSTRAINT stitch_experiments_concurrency_check CHECK ((concurrency > 0)),
  CONSTRAINT stitch_experiments_dataset_id_dataset_version_fkey FOREIGN KEY (dataset_id, dataset_version) REFERENCES stitch_dataset_versions(dataset_id, version),
  CONSTRAINT stitch_experiments_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES stitch_flows(id) ON DELETE SET NULL,
  CONSTRAINT stitch_experiments_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_experiments_status_check CHECK ((status = ANY (ARRAY['running'::text, 'completed'::text, 'failed'::text, 'cancelled'::text])))
);
CREATE INDEX stitch_experiments_created_idx ON public.stitch_experiments USING btree (created_at DESC, id DESC);

TABLE stitch_fair_scopes (
  scope text NOT NULL,
  kind text NOT NULL,
  flow_id uuid,
  node_id text,
  lim integer NOT NULL,
  per_seconds double precision,
  key_name text,
  cursor text NOT NULL DEFAULT ''::text,
  sweep_at timestamp with time zone,
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_fair_scopes_kind_check CHECK ((kind = ANY (ARRAY['concurrency'::text, 'rate'::text]))),
  CONSTRAINT stitch_fair_scopes_lim_check CHECK ((lim > 0)),
  CONSTRAINT stitch_fair_scopes_pkey PRIMARY KEY (scope)
);

TABLE stitch_fair_slots (
  scope text NOT NULL,
  key text NOT NULL,
  run_id uuid NOT NULL,
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  acquired_at timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT stitch_fair_slots_pkey PRIMARY KEY (scope, run_id, instance_id, attempt),
  CONSTRAINT stitch_fair_slots_scope_fkey FOREIGN KEY (scope) REFERENCES stitch_fair_scopes(scope) ON DELETE CASCADE
);
CREATE INDEX stitch_fair_slots_key_idx ON public.stitch_fair_slots USING btree (scope, key, acquired_at);

TABLE stitch_fair_waiting (
  scope text NOT NULL,
  key text NOT NULL,
  run_id uuid NOT NULL,
  version_id uuid NOT NULL,
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  reason text NOT NULL,
  queued_at timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT stitch_fair_waiting_pkey PRIMARY KEY (scope, run_id, instance_id, attempt),
  CONSTRAINT stitch_fair_waiting_scope_fkey FOREIGN KEY (scope) REFERENCES stitch_fair_scopes(scope) ON DELETE CASCADE
);
CREATE INDEX stitch_fair_waiting_next_idx ON public.stitch_fair_waiting USING btree (scope, key, priority DESC, queued_at);

TABLE stitch_fan_in (
  run_id uuid NOT NULL,
  instance_id text NOT NULL,
  shard integer NOT NULL,
  arrived integer NOT NULL DEFAULT 0,
  needed integer NOT NULL,
  CONSTRAINT stitch_fan_in_pkey PRIMARY KEY (run_id, instance_id, shard),
  CONSTRAINT stitch_fan_in_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE
);

TABLE stitch_flow_versions (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  flow_id uuid,
  version integer NOT NULL,
  visual_graph jsonb NOT NULL,
  execution_graph jsonb NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  deployed boolean NOT NULL DEFAULT false,
  message text,
  CONSTRAINT stitch_flow_versions_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES stitch_flows(id),
  CONSTRAINT stitch_flow_versions_flow_id_version_key UNIQUE (flow_id, version),
  CONSTRAINT stitch_flow_versions_message_check CHECK ((char_length(message) <= 1000)),
  CONSTRAINT stitch_flow_versions_pkey PRIMARY KEY (id)
);

TABLE stitch_flows (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL,
  current_version_id uuid,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  deleted_at timestamp with time zone,
  budget_usd double precision,
  alerts jsonb NOT NULL DEFAULT '[]'::jsonb,
  retention jsonb,
  CONSTRAINT stitch_flows_current_version_fk FOREIGN KEY (current_version_id) REFERENCES stitch_flow_versions(id),
  CONSTRAINT stitch_flows_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_flows_retention_check CHECK (((retention IS NULL) OR (jsonb_typeof(retention) = 'object'::text)))
);
CREATE TRIGGER stitch_flows_changed AFTER INSERT OR DELETE OR UPDATE ON public.stitch_flows FOR EACH STATEMENT EXECUTE FUNCTION stitch_notify_flows_changed();

TABLE stitch_idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  run_id uuid NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_idempotency_keys_pkey PRIMARY KEY (scope, key),
  CONSTRAINT stitch_idempotency_keys_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE
);
CREATE INDEX stitch_idempotency_keys_created_idx ON public.stitch_idempotency_keys USING btree (created_at);
CREATE INDEX stitch_idempotency_keys_run_idx ON public.stitch_idempotency_keys USING btree (run_id);

TABLE stitch_integration_slots (
  id bigint NOT NULL DEFAULT nextval('stitch_integration_slots_id_seq'::regclass),
  worker_type text NOT NULL,
  run_id uuid NOT NULL,
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  acquired_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_integration_slots_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_integration_slots_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE,
  CONSTRAINT stitch_integration_slots_run_id_instance_id_attempt_key UNIQUE (run_id, instance_id, attempt)
);
CREATE INDEX stitch_integration_slots_type_idx ON public.stitch_integration_slots USING btree (worker_type, acquired_at);

TABLE stitch_media_trash (
  key text NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_media_trash_pkey PRIMARY KEY (key)
);

TABLE stitch_migrations (
  id integer NOT NULL,
  name text NOT NULL,
  applied_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_migrations_pkey PRIMARY KEY (id)
);

TABLE stitch_node_fingerprints (
  version_id uuid NOT NULL,
  node_id text NOT NULL,
  static_hash text NOT NULL,
  CONSTRAINT stitch_node_fingerprints_pkey PRIMARY KEY (version_id, node_id),
  CONSTRAINT stitch_node_fingerprints_version_id_fkey FOREIGN KEY (version_id) REFERENCES stitch_flow_versions(id)
);

TABLE stitch_node_runs (
  run_id uuid NOT NULL,
  instance_id text NOT NULL,
  node_id text NOT NULL,
  item_path integer[] NOT NULL DEFAULT '{}'::integer[],
  status text NOT NULL,
  attempt integer NOT NULL DEFAULT 1,
  arrived integer NOT NULL DEFAULT 0,
  live integer NOT NULL DEFAULT 0,
  input jsonb,
  output jsonb,
  error text,
  progress real,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  deadline_at timestamp with time zone,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  started_at timestamp with time zone,
  finished_at timestamp with time zone,
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  needed integer,
  item_count integer,
  released integer,
  settle_count smallint NOT NULL DEFAULT 0,
  fingerprint text,
  leased_by text,
  CONSTRAINT stitch_node_runs_pkey PRIMARY KEY (run_id, instance_id),
  CONSTRAINT stitch_node_runs_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE,
  CONSTRAINT stitch_node_runs_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'waiting_for_user'::text, 'completed'::text, 'failed'::text, 'cancelled'::text, 'skipped'::text])))
);
CREATE INDEX stitch_node_runs_item_fingerprint_idx ON public.stitch_node_runs USING btree (run_id, node_id, fingerprint) WHERE ((fingerprint IS NOT NULL) AND (item_path <> '{}'::integer[]));
CREATE INDEX stitch_node_runs_leased_idx ON public.stitch_node_runs USING btree (leased_by) WHERE ((leased_by IS NOT NULL) AND (status = ANY (ARRAY['pending'::text, 'running'::text])));
CREATE INDEX stitch_node_runs_open_idx ON public.stitch_node_runs USING btree (run_id) WHERE (status = ANY (ARRAY['pending'::text, 'running'::text, 'waiting_for_user'::text]));
CREATE TRIGGER stitch_node_failed_alert AFTER UPDATE OF status ON public.stitch_node_runs FOR EACH ROW WHEN (((new.status = 'failed'::text) AND (old.status <> 'failed'::text))) EXECUTE FUNCTION stitch_node_failed_alert();
CREATE TRIGGER stitch_node_runs_cache_flight AFTER UPDATE OF status ON public.stitch_node_runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['completed'::text, 'failed'::text, 'cancelled'::text, 'skipped'::text])) AND (old.status <> new.status) AND (new.metadata ? 'cacheKey'::text))) EXECUTE FUNCTION stitch_end_cache_flight();

TABLE stitch_node_usage (
  id bigint NOT NULL DEFAULT nextval('stitch_node_usage_id_seq'::regclass),
  run_id uuid NOT NULL,
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  worker_type text,
  unit text NOT NULL,
  quantity double precision NOT NULL,
  usd double precision NOT NULL DEFAULT 0,
  mock boolean NOT NULL DEFAULT false,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_node_usage_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_node_usage_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE
);
CREATE INDEX stitch_node_usage_run_idx ON public.stitch_node_usage USING btree (run_id, instance_id);

TABLE stitch_remote_tasks (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  run_id uuid NOT NULL,
  version_id uuid NOT NULL,
  instance_id text NOT NULL,
  attempt integer NOT NULL,
  type text NOT NULL,
  config jsonb NOT NULL,
  input jsonb NOT NULL,
  state text NOT NULL DEFAULT 'ready'::text,
  lease_seconds integer NOT NULL,
  deadline_at timestamp with time zone NOT NULL,
  worker_id text,
  leased_until timestamp with time zone,
  ready_at timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  claimed_at timestamp with time zone,
  CONSTRAINT stitch_remote_tasks_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_remote_tasks_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE,
  CONSTRAINT stitch_remote_tasks_run_id_instance_id_attempt_key UNIQUE (run_id, instance_id, attempt),
  CONSTRAINT stitch_remote_tasks_state_check CHECK ((state = ANY (ARRAY['ready'::text, 'leased'::text, 'done'::text, 'expired'::text, 'stale'::text])))
);
CREATE INDEX stitch_remote_tasks_ready ON public.stitch_remote_tasks USING btree (type, ready_at) WHERE (state = 'ready'::text);

TABLE stitch_remote_types (
  type text NOT NULL,
  definition jsonb NOT NULL,
  lease_seconds integer NOT NULL,
  registered_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_remote_types_lease_seconds_check CHECK (((lease_seconds >= 2) AND (lease_seconds <= 3600))),
  CONSTRAINT stitch_remote_types_pkey PRIMARY KEY (type)
);

TABLE stitch_remote_workers (
  worker_id text NOT NULL,
  types text[] NOT NULL,
  last_seen_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_remote_workers_pkey PRIMARY KEY (worker_id)
);

TABLE stitch_runners (
  id text NOT NULL,
  pool_ids text[] NOT NULL DEFAULT '{}'::text[],
  hostname text,
  pid integer,
  started_at timestamp with time zone NOT NULL DEFAULT now(),
  last_seen_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_runners_pkey PRIMARY KEY (id)
);

TABLE stitch_runs (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  flow_id uuid,
  version_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'running'::text,
  input jsonb NOT NULL DEFAULT '{}'::jsonb,
  output jsonb,
  error text,
  trigger jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  started_at timestamp with time zone,
  finished_at timestamp with time zone,
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  parent_run_id uuid,
  parent_instance_id text,
  parent_attempt integer,
  depth integer NOT NULL DEFAULT 0,
  rerun_of uuid,
  rerun jsonb,
  budget_usd double precision,
  tags jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority integer NOT NULL DEFAULT 0,
  cost_usd double precision NOT NULL DEFAULT 0,
  fair_scope text,
  fair_key text,
  experiment_id uuid,
  CONSTRAINT stitch_runs_experiment_id_fkey FOREIGN KEY (experiment_id) REFERENCES stitch_experiments(id) ON DELETE SET NULL,
  CONSTRAINT stitch_runs_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES stitch_flows(id),
  CONSTRAINT stitch_runs_parent_run_id_fkey FOREIGN KEY (parent_run_id) REFERENCES stitch_runs(id) ON DELETE CASCADE,
  CONSTRAINT stitch_runs_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_runs_priority_check CHECK (((priority >= 0) AND (priority <= 100))),
  CONSTRAINT stitch_runs_rerun_of_fkey FOREIGN KEY (rerun_of) REFERENCES stitch_runs(id) ON DELETE SET NULL,
  CONSTRAINT stitch_runs_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'completed'::text, 'failed'::text, 'cancelled'::text]))),
  CONSTRAINT stitch_runs_tags_check CHECK ((jsonb_typeof(tags) = 'object'::text)),
  CONSTRAINT stitch_runs_version_id_fkey FOREIGN KEY (version_id) REFERENCES stitch_flow_versions(id)
);
CREATE INDEX stitch_runs_cost_idx ON public.stitch_runs USING btree (cost_usd) WHERE (cost_usd > (0)::double precision);
CREATE INDEX stitch_runs_created_idx ON public.stitch_runs USING btree (created_at DESC, id DESC);
CREATE INDEX stitch_runs_error_idx ON public.stitch_runs USING gin (error gin_trgm_ops) WHERE (error IS NOT NULL);
CREATE INDEX stitch_runs_experiment_idx ON public.stitch_runs USING btree (experiment_id) WHERE (experiment_id IS NOT NULL);
CREATE INDEX stitch_runs_finished_idx ON public.stitch_runs USING btree (finished_at) WHERE (finished_at IS NOT NULL);
CREATE INDEX stitch_runs_flow_idx ON public.stitch_runs USING btree (flow_id, created_at DESC, id DESC);
CREATE INDEX stitch_runs_flow_status_idx ON public.stitch_runs USING btree (flow_id, status, created_at DESC, id DESC);
CREATE INDEX stitch_runs_input_idx ON public.stitch_runs USING gin (input jsonb_path_ops);
CREATE UNIQUE INDEX stitch_runs_parent_idx ON public.stitch_runs USING btree (parent_run_id, parent_instance_id, parent_attempt) WHERE (parent_run_id IS NOT NULL);
CREATE INDEX stitch_runs_rerun_of_idx ON public.stitch_runs USING btree (rerun_of) WHERE (rerun_of IS NOT NULL);
CREATE INDEX stitch_runs_status_idx ON public.stitch_runs USING btree (status, created_at DESC, id DESC);
CREATE INDEX stitch_runs_tags_idx ON public.stitch_runs USING gin (tags jsonb_path_ops);
CREATE INDEX stitch_runs_trigger_idx ON public.stitch_runs USING btree (((trigger ->> 'type'::text)), created_at DESC, id DESC);
CREATE TRIGGER stitch_cancel_child_runs AFTER UPDATE OF status ON public.stitch_runs FOR EACH ROW WHEN (((old.status = ANY (ARRAY['pending'::text, 'running'::text])) AND (new.status = ANY (ARRAY['failed'::text, 'cancelled'::text])))) EXECUTE FUNCTION stitch_cancel_child_runs();
CREATE TRIGGER stitch_child_run_finished AFTER UPDATE OF status ON public.stitch_runs FOR EACH ROW WHEN (((new.parent_run_id IS NOT NULL) AND (old.status = ANY (ARRAY['pending'::text, 'running'::text])) AND (new.status = ANY (ARRAY['completed'::text, 'failed'::text, 'cancelled'::text])))) EXECUTE FUNCTION stitch_child_run_finished();
CREATE TRIGGER stitch_experiment_run_finished AFTER UPDATE OF status ON public.stitch_runs FOR EACH ROW WHEN (((new.experiment_id IS NOT NULL) AND (old.status = ANY (ARRAY['pending'::text, 'running'::text])) AND (new.status = ANY (ARRAY['completed'::text, 'failed'::text, 'cancelled'::text])))) EXECUTE FUNCTION stitch_experiment_run_finished();
CREATE TRIGGER stitch_fair_run_ended AFTER UPDATE OF status ON public.stitch_runs FOR EACH ROW WHEN (((old.fair_scope IS NOT NULL) AND (old.status = ANY (ARRAY['pending'::text, 'running'::text])) AND (new.status <> ALL (ARRAY['pending'::text, 'running'::text])))) EXECUTE FUNCTION stitch_fair_run_ended();
CREATE TRIGGER stitch_run_failed_alert AFTER UPDATE OF status ON public.stitch_runs FOR EACH ROW WHEN (((new.status = 'failed'::text) AND (old.status = ANY (ARRAY['pending'::text, 'running'::text])) AND (new.flow_id IS NOT NULL))) EXECUTE FUNCTION stitch_run_failed_alert();

TABLE stitch_schedules (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  flow_id uuid NOT NULL,
  cron text NOT NULL,
  timezone text NOT NULL DEFAULT 'UTC'::text,
  input jsonb NOT NULL DEFAULT '{}'::jsonb,
  enabled boolean NOT NULL DEFAULT true,
  catch_up text NOT NULL DEFAULT 'none'::text,
  next_run_at timestamp with time zone,
  last_run_at timestamp with time zone,
  last_run_id uuid,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone NOT NULL DEFAULT now(),
  budget_usd double precision,
  tags jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority integer NOT NULL DEFAULT 0,
  CONSTRAINT stitch_schedules_budget_usd_check CHECK (((budget_usd >= (0)::double precision) AND (budget_usd < 'Infinity'::double precision))),
  CONSTRAINT stitch_schedules_catch_up_check CHECK ((catch_up = ANY (ARRAY['none'::text, 'latest'::text]))),
  CONSTRAINT stitch_schedules_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES stitch_flows(id) ON DELETE CASCADE,
  CONSTRAINT stitch_schedules_last_run_id_fkey FOREIGN KEY (last_run_id) REFERENCES stitch_runs(id) ON DELETE SET NULL,
  CONSTRAINT stitch_schedules_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_schedules_priority_check CHECK (((priority >= 0) AND (priority <= 100))),
  CONSTRAINT stitch_schedules_tags_check CHECK ((jsonb_typeof(tags) = 'object'::text))
);
CREATE INDEX stitch_schedules_flow_idx ON public.stitch_schedules USING btree (flow_id);

TABLE stitch_settings (
  key text NOT NULL,
  value text NOT NULL,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_settings_pkey PRIMARY KEY (key)
);

TABLE stitch_triggers (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  flow_id uuid NOT NULL,
  slug text NOT NULL,
  secret text,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  last_used_at timestamp with time zone,
  deleted_at timestamp with time zone,
  budget_usd double precision,
  tags jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority integer NOT NULL DEFAULT 0,
  CONSTRAINT stitch_triggers_budget_usd_check CHECK (((budget_usd >= (0)::double precision) AND (budget_usd < 'Infinity'::double precision))),
  CONSTRAINT stitch_triggers_flow_id_fkey FOREIGN KEY (flow_id) REFERENCES stitch_flows(id),
  CONSTRAINT stitch_triggers_pkey PRIMARY KEY (id),
  CONSTRAINT stitch_triggers_priority_check CHECK (((priority >= 0) AND (priority <= 100))),
  CONSTRAINT stitch_triggers_slug_check CHECK ((slug ~ '^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$'::text)),
  CONSTRAINT stitch_triggers_slug_key UNIQUE (slug),
  CONSTRAINT stitch_triggers_tags_check CHECK ((jsonb_typeof(tags) = 'object'::text))
);
CREATE INDEX stitch_triggers_flow_idx ON public.stitch_triggers USING btree (flow_id) WHERE (deleted_at IS NULL);

TABLE stitch_vault_version (
  id boolean NOT NULL DEFAULT true,
  version bigint NOT NULL,
  CONSTRAINT stitch_vault_version_id_check CHECK (id),
  CONSTRAINT stitch_vault_version_pkey PRIMARY KEY (id)
);

TABLE stitch_webhook_deliveries (
  trigger_id uuid NOT NULL,
  delivery_id text NOT NULL,
  run_id uuid,
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT stitch_webhook_deliveries_pkey PRIMARY KEY (trigger_id, delivery_id),
  CONSTRAINT stitch_webhook_deliveries_run_id_fkey FOREIGN KEY (run_id) REFERENCES stitch_runs(id) ON DELETE SET NULL,
  CONSTRAINT stitch_webhook_deliveries_trigger_id_fkey FOREIGN KEY (trigger_id) REFERENCES stitch_triggers(id) ON DELETE CASCADE
);

CREATE OR REPLACE FUNCTION public.stitch_abort_run(p_run_id uuid, p_status text, p_error text, p_instance_id text, p_attempt integer, p_node_ids text[], p_node_error text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  events jsonb := '[]';
BEGIN
  PERFORM stitch_lock_run(p_run_id, true);
  PERFORM 1 FROM stitch_runs WHERE id = p_run_id AND status IN ('pending', 'running') FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF p_instance_id IS NOT NULL THEN
    UPDATE stitch_node_runs
    SET status = 'failed', error = coalesce(p_node_error, p_error), finished_at = now(), updated_at = now(),
        started_at = coalesce(started_at, now())
    WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
      AND status IN ('pending', 'running', 'waiting_for_user');
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    events := events || jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:failed',
                'payload', jsonb_build_object('attempt', p_attempt, 'status', 'failed', 'error', coalesce(p_node_error, p_error))));
  END IF;

  UPDATE stitch_runs SET status = p_status, error = p_error, finished_at = now(), updated_at = now()
  WHERE id = p_run_id;

  -- Every keyed job of the run's nodes goes with it (deadlines, UX deadlines, scheduled callbacks).
  PERFORM stitch_remove_node_jobs(p_run_id, instance_id)
  FROM stitch_node_runs WHERE run_id = p_run_id AND deadline_at IS NOT NULL;

  WITH closed AS (
    UPDATE stitch_node_runs
    SET status = CASE WHEN status = 'pending' THEN 'skipped' ELSE 'cancelled' END,
        metadata = metadata || jsonb_build_object('closedBy', p_status),
        deadline_at = NULL, finished_at = now(), updated_at = now()
    WHERE run_id = p_run_id AND status IN ('pending', 'running', 'waiting_for_user')
    RETURNING instance_id, status
  ), unreached AS (
    INSERT INTO stitch_node_runs (run_id, instance_id, node_id, status, metadata, finished_at)
    SELECT p_run_id, id, id, 'skipped', jsonb_build_object('closedBy', p_status), now()
    FROM unnest(p_node_ids) AS id
    ON CONFLICT (run_id, instance_id) DO NOTHING
    RETURNING instance_id, status
  )
  SELECT events || coalesce(jsonb_agg(jsonb_build_object('instanceId', instance_id, 'type', 'node:' || status,
           'payload', jsonb_build_object('reason', 'run ' || p_status))), '[]')
    INTO events
  FROM (SELECT * FROM closed UNION ALL SELECT * FROM unreached) AS c;

  events := events || jsonb_build_array(jsonb_build_object('type', 'run:' || p_status,
              'payload', jsonb_build_object('status', p_status, 'error', p_error)));
  PERFORM stitch_emit(p_run_id, events);
  RETURN true;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_acquire_integration_slot(p_type text, p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_max_in_flight integer, p_max_requests integer, p_interval_seconds double precision, p_recheck_seconds double precision)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  in_flight integer;
  recent integer;
  wait double precision;
  reason text;
  was_throttled boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('stitch_integration_limit'), hashtext(p_type));
  -- The same attempt executing again (its runner died mid-way) keeps the slot it had.
  IF EXISTS (SELECT 1 FROM stitch_integration_slots
             WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt) THEN
    RETURN jsonb_build_object('ok', true, 'reused', true);
  END IF;

  SELECT count(*) INTO in_flight
  FROM stitch_integration_slots s JOIN stitch_node_runs n ON n.run_id = s.run_id AND n.instance_id = s.instance_id
  WHERE s.worker_type = p_type AND n.attempt = s.attempt AND n.status IN ('pending', 'running');
  SELECT count(*) INTO recent
  FROM stitch_integration_slots
  WHERE worker_type = p_type AND acquired_at > now() - make_interval(secs => coalesce(p_interval_seconds, 60));

  IF coalesce(p_max_in_flight, 0) > 0 AND in_flight >= p_max_in_flight THEN
    reason := format('%s of %s %s jobs in flight', in_flight, p_max_in_flight, p_type);
    wait := p_recheck_seconds;
  ELSIF coalesce(p_max_requests, 0) > 0 AND recent >= p_max_requests THEN
    reason := format('%s %s requests in the last %ss (limit %s)', recent, p_type, p_interval_seconds, p_max_requests);
    -- When the oldest counted request leaves the window (the (recent - max + 1)-th oldest, in general).
    SELECT greatest(0.05, extract(epoch FROM (acquired_at + make_interval(secs => p_interval_seconds) - now())))
      INTO wait
    FROM stitch_integration_slots
    WHERE worker_type = p_type AND acquired_at > now() - make_interval(secs => p_interval_seconds)
    ORDER BY acquired_at OFFSET (recent - p_max_requests) LIMIT 1;
  END IF;

  IF reason IS NOT NULL THEN
    PERFORM graphile_worker.add_job('stitch_execute',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      run_at => now() + make_interval(secs => wait), max_attempts => 5);
    SELECT coalesce(metadata ->> 'throttled' = 'true', false) INTO was_throttled
    FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id;
    UPDATE stitch_node_runs
    SET metadata = metadata || jsonb_build_object('throttled', true, 'throttledReason', reason, 'message', 'throttled: ' || reason),
        updated_at = now()
    WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt;
    IF NOT was_throttled THEN
      PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:pending',
              'payload', jsonb_build_object('attempt', p_attempt, 'throttled', true, 'reason', reason, 'retryInSeconds', wait))));
    END IF;
    RETURN jsonb_build_object('ok', false, 'reason', reason, 'waitSeconds', wait);
  END IF;

  INSERT INTO stitch_integration_slots (worker_type, run_id, instance_id, attempt) VALUES (p_type, p_run_id, p_instance_id, p_attempt);
  UPDATE stitch_node_runs SET metadata = metadata || '{"throttled": false}'
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND metadata ->> 'throttled' = 'true';
  -- Forget slots that neither hold a job in flight nor count for the interval any more.
  DELETE FROM stitch_integration_slots s
  WHERE s.worker_type = p_type
    AND s.acquired_at < now() - make_interval(secs => greatest(coalesce(p_interval_seconds, 60), 60))
    AND NOT EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id = s.run_id AND n.instance_id = s.instance_id
                    AND n.attempt = s.attempt AND n.status IN ('pending', 'running'));
  RETURN jsonb_build_object('ok', true, 'inFlight', in_flight + 1, 'recent', recent + 1);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_add_deadline_job(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_run_at timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_deadline',
    json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
    NULL, p_run_at, 5, stitch_job_key('deadline', p_run_id, p_instance_id), NULL, NULL)::graphile_worker.job_spec]);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_after_settle(p_run_id uuid, p_version_id uuid, p_events jsonb, p_ready jsonb, p_touched boolean, p_output_nodes text[], p_notify boolean DEFAULT true)
 RETURNS text
 LANGUAGE plpgsql
AS $function$
DECLARE
  queued jsonb := jsonb_path_query_array(p_ready, '$[*] ? (!exists(@.e))');
  events jsonb := p_events;
BEGIN
  IF jsonb_array_length(queued) > 0 THEN
    PERFORM stitch_enqueue_execute(p_run_id, p_version_id, queued, NULL);
    -- Queued instances are pending until a runner takes their job.
    events := events || (SELECT jsonb_agg(jsonb_build_object('instanceId', r ->> 'i', 'type', 'node:pending',
                                   'payload', jsonb_build_object('attempt', 1)))
                         FROM jsonb_array_elements(queued) AS r);
  END IF;
  PERFORM stitch_emit(p_run_id, events, p_notify OR jsonb_array_length(queued) > 0 OR NOT p_touched);
  IF jsonb_array_length(p_ready) = 0 AND NOT p_touched THEN
    RETURN stitch_maybe_finish_run(p_run_id, p_output_nodes);
  END IF;
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_alert_job_key(p_flow_id uuid, p_on text, p_to text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT 'stitch:alert:' || p_flow_id || ':' || md5(p_on || ' ' || p_to)
$function$;

CREATE OR REPLACE FUNCTION public.stitch_arm_slow_alerts(p_run_id uuid, p_alerts jsonb)
 RETURNS integer
 LANGUAGE sql
AS $function$
  SELECT count(graphile_worker.add_job('stitch_alert_slow',
           json_build_object('r', p_run_id, 'to', a ->> 'to', 's', (a ->> 'seconds')::double precision),
           run_at => now() + make_interval(secs => (a ->> 'seconds')::double precision), max_attempts => 5))::integer
  FROM jsonb_array_elements(p_alerts) a
  WHERE a ->> 'on' = 'run.slower_than'
$function$;

CREATE OR REPLACE FUNCTION public.stitch_arrive(p_run_id uuid, p_arrivals jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  ready jsonb;
  touched boolean;
  shard_touched boolean := false;
  direct jsonb;
BEGIN
  IF p_arrivals IS NULL OR jsonb_array_length(p_arrivals) = 0 THEN
    RETURN jsonb_build_object('ready', '[]'::jsonb, 'touched', false);
  END IF;
  direct := jsonb_path_query_array(p_arrivals, '$[*] ? (!exists(@.k))');
  IF jsonb_array_length(direct) < jsonb_array_length(p_arrivals) THEN
    WITH k AS (
      SELECT x ->> 'i' AS instance_id, x ->> 'n' AS node_id, x -> 'p' AS p, (x ->> 'k')::int % 32 AS shard,
             (x ->> 'c')::int AS arrive
      FROM jsonb_array_elements(p_arrivals) AS x WHERE x ? 'k'
    ), upd AS (
      UPDATE stitch_fan_in f SET arrived = f.arrived + k.arrive
      FROM k WHERE f.run_id = p_run_id AND f.instance_id = k.instance_id AND f.shard = k.shard
      RETURNING f.instance_id, f.shard, f.arrived >= f.needed AS done
    )
    SELECT count(*) > 0,
           direct || coalesce(jsonb_agg(jsonb_build_object('i', k.instance_id, 'n', k.node_id, 'p', k.p, 'c', 1, 'l', 0))
                                FILTER (WHERE upd.done), '[]')
      INTO shard_touched, direct
    FROM upd JOIN k USING (instance_id, shard);
  END IF;
  IF jsonb_array_length(direct) = 0 THEN
    RETURN jsonb_build_object('ready', '[]'::jsonb, 'touched', shard_touched);
  END IF;
  WITH d AS (
    SELECT x ->> 'i' AS instance_id, x ->> 'n' AS node_id,
           coalesce(ARRAY(SELECT jsonb_array_elements_text(x -> 'p'))::int[], '{}') AS item_path,
           (x ->> 'c')::int AS arrive, coalesce((x ->> 'l')::int, (x ->> 'c')::int) AS live,
           (x ->> 'd')::int AS needed, x ->> 'e' AS lease
    FROM jsonb_array_elements(direct) AS x
  ), up AS (
    INSERT INTO stitch_node_runs AS t (run_id, instance_id, node_id, item_path, status, arrived, live, leased_by)
    SELECT p_run_id, d.instance_id, d.node_id, d.item_path, 'pending', d.arrive, d.live, d.lease FROM d
    ON CONFLICT (run_id, instance_id) DO UPDATE
      SET arrived = t.arrived + excluded.arrived, live = t.live + excluded.live, updated_at = now(),
          leased_by = coalesce(excluded.leased_by, t.leased_by)
      WHERE t.status = 'pending'
    RETURNING t.instance_id, t.arrived, t.needed, t.leased_by
  )
  SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('i', up.instance_id, 'e', d.lease)))
                    FILTER (WHERE up.arrived >= coalesce(up.needed, d.needed)), '[]'),
         count(*) > 0
    INTO ready, touched
  FROM up JOIN d USING (instance_id);
  RETURN jsonb_build_object('ready', ready, 'touched', touched OR shard_touched);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_cache_key(p_prefix text, p_input jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT encode(sha256(convert_to(p_prefix || '|' || coalesce(p_input, 'null'::jsonb)::text, 'UTF8')), 'hex')
$function$;

CREATE OR REPLACE FUNCTION public.stitch_cache_lookup(p_key text)
 RETURNS stitch_cache_hit
 LANGUAGE sql
 STABLE
AS $function$
  SELECT ROW(c.output, jsonb_build_object('origin', 'cached', 'reusedFrom', jsonb_build_object('runId', c.run_id, 'instanceId', c.instance_id),
                                      'savedUsd', c.usd))::stitch_cache_hit
  FROM stitch_cache c
  WHERE c.key = p_key AND c.status = 'ready' AND (c.expires_at IS NULL OR c.expires_at > now())
$function$;

CREATE OR REPLACE FUNCTION public.stitch_cache_take(p_prefix text, p_input jsonb, p_worker_type text, p_run_id uuid, p_instance_id text, p_attempt integer, p_ttl_seconds double precision, p_settle jsonb, p_job_id bigint, p_async_commit boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  k text := stitch_cache_key(p_prefix, p_input);
  claimed boolean;
  hit stitch_cache_hit;
  settled jsonb;
  flight stitch_cache%ROWTYPE;
BEGIN
  INSERT INTO stitch_cache AS c (key, worker_type, status, run_id, instance_id, attempt, ttl_seconds)
  VALUES (k, p_worker_type, 'running', p_run_id, p_instance_id, p_attempt, p_ttl_seconds)
  ON CONFLICT (key) DO UPDATE
    SET status = 'running', output = NULL, usd = 0, run_id = excluded.run_id, instance_id = excluded.instance_id,
        attempt = excluded.attempt, ttl_seconds = excluded.ttl_seconds, created_at = now(), expires_at = NULL
    WHERE (c.status = 'ready' AND c.expires_at <= now())
       OR (c.status = 'running' AND c.run_id = excluded.run_id AND c.instance_id = excluded.instance_id)
  RETURNING true INTO claimed;
  IF claimed THEN
    -- The flight ends with this node's settle (stitch_end_cache_flight finds it by this key).
    UPDATE stitch_node_runs SET metadata = metadata || jsonb_build_object('cacheKey', k)
    WHERE run_id = p_run_id AND instance_id = p_instance_id;
    RETURN jsonb_build_object('claimed', true);
  END IF;

  hit := stitch_cache_lookup(k);
  IF hit.origin IS NOT NULL THEN
    settled := stitch_settle_item(p_settle, hit);
    IF (settled ->> 'ok')::boolean AND p_job_id IS NOT NULL THEN
      PERFORM graphile_worker.complete_jobs(ARRAY[p_job_id]);
    END IF;
    IF p_async_commit THEN
      PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    RETURN jsonb_build_object('claimed', false, 'status', 'ready', 'settled', settled);
  END IF;
  SELECT * INTO flight FROM stitch_cache WHERE key = k;
  RETURN jsonb_build_object('claimed', false, 'status', flight.status, 'runId', flight.run_id, 'instanceId', flight.instance_id);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_cancel_child_runs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- The job key makes a repeated request for the same child one job.
  PERFORM graphile_worker.add_job('stitch_cancel_run', json_build_object('r', c.id, 'parent', NEW.id),
            job_key => 'stitch_cancel_run:' || c.id, max_attempts => 5)
  FROM stitch_runs c
  WHERE c.parent_run_id = NEW.id AND c.status IN ('pending', 'running');
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_child_run_finished()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM graphile_worker.add_job('stitch_child_settled',
    json_build_object('r', NEW.parent_run_id, 'i', NEW.parent_instance_id, 'a', NEW.parent_attempt, 'c', NEW.id),
    max_attempts => 5);
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_collect(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_spec jsonb, p_started_at timestamp with time zone, p_downstream jsonb, p_output_nodes text[], p_extra jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  c_path integer[];
  k integer;
  result_nodes text[] := ARRAY(SELECT jsonb_array_elements_text(p_spec -> 'results'));
  field text[] := CASE WHEN p_spec -> 'field' IS NULL OR p_spec -> 'field' = 'null' THEN NULL
                       ELSE ARRAY(SELECT jsonb_array_elements_text(p_spec -> 'field')) END;
  results jsonb;
  errors jsonb;
  out jsonb;
BEGIN
  SELECT item_path INTO c_path FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id;
  k := cardinality(c_path);
  -- One grouped scan: the splitter's item rows give every index (an item whose branch delivered
  -- nothing gets null); the result nodes' rows give the values, merged in edge order.
  SELECT coalesce(jsonb_agg(CASE WHEN field IS NULL THEN v ELSE v #> field END ORDER BY idx), '[]')
    INTO results
  FROM (
    SELECT r.item_path[k + 1] AS idx,
           CASE WHEN count(*) FILTER (WHERE r.delivered) = 0 THEN NULL
                WHEN cardinality(result_nodes) = 1 THEN (array_agg(r.output) FILTER (WHERE r.delivered))[1]
                ELSE stitch_jsonb_merge(CASE WHEN jsonb_typeof(r.output) = 'object' THEN r.output
                                             ELSE jsonb_build_object(r.node_id, r.output) END
                                        ORDER BY array_position(result_nodes, r.node_id)) FILTER (WHERE r.delivered) END AS v
    FROM (
      SELECT item_path, node_id, output,
             node_id = ANY (result_nodes)
               AND (status = 'completed' OR (status = 'failed' AND metadata ->> 'itemError' IS NULL)) AS delivered
      FROM stitch_node_runs
      WHERE run_id = p_run_id AND (node_id = ANY (result_nodes) OR node_id = p_spec ->> 'splitter')
        AND cardinality(item_path) = k + 1 AND item_path[1:k] = c_path
    ) AS r
    GROUP BY 1
  ) AS per_item;

  IF p_spec ->> 'policy' = 'collect' THEN
    SELECT coalesce(jsonb_agg(jsonb_build_object('index', item_path[k + 1], 'instanceId', instance_id,
                                                 'nodeId', node_id, 'error', error)
                              ORDER BY item_path[k + 1], instance_id), '[]')
      INTO errors
    FROM stitch_node_runs
    WHERE run_id = p_run_id AND node_id IN (SELECT jsonb_array_elements_text(p_spec -> 'members'))
      AND status = 'failed' AND metadata ->> 'itemError' = 'collected'
      AND cardinality(item_path) = k + 1 AND item_path[1:k] = c_path;
    out := jsonb_build_object(coalesce(p_spec ->> 'as', 'results'), results, 'errors', errors);
  ELSE
    out := CASE WHEN p_spec ->> 'as' IS NULL THEN results ELSE jsonb_build_object(p_spec ->> 'as', results) END;
  END IF;
  RETURN stitch_settle_node(p_run_id, p_version_id, p_instance_id, p_attempt, 'completed', out, NULL, NULL,
                            p_started_at, false, p_downstream, p_output_nodes, NULL, p_extra);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_dataset_version_in_use(p_dataset_id uuid, p_version integer)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
  SELECT EXISTS (SELECT 1 FROM stitch_experiments WHERE dataset_id = p_dataset_id AND dataset_version = p_version)
$function$;

CREATE OR REPLACE FUNCTION public.stitch_emit(p_run_id uuid, p_events jsonb)
 RETURNS bigint
 LANGUAGE sql
AS $function$ SELECT stitch_emit(p_run_id, p_events, true) $function$;

CREATE OR REPLACE FUNCTION public.stitch_emit(p_run_id uuid, p_events jsonb, p_notify boolean)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
  last_id bigint;
BEGIN
  IF p_events IS NULL OR jsonb_array_length(p_events) = 0 THEN
    RETURN NULL;
  END IF;
  WITH ins AS (
    INSERT INTO stitch_events (run_id, instance_id, type, payload)
    SELECT p_run_id, e ->> 'instanceId', e ->> 'type', coalesce(e -> 'payload', '{}')
    FROM jsonb_array_elements(p_events) AS e
    RETURNING id
  )
  SELECT max(id) INTO last_id FROM ins;
  IF p_notify THEN
    PERFORM pg_notify('stitch_events', json_build_object('runId', p_run_id, 'id', last_id)::text);
  END IF;
  RETURN last_id;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_end_cache_flight()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_enqueue_execute(p_run_id uuid, p_version_id uuid, p_instances jsonb, p_run_at timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  specs graphile_worker.job_spec[];
  run_at timestamptz := p_run_at;
BEGIN
  IF p_instances IS NULL OR jsonb_array_length(p_instances) = 0 THEN
    RETURN 0;
  END IF;
  IF run_at IS NULL THEN
    -- One primary-key read, only when a job is queued (eager dispatch queues nothing).
    SELECT stitch_priority_run_at(r.priority) INTO run_at FROM stitch_runs r WHERE r.id = p_run_id;
  END IF;
  specs := array(
    SELECT ROW('stitch_execute',
               json_build_object('r', p_run_id, 'v', p_version_id, 'i', x ->> 'i', 'a', coalesce((x ->> 'a')::int, 1)),
               NULL, run_at, 5, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM jsonb_array_elements(p_instances) AS x
    WHERE NOT x ? 'e'
  );
  IF cardinality(specs) > 0 THEN
    PERFORM graphile_worker.add_jobs(specs);
  END IF;
  RETURN jsonb_array_length(p_instances);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_enqueue_remote_task(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb, p_type text, p_config jsonb, p_lease_seconds integer, p_timeout_seconds double precision)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  task_id uuid;
  deadline timestamptz := now() + make_interval(secs => p_timeout_seconds);
BEGIN
  IF NOT stitch_mark_running(p_run_id, p_version_id, p_instance_id, p_attempt, p_input, NULL) THEN
    RETURN false;
  END IF;
  INSERT INTO stitch_remote_tasks (run_id, version_id, instance_id, attempt, type, config, input, lease_seconds, deadline_at)
  VALUES (p_run_id, p_version_id, p_instance_id, p_attempt, p_type, p_config, p_input, p_lease_seconds, deadline)
  ON CONFLICT (run_id, instance_id, attempt) DO NOTHING
  RETURNING id INTO task_id;
  IF task_id IS NOT NULL THEN
    PERFORM graphile_worker.add_job('stitch_remote_lease', json_build_object('t', task_id), run_at => deadline, max_attempts => 5);
    PERFORM pg_notify('stitch_tasks', p_type);
  END IF;
  RETURN true;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_execution_state(p_run_id uuid, p_instance_id text, p_upstream text[], p_entry boolean)
 RETURNS TABLE(run_status text, run_input jsonb, rerun jsonb, budget_usd double precision, experiment_id uuid, status text, attempt integer, live integer, upstream jsonb)
 LANGUAGE plpgsql
 STABLE
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
#variable_conflict use_column
BEGIN
  -- The run input only for entry nodes: inside a fan-out it is the whole array of items.
  RETURN QUERY
  SELECT r.status, CASE WHEN p_entry THEN r.input END, r.rerun, r.budget_usd, r.experiment_id, n.status, n.attempt, n.live,
         (SELECT coalesce(jsonb_object_agg(u.node_id, jsonb_build_object('status', u.status, 'output', u.output)), '{}')
          FROM unnest(p_upstream) AS w(id),
               LATERAL (SELECT u.node_id, u.status, u.output FROM stitch_node_runs u
                        WHERE u.run_id = r.id AND u.instance_id = w.id OFFSET 0) AS u)
  FROM stitch_runs r JOIN stitch_node_runs n ON n.run_id = r.id
  WHERE r.id = p_run_id AND n.instance_id = p_instance_id;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_experiment_run_finished()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM graphile_worker.add_job('stitch_experiment', json_build_object('x', NEW.experiment_id),
    job_key => 'stitch:experiment:' || NEW.experiment_id, job_key_mode => 'replace', max_attempts => 25);
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_acquire(p_scope text, p_kind text, p_flow_id uuid, p_node_id text, p_lim integer, p_per_seconds double precision, p_key_name text, p_key text, p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  s stitch_fair_scopes;
  used integer;
  reason text;
BEGIN
  -- The same attempt executing again (granted by a dispatch, or its runner died) keeps its slot.
  IF EXISTS (SELECT 1 FROM stitch_fair_slots WHERE scope = p_scope AND run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt) THEN
    RETURN '{"ok": true}';
  END IF;
  s := stitch_fair_lock_scope(p_scope, p_kind, p_flow_id, p_node_id, p_lim, p_per_seconds, p_key_name);
  IF EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = p_scope AND run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt) THEN
    RETURN '{"ok": false, "already": true}';
  END IF;
  used := stitch_fair_try(s, p_key, p_run_id, p_instance_id, p_attempt);
  IF used IS NULL THEN
    RETURN '{"ok": true}';
  END IF;
  reason := stitch_fair_reason(s, p_key, used);
  INSERT INTO stitch_fair_waiting (scope, key, run_id, version_id, instance_id, attempt, priority, reason)
  SELECT p_scope, p_key, p_run_id, p_version_id, p_instance_id, p_attempt, r.priority, reason FROM stitch_runs r WHERE r.id = p_run_id;
  UPDATE stitch_node_runs
  SET metadata = metadata || jsonb_build_object('queued', true, 'queuedReason', reason, 'message', 'queued: ' || reason), updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:queued',
          'payload', jsonb_build_object('attempt', p_attempt, 'queued', true, 'reason', reason))));
  PERFORM stitch_fair_sweep_at(s, CASE WHEN s.kind = 'rate' AND used >= s.lim THEN stitch_fair_rate_free_at(s, p_key)
                                       ELSE now() + interval '5 seconds' END);
  RETURN jsonb_build_object('ok', false, 'reason', reason);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_admit(p_scope text, p_flow_id uuid, p_lim integer, p_key_name text, p_key text, p_run_id uuid, p_version_id uuid, p_priority integer)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  s stitch_fair_scopes;
  used integer;
  reason text;
BEGIN
  s := stitch_fair_lock_scope(p_scope, 'concurrency', p_flow_id, NULL, p_lim, NULL, p_key_name);
  used := stitch_fair_try(s, p_key, p_run_id, '', 0);
  IF used IS NULL THEN
    RETURN true;
  END IF;
  reason := stitch_fair_reason(s, p_key, used);
  INSERT INTO stitch_fair_waiting (scope, key, run_id, version_id, instance_id, attempt, priority, reason)
  VALUES (p_scope, p_key, p_run_id, p_version_id, '', 0, p_priority, reason);
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('type', 'run:queued',
          'payload', jsonb_build_object('queued', true, 'reason', reason))));
  PERFORM stitch_fair_sweep_at(s, now() + interval '5 seconds');
  RETURN false;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_dispatch(p_scope text, p_key text DEFAULT NULL::text, p_sweep boolean DEFAULT false)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  s stitch_fair_scopes;
  k text;
  start_key text;
  wrapped boolean;
  granted integer := 0;
  in_round integer;
  used integer;
  next_at timestamptz;
BEGIN
  SELECT * INTO s FROM stitch_fair_scopes WHERE scope = p_scope FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  IF p_sweep THEN
    UPDATE stitch_fair_scopes SET sweep_at = NULL WHERE scope = p_scope;
    s.sweep_at := NULL;
  END IF;
  IF p_key IS NOT NULL THEN
    WHILE granted < 1000 AND stitch_fair_used(s, p_key) < s.lim AND stitch_fair_grant(s, p_key) LOOP
      granted := granted + 1;
    END LOOP;
  ELSE
    LOOP
      -- One round: the keys after the cursor, then from the first key up to the cursor.
      in_round := 0;
      start_key := s.cursor;
      k := start_key;
      wrapped := false;
      LOOP
        IF NOT wrapped THEN
          SELECT w.key INTO k FROM stitch_fair_waiting w WHERE w.scope = p_scope AND w.key > k ORDER BY w.key LIMIT 1;
          IF NOT FOUND THEN
            wrapped := true;
            SELECT w.key INTO k FROM stitch_fair_waiting w WHERE w.scope = p_scope AND w.key <= start_key ORDER BY w.key LIMIT 1;
            EXIT WHEN NOT FOUND;
          END IF;
        ELSE
          SELECT w.key INTO k FROM stitch_fair_waiting w WHERE w.scope = p_scope AND w.key > k AND w.key <= start_key ORDER BY w.key LIMIT 1;
          EXIT WHEN NOT FOUND;
        END IF;
        IF stitch_fair_used(s, k) < s.lim AND stitch_fair_grant(s, k) THEN
          in_round := in_round + 1;
          s.cursor := k;
        END IF;
        EXIT WHEN granted + in_round >= 1000;
      END LOOP;
      granted := granted + in_round;
      EXIT WHEN in_round = 0 OR granted >= 1000;
    END LOOP;
    UPDATE stitch_fair_scopes SET cursor = s.cursor WHERE scope = p_scope AND cursor IS DISTINCT FROM s.cursor;
  END IF;
  -- Work still waiting: sweep again at the next rate token, else in a few seconds.
  IF EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = p_scope) THEN
    IF s.kind = 'rate' THEN
      SELECT min(stitch_fair_rate_free_at(s, x.key)) INTO next_at
      FROM (SELECT DISTINCT key FROM stitch_fair_waiting WHERE scope = p_scope LIMIT 100) x;
    END IF;
    PERFORM stitch_fair_sweep_at(s, least(coalesce(next_at, now() + interval '5 seconds'), now() + interval '5 seconds'));
  END IF;
  RETURN granted;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_grant(s stitch_fair_scopes, p_key text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  w stitch_fair_waiting;
  ready jsonb;
BEGIN
  LOOP
    DELETE FROM stitch_fair_waiting WHERE (scope, run_id, instance_id, attempt) IN (
      SELECT scope, run_id, instance_id, attempt FROM stitch_fair_waiting
      WHERE scope = s.scope AND key = p_key ORDER BY priority DESC, queued_at LIMIT 1)
    RETURNING * INTO w;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    IF w.instance_id = '' THEN
      -- A flow's run: its entry instances, pending and without jobs since it started.
      SELECT jsonb_agg(jsonb_build_object('i', n.instance_id, 'a', n.attempt)) INTO ready
      FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
      WHERE n.run_id = w.run_id AND n.status = 'pending' AND r.status = 'running';
    ELSE
      SELECT jsonb_build_array(jsonb_build_object('i', n.instance_id, 'a', n.attempt)) INTO ready
      FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
      WHERE n.run_id = w.run_id AND n.instance_id = w.instance_id AND n.attempt = w.attempt
        AND n.status = 'pending' AND r.status = 'running';
    END IF;
    IF ready IS NOT NULL THEN
      INSERT INTO stitch_fair_slots (scope, key, run_id, instance_id, attempt) VALUES (s.scope, p_key, w.run_id, w.instance_id, w.attempt)
      ON CONFLICT DO NOTHING;
      PERFORM stitch_enqueue_execute(w.run_id, w.version_id, ready, stitch_priority_run_at(w.priority));
      IF w.instance_id <> '' THEN
        UPDATE stitch_node_runs SET metadata = (metadata - 'queuedReason' - 'message') || '{"queued": false}', updated_at = now()
        WHERE run_id = w.run_id AND instance_id = w.instance_id AND attempt = w.attempt;
      END IF;
      PERFORM stitch_emit(w.run_id, jsonb_build_array(jsonb_build_object('instanceId', nullif(w.instance_id, ''),
              'type', CASE WHEN w.instance_id = '' THEN 'run:queued' ELSE 'node:queued' END,
              'payload', jsonb_build_object('attempt', w.attempt, 'queued', false, 'waitedMs',
                round(extract(epoch FROM clock_timestamp() - w.queued_at) * 1000)))));
      RETURN true;
    END IF;
  END LOOP;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_lock_scope(p_scope text, p_kind text, p_flow_id uuid, p_node_id text, p_lim integer, p_per_seconds double precision, p_key_name text)
 RETURNS stitch_fair_scopes
 LANGUAGE plpgsql
AS $function$
DECLARE
  s stitch_fair_scopes;
BEGIN
  SELECT * INTO s FROM stitch_fair_scopes WHERE scope = p_scope FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO stitch_fair_scopes (scope, kind, flow_id, node_id, lim, per_seconds, key_name)
    VALUES (p_scope, p_kind, p_flow_id, p_node_id, p_lim, p_per_seconds, p_key_name)
    ON CONFLICT (scope) DO NOTHING;
    SELECT * INTO s FROM stitch_fair_scopes WHERE scope = p_scope FOR UPDATE;
  END IF;
  -- A new flow version may change the limit: the latest one seen applies.
  IF s.lim IS DISTINCT FROM p_lim OR s.per_seconds IS DISTINCT FROM p_per_seconds OR s.key_name IS DISTINCT FROM p_key_name THEN
    UPDATE stitch_fair_scopes SET lim = p_lim, per_seconds = p_per_seconds, key_name = p_key_name, updated_at = now()
    WHERE scope = p_scope RETURNING * INTO s;
  END IF;
  RETURN s;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_rate_free_at(s stitch_fair_scopes, p_key text)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
AS $function$
  SELECT coalesce((SELECT acquired_at + make_interval(secs => s.per_seconds) FROM stitch_fair_slots
                   WHERE scope = s.scope AND key = p_key AND acquired_at > clock_timestamp() - make_interval(secs => s.per_seconds)
                   ORDER BY acquired_at DESC OFFSET s.lim - 1 LIMIT 1), clock_timestamp())
$function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_reason(s stitch_fair_scopes, p_key text, p_used integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT CASE WHEN s.kind = 'rate' THEN 'rate' ELSE 'concurrency' END
         || CASE WHEN s.key_name IS NULL THEN '' ELSE ' ' || s.key_name || '=' || p_key END
         || ' ' || p_used || '/' || s.lim
         || CASE WHEN s.kind = 'rate' THEN ' per ' || s.per_seconds || 's' ELSE '' END
$function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_run_ended()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  -- Only when a run of its key waits: a limit that does not bind costs a run one index probe.
  IF EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = NEW.fair_scope AND key = NEW.fair_key) THEN
    PERFORM graphile_worker.add_job('stitch_fair_dispatch', json_build_object('s', NEW.fair_scope, 'k', NEW.fair_key), max_attempts => 25);
  END IF;
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_sweep_at(s stitch_fair_scopes, p_at timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF s.sweep_at IS NOT NULL AND s.sweep_at > now() AND s.sweep_at <= p_at THEN
    RETURN;
  END IF;
  PERFORM graphile_worker.add_job('stitch_fair_dispatch', json_build_object('s', s.scope),
    run_at => p_at, max_attempts => 25, job_key => 'stitch_fair:' || s.scope, job_key_mode => 'replace');
  UPDATE stitch_fair_scopes SET sweep_at = p_at WHERE scope = s.scope;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_try(s stitch_fair_scopes, p_key text, p_run_id uuid, p_instance_id text, p_attempt integer)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  used integer := stitch_fair_used(s, p_key);
BEGIN
  IF used < s.lim AND NOT EXISTS (SELECT 1 FROM stitch_fair_waiting WHERE scope = s.scope AND key = p_key) THEN
    INSERT INTO stitch_fair_slots (scope, key, run_id, instance_id, attempt) VALUES (s.scope, p_key, p_run_id, p_instance_id, p_attempt);
    RETURN NULL;
  END IF;
  RETURN used;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fair_used(s stitch_fair_scopes, p_key text)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  used integer;
BEGIN
  IF s.kind = 'rate' THEN
    -- Kept a minute at least: /api/queues and the tests read recent starts from here.
    DELETE FROM stitch_fair_slots WHERE scope = s.scope AND key = p_key
      AND acquired_at <= clock_timestamp() - make_interval(secs => greatest(s.per_seconds, 60));
    SELECT count(*) INTO used FROM stitch_fair_slots WHERE scope = s.scope AND key = p_key
      AND acquired_at > clock_timestamp() - make_interval(secs => s.per_seconds);
    RETURN used;
  END IF;
  IF s.node_id IS NULL THEN
    DELETE FROM stitch_fair_slots sl WHERE sl.scope = s.scope AND sl.key = p_key
      AND NOT EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = sl.run_id AND r.status IN ('pending', 'running'));
  ELSE
    DELETE FROM stitch_fair_slots sl WHERE sl.scope = s.scope AND sl.key = p_key
      AND NOT EXISTS (SELECT 1 FROM stitch_node_runs n WHERE n.run_id = sl.run_id AND n.instance_id = sl.instance_id
                        AND n.attempt = sl.attempt AND n.status IN ('pending', 'running'));
  END IF;
  SELECT count(*) INTO used FROM stitch_fair_slots WHERE scope = s.scope AND key = p_key;
  RETURN used;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fan_out(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_items jsonb, p_item_key text, p_input jsonb, p_started_at timestamp with time zone, p_spec jsonb, p_output_nodes text[])
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  n integer := jsonb_array_length(p_items);
  direct integer := coalesce((p_spec ->> 'direct')::int, 0);
  win integer;
  s_node text;
  s_path integer[];
  c_id text;
  c_ready boolean;
  arr jsonb;
  ready jsonb;
  run_status text;
BEGIN
  win := CASE WHEN jsonb_array_length(p_spec -> 'children') = 0 THEN n
              ELSE least(n, coalesce((p_spec ->> 'window')::int, n)) END;
  UPDATE stitch_node_runs
  SET status = 'completed', output = jsonb_build_object('count', n), input = coalesce(input, p_input),
      started_at = coalesce(started_at, p_started_at, now()), finished_at = now(), updated_at = now(),
      progress = 1, item_count = n, released = win, metadata = metadata || jsonb_build_object('fanout', p_spec),
      fingerprint = coalesce(fingerprint, stitch_fingerprint_of(p_version_id, node_id, coalesce(input, p_input)))
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
    AND status IN ('pending', 'running')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING node_id, item_path INTO s_node, s_path;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;

  INSERT INTO stitch_node_runs (run_id, instance_id, node_id, item_path, status, output, arrived,
                                started_at, finished_at, progress)
  SELECT p_run_id, stitch_instance_id(s_node, s_path || (x.ord - 1)::int), s_node, s_path || (x.ord - 1)::int,
         'completed', CASE WHEN p_item_key IS NULL THEN x.value ELSE jsonb_build_object(p_item_key, x.value) END,
         CASE WHEN x.ord <= win THEN direct ELSE 0 END, now(), now(), 1
  FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(value, ord);

  -- The collector waits for every shard; `live` = 1: it runs (even on no items) unless the
  -- splitter itself was skipped.
  -- Shard s counts items i ≡ s (mod 32): ceil((n - s) / 32) of them, of which the first `win` are
  -- released (their direct splitter → collector edges have arrived already).
  c_id := stitch_instance_id(p_spec ->> 'collector', s_path);
  WITH shards AS (
    INSERT INTO stitch_fan_in (run_id, instance_id, shard, arrived, needed)
    SELECT p_run_id, c_id, sh, greatest(0, (win - sh + 31) / 32) * direct, ((n - sh + 31) / 32) * (p_spec ->> 'collectorIn')::int
    FROM generate_series(0, least(n, 32) - 1) AS sh
    RETURNING arrived >= needed AS done
  )
  INSERT INTO stitch_node_runs (run_id, instance_id, node_id, item_path, status, arrived, live, needed)
  SELECT p_run_id, c_id, p_spec ->> 'collector', s_path, 'pending', count(*) FILTER (WHERE done), 1, least(n, 32)
  FROM shards
  RETURNING arrived >= needed INTO c_ready;

  arr := stitch_arrive(p_run_id, CASE WHEN win > 0 THEN stitch_item_arrivals(p_spec, s_path, 0, win - 1) ELSE '[]' END);
  ready := (arr -> 'ready') || CASE WHEN c_ready THEN jsonb_build_array(jsonb_build_object('i', c_id)) ELSE '[]' END;
  run_status := stitch_after_settle(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:completed',
      'payload', jsonb_build_object('attempt', p_attempt, 'status', 'completed', 'items', n, 'released', win))),
    ready, true, p_output_nodes);
  RETURN jsonb_build_object('ok', true, 'items', n, 'ready', jsonb_array_length(ready), 'run', run_status);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_fingerprint_of(p_version_id uuid, p_node_id text, p_input jsonb)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
  RETURN (SELECT stitch_input_fingerprint(f.static_hash, p_input)
          FROM stitch_node_fingerprints f WHERE f.version_id = p_version_id AND f.node_id = p_node_id);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_hand_back_lease(p_run_id uuid, p_instance_id text, p_runner text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  version uuid;
BEGIN
  UPDATE stitch_node_runs n SET leased_by = NULL
  FROM stitch_runs r
  WHERE r.id = n.run_id AND r.status = 'running' AND n.run_id = p_run_id AND n.instance_id = p_instance_id
    AND n.leased_by = p_runner AND n.status IN ('pending', 'running') AND n.attempt = 1
  RETURNING r.version_id INTO version;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM stitch_enqueue_execute(p_run_id, version, jsonb_build_array(jsonb_build_object('i', p_instance_id)), NULL);
  RETURN true;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_input_fingerprint(p_static text, p_input jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT p_static || '.' || md5(coalesce(p_input, 'null'::jsonb)::text) $function$;

CREATE OR REPLACE FUNCTION public.stitch_instance_id(p_node text, p_path integer[])
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$
  SELECT p_node || coalesce((SELECT string_agg('[' || x || ']', '' ORDER BY o)
                             FROM unnest(p_path) WITH ORDINALITY AS u(x, o)), '')
$function$;

CREATE OR REPLACE FUNCTION public.stitch_item_arrivals(p_spec jsonb, p_path integer[], p_from integer, p_to integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
  SELECT coalesce(jsonb_agg(jsonb_build_object('i', stitch_instance_id(ch ->> 'n', p_path || j), 'n', ch ->> 'n',
                    'p', to_jsonb(p_path || j), 'c', (ch ->> 'c')::int, 'd', (ch ->> 'd')::int) ORDER BY j), '[]')
  FROM generate_series(p_from, p_to) AS j, jsonb_array_elements(p_spec -> 'children') AS ch
$function$;

CREATE OR REPLACE FUNCTION public.stitch_job_key(p_kind text, p_run_id uuid, p_instance_id text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
AS $function$ SELECT 'stitch:' || p_kind || ':' || p_run_id || ':' || p_instance_id $function$;

CREATE OR REPLACE FUNCTION public.stitch_lock_run(p_run_id uuid, p_exclusive boolean)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  IF p_exclusive THEN
    PERFORM pg_advisory_xact_lock(57174, hashtext(p_run_id::text));
  ELSE
    PERFORM pg_advisory_xact_lock_shared(57174, hashtext(p_run_id::text));
  END IF;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_mark_running(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb, p_deadline_seconds double precision)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  deadline timestamptz;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  deadline := CASE WHEN p_deadline_seconds IS NULL THEN NULL
                   ELSE now() + make_interval(secs => p_deadline_seconds) END;
  UPDATE stitch_node_runs
  SET status = 'running', input = p_input, started_at = coalesce(started_at, now()),
      deadline_at = coalesce(deadline, deadline_at), updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt
    AND (status = 'pending' OR status = 'running' AND deadline IS NOT NULL)
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running');
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF deadline IS NOT NULL THEN
    PERFORM stitch_add_deadline_job(p_run_id, p_version_id, p_instance_id, p_attempt, deadline);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:running', 'payload', jsonb_build_object('attempt', p_attempt, 'deadlineAt', deadline))));
  RETURN true;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_maybe_finish_run(p_run_id uuid, p_output_nodes text[])
 RETURNS text
 LANGUAGE plpgsql
AS $function$
DECLARE
  run_status text;
  out jsonb;
  failed_count integer;
BEGIN
  SELECT status INTO run_status FROM stitch_runs WHERE id = p_run_id FOR UPDATE;
  IF run_status IS DISTINCT FROM 'running' THEN
    RETURN run_status;
  END IF;
  IF EXISTS (SELECT 1 FROM stitch_node_runs
             WHERE run_id = p_run_id AND status IN ('pending', 'running', 'waiting_for_user')) THEN
    RETURN 'running';
  END IF;
  -- The run's output: one output node → its output; several → keyed by node id.
  SELECT CASE WHEN count(*) = 1 THEN (array_agg(output))[1]
              ELSE coalesce(jsonb_object_agg(node_id, output), '{}') END
    INTO out
  FROM stitch_node_runs
  WHERE run_id = p_run_id AND node_id = ANY (p_output_nodes) AND item_path = '{}'
    AND status IN ('completed', 'failed');
  UPDATE stitch_runs SET status = 'completed', output = out, finished_at = now(), updated_at = now()
  WHERE id = p_run_id;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('type', 'run:completed', 'payload',
          jsonb_build_object('status', 'completed'))));
  RETURN 'completed';
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_node_failed_alert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
  flow uuid;
BEGIN
  SELECT r.flow_id INTO flow FROM stitch_runs r JOIN stitch_flows f ON f.id = r.flow_id
  WHERE r.id = NEW.run_id AND f.alerts <> '[]';
  IF flow IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM stitch_raise_alert(flow, 'node.failed', jsonb_build_object('runId', NEW.run_id,
    'nodeId', NEW.instance_id, 'attempt', NEW.attempt, 'error', left(NEW.error, 1000)));
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_notify_flows_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM pg_notify('stitch_flows', '');
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_priority_run_at(p_priority integer)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
AS $function$
  SELECT CASE WHEN p_priority <> 0 THEN now() - make_interval(mins => p_priority) END
$function$;

CREATE OR REPLACE FUNCTION public.stitch_raise_alert(p_flow_id uuid, p_on text, p_latest jsonb, p_to text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE
  a jsonb;
BEGIN
  FOR a IN SELECT x FROM stitch_flows f, jsonb_array_elements(f.alerts) x
           WHERE f.id = p_flow_id AND f.deleted_at IS NULL AND x ->> 'on' = p_on
             AND (p_to IS NULL OR x ->> 'to' = p_to) LOOP
    INSERT INTO stitch_alert_state AS s (flow_id, alert_on, alert_to, pending, pending_since, latest)
    VALUES (p_flow_id, p_on, a ->> 'to', 1, now(), p_latest)
    ON CONFLICT (flow_id, alert_on, alert_to) DO UPDATE
      SET pending = s.pending + 1, pending_since = coalesce(s.pending_since, now()), latest = p_latest;
    -- The job exists while anything is pending: placed by the first occurrence, kept (with its
    -- time) by the others. One that is delivering now loses its key and this places the next.
    PERFORM graphile_worker.add_job('stitch_alert',
      json_build_object('f', p_flow_id, 'on', p_on, 'to', a ->> 'to'),
      run_at => now() + interval '2 seconds',
      max_attempts => 8,
      job_key => stitch_alert_job_key(p_flow_id, p_on, a ->> 'to'),
      job_key_mode => 'preserve_run_at');
  END LOOP;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_release_items(p_run_id uuid, p_ticks jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  t jsonb;
  a integer;
  j integer;
  s_path integer[];
  spec jsonb;
  direct integer;
  res jsonb;
  ready jsonb := '[]';
  touched boolean := false;
BEGIN
  FOR t IN SELECT x FROM jsonb_array_elements(coalesce(p_ticks, '[]')) AS x LOOP
    UPDATE stitch_node_runs SET arrived = arrived + (t ->> 'c')::int
    WHERE run_id = p_run_id AND instance_id = t ->> 'item' RETURNING arrived INTO a;
    CONTINUE WHEN NOT FOUND OR a < (t ->> 'd')::int;
    UPDATE stitch_node_runs SET released = released + 1, updated_at = now()
    WHERE run_id = p_run_id AND instance_id = t ->> 's' AND released < item_count
    RETURNING released - 1, item_path, metadata -> 'fanout' INTO j, s_path, spec;
    CONTINUE WHEN NOT FOUND;
    direct := coalesce((spec ->> 'direct')::int, 0);
    res := stitch_arrive(p_run_id, stitch_item_arrivals(spec, s_path, j, j)
             || CASE WHEN direct > 0 THEN jsonb_build_array(jsonb_build_object(
                  'i', stitch_instance_id(spec ->> 'collector', s_path), 'n', spec ->> 'collector',
                  'p', to_jsonb(s_path), 'c', direct, 'k', j)) ELSE '[]' END);
    IF direct > 0 THEN
      UPDATE stitch_node_runs SET arrived = arrived + direct
      WHERE run_id = p_run_id AND instance_id = stitch_instance_id(spec ->> 'splitter', s_path || j);
    END IF;
    ready := ready || (res -> 'ready');
    touched := touched OR (res ->> 'touched')::boolean;
  END LOOP;
  RETURN jsonb_build_object('ready', ready, 'touched', touched);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_remove_node_jobs(p_run_id uuid, p_instance_id text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM graphile_worker.remove_job(j.key)
  FROM graphile_worker.jobs j
  WHERE j.key IN (stitch_job_key('deadline', p_run_id, p_instance_id), stitch_job_key('ux_deadline', p_run_id, p_instance_id),
                  stitch_job_key('callback', p_run_id, p_instance_id))
    AND j.locked_at IS NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_requeue_leases(p_own text, p_held text[], p_min_age_seconds double precision)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  n integer;
BEGIN
  WITH freed AS (
    UPDATE stitch_node_runs n SET leased_by = NULL
    FROM stitch_runs r
    WHERE r.id = n.run_id AND r.status = 'running'
      AND n.leased_by IS NOT NULL AND n.status IN ('pending', 'running') AND n.attempt = 1
      AND (n.leased_by = p_own AND NOT (n.run_id::text || '/' || n.instance_id = ANY (p_held))
             AND n.updated_at < now() - make_interval(secs => p_min_age_seconds)
           OR n.leased_by <> p_own AND NOT EXISTS (SELECT 1 FROM stitch_runners w WHERE w.id = n.leased_by))
    RETURNING n.run_id, r.version_id, n.instance_id
  )
  SELECT coalesce(sum(stitch_enqueue_execute(run_id, version_id, instances, NULL)), 0)
    INTO n
  FROM (SELECT run_id, version_id, jsonb_agg(jsonb_build_object('i', instance_id)) AS instances
        FROM freed GROUP BY run_id, version_id) q;
  RETURN n;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_retry_node(p_run_id uuid, p_version_id uuid, p_instance_id text, p_entry_nodes text[], p_in_degree jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  run_status text;
  node record;
  new_attempt integer;
  enqueue jsonb;
BEGIN
  PERFORM stitch_lock_run(p_run_id, true);
  SELECT status INTO run_status FROM stitch_runs WHERE id = p_run_id FOR UPDATE;
  IF run_status IS NULL THEN
    RETURN jsonb_build_object('error', 'run_not_found');
  END IF;
  IF run_status NOT IN ('failed', 'running') THEN
    RETURN jsonb_build_object('error', 'run_not_retryable', 'status', run_status);
  END IF;
  SELECT status, metadata INTO node FROM stitch_node_runs WHERE run_id = p_run_id AND instance_id = p_instance_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('error', 'node_not_found');
  END IF;
  IF node.metadata ->> 'itemError' = 'collected' THEN
    RETURN jsonb_build_object('error', 'item_error_collected');
  END IF;
  IF node.status <> 'failed' THEN
    RETURN jsonb_build_object('error', 'node_not_failed', 'status', node.status);
  END IF;

  UPDATE stitch_node_runs SET status = 'pending', attempt = attempt + 1, error = NULL, output = NULL,
         finished_at = NULL, deadline_at = NULL, updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id
  RETURNING attempt INTO new_attempt;
  enqueue := jsonb_build_array(jsonb_build_object('i', p_instance_id, 'a', new_attempt));

  IF run_status = 'failed' THEN
    DELETE FROM stitch_node_runs WHERE run_id = p_run_id AND status = 'skipped' AND arrived = 0
      AND metadata ->> 'closedBy' = 'failed' AND NOT (node_id = ANY (p_entry_nodes)) AND needed IS NULL;
    WITH reopened AS (
      UPDATE stitch_node_runs
      SET status = 'pending', attempt = CASE WHEN started_at IS NULL THEN attempt ELSE attempt + 1 END,
          metadata = metadata - 'closedBy', finished_at = NULL, updated_at = now()
      WHERE run_id = p_run_id AND status IN ('skipped', 'cancelled') AND metadata ->> 'closedBy' = 'failed'
      RETURNING instance_id, node_id, attempt, arrived, needed
    )
    SELECT enqueue || coalesce(jsonb_agg(jsonb_build_object('i', instance_id, 'a', attempt)), '[]') INTO enqueue
    FROM reopened
    WHERE arrived >= coalesce(needed, (p_in_degree ->> node_id)::int, 0);
    UPDATE stitch_runs SET status = 'running', error = NULL, output = NULL, finished_at = NULL, updated_at = now()
    WHERE id = p_run_id;
  END IF;

  PERFORM stitch_enqueue_execute(p_run_id, p_version_id, enqueue, NULL);
  PERFORM stitch_emit(p_run_id, (SELECT jsonb_agg(jsonb_build_object('instanceId', x ->> 'i', 'type', 'node:pending',
            'payload', jsonb_build_object('attempt', (x ->> 'a')::int, 'retry', true))) FROM jsonb_array_elements(enqueue) x));
  RETURN jsonb_build_object('attempt', new_attempt);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_run_failed_alert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
  latest jsonb := jsonb_build_object('runId', NEW.id, 'error', left(NEW.error, 1000),
                                     'startedAt', NEW.started_at, 'finishedAt', NEW.finished_at);
BEGIN
  IF NOT EXISTS (SELECT 1 FROM stitch_flows WHERE id = NEW.flow_id AND alerts <> '[]') THEN
    RETURN NULL;
  END IF;
  PERFORM stitch_raise_alert(NEW.flow_id, 'run.failed', latest);
  IF NEW.error LIKE '%budget_exceeded:%' THEN
    PERFORM stitch_raise_alert(NEW.flow_id, 'budget_exceeded', latest);
  END IF;
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_schedule_retry(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_error text, p_delay_ms integer)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  had_deadline boolean;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  UPDATE stitch_node_runs n
  SET status = 'pending', attempt = p_attempt + 1, error = p_error, deadline_at = NULL, updated_at = now()
  FROM (SELECT deadline_at IS NOT NULL AS had FROM stitch_node_runs
        WHERE run_id = p_run_id AND instance_id = p_instance_id) AS before
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND n.status IN ('pending', 'running')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING before.had INTO had_deadline;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF had_deadline THEN
    PERFORM stitch_remove_node_jobs(p_run_id, p_instance_id);
  END IF;
  PERFORM stitch_enqueue_execute(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('i', p_instance_id, 'a', p_attempt + 1)),
    now() + make_interval(secs => p_delay_ms / 1000.0));
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:retrying', 'payload', jsonb_build_object('attempt', p_attempt, 'error', p_error,
          'nextAttempt', p_attempt + 1, 'delayMs', p_delay_ms))));
  RETURN true;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_settle_batch(p_items jsonb, p_job_ids bigint[], p_async_commit boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  x record;
  results jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(p_items)]);
BEGIN
  FOR x IN SELECT value AS v, ordinality AS n FROM jsonb_array_elements(p_items) WITH ORDINALITY
           ORDER BY value ->> 'run', ordinality LOOP
    results[x.n] := stitch_settle_item(x.v);
  END LOOP;
  -- The queue jobs that executed these settles end in the same commit.
  IF p_job_ids IS NOT NULL THEN
    PERFORM graphile_worker.complete_jobs(p_job_ids);
  END IF;
  IF p_async_commit THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  RETURN to_jsonb(results);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_settle_chain(p_item jsonb, p_result jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  result jsonb := p_result;
  step jsonb;
  input jsonb;
  hit stitch_cache_hit;
  settled jsonb;
BEGIN
  -- A re-run's nodes look for the source run's output first (src/lib/rerun): not here.
  IF (SELECT rerun FROM stitch_runs WHERE id = (p_item ->> 'run')::uuid) IS NOT NULL THEN
    RETURN p_result;
  END IF;
  FOR step IN SELECT value FROM jsonb_array_elements(p_item -> 'chain') LOOP
    EXIT WHEN NOT coalesce((result ->> 'ok')::boolean, false)
           OR NOT jsonb_path_exists(result -> 'ready', '$[*] ? (@.i == $i && exists(@.e))', jsonb_build_object('i', step -> 'i'));
    -- The input as mergeInput makes it from one upstream without a mapping (engine/merge-input.ts).
    input := CASE WHEN jsonb_typeof(result -> 'output') = 'object' THEN result -> 'output'
                  WHEN result -> 'output' IS NULL OR result -> 'output' = 'null' THEN '{}'
                  ELSE jsonb_build_object(step ->> 'from', result -> 'output') END;
    hit := stitch_cache_lookup(stitch_cache_key(step ->> 'prefix', input));
    EXIT WHEN hit.origin IS NULL;
    settled := stitch_settle_item(jsonb_build_object(
      'run', p_item -> 'run', 'version', p_item -> 'version', 'instance', step -> 'i', 'attempt', 1,
      'status', 'completed', 'input', input, 'merge', false, 'arrivals', step -> 'arrivals',
      'outputNodes', p_item -> 'outputNodes', 'extra', jsonb_build_object('notify', false)), hit);
    EXIT WHEN NOT (settled ->> 'ok')::boolean;
    result := settled || jsonb_build_object('last', step -> 'i');
  END LOOP;
  RETURN result;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_settle_item(p_item jsonb, p_hit stitch_cache_hit DEFAULT NULL::stitch_cache_hit)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  x jsonb := p_item;
  result jsonb;
BEGIN
  IF p_hit IS NOT NULL THEN
    PERFORM stitch_emit((x ->> 'run')::uuid, jsonb_build_array(jsonb_build_object('instanceId', x ->> 'instance',
              'type', 'node:cached', 'payload', p_hit.origin - 'origin')), false);
    x := x || jsonb_build_object('output', p_hit.output,
           'extra', coalesce(x -> 'extra', '{}') || jsonb_build_object('metadata', coalesce(x #> '{extra,metadata}', '{}') || p_hit.origin));
  END IF;
  result := stitch_settle_node(
    (x ->> 'run')::uuid, (x ->> 'version')::uuid, x ->> 'instance', (x ->> 'attempt')::integer,
    x ->> 'status', x -> 'output', x ->> 'error', x -> 'input', (x ->> 'startedAt')::timestamptz,
    (x ->> 'merge')::boolean, x -> 'arrivals', stitch_text_array(x -> 'outputNodes'),
    x ->> 'hash', x -> 'extra');
  IF x ? 'chain' THEN
    result := stitch_settle_chain(x, result);
  END IF;
  RETURN result;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_settle_node(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text, p_output jsonb, p_error text, p_input jsonb, p_started_at timestamp with time zone, p_merge boolean, p_downstream jsonb, p_output_nodes text[], p_completion_hash text)
 RETURNS jsonb
 LANGUAGE sql
AS $function$
  SELECT stitch_settle_node(p_run_id, p_version_id, p_instance_id, p_attempt, p_status, p_output, p_error, p_input,
                            p_started_at, p_merge, p_downstream, p_output_nodes, p_completion_hash, NULL::jsonb)
$function$;

CREATE OR REPLACE FUNCTION public.stitch_settle_node(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_status text, p_output jsonb, p_error text, p_input jsonb, p_started_at timestamp with time zone, p_merge boolean, p_downstream jsonb, p_output_nodes text[], p_completion_hash text, p_extra jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  arr jsonb := '{"ready": [], "touched": false}';
  rel jsonb := '{"ready": [], "touched": false}';
  ready jsonb;
  run_status text;
  settles smallint;
  had_deadline boolean;
  stored jsonb;
BEGIN
  -- stitch_lock_run(p_run_id, false), inlined: it runs for every settle.
  PERFORM pg_advisory_xact_lock_shared(57174, hashtext(p_run_id::text));
  UPDATE stitch_node_runs n
  SET status = p_status,
      output = CASE WHEN p_merge AND jsonb_typeof(n.output) = 'object' AND jsonb_typeof(p_output) = 'object'
                    THEN n.output || p_output ELSE p_output END,
      error = p_error,
      input = coalesce(n.input, p_input),
      started_at = CASE WHEN p_status = 'skipped' THEN n.started_at ELSE coalesce(n.started_at, p_started_at, now()) END,
      finished_at = now(),
      updated_at = now(),
      deadline_at = NULL,
      settle_count = n.settle_count + 1,
      progress = CASE WHEN p_status = 'completed' THEN 1 ELSE n.progress END,
      fingerprint = CASE WHEN p_status = 'completed' AND n.fingerprint IS NULL
                         THEN stitch_fingerprint_of(p_version_id, n.node_id, coalesce(n.input, p_input))
                         ELSE n.fingerprint END,
      metadata = n.metadata || coalesce(p_extra -> 'metadata', '{}')
                 || CASE WHEN p_completion_hash IS NULL THEN '{}'::jsonb
                         ELSE jsonb_build_object('completionHash', p_completion_hash) END
  FROM (SELECT deadline_at IS NOT NULL AS had FROM stitch_node_runs
        WHERE run_id = p_run_id AND instance_id = p_instance_id) AS before
  WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id AND n.attempt = p_attempt
    AND (n.status IN ('pending', 'running', 'waiting_for_user') AND p_status IN ('completed', 'failed')
         OR n.status = 'pending' AND p_status = 'skipped')
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING n.settle_count, before.had, n.output INTO settles, had_deadline, stored;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('ok', false);
  END IF;
  IF had_deadline THEN
    PERFORM stitch_remove_node_jobs(p_run_id, p_instance_id);
  END IF;

  IF settles = 1 THEN
    arr := stitch_arrive(p_run_id, p_downstream);
    IF jsonb_array_length(coalesce(p_extra -> 'ticks', '[]')) > 0 THEN -- items of a windowed fan-out only
      rel := stitch_release_items(p_run_id, p_extra -> 'ticks');
    END IF;
  END IF;
  ready := (arr -> 'ready') || (rel -> 'ready');
  run_status := stitch_after_settle(p_run_id, p_version_id,
    jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type', 'node:' || p_status,
      'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt, 'status', p_status, 'error', p_error,
                   'case', p_extra #> '{metadata,case}')))),
    ready, (arr ->> 'touched')::boolean OR (rel ->> 'touched')::boolean, p_output_nodes,
    coalesce((p_extra ->> 'notify')::boolean, true));
  -- A successor claimed for eager dispatch gets the output as stored: it is that successor's input.
  RETURN jsonb_build_object('ok', true, 'ready', ready, 'run', run_status)
         || CASE WHEN jsonb_path_exists(ready, '$[*] ? (exists(@.e))') THEN jsonb_build_object('output', stored) ELSE '{}' END;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_text_array(p jsonb)
 RETURNS text[]
 LANGUAGE sql
 STABLE
AS $function$ SELECT (jsonb_populate_record(NULL::stitch_text_list, jsonb_build_object('v', p))).v $function$;

CREATE OR REPLACE FUNCTION public.stitch_update_node_state(p_run_id uuid, p_instance_id text, p_attempt integer, p_set_output boolean, p_output jsonb, p_progress real, p_metadata jsonb, p_message text)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
  cur record;
  new_attempt integer;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  UPDATE stitch_node_runs
  SET status = 'running',
      output = CASE WHEN p_set_output THEN p_output ELSE output END,
      progress = coalesce(p_progress, progress),
      metadata = metadata || coalesce(p_metadata, '{}'),
      started_at = coalesce(started_at, now()),
      updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id
    AND CASE WHEN p_attempt IS NULL THEN status = 'running'
             ELSE attempt = p_attempt AND status IN ('pending', 'running') END
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running')
  RETURNING attempt INTO new_attempt;
  IF NOT FOUND THEN
    SELECT n.attempt, n.status, r.status AS run_status INTO cur
    FROM stitch_node_runs n JOIN stitch_runs r ON r.id = n.run_id
    WHERE n.run_id = p_run_id AND n.instance_id = p_instance_id;
    IF NOT FOUND THEN
      RETURN jsonb_build_object('ok', false, 'found', false);
    END IF;
    RETURN jsonb_build_object('ok', false, 'found', true, 'attempt', cur.attempt,
                              'status', cur.status, 'runStatus', cur.run_status);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id, 'type',
            CASE WHEN p_progress IS NULL AND p_message IS NULL THEN 'node:running' ELSE 'node:progress' END,
            'payload', jsonb_build_object('attempt', new_attempt, 'progress', p_progress, 'message', p_message))));
  RETURN jsonb_build_object('ok', true, 'attempt', new_attempt);
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_vault_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  UPDATE stitch_vault_version SET version = version + 1;
  PERFORM pg_notify('stitch_vault', '');
  RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stitch_wait_for_user(p_run_id uuid, p_version_id uuid, p_instance_id text, p_attempt integer, p_input jsonb, p_metadata jsonb, p_deadline_seconds double precision)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
  deadline timestamptz;
BEGIN
  PERFORM stitch_lock_run(p_run_id, false);
  deadline := CASE WHEN p_deadline_seconds IS NULL THEN NULL
                   ELSE now() + make_interval(secs => p_deadline_seconds) END;
  UPDATE stitch_node_runs
  SET status = 'waiting_for_user', input = p_input, metadata = metadata || p_metadata,
      started_at = coalesce(started_at, now()), deadline_at = deadline, updated_at = now()
  WHERE run_id = p_run_id AND instance_id = p_instance_id AND attempt = p_attempt AND status = 'pending'
    AND EXISTS (SELECT 1 FROM stitch_runs r WHERE r.id = p_run_id AND r.status = 'running');
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF deadline IS NOT NULL THEN
    PERFORM graphile_worker.add_jobs(ARRAY[ROW('stitch_ux_deadline',
      json_build_object('r', p_run_id, 'v', p_version_id, 'i', p_instance_id, 'a', p_attempt),
      NULL, deadline, 5, stitch_job_key('ux_deadline', p_run_id, p_instance_id), NULL, NULL)::graphile_worker.job_spec]);
  END IF;
  PERFORM stitch_emit(p_run_id, jsonb_build_array(jsonb_build_object('instanceId', p_instance_id,
          'type', 'node:waiting', 'payload', jsonb_strip_nulls(jsonb_build_object('attempt', p_attempt,
          'prompt', p_metadata -> 'prompt', 'deadlineAt', deadline)))));
  RETURN true;
END $function$;
