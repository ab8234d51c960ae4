#!/usr/bin/env bash
# rpc.sh measures what gRPC costs topicd on one machine, on 127.0.0.1:
#
#   (a) unary Classify against FloorService/Floor, a call with the same request and response
#       that does no classification (topicd --bench-floor): calls per second at the same
#       concurrency. Target: Classify >= 85% of Floor.
#   (b) documents per second through ClassifyStream against unary Classify, ~200-byte documents,
#       the same number of client goroutines, everything on one connection. Target: >= 3x.
#
# (a) is measured with ghz (pinned in tools/ghz) and with scripts/bench/rpcload, a small Go client
# on the generated stubs whose own cost is lower, so the server's share of the time is larger.
# (b) is measured with rpcload on both sides (same client code, only the call differs), and with
# ghz as a cross-check (ghz streams send STREAM_DOCS documents each, so docs/s = calls/s * that).
# Every run also reads the server's CPU time from /proc/PID/stat: "srv us/doc" is server CPU per
# document, which does not depend on how much CPU the client took from the same cores.
#
# Each measurement runs ROUNDS times, alternating the order of the two sides; the table shows
# medians. The server runs as in production: JSON log line per call (to a file), metrics on.
#
# Usage: scripts/bench/rpc.sh            (from anywhere in the repository)
#   CONC="1 16 50"  concurrencies          DUR=5s       seconds per run
#   ROUNDS=3        runs per measurement   STREAM_DOCS=200  documents per ghz stream
#   PIN=1           server on CPU 1, clients on CPU 0 (default: both share every core)
#   TOPICD_BIN=path a topicd binary to measure instead of building ./cmd/topicd
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=lib.sh
source scripts/bench/lib.sh
CONC=${CONC:-"1 16 50"}
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-3}
STREAM_DOCS=${STREAM_DOCS:-200}
PIN=${PIN:-0}

work=$(mktemp -d /tmp/topicd-rpcbench.XXXXXX)
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

srv_pin=() cli_pin=()
if [[ $PIN == 1 ]]; then
	srv_pin=(taskset -c 1) cli_pin=(taskset -c 0)
fi

echo "# building topicd and rpcload" >&2
if [[ -n ${TOPICD_BIN:-} ]]; then
	cp "$TOPICD_BIN" "$work/topicd"
else
	go build -o "$work/topicd" ./cmd/topicd
fi
go build -o "$work/rpcload" ./scripts/bench/rpcload
go -C tools/ghz tool ghz --version >/dev/null 2>&1 # compile ghz before anything is timed

doc=$root/scripts/bench/testdata/doc200.json
floor=$root/scripts/bench/testdata/floor200.json
streamdata=$work/stream.json
jq -n --slurpfile d "$doc" --argjson n "$STREAM_DOCS" '[range($n) | $d[0]]' >"$streamdata"

"${srv_pin[@]}" "$work/topicd" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --bench-floor \
	2>"$work/topicd.log" &
server_pid=$!
addr=$(server_addr "$work/topicd.log")

# cpu_ticks prints the server's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)

results=$work/results.tsv # conc round tool call docs_per_s srv_us_per_doc errors

# measure CONC ROUND TOOL CALL: one run, one line in $results.
measure() {
	local c=$1 round=$2 tool=$3 call=$4 out t0 t1 rate n errs
	t0=$(cpu_ticks)
	case $tool in
	ghz)
		local method data mult=1
		case $call in
		classify) method=topicd.v1.ClassifierService/Classify data=$doc ;;
		floor) method=topicd.bench.v1.FloorService/Floor data=$floor ;;
		stream) method=topicd.v1.ClassifierService/ClassifyStream data=$streamdata mult=$STREAM_DOCS ;;
		esac
		# --duration-stop=wait lets the calls in flight at the end finish and counts them.
		out=$("${cli_pin[@]}" go -C tools/ghz tool ghz --insecure --call "$method" -D "$data" \
			-c "$c" -z "$DUR" --duration-stop=wait -O json "$addr")
		t1=$(cpu_ticks)
		rate=$(jq -r --argjson m "$mult" '.rps * $m' <<<"$out")
		n=$(jq -r --argjson m "$mult" '.count * $m' <<<"$out")
		errs=$(jq -r '.count - (.statusCodeDistribution.OK // 0)' <<<"$out")
		;;
	rpcload)
		out=$("${cli_pin[@]}" "$work/rpcload" -addr "$addr" -mode "$call" -c "$c" -d "$DUR" -warmup 0s -data "$doc")
		t1=$(cpu_ticks)
		rate=$(jq -r .docs_per_s <<<"$out")
		n=$(jq -r .docs <<<"$out")
		errs=$(jq -r .errors <<<"$out")
		;;
	esac
	# rpcload's counting window excludes nothing here (-warmup 0s), so server CPU and docs match.
	local us
	us=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? d / hz * 1e6 / n : 0) }')
	printf '%s\t%s\t%s\t%s\t%.0f\t%s\t%s\n' "$c" "$round" "$tool" "$call" "$rate" "$us" "$errs" >>"$results"
	printf '# c=%-3s %-8s %-9s %9.0f docs/s  srv %6s us/doc  errors %s\n' "$c" "$tool" "$call" "$rate" "$us" "$errs" >&2
}

