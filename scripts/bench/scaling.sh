#!/usr/bin/env bash
# scaling.sh measures how the in-process classification rate grows from 1 to 2 cores (the goal:
# the rate at 2 cores is at least 1.8 times the rate at 1). It runs the classifier's
# parallel benchmarks (b.RunParallel) once with -cpu 1 and once with -cpu 2, COUNT times each, and
# prints the median rates and their ratio, with the CPU share the test process actually got: on a
# machine where other work holds a core, the -cpu 2 run gets less than 200% and its ratio says
# nothing about the code.
#
# Usage: scripts/bench/scaling.sh         (from anywhere in the repository)
#   COUNT=3  BENCHTIME=1s  BENCH='Classify/.*/parallel$'
set -euo pipefail

cd "$(dirname "$0")/../.."
COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-'Classify/.*/parallel$'}

work=$(mktemp -d /tmp/topicd-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "# building the classifier tests" >&2
go test -c -o "$work/classifier.test" ./classifier

# The benchmarks find the model and the corpus relative to the package folder.
cd classifier
for cpu in 1 2; do
	echo "# -cpu $cpu; $(uptime)" >&2
	start=$(date +%s.%N)
	"$work/classifier.test" -test.run '^$' -test.bench "$BENCH" -test.cpu "$cpu" \
		-test.benchtime "$BENCHTIME" -test.count "$COUNT" >"$work/cpu$cpu.txt" &
	pid=$!
	# CPU the benchmark process used, read just before it exits, against wall time.
	ticks=0
	while kill -0 "$pid" 2>/dev/null; do
		t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
		[[ -n $t ]] && ticks=$t
		sleep 0.2
	done
	wait "$pid"
	end=$(date +%s.%N)
	awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v s="$start" -v e="$end" \
		'BEGIN { printf "%.0f\n", t / hz / (e - s) * 100 }' >"$work/pct$cpu.txt"
done

echo "in-process scaling: $(nproc) cores; $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- classifier models || echo '+local changes'); $COUNT x $BENCHTIME"
echo
echo "| benchmark | MB/s at -cpu 1 | MB/s at -cpu 2 | 2 / 1 | target |"
echo "|-----------|---------------:|---------------:|------:|--------|"
awk '
function median(list,   n, i, j, t, a) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
/^Benchmark/ {
	name = $1; sub(/-2$/, "", name)
	for (i = 2; i < NF; i++) if ($(i+1) == "MB/s") mbs = $i
	cpu = FILENAME ~ /cpu2/ ? 2 : 1
	v[name, cpu] = v[name, cpu] " " mbs
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
END {
	for (i = 1; i <= n; i++) {
		a = median(v[order[i], 1]); b = median(v[order[i], 2])
		printf "| %s | %.1f | %.1f | %.2f | >= 1.8 |\n", order[i], a, b, (a > 0 ? b / a : 0)
	}
}' "$work/cpu1.txt" "$work/cpu2.txt"
echo
echo "CPU the benchmark process got: $(cat "$work/pct1.txt")% with -cpu 1, $(cat "$work/pct2.txt")% with -cpu 2"
echo "(near 200% with -cpu 2 means both cores were free for it; less means other work shared them)."
