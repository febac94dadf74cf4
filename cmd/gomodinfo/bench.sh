#!/usr/bin/env bash
# bench.sh BIN [REPS]: gomodinfo vs kmod's modinfo over every module of
# Debian's 6.1 tree, one process per module and all modules in one
# process, alternating the two tools in each repetition. Prints the
# median wall time of each, the ratio gomodinfo/kmod and the peak RSS.
set -euo pipefail
ours=${1:?usage: bench.sh BIN [REPS]}/gomodinfo
reps=${2:-5}
kmod=$(command -v modinfo || echo /usr/sbin/modinfo)
"$kmod" -V 2>/dev/null | grep -q '^kmod version' || { echo "bench-modinfo: kmod's modinfo not found: apt-get install kmod"; exit 1; }
tree=$(ls -d /lib/modules/6.1.0-*-amd64/kernel 2>/dev/null | head -n1)
test -n "$tree" || { echo "bench-modinfo: no /lib/modules/6.1.0-*-amd64: apt-get install linux-image-amd64"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$tree" -name '*.ko' | sort > "$tmp/list"
n=$(wc -l < "$tmp/list")

# Same output first, or the figures mean nothing.
xargs -s 1500000 "$kmod" < "$tmp/list" > "$tmp/kmod.out"
xargs -s 1500000 "$ours" < "$tmp/list" > "$tmp/ours.out"
cmp -s "$tmp/kmod.out" "$tmp/ours.out" || { echo "bench-modinfo: outputs differ"; exit 1; }

# run NAME MODE TOOL: appends "seconds peak-KB" to $tmp/NAME.MODE
run() {
	local args=(-n1)
	[ "$2" = one ] && args=(-s 1500000)
	/usr/bin/time -f '%e %M' -o "$tmp/t" xargs "${args[@]}" "$3" < "$tmp/list" > /dev/null
	cat "$tmp/t" >> "$tmp/$1.$2"
}
for _ in $(seq "$reps"); do
	for mode in each one; do
		run kmod "$mode" "$kmod"
		run ours "$mode" "$ours"
	done
	run true each /bin/true
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
peak() { awk '$2>m {m=$2} END {print m}'; }
echo "bench-modinfo: $n modules from $tree, $(nproc) CPUs, median of $reps runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-26s %10s %10s %8s %14s %14s\n' mode kmod gomodinfo ratio "kmod peak RSS" "gomodinfo RSS"
for mode in each one; do
	k=$(cut -d' ' -f1 "$tmp/kmod.$mode" | median)
	o=$(cut -d' ' -f1 "$tmp/ours.$mode" | median)
	label="one process per module"
	[ "$mode" = one ] && label="all in one process"
	printf '%-26s %9.2fs %9.2fs %7.2fx %11s KB %11s KB\n' "$label" "$k" "$o" \
		"$(awk -v a="$o" -v b="$k" 'BEGIN {print a/b}')" \
		"$(peak < "$tmp/kmod.$mode")" "$(peak < "$tmp/ours.$mode")"
done
t=$(cut -d' ' -f1 "$tmp/true.each" | median)
k=$(cut -d' ' -f1 "$tmp/kmod.each" | median)
o=$(cut -d' ' -f1 "$tmp/ours.each" | median)
awk -v t="$t" -v k="$k" -v o="$o" -v n="$n" 'BEGIN {
	printf "floor: xargs -n1 /bin/true %.2fs (%.1f ms/process); above it kmod %.1f ms, gomodinfo %.1f ms per module (%.2fx)\n",
		t, 1000*t/n, 1000*(k-t)/n, 1000*(o-t)/n, (o-t)/(k-t) }'
