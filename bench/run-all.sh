#!/usr/bin/env bash
# Every benchmark of bench/ and its Perl counterpart in one run, on one
# machine, summarised for bench/README.md:
#
#   bench/run-all.sh                 # COUNT=5, about 8 minutes on 2 vCPUs
#   COUNT=3 OUT=/tmp/r bench/run-all.sh
#   FAMILIES='kernel echo' bench/run-all.sh
#   IKC_PERL5LIB=<dir holding POE/Component/IKC.pm> bench/run-all.sh
#   PUBLISH=1 bench/run-all.sh       # also update bench/results/published/
#                                    # and docs/bench-ratios.png
#
# Families (FAMILIES, default all, in this order): kernel (through
# kernel_vs_perl.sh), traced, echo, freezers, ikc (through ikc_vs_perl.sh),
# pulse, rpc (the Lite against net/rpc, through lite_vs_rpc.sh). Each Go benchmark runs COUNT times (-count) and goes through
# benchstat (medians, -confidence 0.9 so that 5 runs give an interval);
# each Perl script runs COUNT times and its median is taken. Perl IKC
# (POE::Component::IKC 0.2402) is found through IKC_PERL5LIB, which points
# outside this repository; without it the Perl IKC figures are skipped.
#
# Writes under OUT (default bench/results/<UTC date and time>/):
#   machine.txt          uname, nproc, CPU, go and perl versions, load, commit
#   run.log              progress and the time each family took
#   <family>/go.txt      raw `go test -bench` output
#   <family>/perl.txt    raw Perl output (where there is a Perl side)
#   <family>/benchstat.txt, benchstat.csv
#   kernel/table.md, ikc/table.md   the detailed tables of bench/README.md
#   summary.md           the Summary table of bench/README.md
#   ratios.json          one entry per ratio, read by bench/cmd/plotratios
#   ratios.png           the plot of ratios.json
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
COUNT=${COUNT:-5}
FAMILIES=${FAMILIES:-kernel traced echo freezers ikc pulse rpc}
PERL_DIR=${PERL_DIR:-$root/bench/perl}
PERL_DIR=$(cd "$PERL_DIR" 2>/dev/null && pwd || echo "$PERL_DIR")
stamp=$(date -u +%Y-%m-%dT%H%MZ)
rundate=$(date -u '+%Y-%m-%d %H:%M UTC')
OUT=${OUT:-$here/results/$stamp}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BENCHSTAT_PKG=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export COUNT PERL_DIR

log() { printf '%s run-all: %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
want() { case " $FAMILIES " in *" $1 "*) return 0 ;; esac; return 1; }

# gobench DIR ARGS...: go test -bench in bench/, appended to DIR/go.txt.
# gnet logs its start on stdout, in the middle of a benchmark's line; those
# log lines are dropped and the benchmark's line is put back together.
gobench() {
	local dir=$1
	shift
	(cd "$here" && go test -run '^$' -count "$COUNT" "$@" .) >"$tmp/go.out" 2>>"$dir/go.err" || {
		cat "$dir/go.err" >&2
		tail -n 20 "$tmp/go.out" >&2
		log "FAILED: go test $*"
		exit 1
	}
	awk '
		/^\[gnet\] / { next }
		held != "" { print held $0; held = ""; next }
		/^Benchmark[^ \t]*[ \t]+\[gnet\] / { sub(/\[gnet\] .*/, ""); held = $0; next }
		{ print }
	' "$tmp/go.out" >>"$dir/go.txt"
}

# perlrun DIR ARGS...: perl ARGS, COUNT times, appended to DIR/perl.txt.
perlrun() {
	local dir=$1
	shift
	for _ in $(seq "$COUNT"); do
		(cd "$here" && timeout -k 5 300 perl "$@") >>"$dir/perl.txt" 2>>"$dir/perl.err" || {
			cat "$dir/perl.err" >&2
			log "FAILED: perl $*"
			exit 1
		}
	done
}

have_poe=0
perl -MPOE -e1 2>/dev/null && have_poe=1
have_ikc=0
if [ -n "${IKC_PERL5LIB:-}" ] && PERL5LIB="$IKC_PERL5LIB${PERL5LIB:+:$PERL5LIB}" perl -MPOE::Component::IKC::Server -e1 2>/dev/null; then
	have_ikc=1
