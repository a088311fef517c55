#!/usr/bin/env bash
# IKC benchmarks against Perl POE::Component::IKC 0.2402 in one session on
# one machine: runs the Go benchmarks of ikc_test.go (median of COUNT runs)
# and perl/ikc.pl (median of COUNT runs), and prints the
# Markdown table of bench/README.md (section IKC).
#
#   IKC_PERL5LIB=/path/to/lib bench/ikc_vs_perl.sh          # COUNT=3
#   COUNT=5 IKC_PERL5LIB=/path/to/lib bench/ikc_vs_perl.sh
#
# IKC_PERL5LIB is the directory holding POE/Component/IKC.pm (never part
# of this repository); without it only the Go column is filled. KEEP=dir
# keeps the raw outputs (go.txt, perl.txt) in dir; bench/run-all.sh runs
# this with KEEP to reuse them in its summary.
set -euo pipefail
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && KEEP=$(cd "$KEEP" && pwd); fi
cd "$(dirname "$0")"
COUNT=${COUNT:-3}
PERL_DIR=${PERL_DIR:-perl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -z "${KEEP:-}" ] || { rmdir "$tmp"; tmp=$KEEP; trap - EXIT; }

# Throughput and round trips: 1 s each. Connects: 2,000 per run (each
# leaves a socket in TIME_WAIT; Perl's runs are capped at 1,000). Idle: one
# server process per run.
{
	go test -run '^$' -bench '^BenchmarkIKC(Post|Call|ClientLite)$' -count "$COUNT" .
	go test -run '^$' -bench '^BenchmarkIKCConnect$' -benchtime 2000x -count "$COUNT" .
	go test -run '^$' -bench '^BenchmarkIKCIdle$' -benchtime 1x -count "$COUNT" .
} >"$tmp/go.txt" 2>"$tmp/go.err" || { cat "$tmp/go.txt" "$tmp/go.err" >&2; exit 1; }

have_perl=0
if [ -n "${IKC_PERL5LIB:-}" ] && PERL5LIB="$IKC_PERL5LIB${PERL5LIB:+:$PERL5LIB}" perl -MPOE::Component::IKC::Server -e1 2>/dev/null; then
	have_perl=1
	failed=0
	for _ in $(seq "$COUNT"); do
		PERL5LIB="$IKC_PERL5LIB${PERL5LIB:+:$PERL5LIB}" timeout -k 5 300 perl "$PERL_DIR/ikc.pl" || failed=1
	done >"$tmp/perl.txt" 2>"$tmp/perl.err"
	[ "$failed" = 0 ] || { echo "ikc_vs_perl.sh: ikc.pl failed:" >&2; cat "$tmp/perl.err" >&2; exit 1; }
else
	echo "ikc_vs_perl.sh: IKC_PERL5LIB unset or without POE::Component::IKC: Go column only" >&2
fi

# shellcheck source=medians.sh
. ./medians.sh
fmt0() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }
# row LABEL GOBENCH GOUNIT PERLKEY UNIT TARGET-RATIO
row() {
	local g p ratio verdict
	g=$(fmt0 "$(gomed "$2" "$3")")
	p=$(perlmed "$4")
	if [ -n "$p" ]; then
		ratio=$(awk -v a="$g" -v b="$p" 'BEGIN { printf "%.1f×", a / b }')
		verdict=$(awk -v a="$g" -v b="$p" -v t="$6" 'BEGIN { if (t == "") print "—"; else if (a / b >= t) print "met"; else print "missed" }')
		p=$(fmt0 "$p")
	else
		p="(no perl)"; ratio="—"; verdict="—"
	fi
	printf '| %s | %s %s | %s %s | %s | %s | %s |\n' "$1" "$g" "$5" "$p" "$5" "$ratio" "${6:+≥ $6×}" "$verdict"
}

echo "| workload | Go | Perl IKC 0.2402 | Go/Perl | target | |"
echo "| --- | --- | --- | --- | --- | --- |"
row "post throughput (Client kernel → Server kernel)" IKCPost events/s ikc_post events/s 30
row "call round trips (IKC call + rsvp)" IKCCall roundtrips/s ikc_call round\ trips/s 20
row "ClientLite post_respond round trips" IKCClientLite roundtrips/s ikc_clientlite round\ trips/s 10
row "connect+negotiate+close, ClientLite, IKC0" IKCConnect/lite_ikc0 conns/s ikc_connect_lite_ikc0 conns/s ""
row "connect+negotiate+close, Client kernel, IKC0" IKCConnect/client_ikc0 conns/s ikc_connect_client_ikc0 conns/s 10
row "connect+negotiate+close, ClientLite, IKC0, GOMAXPROCS=1" IKCConnect/lite_ikc0_procs1 conns/s ikc_connect_lite_ikc0 conns/s ""
row "connect+negotiate+close, Client kernel, IKC0, GOMAXPROCS=1" IKCConnect/client_ikc0_procs1 conns/s ikc_connect_client_ikc0 conns/s 10
row "connect+negotiate+close, ClientLite, IKC" IKCConnect/lite_ikc conns/s ikc_connect_lite_ikc conns/s ""
row "connect+negotiate+close, Client kernel, IKC" IKCConnect/client_ikc conns/s ikc_connect_client_ikc conns/s ""
idle=$(fmt0 "$(gomed IKCIdle idle-KiB)")
prss=$(perlmed ikc_clientlite_server_rss)
printf '| idle server RSS (KiB) | %s | %s | %s | ≤ 10240 KiB | %s |\n' "$idle" "${prss:-(no perl)}" \
	"$([ -n "$prss" ] && awk -v a="$idle" -v b="$prss" 'BEGIN { printf "%.2f×", a / b }' || echo —)" \
	"$([ "$idle" -le 10240 ] && echo met || echo missed)"
echo
echo "Latency, Go (Perl): call p50 $(gomed IKCCall p50-µs) µs ($(perlmed ikc_call_lat_p50) µs)," \
	"p99 $(gomed IKCCall p99-µs) µs ($(perlmed ikc_call_lat_p99) µs); ClientLite p50 $(gomed IKCClientLite p50-µs) µs" \
	"($(perlmed ikc_clientlite_lat_p50) µs), p99 $(gomed IKCClientLite p99-µs) µs ($(perlmed ikc_clientlite_lat_p99) µs)."
echo "Go server with 1,000 idle ClientLite connections: $(fmt0 "$(gomed IKCIdle B/conn)") B per connection," \
	"peak RSS $(fmt0 "$(gomed IKCIdle peak-KiB)") KiB."
echo
echo '```'
grep -E '^(Benchmark|goos|goarch|cpu)' "$tmp/go.txt" | sort -u -s -k1,1 | grep -v '^Benchmark' || true
grep -E '^Benchmark' "$tmp/go.txt"
[ "$have_perl" = 1 ] && grep -E '^ikc_(post|call|clientlite|connect_(client|lite)_ikc0?):' "$tmp/perl.txt" | sort -s -k1,1
echo '```'
