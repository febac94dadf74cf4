#!/usr/bin/env bash
# bench.sh BIN [REPS] [N]: gomodprobe vs kmod's modprobe, --show-depends
# for N (500) module names of Debian's 6.1 tree, one process per name,
# alternating the two tools in each repetition. Prints the median wall
# time of each, the ratio gomodprobe/kmod and the peak RSS.
set -euo pipefail
ours=${1:?usage: bench.sh BIN [REPS] [N]}/gomodprobe
reps=${2:-5}
n=${3:-500}
kmod=$(command -v modprobe || echo /usr/sbin/modprobe)
"$kmod" -V 2>/dev/null | grep -q '^kmod version' || { echo "bench-modprobe: kmod's modprobe not found: apt-get install kmod"; exit 1; }
tree=$(ls -d /lib/modules/6.1.0-*-amd64 2>/dev/null | head -n1)
test -n "$tree" || { echo "bench-modprobe: no /lib/modules/6.1.0-*-amd64: apt-get install linux-image-amd64"; exit 1; }
kver=$(basename "$tree")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/lib/modules" "$tmp/conf"
ln -s "$tree" "$tmp/root/lib/modules/$kver"
# N names spread over modules.dep.
total=$(wc -l < "$tree/modules.dep")
step=$(( total / n > 0 ? total / n : 1 ))
cut -d: -f1 "$tree/modules.dep" | awk -v s="$step" 'NR % s == 0' | head -n "$n" |
	sed 's#.*/##; s#\..*##' > "$tmp/list"
n=$(wc -l < "$tmp/list")
args=(-d "$tmp/root" -S "$kver" -C "$tmp/conf" --show-depends)

# Same output first, or the figures mean nothing.
xargs -n1 "$kmod" "${args[@]}" < "$tmp/list" > "$tmp/kmod.out"
xargs -n1 "$ours" "${args[@]}" < "$tmp/list" > "$tmp/ours.out"
cmp -s "$tmp/kmod.out" "$tmp/ours.out" || { echo "bench-modprobe: outputs differ"; exit 1; }

run() {
	/usr/bin/time -f '%e %M' -o "$tmp/t" xargs -n1 "$2" "${args[@]}" < "$tmp/list" > /dev/null
	cat "$tmp/t" >> "$tmp/$1"
}
for _ in $(seq "$reps"); do
	run kmod "$kmod"
	run ours "$ours"
	/usr/bin/time -f '%e %M' -o "$tmp/t" xargs -n1 /bin/true < "$tmp/list"
	cat "$tmp/t" >> "$tmp/true"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
peak() { awk '$2>m {m=$2} END {print m}'; }
k=$(cut -d' ' -f1 "$tmp/kmod" | median)
o=$(cut -d' ' -f1 "$tmp/ours" | median)
t=$(cut -d' ' -f1 "$tmp/true" | median)
echo "bench-modprobe: --show-depends for $n names of $tree, one process each, $(nproc) CPUs, median of $reps runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-12s %9.2fs  peak RSS %s KB\n' kmod "$k" "$(peak < "$tmp/kmod")"
printf '%-12s %9.2fs  peak RSS %s KB\n' gomodprobe "$o" "$(peak < "$tmp/ours")"
awk -v t="$t" -v k="$k" -v o="$o" -v n="$n" 'BEGIN {
	printf "ratio gomodprobe/kmod %.2fx; floor (xargs -n1 /bin/true) %.2fs; above it kmod %.1f ms, gomodprobe %.1f ms per name (%.2fx)\n",
		o/k, t, 1000*(k-t)/n, 1000*(o-t)/n, (o-t)/(k-t) }'