else
	unset IKC_PERL5LIB # the Perl sub-benchmarks of BenchmarkPulse skip
fi

measure() {
	# --- the machine ---------------------------------------------------------
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	perlv=$(perl -e 'printf "%vd", $^V' 2>/dev/null || echo none)
	poev=$(perl -MPOE -e 'print $POE::VERSION' 2>/dev/null || echo none)
	ikcv=none
	[ "$have_ikc" = 0 ] || ikcv=$(PERL5LIB="$IKC_PERL5LIB" perl -MPOE::Component::IKC::Server -e 'print $POE::Component::IKC::Server::VERSION')
	gov=$(go env GOVERSION)
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	machine="$(nproc) vCPU $cpu, $(uname -s) $(uname -r) $(uname -m), $gov, perl $perlv, POE $poev, POE::Component::IKC $ikcv"
	{
		echo "date: $rundate"
		echo "uname: $(uname -a)"
		echo "nproc: $(nproc)"
		echo "cpu: $cpu"
		echo "go: $(go version)"
		echo "perl: $(perl -v 2>/dev/null | awk 'NF { print; exit }')"
		echo "POE: $poev"
		echo "POE::Component::IKC: $ikcv"
		echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
			"($(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | wc -l) files with uncommitted changes)"
		echo "count: $COUNT"
		echo "families: $FAMILIES"
		echo "machine: $machine"
		echo "load at start: $load0"
	} >"$OUT/machine.txt"
	log "results in $OUT; $machine; load $load0"
	[ "$have_poe" = 1 ] || log "note: no perl -MPOE: Perl figures skipped"
	[ "$have_ikc" = 1 ] || log "note: IKC_PERL5LIB unset or without POE::Component::IKC: Perl IKC figures skipped"
	[ -d "$PERL_DIR" ] || { log "note: no $PERL_DIR: Perl figures skipped"; have_poe=0; have_ikc=0; }

	# --- the runs --------------------------------------------------------------
	if want kernel; then
		t=$SECONDS
		log "kernel: Go and Perl (kernel_vs_perl.sh)"
		mkdir -p "$OUT/kernel"
		KEEP="$OUT/kernel" "$here/kernel_vs_perl.sh" >"$OUT/kernel/table.md"
		log "kernel: $((SECONDS - t)) s"
	fi
	if want traced; then
		t=$SECONDS
		log "traced: Go"
		mkdir -p "$OUT/traced"
		gobench "$OUT/traced" -bench '^BenchmarkTraced(YieldChain|PostPingPong|Call)$'
		log "traced: $((SECONDS - t)) s"
	fi
	if want echo; then
		t=$SECONDS
		log "echo: Go"
		mkdir -p "$OUT/echo"
		# 20 rounds of 100k pipelined lines; 5,000 lock-step round trips (fewer
		# catch the slow start described in README.md); 1,000 idle connections.
		gobench "$OUT/echo" -bench '^BenchmarkEchoPipelined$' -benchtime 20x
		gobench "$OUT/echo" -bench '^BenchmarkEchoLockstep$' -benchtime 5000x
		gobench "$OUT/echo" -bench '^BenchmarkEchoIdle$' -benchtime 1x
		gobench "$OUT/echo" -bench '^BenchmarkLineFloor$'
		if [ "$have_poe" = 1 ]; then
			log "echo: Perl"
			perlrun "$OUT/echo" "$PERL_DIR/echo_tcp.pl"
		fi
		log "echo: $((SECONDS - t)) s"
	fi
	if want freezers; then
		t=$SECONDS
		log "freezers: Go"
		mkdir -p "$OUT/freezers"
		gobench "$OUT/freezers" -bench '^Benchmark(Storable(Decode|Encode|Unmarshal|Marshal)|FrameSplit)$' -benchtime 1s
		if perl -MStorable -e1 2>/dev/null; then
			log "freezers: Perl"
			perlrun "$OUT/freezers" freezer_perl.pl 1
		fi
		log "freezers: $((SECONDS - t)) s"
	fi
	if want ikc; then
		t=$SECONDS
		log "ikc: Go and Perl (ikc_vs_perl.sh)"
		mkdir -p "$OUT/ikc"
		KEEP="$OUT/ikc" "$here/ikc_vs_perl.sh" >"$OUT/ikc/table.md"
		log "ikc: $((SECONDS - t)) s"
	fi
	if want pulse; then
		t=$SECONDS
		log "pulse: Go$([ "$have_ikc" = 1 ] && echo ' and Perl')"
		mkdir -p "$OUT/pulse"
		gobench "$OUT/pulse" -bench '^BenchmarkPulse$' -benchtime 1s
		log "pulse: $((SECONDS - t)) s"
	fi
	if want rpc; then
		t=$SECONDS
		log "rpc: the Lite and net/rpc (lite_vs_rpc.sh)"
		mkdir -p "$OUT/rpc"
		KEEP="$OUT/rpc/go.txt" "$here/lite_vs_rpc.sh" >"$OUT/rpc/table.md"
		log "rpc: $((SECONDS - t)) s"
	fi
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	{
		echo "load at end: $load1"
		echo "duration: $((SECONDS - t_all)) s"
	} >>"$OUT/machine.txt"
	log "benchmarks done in $((SECONDS - t_all)) s; load $load1"
}

