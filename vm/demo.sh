#!/bin/sh
# The gokmod demo: what a reader of the kaidock article types, done with
# gokmod's tools. Run by `gokmod-vm demo` in QEMU (part "load" on Debian's
# 6.12 kernel, part "sign" on the secure kernel, which enforces signatures)
# and by `make demo-host` on the running kernel (part "host": both).
# It reads GOKMOD_MODULES, GOKMOD_BIN and GOKMOD_KEYS like the tests do.
set -u
part=${1:-host}
mods=${GOKMOD_MODULES:?}
keys=${GOKMOD_KEYS:?}
PATH=${GOKMOD_BIN:?}:$PATH
work=$(mktemp -d)
cp "$mods/kaidock.ko" "$work/" && cd "$work" || exit 1
failed=0

# show prints a command like a shell prompt would, then runs it.
show() {
	echo "\$ $*"
	"$@"
	st=$?
	[ $st -eq 0 ] || echo "(exit status $st)"
	return $st
}

# show_sh is show for a shell pipeline given as one string.
show_sh() {
	echo "\$ $1"
	sh -c "$1"
}

# need checks that our tool exists (they land one by one).
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "($1 is not built yet: skipping this step)"
	return 1
}

demo_load() {
	echo "# Load kaidock with five ticks, list it, read its metadata, unload it."
	need goinsmod && { show goinsmod kaidock.ko loop=5 || failed=1; }
	need golsmod && { show golsmod || failed=1; }
	need gomodinfo && { show gomodinfo kaidock.ko || failed=1; }
	show cat /sys/module/kaidock/parameters/loop
	echo "# kaidock prints jiffies once a second:"
	sleep 6
	show_sh 'dmesg | grep kaidock'
	need gormmod && { show gormmod kaidock || failed=1; }
	show_sh 'grep kaidock /proc/modules || echo "kaidock is not loaded"'
}

demo_sign() {
	enforcing=$(cat /sys/module/module/parameters/sig_enforce 2>/dev/null || echo N)
	if [ "$enforcing" = Y ]; then
		echo "# This kernel enforces module signatures:"
	else
		echo "# This kernel checks module signatures but does not enforce them:"
	fi
	show cat /sys/module/module/parameters/sig_enforce
	cp kaidock.ko kaidock-unsigned.ko
	need gokmodsign && { show gokmodsign sha512 "$keys/rsa4096.priv" "$keys/rsa4096.der" kaidock.ko || failed=1; }
	need gomodinfo && { show gomodinfo kaidock.ko || failed=1; }
	echo "# The signed module loads:"
	need goinsmod && { show goinsmod kaidock.ko loop=2 || failed=1; }
	need golsmod && { show golsmod || failed=1; }
	need gormmod && { show gormmod kaidock || failed=1; }
	if [ "$enforcing" = Y ]; then
		echo "# The unsigned one is refused:"
	else
		echo "# The unsigned one loads too (and taints the kernel):"
	fi
	if need goinsmod && show goinsmod kaidock-unsigned.ko; then
		if [ "$enforcing" = Y ]; then
			echo "(an unsigned module loaded on an enforcing kernel)"
			failed=1
		fi
		need gormmod && show gormmod kaidock
	fi
	show_sh 'dmesg | grep -i -e "unsigned module" -e "key was rejected" -e "verification failed" | tail -n 2'
}

case $part in
load) demo_load ;;
sign) demo_sign ;;
host) demo_load; demo_sign ;;
*) echo "demo.sh: unknown part $part (want load, sign or host)" >&2; exit 2 ;;
esac
cd / && rm -rf "$work"
exit $failed
