-- 0027_alerts: per-flow alerts (docs/operations.md, "Alerts").
--
-- A flow's `alerts` is a list of {on, to, seconds?, format?} (checked by src/lib/alerts/spec.ts
-- at save). What happens is recorded where it happens, in the commit that makes it so:
--
--   run.failed, budget_exceeded  a trigger on the run row turning `failed` (budget_exceeded when
--                                its error says so);
--   node.failed                  a trigger on a node row turning `failed` (its last attempt, a
--                                continueOnError node, a collected item error);
--   run.slower_than              a job placed by the run's start at started_at + seconds
--                                (stitch_arm_slow_alerts), which raises it if the run is still open.
--
-- Each raise adds one to the alert's pending count (`stitch_alert_state`, one row per flow, event
-- and target) and makes sure the alert's one delivery job (keyed) exists: placed two seconds out
-- by the first occurrence (what else happens meanwhile goes in the same message), left as it is
-- by the next ones. The job keeps to STITCH_ALERT_WINDOW_SECONDS between messages
-- (src/lib/alerts/deliver.ts). A storm of a thousand failures is one job and one message with a
-- count. The triggers' WHEN clauses keep completed runs and nodes out entirely, and a flow
-- without alerts stops at one primary-key read on failure; nothing runs on the success path.

ALTER TABLE stitch_flows ADD COLUMN alerts jsonb NOT NULL DEFAULT '[]';

CREATE TABLE stitch_alert_state (
  flow_id uuid NOT NULL REFERENCES stitch_flows (id) ON DELETE CASCADE,
  alert_on text NOT NULL,
  alert_to text NOT NULL,
  -- Occurrences not yet delivered, and the latest of them (what the message shows).
  pending integer NOT NULL DEFAULT 0,
  pending_since timestamptz,
  latest jsonb,
  last_sent_at timestamptz,
  -- The outcome of the last delivery attempt (`200`, `500: …`, `refused: …`), for GET …/alerts.
  last_result text,
  last_attempt_at timestamptz,
  PRIMARY KEY (flow_id, alert_on, alert_to)
);

CREATE FUNCTION stitch_alert_job_key(p_flow_id uuid, p_on text, p_to text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'stitch:alert:' || p_flow_id || ':' || md5(p_on || ' ' || p_to)
$$;

-- One occurrence of `p_on` for every alert of the flow listening to it (or only the one sent to
-- `p_to`): count it, and make sure its delivery job exists.
CREATE FUNCTION stitch_raise_alert(p_flow_id uuid, p_on text, p_latest jsonb, p_to text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
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
END $$;

CREATE FUNCTION stitch_run_failed_alert() RETURNS trigger
LANGUAGE plpgsql AS $$
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
END $$;

CREATE TRIGGER stitch_run_failed_alert
  AFTER UPDATE OF status ON stitch_runs
  FOR EACH ROW
  WHEN (NEW.status = 'failed' AND OLD.status IN ('pending', 'running') AND NEW.flow_id IS NOT NULL)
  EXECUTE FUNCTION stitch_run_failed_alert();

CREATE FUNCTION stitch_node_failed_alert() RETURNS trigger
LANGUAGE plpgsql AS $$
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
END $$;

CREATE TRIGGER stitch_node_failed_alert
  AFTER UPDATE OF status ON stitch_node_runs
  FOR EACH ROW
  WHEN (NEW.status = 'failed' AND OLD.status <> 'failed')
  EXECUTE FUNCTION stitch_node_failed_alert();

-- At a run's start (insertRun), for a flow with `run.slower_than` alerts: one job per alert at
-- the run's start + its seconds; the job raises the alert if the run is still open then.
CREATE FUNCTION stitch_arm_slow_alerts(p_run_id uuid, p_alerts jsonb) RETURNS integer
LANGUAGE sql AS $$
  SELECT count(graphile_worker.add_job('stitch_alert_slow',
           json_build_object('r', p_run_id, 'to', a ->> 'to', 's', (a ->> 'seconds')::double precision),
           run_at => now() + make_interval(secs => (a ->> 'seconds')::double precision), max_attempts => 5))::integer
  FROM jsonb_array_elements(p_alerts) a
  WHERE a ->> 'on' = 'run.slower_than'
$$;