# mfield NAME: a field of machine.txt.
mfield() { awk -v k="$1: " 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }' "$OUT/machine.txt"; }

t_all=$SECONDS
if [ "${SUMMARY_ONLY:-0}" = 1 ]; then
	# Only the summary, from the outputs of an earlier run in OUT.
	[ -f "$OUT/machine.txt" ] || { echo "run-all.sh: SUMMARY_ONLY=1 but no $OUT/machine.txt" >&2; exit 1; }
	rundate=$(mfield date) machine=$(mfield machine) COUNT=$(mfield count) FAMILIES=$(mfield families)
	load0=$(mfield "load at start") load1=$(mfield "load at end")
else
	measure
fi

# --- benchstat -------------------------------------------------------------
# stat.tsv: name (without -GOMAXPROCS), unit, median, one line per figure.
for fam in $FAMILIES; do
	f=$OUT/$fam/go.txt
	[ -s "$f" ] || continue
	(cd "$tmp" && go run "$BENCHSTAT_PKG" -confidence 0.9 "$f") >"$OUT/$fam/benchstat.txt" 2>"$tmp/benchstat.err" ||
		{ cat "$tmp/benchstat.err" >&2; exit 1; }
	(cd "$tmp" && go run "$BENCHSTAT_PKG" -confidence 0.9 -format csv "$f") >"$OUT/$fam/benchstat.csv" 2>/dev/null
	awk -F, '
		$1 == "" && $3 == "CI" { unit = $2; next }
		$1 == "" || $1 == "geomean" || unit == "" { next }
		{ name = $1; sub(/-[0-9]+$/, "", name); print name "\t" unit "\t" $2 }
	' "$OUT/$fam/benchstat.csv" >"$OUT/$fam/stat.tsv"
done

# --- the summary -----------------------------------------------------------
# have FAMILY: FAMILY was asked for and has Go results.
have() { want "$1" && [ -s "$OUT/$1/go.txt" ]; }
# gostat FAMILY NAME UNIT: benchstat's median (empty when missing).
gostat() {
	[ -f "$OUT/$1/stat.tsv" ] || return 0
	awk -F'\t' -v n="$2" -v u="$3" '$1 == n && $2 == u { print $3; exit }' "$OUT/$1/stat.tsv"
}
# perlmed FAMILY KEY [FIELD]: median over the Perl runs of the line whose
# first field is KEY (FIELD: 2 for "key: value unit", 3 for freezer_perl.pl).
perlmed() {
	[ -f "$OUT/$1/perl.txt" ] || return 0
	awk -v k="$2" -v f="${3:-2}" '$1 == k { print $f }' "$OUT/$1/perl.txt" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
# num V: V with three significant figures, k and M for thousands and millions.
num() {
	[ -n "$1" ] || { echo "—"; return; }
	awk -v v="$1" 'BEGIN {
		s = ""; a = v < 0 ? -v : v; whole = (v == int(v))
		if (a >= 1e6) { v /= 1e6; s = "M"; whole = 0 } else if (a >= 1e4) { v /= 1e3; s = "k"; whole = 0 }
		a = v < 0 ? -v : v
		f = (a >= 100 || whole) ? "%.0f" : (a >= 10) ? "%.1f" : (a >= 1) ? "%.2f" : "%.3g"
		printf f s, v }'
}
# ns S, rate S: seconds per op as nanoseconds, as ops per second (empty if S is).
ns() { [ -z "$1" ] || awk -v v="$1" 'BEGIN { printf "%.10g", v * 1e9 }'; }
rate() { [ -z "$1" ] || awk -v v="$1" 'BEGIN { printf "%.10g", 1 / v }'; }

