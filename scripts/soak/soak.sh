#!/usr/bin/env bash
# soak.sh runs topicd under a mixed load for a set time on 127.0.0.1 and samples its resident
# memory and goroutines: unary, batch and stream calls, clients that open streams and never read,
# idle TCP connections, a model file replaced every 2 s and SIGHUP every 3 s (soakload/main.go has
# the details). Standard error goes through `head -c 1000000`, so after the first megabyte of
# log lines topicd writes to a closed pipe for the rest of the run. At the end topicd gets SIGTERM
# and must exit within its --shutdown-timeout (5s here).
#
# Usage: scripts/soak/soak.sh             (from anywhere in the repository)
#   DUR=5m                                how long the load runs
# Exit status 1 when a call failed, topicd died, or it did not exit in time.
# Not part of go test: it runs for minutes.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=../bench/lib.sh
source scripts/bench/lib.sh
DUR=${DUR:-5m}

work=$(mktemp -d /tmp/topicd-soak.XXXXXX)
server_pid=
cleanup() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# building topicd and soakload" >&2
go build -o "$work/topicd" ./cmd/topicd
go build -o "$work/soakload" ./scripts/soak/soakload
mkdir "$work/models"
cp models/news-topics.model "$work/models/soak.model"

"$work/topicd" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
	--model-dir "$work/models" --reload-interval 1s --shutdown-timeout 5s \
	2> >(stdbuf -o0 head -c 1000000 >"$work/topicd.log") &
server_pid=$!
addr=$(server_addr "$work/topicd.log")
metrics=$(grep -m1 -o '"metrics_addr":"[^"]*"' "$work/topicd.log" | cut -d'"' -f4)
echo "# topicd at $addr (pid $server_pid), metrics at $metrics, load for $DUR; $(uptime)" >&2

status=0
"$work/soakload" -addr "$addr" -metrics "$metrics" -pid "$server_pid" -model-dir "$work/models" -dur "$DUR" || status=1

if ! kill -0 "$server_pid" 2>/dev/null; then
	echo "# topicd died during the soak" >&2
	exit 1
fi
dropped=$(curl -s "http://$metrics/metrics" | awk '/^topicd_log_lines_dropped_total/ {print $2}')
loads=$(curl -s "http://$metrics/metrics" | grep '^topicd_model_loads_total{model="soak"' | tr '\n' ' ')
echo "# log lines dropped after stderr closed: $dropped; model loads: $loads" >&2
start=$(date +%s.%N)
kill -TERM "$server_pid"
for _ in $(seq 100); do
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
	echo "# topicd still running 10 s after SIGTERM (--shutdown-timeout 5s)" >&2
	exit 1
fi
wait "$server_pid" || { echo "# topicd exit status $?" >&2; status=1; }
server_pid=
echo "# topicd exited $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s after SIGTERM" >&2
exit $status
