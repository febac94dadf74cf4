#!/bin/sh
# Provisions the Vagrant box (Ubuntu 24.04, its own 6.8 kernel with zstd
# modules) and runs the integration tests natively: `make test-host` builds
# kaidock and its companions against the box's headers, builds our tools and
# runs tests/ as root on the running kernel. Run by the Vagrantfile from the
# checkout synced at $GOKMOD_SRC (default /gokmod).
set -eu
src=${GOKMOD_SRC:-/gokmod}
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential make git ca-certificates curl openssl kmod \
	"linux-headers-$(uname -r)"

# Go: the version go.mod asks for, from go.dev, unless it is already there.
want=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$src/go.mod")
if ! /usr/local/go/bin/go version 2>/dev/null | grep -q "go$want"; then
	rm -rf /usr/local/go
	curl -fsSL "https://go.dev/dl/go$want.linux-amd64.tar.gz" | tar -C /usr/local -xz
fi
export PATH="/usr/local/go/bin:$PATH"
go version

cd "$src"
make test-host
