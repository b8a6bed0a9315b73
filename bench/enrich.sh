#!/usr/bin/env bash
# Enrichment benchmark (issue 10): start the local AWS emulator with a 150 ms
# round trip and Athena's BatchGetQueryExecution quota (20 calls/s, burst 40,
# per account-region), store 20,000 pending queries in 3 regions, run
# enrich.EnrichBacklog through the real AWS SDK, and print the calls per
# region, the quota bound (max over regions of (calls - 40) / 20 s), the
# measured time, their ratio (target <= 1.1), the share of throttled calls
# (target < 10%), the time spent writing SQLite, and whether anything was
# lost (exit 1 if so).
#
#   bash bench/enrich.sh [-queries 20000] [-latency 150ms] [-regions us-east-1,eu-west-1,ap-southeast-2]
#                        [-quota-rate 20] [-quota-burst 40] [-cpuprofile FILE] [-v]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
go build -o "$WORK/bench-enrich" ./bench/enrich
echo "cores: $(nproc)"
"$WORK/bench-enrich" -db "$WORK/bench.db" "$@"
