# gokmod — the Linux kernel-module tools in Go.
# `make demo` shows the tools on real kernels in QEMU; `make test` is what CI runs.

GO       ?= go
BIN      ?= bin
PREFIX   ?= /usr/local
CACHE    ?= $(or $(GOKMOD_CACHE),$(XDG_CACHE_HOME),$(HOME)/.cache)/gokmod
FUZZTIME ?= 15s
FUZZMINIMIZETIME ?= 1s
# Packages the lint rule lets import syscall (see lint), each with its reason:
# pkg/preflight predicts the kernel's answers as syscall.Errno values (the
# type pkg/kernel's errors carry too) and makes no system call itself.
# pkg/depmod prints kmod's errno texts (ENOEXEC, EINVAL for a module it
# cannot read) and st_mode type bits; it makes no system call through it.
SYSCALL_ALLOWED ?= pkg/preflight pkg/depmod
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

# Debian packages the tests, the demo and the test bed need.
APT_PACKAGES := make gcc git ca-certificates openssl \
	qemu-system-x86 busybox-static kmod cpio xz-utils zstd keyutils \
	linux-image-amd64 linux-headers-amd64 linux-kbuild-6.1 \
	bison flex bc libelf-dev libssl-dev

TOOLS := gomodinfo gokmodsign goinsmod gormmod golsmod gomodprobe godepmod gomodlink gokmod

.PHONY: all build install deps test test-unit test-vm test-host demo demo-host \
	bench bench-sign bench-modinfo bench-depmod fuzz lint fixtures clean

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

## test: lint, unit tests, differential tests against kmod, fuzzers, then the in-VM tests
test: lint test-unit fuzz test-vm

test-unit:
	$(GO) test -count=1 -timeout 45m ./...

