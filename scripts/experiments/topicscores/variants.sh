#!/bin/sh
# Trains the topic-setting variants of docs/accuracy.md ("Settings chosen again on 168
# development articles") on every row of corpus version 2, each rescaled to the four development
# files, and writes each variant's per-row topic probabilities on them to $OUT/NAME.jsonl; then
# compare.py scores them. From the repository's root:
#
#	OUT=/tmp/tv sh scripts/experiments/topicscores/variants.sh
#	python3 scripts/experiments/topicscores/compare.py /tmp/tv/*.jsonl
#
# About 15 s a variant on an idle 2-core machine.
set -eu
OUT=${OUT:-/tmp/topic-variants}
P=scripts/experiments/probe
DEV="$P/multitopic-dev.jsonl $P/border-dev.jsonl $P/multitopic2-dev.jsonl $P/multitopic-short-dev.jsonl"
TA=$(echo $DEV | tr ' ' ',')
mkdir -p "$OUT"
go build -o "$OUT/topicctl" ./cmd/topicctl
go build -o "$OUT/topicscores" ./scripts/experiments/topicscores
while read -r name flags; do
	[ -n "$name" ] || continue
	# shellcheck disable=SC2086 # flags are words
	"$OUT/topicctl" train --data ../shared/corpus/news-topics-train-v2.jsonl --validate none \
		--topic-articles "$TA" $flags --out "$OUT/$name.model" >"$OUT/$name.log" 2>&1
	# shellcheck disable=SC2086
	"$OUT/topicscores" -model "$OUT/$name.model" $DEV >"$OUT/$name.jsonl"
	echo "$name: $flags"
done <<'V'
A --topic-features share+wins+peak+pair+pairpeak --topic-window 40 --topic-temperature 2
B --topic-features share+wins+peak+pairpeak --topic-window 40 --topic-temperature 2
C --topic-features share+wins+peak+pairpeak --topic-window 40 --topic-temperature 4
D --topic-features share+wins+peak+pairpeak --topic-window 40 --topic-temperature 8
E --topic-features share+wins+peak+pair+pairpeak --topic-window 40 --topic-temperature 4
F --topic-features share+wins+peak+pair+pairpeak --topic-window 40 --topic-temperature 8
G --topic-features share+wins+peak+pairpeak --topic-window 30 --topic-temperature 8
H --topic-features share+wins+peak+pairpeak --topic-window 60 --topic-temperature 8
I --topic-features share+wins+peak+pairpeak --topic-window 40 --topic-temperature 6
J --topic-features share+wins+peak --topic-window 40 --topic-temperature 8
K --topic-features share+wins+pairpeak --topic-window 40 --topic-temperature 8
L --topic-features share+wins+peak+pairpeak --topic-window 40 --topic-temperature 8 --topic-mixed 800
M --topic-features share+wins+peak+pairpeak --topic-window 40 --topic-temperature 12
N --topic-features share+wins+peak+pairpeak --topic-window 20 --topic-temperature 8
P --topic-features share+wins+peak+pairpeak --topic-window 60 --topic-temperature 4
Q --topic-features share+wins+peak+pairpeak --topic-window 80 --topic-temperature 8
R --topic-features share+wins+peak+pairpeak --topic-window 60 --topic-temperature 8 --topic-mixed 800
S --topic-features share+wins+peak+pair+pairpeak --topic-window 60 --topic-temperature 8
V
