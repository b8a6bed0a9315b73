#!/usr/bin/env bash
# Listing benchmark (issue 11): build a generated store of N queries once
# (bench/storegen; default 1,000,000, e.g. 10000000 for the 10M target),
# then time ListQueries per case (sort x window x filter, first and 21st
# page) and QueriesByID, and print p50/p95 per case in milliseconds.
# Targets: p95 <= 100 ms at 1M, <= 300 ms at 10M.
#
#   bash bench/listing.sh [N]
#
# BENCH_DIR=DIR keeps the database (store-N.db, with its stats in
# store-N.db.json) for later runs and for other benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"' EXIT

DB="$WORK/store-$N.db"
if [ ! -f "$DB.json" ]; then
  rm -f "$DB" "$DB-wal" "$DB-shm"
  go run ./bench/storegen -queries "$N" -db "$DB" | head -1
fi
ls -l "$DB" | awk '{printf "database: %s, %.0f MB\n", $NF, $5/1048576}'

ATHENAWATCH_BENCH_DIR="$WORK" ATHENAWATCH_BENCH_QUERIES="$N" \
  go test -run '^$' -bench 'BenchmarkListQueries|BenchmarkQueriesByID' -benchtime "${BENCHTIME:-20x}" -timeout 2h ./internal/store/ |
  awk '/^Benchmark/ {
    name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
    p50 = ""; p95 = ""
    for (i = 2; i < NF; i++) { if ($(i+1) == "p50-ms") p50 = $i; if ($(i+1) == "p95-ms") p95 = $i }
    if (p50 == "") { for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") p50 = $i / 1e6; p95 = "-" }
    printf "%-60s p50 %8.2f ms  p95 %8s ms\n", name, p50, p95
  }'
