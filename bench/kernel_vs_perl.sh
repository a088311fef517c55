#!/usr/bin/env bash
# Kernel benchmarks against Perl POE 1.370 in one session on one machine:
# runs the Go benchmarks (median of COUNT runs) and perl/core.pl
# (median of COUNT runs) and prints the Markdown table of bench/README.md.
#
#   bench/kernel_vs_perl.sh            # COUNT=3
#   COUNT=5 bench/kernel_vs_perl.sh
#   KEEP=dir bench/kernel_vs_perl.sh   # keep the raw outputs (go.txt, perl.txt) in dir
#
# bench/run-all.sh runs this with KEEP to reuse the outputs in its summary.
set -euo pipefail
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && KEEP=$(cd "$KEEP" && pwd); fi
cd "$(dirname "$0")"
COUNT=${COUNT:-3}
PERL_DIR=${PERL_DIR:-perl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -z "${KEEP:-}" ] || { rmdir "$tmp"; tmp=$KEEP; trap - EXIT; }

go test -run '^$' -bench '^Benchmark(YieldChain|PostPingPong|Call|DelaySetFire|AlarmSetRemove|SessionCreateGC|BareLoop|ChannelPingPong)$' \
	-count "$COUNT" . >"$tmp/go.txt" 2>"$tmp/go.err" || { cat "$tmp/go.txt" "$tmp/go.err" >&2; exit 1; }
have_perl=0
if perl -MPOE -e1 2>/dev/null; then
	have_perl=1
	failed=0
	for _ in $(seq "$COUNT"); do
		for mode in yield_chain post_pingpong call_rate timers sessions; do
			timeout -k 5 300 perl "$PERL_DIR/core.pl" "$mode" || failed=1
		done
	done >"$tmp/perl.txt" 2>"$tmp/perl.err"
	[ "$failed" = 0 ] || { echo "kernel_vs_perl.sh: core.pl failed:" >&2; cat "$tmp/perl.err" >&2; exit 1; }
else
	echo "kernel_vs_perl.sh: no perl -MPOE, Go column only" >&2
fi

# shellcheck source=medians.sh
. ./medians.sh
row() { # label gobench perlkey target
	local ns rate perl ratio
	ns=$(gomed "$2" ns/op)
	rate=$(awk -v n="$ns" 'BEGIN { printf "%.0f", 1e9 / n }')
	perl=$(perlmed "$3")
	if [ -n "$perl" ]; then
		ratio=$(awk -v a="$rate" -v b="$perl" 'BEGIN { printf "%.0f×", a / b }')
	else
		perl="(no perl)"; ratio="—"
	fi
	printf '| %s | %s ns/op | %s/s | %s/s | %s | %s |\n' "$1" "$ns" "$rate" "$perl" "$ratio" "$4"
}

echo "| workload | Go ns/op | Go rate | Perl POE rate | Go/Perl | target |"
echo "| --- | --- | --- | --- | --- | --- |"
row "yield (one session yields to itself)" YieldChain yield_chain "≥ 200×"
row "post ping-pong (two sessions, by alias)" PostPingPong post_pingpong "≥ 150×"
row "call (into another session, by alias)" Call call_rate "≥ 100×"
row "delays set+fire, 100k pending (busy time)" DelaySetFire timers_delay_fire "≥ 100×"
row "alarm set + remove (100k pending)" AlarmSetRemove timers_alarm_set_remove "≥ 200×"
row "sessions created and collected" SessionCreateGC sessions "≥ 50×"
echo
echo "Bare loop (ring buffer + indirect call): $(gomed BareLoop ns/op) ns/op;" \
	"yield is $(awk -v a="$(gomed YieldChain ns/op)" -v b="$(gomed BareLoop ns/op)" 'BEGIN { printf "%.1f", a / b }')× that."
echo "Post ping-pong against two goroutines on unbuffered channels (what a Go programmer writes instead):" \
	"$(gomed ChannelPingPong ns/op) ns per message, post is $(awk -v a="$(gomed ChannelPingPong ns/op)" -v b="$(gomed PostPingPong ns/op)" 'BEGIN { printf "%.1f", a / b }')× faster (target ≥ 4×)."
echo "Delays: p50 $(gomed DelaySetFire p50-late-µs) µs, p99 $(gomed DelaySetFire p99-late-µs) µs late;" \
	"process CPU $(gomed DelaySetFire cpu-ns/timer) ns/timer; initial burst $(gomed DelaySetFire burst-ns/set) ns/set" \
	"(Perl: set $(perlmed timers_delay_set)/s, p50 $(perlmed timers_delay_late_p50) ms, p99 $(perlmed timers_delay_late_p99) ms late)."
echo
echo '```'
grep -E '^(Benchmark|goos|goarch|cpu)' "$tmp/go.txt"
echo '```'
