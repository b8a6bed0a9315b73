#!/usr/bin/env bash
# Export benchmark (issue 14): build a generated store of N queries once
# (bench/storegen; default 1,000,000), then time, with the CLI, a full
# Parquet export to a directory, a re-export with nothing new (it must
# write nothing), and a full CSV export; print rows per second and the
# lake's size. BenchmarkExport (internal/lake) measures the same per day.
#
#   bash bench/export.sh [N]
#
# BENCH_DIR=DIR keeps the database (store-N.db) for later runs, shared with
# bench/serve.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"' EXIT

DB="$WORK/store-$N.db"
if [ ! -f "$DB.json" ]; then
  rm -f "$DB" "$DB-wal" "$DB-shm"
  go run ./bench/storegen -queries "$N" -db "$DB"
fi
go run ./bench/storegen -queries "$N" -db "$DB" -config-only
go build -o "$WORK/athenawatch" ./cmd/athenawatch
LAKE="$WORK/lake-$$"
rm -rf "$LAKE"
# Each run exports to a new target: the database keeps what each target holds.
run() {
  local name=$1; shift
  local s e
  s=$(date +%s.%N)
  "$WORK/athenawatch" --db "$DB" --config "$DB.yaml" export "$@" --output json >"$WORK/export.json"
  e=$(date +%s.%N)
  rows=$(grep -o '"rows": [0-9]*' "$WORK/export.json" | awk '{print $2}')
  written=$(grep -o '"written": [0-9]*' "$WORK/export.json" | awk '{print $2}')
  echo "$e $s $rows $written" | awk -v name="$name" '{t = $1 - $2; printf "%-34s %8.2f s  %9d rows  %5d partitions  %9.0f rows/s\n", name, t, $3, $4, (t > 0 ? $3 / t : 0)}'
}
run "export parquet (full)" --to "dir:$LAKE/parquet"
run "export parquet (nothing new)" --to "dir:$LAKE/parquet"
run "export csv (full)" --to "dir:$LAKE/csv" --format csv
du -sh "$LAKE/parquet" "$LAKE/csv" | awk '{printf "lake size: %s %s\n", $2, $1}'
rm -rf "$LAKE"
