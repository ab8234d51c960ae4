#!/usr/bin/env bash
# start.sh measures topicd's start: the time from exec until grpc.health.v1
# answers SERVING, and the resident size (VmRSS) with the embedded default model, at ready and
# after a warm-up of Classify calls with the news-like texts of testdata/news.json.
# Targets: ready in under 150 ms, under 60 MB resident.
#
# Each run starts a fresh topicd on a free 127.0.0.1 port (scripts/bench/startprobe does the exec,
# the polling and the reading of /proc/PID/status) and stops it; the table shows every run and the
# median.
#
# Usage: scripts/bench/start.sh           (from anywhere in the repository)
#   RUNS=9          how many starts
#   WARMUP=2000     Classify calls before the second RSS reading
#   TOPICD_ARGS=""  extra topicd flags, e.g. "--metrics-listen 127.0.0.1:0"
set -euo pipefail

cd "$(dirname "$0")/../.."
RUNS=${RUNS:-9}
WARMUP=${WARMUP:-2000}
TOPICD_ARGS=${TOPICD_ARGS:-}

work=$(mktemp -d /tmp/topicd-startbench.XXXXXX)
trap 'rm -rf "$work"' EXIT # startprobe stops each server it started before it exits

echo "# building topicd and startprobe" >&2
go build -o "$work/topicd" ./cmd/topicd
go build -o "$work/startprobe" ./scripts/bench/startprobe

echo "# $(uptime)" >&2
for i in $(seq "$RUNS"); do
	# shellcheck disable=SC2086 # TOPICD_ARGS is a list of flags
	"$work/startprobe" -bin "$work/topicd" -warmup "$WARMUP" -data scripts/bench/testdata/news.json -- $TOPICD_ARGS \
		>>"$work/runs.jsonl"
done
echo "# $(uptime)" >&2

echo "topicd start: $RUNS runs; $(nproc) cores; $(go version | cut -d' ' -f3); $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- models classifier cmd/topicd server || echo '+local changes'); flags: ${TOPICD_ARGS:-none}"
echo
echo "| run | exec -> SERVING ms | topicd's ready_ms | VmRSS at ready MB | VmRSS after $WARMUP calls MB | VmHWM MB |"
echo "|----:|-------------------:|------------------:|------------------:|---------------------:|---------:|"
jq -r -s '
	def mb: . / 1024 * 10 | round / 10;
	def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	(to_entries[] | "| \(.key + 1) | \(.value.ready_ms * 10 | round / 10) | \(.value.server_ready_ms) | \(.value.rss_ready_kb | mb) | \(.value.rss_warm_kb | mb) | \(.value.hwm_kb | mb) |"),
	"| **median** | **\(map(.ready_ms) | median * 10 | round / 10)** | **\(map(.server_ready_ms) | median)** | **\(map(.rss_ready_kb) | median | mb)** | **\(map(.rss_warm_kb) | median | mb)** | **\(map(.hwm_kb) | median | mb)** |"
' "$work/runs.jsonl"
echo
echo "Targets: exec -> SERVING < 150 ms; resident < 60 MB. MB = 2^20 bytes."
