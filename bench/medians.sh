# Sourced by kernel_vs_perl.sh and ikc_vs_perl.sh (after cd into bench/):
# medians over the COUNT runs kept in $tmp/go.txt and $tmp/perl.txt.

# gomed NAME UNIT: median over the Go runs of the value before UNIT.
gomed() {
	awk -v b="$1" -v u="$2" '$1 ~ "^Benchmark"b"-" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$tmp/go.txt" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# perlmed KEY: median over the Perl runs of "KEY: value" ("" without Perl).
perlmed() {
	[ "$have_perl" = 1 ] || { echo ""; return; }
	awk -v k="$1:" '$1 == k { print $2 }' "$tmp/perl.txt" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
