#!/usr/bin/env bash
# S3 source benchmark: the same trail (the mixed shape of bench/ingest.sh,
# at least SIZE uncompressed) read by
#   athenawatch collect --no-enrich --source dir:TRAIL
#   athenawatch collect --no-enrich --source s3://bench-trail   (the emulator's S3)
#   athenawatch collect --no-enrich --source s3://bench-trail   (versitygw, posix backend)
# with the bucket in the organization trail layout, in ROUNDS interleaved
# rounds (default 5). Prints the median of the wall times of each, MB/s and the
# rate of each s3 source as a share of the dir source's. Target: >= 0.80
# from the emulator.
#
# The servers run on the same machine as the reader. On a small machine they
# take CPU the dir source never pays for, so where taskset(1) is available a
# second set of rounds gives the servers one core of their own and every
# reader, the dir source too, the other cores; it prints the same figures.
#
#   bash bench/s3.sh [SIZE]      SIZE defaults to 1GB
#
# BENCH_DIR keeps the generated trail (shared with bench/ingest.sh).
# versitygw is taken from PATH or GOPATH/bin (make tools installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GB}
ROUNDS=${ROUNDS:-5}
WORK=${BENCH_DIR:-$(mktemp -d)}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

go build -o "$WORK/athenawatch" ./cmd/athenawatch
go build -o "$WORK/runstat" ./bench/runstat
go build -o "$WORK/gentrail" ./bench/gentrail
go build -o "$WORK/s3trail" ./bench/s3trail

trail="$WORK/trail-mixed-$SIZE"
if [ ! -d "$trail" ]; then
  "$WORK/gentrail" -shape mixed -out "$trail" -size "$SIZE" -seed 1 >"$trail.gen.txt"
fi
ubytes=$(find "$trail" -name '*.json.gz' -print0 | xargs -0 zcat | wc -c)
files=$(find "$trail" -name '*.json.gz' | wc -l)
echo "trail: $files files, $ubytes bytes uncompressed"
find "$trail" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null

wall() { sed -E 's/.*wall_seconds=([0-9.]+).*/\1/' "$1"; }

# collect_run NAME ROUND SOURCE [ENV...]: one collect into a fresh database,
# on the cores in PIN when it is set.
PIN=""
collect_run() {
  local name=$1 i=$2 src=$3
  shift 3
  rm -f "$WORK/s3bench.db" "$WORK/s3bench.db-wal" "$WORK/s3bench.db-shm"
  local pin=()
  [ -z "$PIN" ] || pin=(taskset -c "$PIN")
  env "$@" AWS_REGION=us-east-1 "${pin[@]}" "$WORK/runstat" -o "$WORK/$name.$i" -- "$WORK/athenawatch" --db "$WORK/s3bench.db" --log-level warn \
    collect --no-enrich --format json --source "$src" >"$WORK/$name.$i.json" 2>"$WORK/$name.$i.err" || {
    cat "$WORK/$name.$i.err" >&2
    exit 1
  }
}

# median NAME: the median of NAME's wall times.
median() {
  local i
  for i in $(seq "$ROUNDS"); do wall "$WORK/$1.$i"; done | sort -n | sed -n "$(((ROUNDS + 1) / 2))p"
}

# The emulator's S3: s3trail fills the bucket, writes the environment a
# client needs, and serves until killed.
rm -f "$WORK/emu.env"
"$WORK/s3trail" -trail "$trail" -bucket bench-trail -emulator 127.0.0.1:0 -env "$WORK/emu.env" &
emu_pid=$!
PIDS+=("$emu_pid")
while [ ! -s "$WORK/emu.env" ]; do
  kill -0 "$emu_pid" 2>/dev/null || { echo "s3trail failed" >&2; exit 1; }
  sleep 0.2
done
read -r -a emu_env <"$WORK/emu.env"

vgw_env=()
vgw=$(command -v versitygw || true)
[ -n "$vgw" ] || { [ -x "$(go env GOPATH)/bin/versitygw" ] && vgw="$(go env GOPATH)/bin/versitygw"; } || true
if [ -n "$vgw" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$WORK/vgw" && mkdir -p "$WORK/vgw"
  "$vgw" --access benchaccess --secret benchsecret --port "127.0.0.1:$port" --quiet posix "$WORK/vgw" >"$WORK/vgw.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret "$WORK/s3trail" -trail "$trail" -bucket bench-trail -endpoint "http://127.0.0.1:$port"
  vgw_env=(AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret)
else
  echo "versitygw not found: its run is left out (make tools installs it)" >&2
fi

# rounds TAG: ROUNDS rounds, each reading the trail once from every source in
# turn: a shared machine's speed drifts over a minute, and interleaving lets
# the drift fall on every source alike rather than on whichever ran last.
# Both servers stay up throughout, idle while the others are read. Prints
# the medians.
rounds() {
  local tag=$1 i
  for i in $(seq "$ROUNDS"); do
    collect_run "dir$tag" "$i" "dir:$trail"
    collect_run "emulator$tag" "$i" s3://bench-trail "${emu_env[@]}"
    [ ${#vgw_env[@]} -eq 0 ] || collect_run "versitygw$tag" "$i" s3://bench-trail "${vgw_env[@]}"
  done
  local dir_wall emu_wall vgw_wall=""
  dir_wall=$(median "dir$tag")
  emu_wall=$(median "emulator$tag")
  [ ${#vgw_env[@]} -eq 0 ] || vgw_wall=$(median "versitygw$tag")
  awk -v b="$ubytes" -v d="$dir_wall" -v e="$emu_wall" -v v="$vgw_wall" 'BEGIN {
    printf "dir source:            %.2f s  (%.0f MB/s)\n", d, b/1e6/d
    printf "s3 source, emulator:   %.2f s  (%.0f MB/s)  rate vs dir: %.3f  (target >= 0.80)\n", e, b/1e6/e, d/e
    if (v != "") printf "s3 source, versitygw:  %.2f s  (%.0f MB/s)  rate vs dir: %.3f\n", v, b/1e6/v, d/v
  }'
}

cores=$(nproc)
echo "cores:                 $cores"
echo "servers and readers sharing every core:"
rounds ""
if command -v taskset >/dev/null && [ "$cores" -ge 2 ]; then
  server_core=$((cores - 1))
  for p in "${PIDS[@]}"; do taskset -a -p -c "$server_core" "$p" >/dev/null; done
  PIN="0-$((cores - 2))"
  echo "servers on core $server_core, readers on cores $PIN:"
  rounds ".pinned"
fi
