-- 0025_datasets: named lists of run inputs that experiments run a flow over (issue 26).

-- A dataset is a name and its current version; each change of its rows is a new version, and the
-- rows of a version never change (an experiment names the version it ran). How many datasets,
-- rows per version and versions kept are bounded (STITCH_MAX_DATASETS, STITCH_MAX_DATASET_ROWS,
-- STITCH_MAX_DATASET_VERSIONS: docs/architecture.md, Limits).
CREATE TABLE stitch_datasets (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL UNIQUE,
  version    integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stitch_datasets_created_idx ON stitch_datasets (created_at DESC, id DESC);

CREATE TABLE stitch_dataset_versions (
  dataset_id uuid NOT NULL REFERENCES stitch_datasets (id) ON DELETE CASCADE,
  version    integer NOT NULL,
  row_count  integer NOT NULL,
  -- where the rows came from: {"format": "csv"} or {"fromRuns": n}
  source     jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset_id, version)
);

-- One row a line: the run input, and what a scorer may compare its output with.
CREATE TABLE stitch_dataset_rows (
  dataset_id uuid NOT NULL,
  version    integer NOT NULL,
  idx        integer NOT NULL,
  input      jsonb NOT NULL CHECK (jsonb_typeof(input) = 'object'),
  expected   jsonb,
  notes      text,
  PRIMARY KEY (dataset_id, version, idx),
  FOREIGN KEY (dataset_id, version) REFERENCES stitch_dataset_versions (dataset_id, version) ON DELETE CASCADE
);

-- Whether something still needs a version's rows (an experiment names it: the experiments migration redefines this).
-- Older versions beyond the ones kept are removed only when nothing does.
CREATE FUNCTION stitch_dataset_version_in_use(p_dataset_id uuid, p_version integer) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT false $$;
