#!/bin/sh
# The Lite against net/rpc (rpc_test.go): an echo of 32 bytes over one
# connection from 1 and from 64 goroutines, COUNT runs of each,
# interleaved (net/rpc and the Lite alternate), medians and ratios as the
# table of README.md. usage: [COUNT=5] [BENCHTIME=2s] bench/lite_vs_rpc.sh
set -eu
cd "$(dirname "$0")"
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-2s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" . >/dev/null
for i in $(seq "$COUNT"); do
	for g in g1 g64; do
		for impl in netrpc lite; do
			"$tmp/bench.test" -test.run '^$' -test.bench "^BenchmarkEchoRPC/$impl/$g\$" \
				-test.benchmem -test.benchtime "$BENCHTIME" 2>/dev/null | grep '^Benchmark' >>"$tmp/go.txt"
		done
	done
done
[ -n "${KEEP:-}" ] && cp "$tmp/go.txt" "$KEEP"
# med NAME UNIT: median over the runs of the value before UNIT.
med() {
	awk -v b="$1" -v u="$2" '$1 ~ "^BenchmarkEchoRPC/"b"-" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$tmp/go.txt" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
echo "| goroutines | net/rpc calls/s | Lite calls/s | Lite/net/rpc | target | met? | net/rpc B/op, allocs | Lite B/op, allocs |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for g in 1 64; do
	r=$(med "netrpc/g$g" calls/s)
	l=$(med "lite/g$g" calls/s)
	target=1.2
	[ "$g" = 64 ] && target=1.5
	awk -v g="$g" -v r="$r" -v l="$l" -v t="$target" \
		-v rb="$(med "netrpc/g$g" B/op)" -v ra="$(med "netrpc/g$g" allocs/op)" \
		-v lb="$(med "lite/g$g" B/op)" -v la="$(med "lite/g$g" allocs/op)" 'BEGIN {
		x = l / r
		printf "| %d | %.0f | %.0f | %.2f× | ≥ %.1f× | %s | %d, %d | %d, %d |\n", g, r, l, x, t, (x >= t ? "met" : "missed"), rb, ra, lb, la
	}'
done
