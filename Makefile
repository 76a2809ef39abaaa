# The README's two commands are `make demo` and `make test`; both install
# missing Debian packages first (scripts/deps.sh) and build what they need.
.PHONY: all deps build demo test bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@[ -f build/build.ninja ] || meson setup build
	@ninja -C build

demo: build
	@scripts/demo.sh

test:
	@scripts/test.sh

bench: build
	@scripts/bench.sh

clean:
	rm -rf build build-asan