echo "# topicd at $addr (pid $server_pid, PIN=$PIN); $(uptime)" >&2
# Warm up: the first seconds include page faults, GC sizing and connection set-up.
"${cli_pin[@]}" "$work/rpcload" -addr "$addr" -mode classify -c 16 -d 1s -warmup 0s -data "$doc" >/dev/null
"${cli_pin[@]}" "$work/rpcload" -addr "$addr" -mode stream -c 4 -d 1s -warmup 0s -data "$doc" >/dev/null

# Each pair the table compares runs back to back (ghz stream-classify-floor, rpcload
# floor-classify-stream), so the two sides of a ratio see the same background load.
runs=("ghz stream" "ghz classify" "ghz floor" "rpcload floor" "rpcload classify" "rpcload stream")
for c in $CONC; do
	for r in $(seq "$ROUNDS"); do
		# Every other round runs the list backwards, so a drift in background load hits both sides.
		for i in "${!runs[@]}"; do
			if ((r % 2)); then run=${runs[i]}; else run=${runs[${#runs[@]} - 1 - i]}; fi
			measure "$c" "$r" $run
		done
	done
done

echo "# $(uptime)" >&2
echo
echo "topicd RPC benchmark: ${ROUNDS} runs of ${DUR} each, medians; 200-byte document; one connection; PIN=$PIN"
echo "$(nproc) cores; $(go version | cut -d' ' -f3); topicd ${TOPICD_BIN:-built from $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- server cmd/topicd classifier || echo '+local changes')}"
echo
awk -F'\t' '
function median(list,   n, i, j, t, a) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
	k = $1 SUBSEP $3 SUBSEP $4
	rate[k] = rate[k] " " $5; cpu[k] = cpu[k] " " $6; errs += $7
	byround[k SUBSEP $2] = $5; cpuround[k SUBSEP $2] = $6
	if ($2 > rounds) rounds = $2
	if (!($1 in seen)) { seen[$1] = 1; order[++nc] = $1 }
}
# row prints the medians of A and B, and the median over the rounds of A / B, where both runs
# of a round ran back to back.
function row(c, what, tool, a, b, target,   ka, kb, r, ratios, cratios) {
	ka = c SUBSEP tool SUBSEP a; kb = c SUBSEP tool SUBSEP b
	if (!(ka in rate) || !(kb in rate)) return
	ratios = ""; cratios = ""
	for (r = 1; r <= rounds; r++) {
		if (!((ka SUBSEP r) in byround) || !((kb SUBSEP r) in byround)) continue
		if (byround[kb SUBSEP r] > 0) ratios = ratios " " byround[ka SUBSEP r] / byround[kb SUBSEP r]
		if (cpuround[ka SUBSEP r] > 0) cratios = cratios " " cpuround[kb SUBSEP r] / cpuround[ka SUBSEP r]
	}
	printf "| %4s | %-26s | %-7s | %9.0f | %9.0f | %6.2f | %8.1f | %8.1f | %13.2f | %-7s |\n", c, what, tool,
		median(rate[ka]), median(rate[kb]), median(ratios), median(cpu[ka]), median(cpu[kb]), median(cratios), target
}
END {
	print "|    c | A vs B (docs/s)            | client  |         A |         B |  A / B | A srv us | B srv us | srv-CPU ratio | target  |"
	print "|-----:|----------------------------|---------|----------:|----------:|-------:|---------:|---------:|--------------:|---------|"
	for (i = 1; i <= nc; i++) {
		c = order[i]
		row(c, "Classify vs Floor", "ghz", "classify", "floor", ">= 0.85")
		row(c, "Classify vs Floor", "rpcload", "classify", "floor", ">= 0.85")
		row(c, "ClassifyStream vs Classify", "rpcload", "stream", "classify", ">= 3")
		row(c, "ClassifyStream vs Classify", "ghz", "stream", "classify", ">= 3")
	}
	printf "\nerrors in all runs: %d\n", errs
}' "$results"
echo
echo "c: concurrent callers (unary) or streams (ClassifyStream), all on one connection."
echo "A, B: medians over the rounds; A / B and srv-CPU ratio: medians of the per-round ratios."
echo "srv us: server CPU time per document (utime+stime from /proc/PID/stat over the run)."
echo "srv-CPU ratio: B srv us / A srv us, what A / B would be if the server's CPU were the only limit"
echo "(client and server share the cores here, so A / B understates the server's difference)."
echo "rpcload streams keep at most 64 documents unanswered each; ghz streams send ${STREAM_DOCS} each."
