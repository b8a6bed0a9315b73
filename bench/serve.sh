#!/usr/bin/env bash
# Serving benchmark (issue 11): build a generated store of N queries once
# (bench/storegen; default 1,000,000, e.g. 10000000 for the 10M target),
# then time every page and API call server-side (BenchmarkServe) and a
# month's `report --by user` wall time (CLI, median of 5), and print p50/p95
# per call in milliseconds. Targets: p95 <= 100 ms at 1M and <= 300 ms at
# 10M; the CLI report <= 0.5 s at 1M.
#
#   bash bench/serve.sh [N]
#
# BENCH_DIR=DIR keeps the database (store-N.db, its stats in
# store-N.db.json, its configuration in store-N.db.yaml) for later runs and
# for the other benchmarks.
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
ls -l "$DB" | awk '{printf "database: %s, %.0f MB\n", $NF, $5/1048576}'

go build -o "$WORK/athenawatch" ./cmd/athenawatch
until=$(grep -o '"Until": "[^"]*"' "$DB.json" | cut -d'"' -f4)
since=$(date -u -d "$until - 30 days" +%Y-%m-%dT%H:%M:%SZ)
for by in user team database day; do
  for i in 1 2 3 4 5; do
    s=$(date +%s.%N)
    "$WORK/athenawatch" --db "$DB" --config "$DB.yaml" report --by "$by" --since "$since" --until "$until" --format csv >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc
  done | sort -n | sed -n 3p | awk -v by="$by" '{printf "CLI report --by %-9s (30 days)            wall %8.3f s  (target <= 0.5 s at 1M)\n", by, $1}'
done

ATHENAWATCH_BENCH_DIR="$WORK" ATHENAWATCH_BENCH_QUERIES="$N" \
  go test -run '^$' -bench 'BenchmarkServe' -benchtime "${BENCHTIME:-20x}" -timeout 2h ./internal/web/ |
  awk '/^BenchmarkServe\// {
    name = $1; sub(/^BenchmarkServe\//, "", name); sub(/-[0-9]+$/, "", name)
    p50 = ""; p95 = ""
    for (i = 2; i < NF; i++) { if ($(i+1) == "p50-ms") p50 = $i; if ($(i+1) == "p95-ms") p95 = $i }
    printf "%-60s p50 %8.2f ms  p95 %8.2f ms\n", name, p50, p95
  }'
