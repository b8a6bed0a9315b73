#!/usr/bin/env bash
# Store benchmark (issue 10): generate a trail that holds nothing but
# StartQueryExecution records (N queries, default 1,000,000), then time
#   athenawatch collect --no-enrich --source dir:TRAIL
# into a fresh database, three times, and print query events/s, wall time
# and peak RSS (median wall time of 3, highest RSS). Target on 2 cores:
# >= 50,000 query events/s with peak RSS <= 200 MB.
#
#   bash bench/queries.sh [N]      N defaults to 1000000 (e.g. 200000 for a quick look)
#
# BENCH_DIR=DIR keeps the build, the trail and the results in DIR (the
# trail is generated once and reused).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"' EXIT

go build -o "$WORK/athenawatch" ./cmd/athenawatch
go build -o "$WORK/runstat" ./bench/runstat
go build -o "$WORK/gentrail" ./bench/gentrail

TRAIL="$WORK/trail-queries-$N"
if [ ! -d "$TRAIL" ]; then
  "$WORK/gentrail" -out "$TRAIL" -shape queries-only -queries "$N" -seed 1 >"$TRAIL.txt"
fi
cat "$TRAIL.txt" 2>/dev/null || true
files=$(find "$TRAIL" -name '*.json.gz' -not -path '*CloudTrail-Digest*' | wc -l)
cbytes=$(find "$TRAIL" -name '*.json.gz' -not -path '*CloudTrail-Digest*' -print0 | xargs -0 cat | wc -c)
echo "trail: $files files, $cbytes bytes compressed"

# Warm the page cache so every run reads from memory.
find "$TRAIL" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null

for i in 1 2 3; do
  rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm"
  "$WORK/runstat" -o "$WORK/q$i" -- "$WORK/athenawatch" --db "$WORK/bench.db" --log-level warn \
    collect --no-enrich --format json --source "dir:$TRAIL" >"$WORK/collect$i.json" 2>"$WORK/collect$i.err"
done
wall=$(for i in 1 2 3; do sed -E 's/.*wall_seconds=([0-9.]+).*/\1/' "$WORK/q$i"; done | sort -n | sed -n 2p)
rss=$(for i in 1 2 3; do sed -E 's/.*max_rss_kb=([0-9]+).*/\1/' "$WORK/q$i"; done | sort -n | tail -1)
events=$(grep -o '"query_events": [0-9]*' "$WORK/collect1.json" | head -1 | grep -o '[0-9]*$')
stored=$(grep -o '"new_queries": [0-9]*' "$WORK/collect1.json" | head -1 | grep -o '[0-9]*$')

awk -v w="$wall" -v e="$events" -v s="$stored" -v rss="$rss" -v cores="$(nproc)" 'BEGIN {
  printf "cores:               %d\n", cores
  printf "query events:        %d (%d distinct queries stored)\n", e, s
  printf "collect --no-enrich: %.2f s wall (median of 3)\n", w
  printf "query events/s:      %.0f  (target >= 50000)\n", e/w
  printf "peak RSS (collect):  %.1f MB  (target <= 200 MB)\n", rss/1024
}'
