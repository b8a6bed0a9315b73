#!/usr/bin/env bash
# Ingest benchmark (issue 2): generate a CloudTrail trail of at least SIZE
# uncompressed (>= 98% non-Athena records), then time
#   athenawatch collect --no-enrich --source dir:TRAIL
# against `zcat` of the same files, and print MB/s, records/s, peak RSS and
# the wall-time ratio collect / zcat. Target: ratio <= 1.0 on 2 cores, peak
# RSS <= 200 MB.
#
#   bash bench/ingest.sh [SIZE]      SIZE defaults to 1GB (e.g. 200MB for a quick look)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GB}
WORK=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"' EXIT

go build -o "$WORK/athenawatch" ./cmd/athenawatch
go build -o "$WORK/runstat" ./bench/runstat
go build -o "$WORK/gentrail" ./bench/gentrail

if [ ! -d "$WORK/trail" ]; then
  "$WORK/gentrail" -out "$WORK/trail" -size "$SIZE" -seed 1 >"$WORK/gen.txt"
fi
cat "$WORK/gen.txt" 2>/dev/null || true
files=$(find "$WORK/trail" -name '*.json.gz' | wc -l)
ubytes=$(find "$WORK/trail" -name '*.json.gz' -print0 | xargs -0 zcat | wc -c)
echo "trail: $files files, $ubytes bytes uncompressed"

# Warm the page cache so both runs read from memory.
find "$WORK/trail" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null

best() { sort -t= -k2 -n | head -1; }
zcat_runs=()
collect_runs=()
for i in 1 2 3; do
  "$WORK/runstat" -o "$WORK/z$i" -- bash -c "find '$WORK/trail' -name '*.json.gz' -print0 | xargs -0 zcat >/dev/null"
  rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm"
  "$WORK/runstat" -o "$WORK/c$i" -- "$WORK/athenawatch" --db "$WORK/bench.db" --log-level warn \
    collect --no-enrich --format json --source "dir:$WORK/trail" >"$WORK/collect$i.json" 2>"$WORK/collect$i.err"
done
zwall=$(for i in 1 2 3; do sed -E 's/.*wall_seconds=([0-9.]+).*/\1/' "$WORK/z$i"; done | sort -n | sed -n 2p)
cwall=$(for i in 1 2 3; do sed -E 's/.*wall_seconds=([0-9.]+).*/\1/' "$WORK/c$i"; done | sort -n | sed -n 2p)
rss=$(for i in 1 2 3; do sed -E 's/.*max_rss_kb=([0-9]+).*/\1/' "$WORK/c$i"; done | sort -n | tail -1)
records=$(grep -o '"records": [0-9]*' "$WORK/collect1.json" | head -1 | grep -o '[0-9]*$')
queries=$(grep -o '"query_events": [0-9]*' "$WORK/collect1.json" | head -1 | grep -o '[0-9]*$')

awk -v z="$zwall" -v c="$cwall" -v b="$ubytes" -v r="$records" -v q="$queries" -v rss="$rss" -v cores="$(nproc)" 'BEGIN {
  printf "cores:               %d\n", cores
  printf "uncompressed:        %.1f MB, %d records, %d Athena query events (%.2f%%)\n", b/1e6, r, q, 100*q/r
  printf "zcat (median of 3):  %.2f s  (%.0f MB/s)\n", z, b/1e6/z
  printf "collect --no-enrich: %.2f s  (%.0f MB/s, %.0f records/s)\n", c, b/1e6/c, r/c
  printf "peak RSS (collect):  %.1f MB\n", rss/1024
  printf "ratio collect/zcat:  %.3f  (target <= 1.0)\n", c/z
}'