## fuzz: every fuzz target for $(FUZZTIME), printing each one's executions
fuzz:
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$($(GO) list ./pkg/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			if ! $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -v $$pkg >$$log 2>&1; then \
				cat $$log; echo "fuzz $$pkg $$f: FAIL"; exit 1; \
			fi; \
			echo "fuzz $$pkg $$f: $$(grep '^fuzz: elapsed' $$log | tail -1 | sed -e 's/^fuzz: //' -e 's| ([0-9]*/sec)||')"; \
		done; \
	done

## lint: formatting, vet, and the rule that only pkg/kernel talks to the kernel
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@bad=$$($(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | grep 'golang.org/x/sys/unix' | awk '{print $$1}' | grep -v -e '/pkg/kernel$$' -e '/vm' -e '/tests' || true); \
	test -z "$$bad" || { echo "only pkg/kernel may import golang.org/x/sys/unix: $$bad"; exit 1; }
	@# The standard syscall package too, outside pkg/kernel, vm/, tests/ and
	@# $(SYSCALL_ALLOWED) (errno values only, no calls: see above).
	@bad=$$($(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | grep -E ' syscall( |$$)' | awk '{print $$1}' | grep -v -e '/pkg/kernel$$' -e '/vm' -e '/tests' $(foreach p,$(SYSCALL_ALLOWED),-e '/$(p)$$') || true); \
	test -z "$$bad" || { echo "only pkg/kernel may import syscall: $$bad"; exit 1; }

clean:
	rm -rf $(BIN)

## bench: every benchmark (figures in the README)
bench: bench-sign bench-modinfo bench-depmod

## bench-sign: gokmodsign on a copy of Debian's 6.1 module tree in one run, vs a loop of sign-file
BENCH_SIGN_FILE ?= /usr/lib/linux-kbuild-6.1/scripts/sign-file
BENCH_REPS      ?= 3
BENCH_SF_REPS   ?= 1
BENCH_KEYS      ?= rsa:2048 ec:P-256
bench-sign: build
	@set -e; \
	src=$$(ls -d /lib/modules/6.1.0-*-amd64/kernel 2>/dev/null | head -n1); \
	test -n "$$src" || { echo "bench-sign: no /lib/modules/6.1.0-*-amd64: apt-get install linux-image-amd64"; exit 1; }; \
	test -x "$(BENCH_SIGN_FILE)" || { echo "bench-sign: no $(BENCH_SIGN_FILE): apt-get install linux-kbuild-6.1"; exit 1; }; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	median() { sort -n | awk '{a[NR]=$$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }; \
	elapsed() { t0=$$(date +%s.%N); "$$@"; t1=$$(date +%s.%N); awk -v a=$$t0 -v b=$$t1 'BEGIN {printf "%.2f\n", b-a}'; }; \
	signfile_loop() { find "$$1" -name '*.ko' | while read -r m; do "$(BENCH_SIGN_FILE)" sha256 "$$2" "$$3" "$$m"; done; }; \
	n=$$(find "$$src" -name '*.ko' | wc -l); \
	echo "bench-sign: $$n modules from $$src, $$(nproc) CPUs, load average $$(cut -d' ' -f1-3 /proc/loadavg), sha256;" \
		"gokmodsign --append does sign-file's work (append a signature); runs interleaved"; \
	for k in $(BENCH_KEYS); do \
		kt=$${k%%:*}; kp=$${k#*:}; \
		if [ $$kt = ec ]; then opt="-pkeyopt ec_paramgen_curve:$$kp"; else opt="-pkeyopt rsa_keygen_bits:$$kp"; fi; \
		openssl req -new -x509 -nodes -batch -days 36500 -sha256 -newkey $$kt $$opt -subj "/CN=gokmod bench $$k" \
			-addext subjectKeyIdentifier=hash -outform DER -out "$$tmp/key.der" -keyout "$$tmp/key.pem" 2>/dev/null; \
		: > "$$tmp/go.times"; : > "$$tmp/sf.times"; \
		for i in $$(seq $(BENCH_REPS)); do \
			rm -rf "$$tmp/go"; cp -r "$$src" "$$tmp/go"; sync; \
			elapsed $(BIN)/gokmodsign --append sha256 "$$tmp/key.pem" "$$tmp/key.der" "$$tmp/go" >> "$$tmp/go.times"; \
			[ $$i -gt $(BENCH_SF_REPS) ] && continue; \
			rm -rf "$$tmp/sf"; cp -r "$$src" "$$tmp/sf"; sync; \
			elapsed signfile_loop "$$tmp/sf" "$$tmp/key.pem" "$$tmp/key.der" >> "$$tmp/sf.times"; \
		done; \
		if [ $$kt = rsa ]; then \
			diff -r -q "$$tmp/go" "$$tmp/sf" >/dev/null && same="output identical to sign-file's" || same="OUTPUT DIFFERS FROM SIGN-FILE'S"; \
		else same="ECDSA is randomised: outputs differ by design"; fi; \
		go=$$(median < "$$tmp/go.times"); sf=$$(median < "$$tmp/sf.times"); \
		echo "$$k: gokmodsign $${go}s (median of $(BENCH_REPS): $$(tr '\n' ' ' < "$$tmp/go.times")), sign-file loop $${sf}s (median of $(BENCH_SF_REPS)), $$(awk -v a=$$sf -v b=$$go 'BEGIN {printf "%.1f", a/b}')x faster; $$same"; \
	done

## fixtures: rebuild pkg/modfile's test modules against Debian's 6.1 headers and sign a copy
FIXTURE_KDIR ?= $(firstword $(wildcard /lib/modules/6.1.0-*-amd64/build))
SIGN_FILE    ?= /usr/lib/linux-kbuild-6.1/scripts/sign-file
FIXTURES     := pkg/modfile/testdata
fixtures:
	@test -n "$(FIXTURE_KDIR)" || { echo "no /lib/modules/6.1.0-*-amd64/build: apt-get install linux-headers-amd64"; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp $(FIXTURES)/src/*.c $(FIXTURES)/src/Kbuild "$$tmp"/; \
	$(MAKE) -C $(FIXTURE_KDIR) M="$$tmp" modules; \
	for m in gokmod_params gokmod_user; do \
		strip --strip-debug -o $(FIXTURES)/$$m.ko "$$tmp/$$m.ko"; \
	done; \
	cp $(FIXTURES)/gokmod_params.ko "$$tmp/signed.ko"; \
	$(SIGN_FILE) sha256 $(FIXTURES)/signing_key.pem $(FIXTURES)/signing_key.x509 "$$tmp/signed.ko"; \
	cp "$$tmp/signed.ko" $(FIXTURES)/gokmod_params.signed.ko

## bench-modinfo: gomodinfo vs kmod's modinfo over Debian's 6.1 tree, one process per module and all in one
BENCH_MODINFO_REPS ?= 3
bench-modinfo: build
	cmd/gomodinfo/bench.sh $(BIN) $(BENCH_MODINFO_REPS)

## bench-modprobe: gomodprobe vs kmod's modprobe, --show-depends for 500 names of Debian's 6.1 tree, one process each
BENCH_MODPROBE_REPS ?= 3
.PHONY: bench-modprobe
bench: bench-modprobe
bench-modprobe: build
	cmd/gomodprobe/bench.sh $(BIN) $(BENCH_MODPROBE_REPS) 500

# ---- the VM test bed (vm/): see README "The VM test bed" ----
VM         ?= $(BIN)/gokmod-vm
VM_KERNELS ?= debian61 debian612 secure
# test-host and demo-host: modules and kmod links for the running kernel
HOST_DIR   ?= $(CURDIR)/.cache/host
HOST_KDIR  ?= /lib/modules/$(shell uname -r)/build

.PHONY: vm-tool host-env

vm-tool:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(VM) ./vm

## test-vm: tests/ inside QEMU on every kernel flavour; per-flavour pass/fail counts at the end
test-vm: vm-tool
	$(VM) test $(addprefix --kernel ,$(VM_KERNELS))

# host-env: kaidock and its companions built for the running kernel, and
# kmod's tools under their own names, for the tests and the demo on the host.
host-env: vm-tool
	@test "$$(id -u)" = 0 || { echo "this loads modules into the running kernel: run it as root"; exit 1; }
	@test -f /proc/modules || { echo "the running kernel has no module support"; exit 1; }
	$(VM) modules --kdir $(HOST_KDIR) --out $(HOST_DIR)/modules
	@mkdir -p $(HOST_DIR)/kmod && for t in insmod rmmod lsmod modinfo modprobe depmod; do \
		ln -sf "$$(command -v kmod)" $(HOST_DIR)/kmod/$$t; done

HOST_ENV = GOKMOD_FLAVOUR=host GOKMOD_MODULES=$(HOST_DIR)/modules GOKMOD_BIN=$(CURDIR)/$(BIN) \
	GOKMOD_KMOD_DIR=$(HOST_DIR)/kmod GOKMOD_KEYS=$$($(VM) keys) \
	GOKMOD_SIGN_FILE=$(firstword $(wildcard $(HOST_KDIR)/scripts/sign-file))

## test-host: tests/ natively on the running kernel, as root (the Vagrant box runs this)
test-host: build host-env
	$(HOST_ENV) $(GO) test -count=1 -v ./tests/

## demo: install what is missing, build, and show the tools on Debian's 6.12 and the secure kernel in QEMU
demo:
	$(MAKE) deps build vm-tool
	$(VM) demo

## demo-host: the same demo on the running kernel (root; a kernel that enforces signatures refuses the test keys)
demo-host: build host-env
	$(HOST_ENV) sh vm/demo.sh host

## bench-insmod: goinsmod+gormmod vs kmod's insmod+rmmod, kaidock load+unload in QEMU (medians, ratio)
BENCH_KERNEL ?= debian612
BENCH_CYCLES ?= 100
.PHONY: bench-insmod
bench: bench-insmod
bench-insmod:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	CGO_ENABLED=0 $(GO) test -c -o "$$tmp/tests.test" ./tests; \
	CGO_ENABLED=0 $(GO) build -o "$$tmp/gokmod-vm" ./vm; \
	"$$tmp/gokmod-vm" exec --kernel $(BENCH_KERNEL) --timeout 30m "$$tmp/tests.test" \
		-test.run '^$$' -test.bench '^BenchmarkInsmod$$' -test.benchtime $(BENCH_CYCLES)x

## bench-modprobe-vm: gomodprobe vs kmod's modprobe, load+unload of btrfs and its dependencies in QEMU (medians, ratio)
BENCH_MODPROBE_CYCLES ?= 10
.PHONY: bench-modprobe-vm
bench: bench-modprobe-vm
bench-modprobe-vm:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	CGO_ENABLED=0 $(GO) test -c -o "$$tmp/tests.test" ./tests; \
	CGO_ENABLED=0 $(GO) build -o "$$tmp/gokmod-vm" ./vm; \
	"$$tmp/gokmod-vm" exec --kernel $(BENCH_KERNEL) --timeout 30m "$$tmp/tests.test" \
		-test.run '^$$' -test.bench '^BenchmarkModprobe$$' -test.benchtime $(BENCH_MODPROBE_CYCLES)x

## bench-depmod: godepmod vs kmod's depmod on the 6.1 tree, its .ko.zst copy, the 6.12 xz tree and -A
bench-depmod: build
	./cmd/godepmod/bench.sh $(BIN) $(BENCH_REPS)
