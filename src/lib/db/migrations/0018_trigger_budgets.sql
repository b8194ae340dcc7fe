-- Budgets on triggers (issue 13): a webhook trigger or a schedule may carry a spend cap in USD that
-- every run it starts gets as its own `stitch_runs.budget_usd`; NULL leaves the flow's default.
-- The check refuses NaN and infinity too (in PostgreSQL NaN sorts above every number, so it fails
-- `< 'Infinity'`): the API validates first, this keeps other writers honest.
ALTER TABLE stitch_triggers ADD COLUMN budget_usd double precision
  CHECK (budget_usd >= 0 AND budget_usd < 'Infinity'::double precision);
ALTER TABLE stitch_schedules ADD COLUMN budget_usd double precision
  CHECK (budget_usd >= 0 AND budget_usd < 'Infinity'::double precision);
