#!/usr/bin/env bash
# npm run chaos — the long soaks that do not belong in `npm test`:
#   1. the outside chaos harness (../shared/tools/chaos.mjs, beside this checkout): kill -9 of queue
#      runners and the server during 1,000 runs (R1), PostgreSQL restarts fast, immediate and a 20 s
#      stop during 300 runs (R5); one JSON summary line per test on stdout;
#   2. the fault-injection property test with many cases (STITCH_FAULT_RUNS, default 200).
# Knobs: CHAOS_TESTS (default "R1 R5"), CHAOS_HARNESS (path of chaos.mjs), PGBIN (PostgreSQL's bin
# dir; default the newest /usr/lib/postgresql/*/bin), CHAOS_LOG_DIR (reports; default a temp dir),
# and every CHAOS_* variable the harness's header lists.
set -euo pipefail
cd "$(dirname "$0")/.."

harness="${CHAOS_HARNESS:-../shared/tools/chaos.mjs}"
pgbin="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}"
work="$(mktemp -d)"
chmod 755 "$work" # the postgres OS user runs the cluster inside it when we are root
log_dir="${CHAOS_LOG_DIR:-$work/logs}"
mkdir -p "$log_dir"

if [ ! -f "$harness" ]; then
  echo "chaos: no harness at $harness (set CHAOS_HARNESS); skipping the process chaos, running the fault-injection test only" >&2
elif [ -z "$pgbin" ] || [ ! -x "$pgbin/pg_ctl" ]; then
  echo "chaos: no PostgreSQL binaries (set PGBIN, or apt-get install postgresql); skipping the process chaos" >&2
else
  echo "chaos: $harness ${CHAOS_TESTS:-R1 R5} (reports in $log_dir)" >&2
  # shellcheck disable=SC2086 # the test list is words
  STITCH_DIR="$PWD" PGBIN="$pgbin" CHAOS_PGDIR="$work/pg" CHAOS_LOG_DIR="$log_dir" node "$harness" ${CHAOS_TESTS:-R1 R5}
fi

STITCH_FAULT_RUNS="${STITCH_FAULT_RUNS:-200}" npx vitest run src/lib/engine/__tests__/fault-injection.property.test.ts
