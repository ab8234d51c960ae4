#!/usr/bin/env bash
# http.sh measures HTTP/JSON Classify calls per second against gRPC unary Classify on one
# machine, on 127.0.0.1, the same topicd serving both, at the same number of callers:
#
#   gRPC: ghz (pinned in tools/ghz), CONC concurrent callers on one connection;
#   HTTP: vegeta (pinned in tools/vegeta), CONC workers, rate 0 (each sends its next request
#         as soon as the answer comes), keep-alive connections; POST /v1/classify.
#
# Both send the same 200-byte document (scripts/bench/testdata/doc200.json is the request as
# JSON). Each round runs both, the order alternating; the table shows medians and the median of
# the per-round ratios. Target: HTTP >= 60% of gRPC. It also reads the server's CPU time from
# /proc/PID/stat: "server CPU per call" does not depend on how much CPU the load tools or other
# work took from the same cores, so it is the steadier figure on a busy machine.
#
# Usage: scripts/bench/http.sh   (from anywhere in the repository)
#   CONC=16  DUR=5s  ROUNDS=3  TOPICD_BIN=path (a binary to measure instead of building one)
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=lib.sh
source scripts/bench/lib.sh
CONC=${CONC:-16}
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-3}

work=$(mktemp -d /tmp/topicd-httpbench.XXXXXX)
server_pid=
cleanup() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# building topicd, ghz and vegeta" >&2
if [[ -n ${TOPICD_BIN:-} ]]; then
	cp "$TOPICD_BIN" "$work/topicd"
else
	go build -o "$work/topicd" ./cmd/topicd
fi
go -C tools/ghz tool ghz --version >/dev/null 2>&1
go -C tools/vegeta build -o "$work/vegeta" github.com/tsenart/vegeta/v12

doc=$root/scripts/bench/testdata/doc200.json
"$work/topicd" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 2>"$work/topicd.log" &
server_pid=$!
addr=$(server_addr "$work/topicd.log")
http_addr=$(grep -m1 -o '"http_addr":"[^"]*"' "$work/topicd.log" | cut -d'"' -f4)
printf 'POST http://%s/v1/classify\nContent-Type: application/json\n@%s\n' "$http_addr" "$doc" >"$work/targets"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)

results=$work/results.tsv # round side calls_per_s errors server_us_per_call
measure() {
	local round=$1 side=$2 out rate errs n t0 t1 us
	t0=$(cpu_ticks)
	case $side in
	grpc)
		out=$(go -C tools/ghz tool ghz --insecure --call topicd.v1.ClassifierService/Classify -D "$doc" \
			-c "$CONC" -z "$DUR" --duration-stop=wait -O json "$addr")
		rate=$(jq -r .rps <<<"$out")
		n=$(jq -r .count <<<"$out")
		errs=$(jq -r '.count - (.statusCodeDistribution.OK // 0)' <<<"$out")
		;;
	http)
		out=$("$work/vegeta" attack -targets "$work/targets" -rate 0 -workers "$CONC" -max-workers "$CONC" \
			-duration "$DUR" -keepalive | "$work/vegeta" report -type json)
		rate=$(jq -r .throughput <<<"$out")
		n=$(jq -r .requests <<<"$out")
		errs=$(jq -r '.requests - (.status_codes["200"] // 0)' <<<"$out")
		;;
	esac
	t1=$(cpu_ticks)
	us=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? d / hz * 1e6 / n : 0) }')
	printf '%s\t%s\t%.0f\t%s\t%s\n' "$round" "$side" "$rate" "$errs" "$us" >>"$results"
	printf '# round %s %-4s %9.0f calls/s  server %6s us/call  errors %s\n' "$round" "$side" "$rate" "$us" "$errs" >&2
}

echo "# topicd gRPC $addr, HTTP $http_addr; $(uptime)" >&2
"$work/vegeta" attack -targets "$work/targets" -rate 0 -workers "$CONC" -max-workers "$CONC" -duration 1s >/dev/null
for r in $(seq "$ROUNDS"); do
	if ((r % 2)); then measure "$r" grpc; measure "$r" http; else measure "$r" http; measure "$r" grpc; fi
done
echo "# $(uptime)" >&2

echo
echo "topicd HTTP/JSON vs gRPC unary Classify: ${ROUNDS} rounds of ${DUR}, ${CONC} callers, 200-byte document"
echo "$(nproc) cores; $(go version | cut -d' ' -f3); topicd ${TOPICD_BIN:-built from $(git rev-parse --short HEAD)}"
echo
awk -F'\t' '
function median(list,   n, i, j, t, a) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{ rate[$2] = rate[$2] " " $3; cpu[$2] = cpu[$2] " " $5; by[$1, $2] = $3; errs += $4; if ($1 > n) n = $1 }
END {
	for (r = 1; r <= n; r++) if (by[r, "grpc"] > 0) ratios = ratios " " by[r, "http"] / by[r, "grpc"]
	printf "| gRPC unary (ghz) | HTTP/JSON (vegeta) | HTTP / gRPC | target | server CPU per call, gRPC / HTTP |\n|---:|---:|---:|---|---:|\n"
	printf "| %.0f calls/s | %.0f calls/s | %.2f | >= 0.60 | %.1f / %.1f us |\n", median(rate["grpc"]), median(rate["http"]), median(ratios), median(cpu["grpc"]), median(cpu["http"])
	printf "\nerrors in all runs: %d\n", errs
}' "$results"