# entry GROUP WORKLOAD VS KIND GO OTHER UNIT BETTER TARGET: one ratio of
# ratios.json (Go against Perl, kind perl, or against a peer, kind peer).
# The ratio is GO/OTHER when BETTER is higher (rates), OTHER/GO when lower
# (times, memory): above 1, Go is better. Sets R (the ratio as text, "—"
# without a figure) and V (met, missed or empty).
R='' V=''
entry() {
	local group=$1 workload=$2 vs=$3 kind=$4 g=$5 o=$6 unit=$7 better=$8 target=$9 r
	R="—" V=""
	[ -n "$g" ] && [ -n "$o" ] || return 0
	r=$(awk -v g="$g" -v o="$o" -v b="$better" 'BEGIN { printf "%.6g", b == "higher" ? g / o : o / g }')
	R=$(awk -v r="$r" 'BEGIN { f = (r >= 10) ? "%.0f×" : (r >= 1) ? "%.1f×" : "%.2g×"; printf f, r }')
	[ -z "$target" ] || V=$(awk -v r="$r" -v t="$target" 'BEGIN { v = (r >= t) ? "met" : "missed"; print v }')
	printf '{"group": "%s", "workload": "%s", "vs": "%s", "kind": "%s", "go": %s, "other": %s, "unit": "%s", "better": "%s", "ratio": %s, "target": %s}\n' \
		"$group" "$workload" "$vs" "$kind" "$g" "$o" "$unit" "$better" "$r" "${target:-0}" >>"$tmp/entries"
}
: >"$tmp/entries"
: >"$tmp/rows"
# row AREA WORKLOAD GO PERL GO/PERL PEER GO/PEER TARGET MET
row() {
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$@" >>"$tmp/rows"
}
# verdicts [WHAT=]VERDICT...: the non-empty verdicts joined by "; ", each
# followed by (WHAT) when there are several ("—" when none).
verdicts() {
	local out="" v n=0
	for v in "$@"; do [ -z "${v#*=}" ] || n=$((n + 1)); done
	for v in "$@"; do
		[ -n "${v#*=}" ] || continue
		if [ "$n" -gt 1 ] && [ "${v%%=*}" != "$v" ]; then v="${v#*=} (${v%%=*})"; else v=${v#*=}; fi
		out="${out:+$out; }$v"
	done
	echo "${out:-—}"
}
or() { [ -n "$1" ] && echo "$1" || echo "$2"; }
noperl="(not run)"
noikc="(no Perl IKC)"

if have kernel; then
	yield=$(gostat kernel YieldChain sec/op)
	kernel_row() { # WORKLOAD BENCH PERLKEY TARGET UNIT
		local g p allocs
		g=$(gostat kernel "$2" sec/op)
		p=$(perlmed kernel "$3:")
		allocs=$(gostat kernel "$2" allocs/op)
		entry kernel "$1" "Perl POE" perl "$(rate "$g")" "$p" "$5" higher "$4"
		KR=$R KV=$V
		KG="$(num "$(ns "$g")") ns${allocs:+, $(num "$allocs") allocs}"
		KP=$(or "${p:+$(num "$p")/s}" "$noperl")
	}
	kernel_row "yield" YieldChain yield_chain 200 events/s
	bare=$(gostat kernel BareLoop sec/op)
	entry kernel "yield" "bare loop" peer "$(ns "$yield")" "$(ns "$bare")" ns lower 0.25
	row kernel "yield (one session yields to itself)" "$KG" "$KP" "$KR" "bare loop $(num "$(ns "$bare")") ns" "$R" "≥ 200× Perl, 0 allocs; within 4× of the bare loop (≥ 0.25×)" "$(verdicts "Perl=$KV" "bare loop=$V")"
	kernel_row "post ping-pong" PostPingPong post_pingpong 150 events/s
	post=$(gostat kernel PostPingPong sec/op)
	chan=$(gostat kernel ChannelPingPong sec/op)
	entry kernel "post ping-pong" "goroutines on channels" peer "$(ns "$post")" "$(ns "$chan")" ns lower 4
	row kernel "post ping-pong (two sessions, by alias)" "$KG" "$KP" "$KR" "two goroutines on unbuffered channels $(num "$(ns "$chan")") ns" "$R" \
		"≥ 150× Perl; ≥ 4× channel ping-pong" "$(verdicts "Perl=$KV" "channels=$V")"
	kernel_row "call" Call call_rate 100 calls/s
	row kernel "call (into another session, by alias)" "$KG" "$KP" "$KR" "" "" "≥ 100×" "$(verdicts "$KV")"
	kernel_row "delays set+fire" DelaySetFire timers_delay_fire 100 timers/s
	p99=$(gostat kernel DelaySetFire p99-late-µs)
	lv=""
	[ -z "$p99" ] || lv=$(awk -v v="$p99" 'BEGIN { print (v <= 1000 ? "met" : "missed") }')
	pp99=$(perlmed kernel timers_delay_late_p99:)
	row kernel "delays set+fire, 100k pending (busy time per timer; p99 lateness)" "$KG; p99 $(num "$p99") µs late" \
		"$KP${pp99:+; p99 $(num "$pp99") ms late}" "$KR" "" "" "≥ 100×; p99 ≤ 1 ms" "$(verdicts "Perl=$KV" "p99=$lv")"
	kernel_row "alarm set+remove" AlarmSetRemove timers_alarm_set_remove 200 timers/s
	row kernel "alarm set + remove, 100k pending" "$KG" "$KP" "$KR" "" "" "≥ 200×" "$(verdicts "$KV")"
	kernel_row "sessions" SessionCreateGC sessions 50 sessions/s
	row kernel "sessions created and collected" "$KG" "$KP" "$KR" "" "" "≥ 50×" "$(verdicts "$KV")"
fi

if have traced; then
	for w in "YieldChain yield yield_chain" "PostPingPong 'post ping-pong' post_pingpong" "Call call call_rate"; do
		eval "set -- $w"
		b=$1 label=$2 p=$3
		on=$(gostat traced "Traced$b" sec/op)
		off=$(gostat kernel "$b" sec/op)
		pr=$(perlmed kernel "$p:")
		allocs=$(gostat traced "Traced$b" allocs/op)
		offallocs=$(gostat kernel "$b" allocs/op)
		entry traces "$label, recorder on" "Perl POE" perl "$(rate "$on")" "$pr" events/s higher ""
		r1=$R
		entry traces "$label, recorder on" "recorder off" peer "$(ns "$on")" "$(ns "$off")" ns lower ""
		row traces "$label with the event recorder on" "$(num "$(ns "$on")") ns${allocs:+, $(num "$allocs") allocs}" \
			"$(or "${pr:+$(num "$pr")/s}" "$noperl")" "$r1" \
			"$(or "${off:+recorder off $(num "$(ns "$off")") ns${offallocs:+, $(num "$offallocs") allocs}}" "(kernel not run)")" "$R" \
			"off: 0 allocs" "$(awk -v a="$offallocs" 'BEGIN { print (a == "" ? "—" : a == 0 ? "met" : "missed") }')"
	done
fi

if have echo; then
	g=$(gostat echo EchoPipelined/poe lines/s)
	p=$(perlmed echo echo_tcp_lines:)
	entry echo "pipelined lines/s" "Perl POE" perl "$g" "$p" lines/s higher 20
	r1=$R v1=$V peers="" pr="" pv=""
	for s in gnet-line net-bufio gnet evio net; do
		o=$(gostat echo "EchoPipelined/$s" lines/s)
		t=""
		[ "$s" != gnet-line ] || t=0.8
		entry echo "pipelined lines/s" "$s" peer "$g" "$o" lines/s higher "$t"
		peers="${peers:+$peers, }$s $(num "$o")" pr="${pr:+$pr, }$R"
		[ "$s" != gnet-line ] || pv=$V
	done
	row echo "line echo, 50 connections pipelined, tuned POE server (lines/s)" "$(num "$g")" "$(or "${p:+$(num "$p")}" "$noperl")" "$r1" "$peers" "$pr" \
		"≥ 20× Perl; ≥ 0.8× gnet-line" "$(verdicts "Perl=$v1" "gnet-line=$pv")"
	# The server as examples/echo writes it, against the line servers a Go
	# user would write instead.
	g=$(gostat echo EchoPipelined/poe-idiom lines/s)
	entry echo "pipelined lines/s, idiomatic" "Perl POE" perl "$g" "$p" lines/s higher ""
	r1=$R peers="" pr="" pv=""
	for s in gnet-line net-bufio; do
		o=$(gostat echo "EchoPipelined/$s" lines/s)
		t=""
		[ "$s" != gnet-line ] || t=0.5
		entry echo "pipelined lines/s, idiomatic" "$s" peer "$g" "$o" lines/s higher "$t"
		peers="${peers:+$peers, }$s $(num "$o")" pr="${pr:+$pr, }$R"
		[ "$s" != gnet-line ] || pv=$V
	done
	row echo "line echo, 50 connections pipelined, examples/echo's way (lines/s)" "$(num "$g")" "$(or "${p:+$(num "$p")}" "$noperl")" "$r1" "$peers" "$pr" \
		"≥ 0.5× gnet-line" "$(verdicts "$pv")"
	g=$(gostat echo EchoLockstep/poe p50-µs)
	g99=$(gostat echo EchoLockstep/poe p99-µs)
	p=$(perlmed echo echo_tcp_rtt_p50:)
	p99=$(perlmed echo echo_tcp_rtt_p99:)
	entry echo "lock-step RTT p50" "Perl POE" perl "$g" "$p" µs lower ""
	r1=$R peers="" pr="" pv=""
	for s in gnet-line net-bufio gnet evio net; do
		o=$(gostat echo "EchoLockstep/$s" p50-µs)
		o99=$(gostat echo "EchoLockstep/$s" p99-µs)
		t=""
		[ "$s" != gnet-line ] || t=0.909
		entry echo "lock-step RTT p50" "$s" peer "$g" "$o" µs lower "$t"
		peers="${peers:+$peers, }$s $(num "$o") / $(num "$o99")" pr="${pr:+$pr, }$R"
		[ "$s" != gnet-line ] || pv=$V
	done
	row echo "line echo, 1 connection lock-step (RTT p50 / p99, µs)" "$(num "$g") / $(num "$g99")" \
		"$(or "${p:+$(num "$p") / $(num "$p99")}" "$noperl")" "$r1" "$peers" "$pr" "p50 within 10% of gnet-line (≥ 0.91×)" "$(verdicts "$pv")"
	g=$(gostat echo EchoIdle/poe B/conn)
	peers="" pr=""
	for s in gnet evio net; do
		o=$(gostat echo "EchoIdle/$s" B/conn)
		entry echo "idle RSS per connection" "$s" peer "$g" "$o" B lower ""
		peers="${peers:+$peers, }$s $(num "$o") B" pr="${pr:+$pr, }$R"
	done
	row echo "RSS per idle connection (1,000 connections)" "$(num "$g") B" "n/a" "—" "$peers" "$pr" "≤ 4 KiB" \
		"$(awk -v v="$g" 'BEGIN { print (v == "" ? "—" : v <= 4096 ? "met" : "missed") }')"
fi

if have freezers; then
	for w in "Decode ikc-call PerlStorableThaw decode 3" "Encode ikc-call PerlStorableNfreeze encode 3" \
		"Unmarshal ikc-call PerlStorableThaw Unmarshal-into-struct 3" "Marshal ikc-call PerlStorableNfreeze Marshal-from-struct 3" \
		"Decode 1MiB PerlStorableThaw decode ''" "Encode 1MiB PerlStorableNfreeze encode ''" \
		"Unmarshal 1MiB PerlStorableThaw Unmarshal-into-structs ''" "Marshal 1MiB PerlStorableNfreeze Marshal-from-structs ''"; do
		eval "set -- $w"
		g=$(gostat freezers "Storable$1/$2" sec/op)
		p=$(perlmed freezers "$3/$2" 3)
		allocs=$(gostat freezers "Storable$1/$2" allocs/op)
		op=${4//-/ }
		perlop=$([ "$3" = PerlStorableThaw ] && echo thaw || echo nfreeze)
		entry freezers "$1 $2" "Perl Storable" perl "$(ns "$g")" "$p" ns lower "$5"
		gt=$(ns "$g")
		pt=$p
		if [ "$2" = 1MiB ]; then
			gt="$(awk -v v="$gt" 'BEGIN { printf "%.3g", v / 1e6 }') ms"
			pt=${p:+"$(awk -v v="$p" 'BEGIN { printf "%.3g", v / 1e6 }') ms"}
		else
			gt="$(num "$gt") ns"
			pt=${p:+"$(num "$p") ns"}
		fi
		row freezers "Storable $op, $2 (vs $perlop)" "$gt, $(num "$allocs") allocs" "$(or "$pt" "$noperl")" "$R" "" "" \
			"${5:+≥ $5× per message}" "$(verdicts "$V")"
	done
fi

if have ikc; then
	for w in "IKCPost events/s ikc_post 'post (Client kernel to Server kernel)' 30 post" \
		"IKCCall roundtrips/s ikc_call 'call round trips (call + rsvp)' 20 call" \
		"IKCClientLite roundtrips/s ikc_clientlite 'ClientLite post_respond round trips' 10 'ClientLite post_respond'" \
		"IKCConnect/lite_ikc0 conns/s ikc_connect_lite_ikc0 'connect+negotiate+close, ClientLite, IKC0' '' 'connect ClientLite IKC0'" \
		"IKCConnect/client_ikc0 conns/s ikc_connect_client_ikc0 'connect+negotiate+close, Client kernel, IKC0' 10 'connect Client IKC0'" \
		"IKCConnect/lite_ikc0_procs1 conns/s ikc_connect_lite_ikc0 'connect+negotiate+close, ClientLite, IKC0, GOMAXPROCS=1' '' 'connect ClientLite IKC0, GOMAXPROCS=1'" \
		"IKCConnect/client_ikc0_procs1 conns/s ikc_connect_client_ikc0 'connect+negotiate+close, Client kernel, IKC0, GOMAXPROCS=1' 10 'connect Client IKC0, GOMAXPROCS=1'" \
		"IKCConnect/lite_ikc conns/s ikc_connect_lite_ikc 'connect+negotiate+close, ClientLite, IKC' '' 'connect ClientLite IKC'" \
		"IKCConnect/client_ikc conns/s ikc_connect_client_ikc 'connect+negotiate+close, Client kernel, IKC' '' 'connect Client IKC'"; do
		eval "set -- $w"
		g=$(gostat ikc "$1" "$2")
		p=$(perlmed ikc "$3:")
		entry ikc "$6" "Perl IKC" perl "$g" "$p" "$2" higher "$5"
		row ikc "$4 ($2)" "$(num "$g")" "$(or "${p:+$(num "$p")}" "$noikc")" "$R" "" "" "${5:+≥ $5×}" "$(verdicts "$V")"
	done
	g=$(gostat ikc IKCIdle idle-KiB)
	p=$(perlmed ikc ikc_clientlite_server_rss:)
	entry ikc "idle server RSS" "Perl IKC" perl "$g" "$p" KiB lower ""
	row ikc "idle server RSS" "$(num "$g") KiB" "$(or "${p:+$(num "$p") KiB}" "$noikc")" "$R" "" "" "≤ 10 MiB" \
		"$(awk -v v="$g" 'BEGIN { print (v == "" ? "—" : v <= 10240 ? "met" : "missed") }')"
fi

if have pulse; then
	for w in "1 persistent 'pulse, 1 process, persistent connections' 'pulse 1 proc, persistent'" \
		"5 persistent 'pulse, 5 processes, persistent connections' 'pulse 5 procs, persistent'" \
		"1 connect 'pulse, 1 process, a connection per request' 'pulse 1 proc, conn per request'" \
		"5 connect 'pulse, 5 processes, a connection per request' 'pulse 5 procs, conn per request'"; do
		eval "set -- $w"
		g=$(gostat pulse "Pulse/go/processes=$1/$2" requests/s)
		g99=$(gostat pulse "Pulse/go/processes=$1/$2" p99-µs)
		p=$(gostat pulse "Pulse/perl/processes=$1/$2" requests/s)
		p99=$(gostat pulse "Pulse/perl/processes=$1/$2" p99-µs)
		entry "ikc server" "$4" "Perl IKC" perl "$g" "$p" requests/s higher ""
		row "ikc server" "$3 (requests/s; p99)" "$(num "$g"); $(num "$(awk -v v="$g99" 'BEGIN { print (v / 1000) }')") ms" \
			"$(or "${p:+$(num "$p"); $(num "$(awk -v v="$p99" 'BEGIN { print (v / 1000) }')") ms}" "$noikc")" "$R" "" "" "" "—"
	done
fi

if have rpc; then
	for g in 1 64; do
		l=$(gostat rpc "EchoRPC/lite/g$g" calls/s)
		r=$(gostat rpc "EchoRPC/netrpc/g$g" calls/s)
		la=$(gostat rpc "EchoRPC/lite/g$g" allocs/op)
		ra=$(gostat rpc "EchoRPC/netrpc/g$g" allocs/op)
		t=1.2 gs="1 goroutine"
		[ "$g" = 1 ] || t=1.5 gs="$g goroutines"
		entry "ikc lite" "echo, $gs" "net/rpc" peer "$l" "$r" calls/s higher "$t"
		row "ikc lite" "echo of 32 bytes, $gs on one connection (calls/s)" "$(num "$l")${la:+, $(num "$la") allocs}" "n/a" "—" \
			"net/rpc $(num "$r")${ra:+, $(num "$ra") allocs}" "$R" "≥ $t× net/rpc" "$(verdicts "$V")"
	done
fi

{
	echo "{"
	printf '  "run": "%s",\n' "$rundate"
	printf '  "machine": "%s",\n' "$machine"
	printf '  "command": "COUNT=%s bench/run-all.sh",\n' "$COUNT"
	printf '  "entries": [\n'
	sed -e 's/^/    /' -e '$!s/$/,/' "$tmp/entries"
	printf '  ]\n}\n'
} >"$OUT/ratios.json"

{
	echo "Run of $rundate ($(mfield duration)," \
		"load $load0 at the start, $load1 at the end): $machine."
	echo "Go: medians of $COUNT runs (benchstat); Perl: medians of $COUNT runs."
	[ -s "$OUT/kernel/perl.txt" ] || [ -s "$OUT/echo/perl.txt" ] || echo "Perl POE not found: Perl figures not run."
	! want ikc && ! want pulse || [ -s "$OUT/ikc/perl.txt" ] || grep -q '^BenchmarkPulse/perl/' "$OUT/pulse/go.txt" 2>/dev/null ||
		echo "IKC_PERL5LIB unset: Perl IKC figures not run."
	echo
	echo "| area | workload | Go | Perl | Go/Perl | peer | Go/peer | target | met? |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	cat "$tmp/rows"
} >"$OUT/summary.md"

if [ -s "$tmp/entries" ]; then
	log "plot"
	(cd "$root" && go run ./bench/cmd/plotratios -in "$OUT/ratios.json" -out "$OUT/ratios.png")
else
	log "no ratio to plot"
	PUBLISH=0
fi
if [ "${PUBLISH:-0}" = 1 ]; then
	mkdir -p "$here/results/published"
	cp "$OUT/summary.md" "$OUT/ratios.json" "$OUT/machine.txt" "$here/results/published/"
	cp "$OUT/ratios.png" "$root/docs/bench-ratios.png"
	log "published to bench/results/published/ and docs/bench-ratios.png"
fi
cat "$OUT/summary.md"
log "done in $((SECONDS - t_all)) s: $OUT"
