# gokmod — the Linux kernel-module tools in Go.
# `make demo` shows the tools on real kernels in QEMU; `make test` is what CI runs.

GO       ?= go
BIN      ?= bin
PREFIX   ?= /usr/local
CACHE    ?= $(or $(GOKMOD_CACHE),$(XDG_CACHE_HOME),$(HOME)/.cache)/gokmod
FUZZTIME ?= 15s
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

# Debian packages the tests, the demo and the test bed need.
APT_PACKAGES := make gcc git ca-certificates openssl \
	qemu-system-x86 busybox-static kmod cpio xz-utils zstd keyutils \
	linux-image-amd64 linux-headers-amd64 linux-kbuild-6.1 \
	bison flex bc libelf-dev libssl-dev

TOOLS := gomodinfo gokmodsign goinsmod gormmod golsmod gokmod

.PHONY: all build install deps test test-unit test-vm test-host demo demo-host \
	bench fuzz lint fixtures clean

all: build

## build: the command-line tools into $(BIN)/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

## install: the tools into $(PREFIX)/bin
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(addprefix $(BIN)/,$(TOOLS)) $(DESTDIR)$(PREFIX)/bin/

## deps: install the Debian packages that are missing (needs root or sudo)
deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

## test: unit tests, differential tests against kmod, fuzzers, then the in-VM tests
test: test-unit fuzz test-vm

test-unit:
	$(GO) test -count=1 ./...

## fuzz: every fuzz target for $(FUZZTIME)
fuzz:
	@set -e; for pkg in $$($(GO) list ./pkg/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## lint: formatting, vet, and the rule that only pkg/kernel talks to the kernel
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@bad=$$($(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | grep 'golang.org/x/sys/unix' | awk '{print $$1}' | grep -v -e '/pkg/kernel$$' -e '/vm' -e '/tests' || true); \
	test -z "$$bad" || { echo "only pkg/kernel may import golang.org/x/sys/unix: $$bad"; exit 1; }

clean:
	rm -rf $(BIN)
