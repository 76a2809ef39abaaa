# The README's two commands are `make demo` and `make test`; both install
# missing Debian packages first (scripts/deps.sh) and build what they need.
.PHONY: all deps build demo test bench proofs lab lab-stop clean

all: build

deps:
	@scripts/deps.sh

# build/ is the default configuration: no fault-injection hooks (a dir set
# up when they were on by default is switched off). `make test` builds in
# build-test/ and build-asan/, with them.
build: deps
	@[ -f build/build.ninja ] || meson setup build
	@[ "$$(scripts/test_hooks.sh build)" = false ] || meson configure build -Dtest_hooks=false
	@ninja -C build

# demo builds by itself, quietly (one summary line; the log on failure).
demo: deps
	@scripts/demo.sh

test:
	@scripts/test.sh

# One host and ward-api left running for the aws CLI (docs/operations.md
# sections 1-7 as written); no KVM needed. `make lab-stop` stops it.
lab: deps
	@scripts/lab.sh

lab-stop:
	@scripts/lab.sh stop

bench: build
	@scripts/bench.sh

# Frama-C EVA on every parser of untrusted input (docs/proofs.md).
proofs: deps
	@scripts/proofs.sh --seed

clean:
	rm -rf build build-test build-asan
