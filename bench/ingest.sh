#!/usr/bin/env bash
# Ingest benchmark: for each trail shape, generate a CloudTrail trail of at
# least SIZE uncompressed, then time
#   athenawatch collect --no-enrich --source dir:TRAIL
# against `zcat` of the same files, and print MB/s, records/s, peak RSS and
# the wall-time ratio collect / zcat. Shapes:
#   mixed         a busy organization trail, about 1% Athena calls
#   athena-heavy  the same with 35% of all records being Athena's own read
#                 calls (GetQueryExecution, GetQueryResults, ... polled by
#                 BI tools, SDK waiters and the console)
# Target: ratio <= 0.7 on 2 cores for both shapes, peak RSS <= 200 MB.
#
#   bash bench/ingest.sh [SIZE]      SIZE defaults to 1GB (e.g. 200MB for a quick look)
#
# SHAPES="mixed" bash bench/ingest.sh 300MB runs one shape only; BENCH_DIR
# keeps the generated trails (and reuses them on the next run).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GB}
SHAPES=${SHAPES:-mixed athena-heavy}
WORK=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"' EXIT

go build -o "$WORK/athenawatch" ./cmd/athenawatch
go build -o "$WORK/runstat" ./bench/runstat
go build -o "$WORK/gentrail" ./bench/gentrail

wall() { sed -E 's/.*wall_seconds=([0-9.]+).*/\1/' "$1"; }

bench_shape() {
  local shape=$1 trail="$WORK/trail-$1-$SIZE"
  echo "== shape $shape"
  if [ ! -d "$trail" ]; then
    "$WORK/gentrail" -shape "$shape" -out "$trail" -size "$SIZE" -seed 1 >"$trail.gen.txt"
  fi
  cat "$trail.gen.txt" 2>/dev/null || true
  local files ubytes
  files=$(find "$trail" -name '*.json.gz' | wc -l)
  ubytes=$(find "$trail" -name '*.json.gz' -print0 | xargs -0 zcat | wc -c)
  echo "trail: $files files, $ubytes bytes uncompressed"

  # Warm the page cache so both runs read from memory.
  find "$trail" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null

  local i
  for i in 1 2 3; do
    "$WORK/runstat" -o "$WORK/$shape.z$i" -- bash -c "find '$trail' -name '*.json.gz' -print0 | xargs -0 zcat >/dev/null"
    rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm"
    "$WORK/runstat" -o "$WORK/$shape.c$i" -- "$WORK/athenawatch" --db "$WORK/bench.db" --log-level warn \
      collect --no-enrich --format json --source "dir:$trail" >"$WORK/$shape.collect$i.json" 2>"$WORK/$shape.collect$i.err"
  done
  local zwall cwall rss records queries
  zwall=$(for i in 1 2 3; do wall "$WORK/$shape.z$i"; done | sort -n | sed -n 2p)
  cwall=$(for i in 1 2 3; do wall "$WORK/$shape.c$i"; done | sort -n | sed -n 2p)
  rss=$(for i in 1 2 3; do sed -E 's/.*max_rss_kb=([0-9]+).*/\1/' "$WORK/$shape.c$i"; done | sort -n | tail -1)
  records=$(grep -o '"records": [0-9]*' "$WORK/$shape.collect1.json" | head -1 | grep -o '[0-9]*$')
  queries=$(grep -o '"query_events": [0-9]*' "$WORK/$shape.collect1.json" | head -1 | grep -o '[0-9]*$')

  awk -v shape="$shape" -v z="$zwall" -v c="$cwall" -v b="$ubytes" -v r="$records" -v q="$queries" -v rss="$rss" -v cores="$(nproc)" 'BEGIN {
    printf "cores:               %d\n", cores
    printf "uncompressed:        %.1f MB, %d records, %d Athena query events (%.2f%%)\n", b/1e6, r, q, 100*q/r
    printf "zcat (median of 3):  %.2f s  (%.0f MB/s)\n", z, b/1e6/z
    printf "collect --no-enrich: %.2f s  (%.0f MB/s, %.0f records/s)\n", c, b/1e6/c, r/c
    printf "peak RSS (collect):  %.1f MB\n", rss/1024
    printf "ratio collect/zcat:  %.3f  (shape %s, target <= 0.7)\n", c/z, shape
  }'
  echo
}

for shape in $SHAPES; do
  bench_shape "$shape"
done
