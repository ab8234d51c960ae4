#!/usr/bin/env bash
# load.sh is topicd's load test: ghz at 50 concurrent callers for 30 s against
# unary Classify with the news-like paragraphs of testdata/news.json (used in turn), on 127.0.0.1.
# It reports the calls, errors (must be zero) and latency, and the server's resident memory (VmRSS
# from /proc/PID/status) before, every second during, and after the load, to show it stays flat.
# The server runs as in production: JSON log line per call (to a file), metrics endpoint on.
#
# Usage: scripts/bench/load.sh            (from anywhere in the repository)
#   CONC=50  DUR=30s                      ghz callers and duration
# Exit status 1 when any call failed.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=lib.sh
source scripts/bench/lib.sh
CONC=${CONC:-50}
DUR=${DUR:-30s}

work=$(mktemp -d /tmp/topicd-loadtest.XXXXXX)
server_pid= sampler_pid=
cleanup() {
	[[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null || true
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# building topicd" >&2
go build -o "$work/topicd" ./cmd/topicd
go -C tools/ghz tool ghz --version >/dev/null 2>&1 # compile ghz before the server starts

"$work/topicd" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>"$work/topicd.log" &
server_pid=$!
addr=$(server_addr "$work/topicd.log")

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

sleep 1
rss_before=$(rss)
echo "# topicd at $addr (pid $server_pid), VmRSS $(mb "$rss_before") MB; $(uptime)" >&2
(
	t=0
	while kill -0 "$server_pid" 2>/dev/null; do
		echo "$t $(rss)"
		sleep 1
		t=$((t + 1))
	done
) >"$work/rss.txt" &
sampler_pid=$!

go -C tools/ghz tool ghz --insecure --call topicd.v1.ClassifierService/Classify \
	-D "$root/scripts/bench/testdata/news.json" -c "$CONC" -z "$DUR" --duration-stop=wait \
	-O json "$addr" >"$work/ghz.json"

kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
rss_after=$(rss)
sleep 5
rss_after5=$(rss)
echo "# $(uptime)" >&2

# The first 2 s are ramp-up (ghz starting, the heap growing to its working size): the statistics
# below leave them out, the per-second list keeps them.
tail -n +3 "$work/rss.txt" >"$work/steady.txt"
during=$(awk '{print $2}' "$work/steady.txt" | sort -n)
n=$(wc -l <<<"$during")
read -r first5 last5 < <(awk '{v[NR] = $2} END {
	k = NR < 10 ? int(NR / 2) : 5
	for (i = 1; i <= k; i++) { a += v[i]; b += v[NR - k + i] }
	printf "%d %d\n", a / k, b / k }' "$work/steady.txt")
errors=$(jq -r '.count - (.statusCodeDistribution.OK // 0)' "$work/ghz.json")
log_errors=$(grep -c '"level":"ERROR"' "$work/topicd.log" || true)

echo "topicd load test: ghz, $CONC callers, $DUR, unary Classify, $(jq length scripts/bench/testdata/news.json) news-like texts in turn; $(nproc) cores; $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- models classifier cmd/topicd server || echo '+local changes')"
echo
jq -r '
	def ms: . / 1e6 * 100 | round / 100;
	"| calls | calls/s | errors | p50 ms | p99 ms | slowest ms | status codes |",
	"|------:|--------:|-------:|-------:|-------:|-----------:|--------------|",
	"| \(.count) | \(.rps | round) | \(.count - (.statusCodeDistribution.OK // 0)) | \(.latencyDistribution[] | select(.percentage == 50) | .latency | ms) | \(.latencyDistribution[] | select(.percentage == 99) | .latency | ms) | \(.slowest | ms) | \(.statusCodeDistribution | tojson) |"
' "$work/ghz.json"
echo
echo "| VmRSS MB | before | during (from 2 s): min | median | max | first 5 s | last 5 s | after | 5 s after |"
echo "|----------|-------:|------:|------:|----:|-------:|-------:|------:|-------:|"
printf '| topicd   | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(mb "$rss_before")" \
	"$(mb "$(head -1 <<<"$during")")" "$(mb "$(sed -n "$(((n + 1) / 2))p" <<<"$during")")" "$(mb "$(tail -1 <<<"$during")")" \
	"$(mb "$first5")" "$(mb "$last5")" "$(mb "$rss_after")" "$(mb "$rss_after5")"
echo
echo "VmRSS every second during the load (MB): $(awk '{printf "%s%.1f", (NR > 1 ? " " : ""), $2 / 1024}' "$work/rss.txt")"
echo "server log lines at level ERROR: $log_errors"
if ((errors > 0)); then
	echo "FAIL: $errors calls failed: $(jq -c .errorDistribution "$work/ghz.json")"
	exit 1
fi
