#!/usr/bin/env bash
# bench.sh BIN [REPS]: godepmod vs kmod's depmod on Debian's 6.1 tree as
# installed, a .ko.zst copy of it and Debian's 6.12 tree (.ko.xz), plus
# -A on the unchanged 6.1 tree. The two tools alternate in each
# repetition on the same tree (kernel/ symlinked into a scratch base
# directory); the outputs are compared first. Prints median wall and CPU
# times, the ratio godepmod/kmod and the peak RSS.
# The .ko.zst copy and the 6.12 tree are the differential tests' cached
# corpora: the script runs those tests first, which make them once.
set -euo pipefail
ours=${1:?usage: bench.sh BIN [REPS]}/godepmod
reps=${2:-5}
kmod=$(command -v depmod || echo /usr/sbin/depmod)
"$kmod" -V 2>/dev/null | grep -q '^kmod version' || { echo "bench-depmod: kmod's depmod not found: apt-get install kmod"; exit 1; }
src61=$(ls -d /lib/modules/6.1.0-*-amd64 2>/dev/null | head -n1)
test -n "$src61" || { echo "bench-depmod: no /lib/modules/6.1.0-*-amd64: apt-get install linux-image-amd64"; exit 1; }
k61=$(basename "$src61")

go test -count=1 -run 'TestDebian61Compressed/zstd|TestDebian612' ./pkg/depmod >/dev/null
cache=${GOKMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gokmod}/depmod-corpus
zst=$(ls -d "$cache/$k61"-zstd-* | head -n1)
deb612=$(ls -d "$cache"/linux-image-6.12.*/root/lib/modules/* | head -n1)
k612=$(basename "$deb612")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/conf"
outputs="modules.dep modules.dep.bin modules.alias modules.alias.bin modules.softdep modules.symbols modules.symbols.bin modules.builtin.bin modules.builtin.alias.bin modules.devname"

# tree NAME SRC KVER: a base directory with SRC's kernel/ linked in
tree() {
	local d="$tmp/$1/lib/modules/$3"
	mkdir -p "$d"
	ln -s "$2/kernel" "$d/kernel"
	cp "$2/modules.order" "$2/modules.builtin" "$2/modules.builtin.modinfo" "$d/"
}
tree plain "$src61" "$k61"
tree zstd "$zst" "$k61"
tree xz "$deb612" "$k612"

# run NAME TOOL BASE KVER [ARGS]: appends "wall user+sys peak-KB" to $tmp/NAME
run() {
	local name=$1 tool=$2 base=$3 kver=$4
	shift 4
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$tool" -b "$base" -C "$tmp/conf" "$@" "$kver" 2>/dev/null
	awk '{print $1, $2+$3, $4}' "$tmp/t" >> "$tmp/$name"
}

for t in plain:$k61 zstd:$k61 xz:$k612; do
	name=${t%%:*} kver=${t#*:}
	dir="$tmp/$name/lib/modules/$kver"
	"$kmod" -b "$tmp/$name" -C "$tmp/conf" "$kver" 2>/dev/null
	mkdir "$tmp/$name.kmod" && for f in $outputs; do mv "$dir/$f" "$tmp/$name.kmod/"; done
	"$ours" -b "$tmp/$name" -C "$tmp/conf" "$kver" 2>/dev/null
	for f in $outputs; do cmp -s "$dir/$f" "$tmp/$name.kmod/$f" || { echo "bench-depmod: $name: $f differs"; exit 1; }; done
done

for _ in $(seq "$reps"); do
	for t in plain:$k61 zstd:$k61 xz:$k612; do
		name=${t%%:*} kver=${t#*:}
		run "kmod.$name" "$kmod" "$tmp/$name" "$kver"
		run "ours.$name" "$ours" "$tmp/$name" "$kver"
	done
	touch "$tmp/plain/lib/modules/$k61/modules.dep"
	run kmod.quick "$kmod" "$tmp/plain" "$k61" -A
	run ours.quick "$ours" "$tmp/plain" "$k61" -A
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
peak() { awk '$3>m {m=$3} END {print m}'; }
echo "bench-depmod: $(nproc) CPUs, median of $reps runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-30s %9s %9s %7s %9s %9s %12s %12s\n' tree kmod godepmod ratio "kmod CPU" "go CPU" "kmod RSS" "godepmod RSS"
for t in "plain:6.1 plain .ko ($k61)" "zstd:6.1 as .ko.zst" "xz:6.12 .ko.xz ($k612)" "quick:-A, 6.1 unchanged"; do
	name=${t%%:*} label=${t#*:}
	k=$(cut -d' ' -f1 "$tmp/kmod.$name" | median)
	o=$(cut -d' ' -f1 "$tmp/ours.$name" | median)
	kc=$(cut -d' ' -f2 "$tmp/kmod.$name" | median)
	oc=$(cut -d' ' -f2 "$tmp/ours.$name" | median)
	printf '%-30s %8.2fs %8.2fs %6.2fx %8.2fs %8.2fs %9s KB %9s KB\n' "$label" "$k" "$o" \
		"$(awk -v a="$o" -v b="$k" 'BEGIN {print (b > 0) ? a/b : 0}')" "$kc" "$oc" \
		"$(peak < "$tmp/kmod.$name")" "$(peak < "$tmp/ours.$name")"
done
