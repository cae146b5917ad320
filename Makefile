# cairn: build, test, demo and benchmark from a fresh clone.
#
#   make demo    publish the reference stack, generate a GitOps repo from it
#   make test    every test (installs the wasm target and test tools first)
#   make bench   benchmarks against helm, results in target/bench/
#   make fuzz    the parsers of untrusted input under libFuzzer (FUZZ_SECONDS each)
#
# Components (plugins/) are built for wasm32-wasip2 by their own workspace;
# the host (host/) is built for this machine. Both share target/.

CARGO ?= cargo
HOST_TARGET := $(shell rustc -vV | sed -n 's/^host: //p')
WASM_DIR := target/wasm32-wasip2/release
CAIRN_DEBUG := target/debug/cairn
CAIRN_RELEASE := target/release/cairn
TOOLS := target/tools/bin

# JavaScript and Python components are built with these (see component-tools).
export CAIRN_COMPONENTIZE_PY := $(CURDIR)/target/tools/py/bin/componentize-py
REFERENCE := target/stacks/reference

.PHONY: all tools component-tools system-tools browser-tools c-tools ui plugins host stack test test-plugins test-host demo bench fuzz lint fmt clean

all: stack

## The Rust target components are compiled for.
tools:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

## Real kubectl (with kustomize) and helm, for tests and benchmarks.
$(TOOLS)/kubectl $(TOOLS)/helm:
	tests/tools/install-k8s-tools

## componentize-js (npm) and componentize-py (pip), pinned in plugins/.
component-tools:
	tests/tools/install-component-tools

## age and ssh-keygen (Debian packages), which tests check cairn's keys and
## SOPS files with.
system-tools:
	tests/tools/install-system-tools

## clang, lld and wasi-libc (Debian), wit-bindgen and wasm-tools (crates.io,
## pinned, built once into target/tools) and the WASI reactor adapter: the
## toolchain of C components, which the tests build from the docs' commands.
c-tools:
	tests/tools/install-c-tools

## Chromium (Debian) and playwright-core (npm, pinned in tests/browser),
## which the tests drive the configure page with.
browser-tools:
	tests/tools/install-browser-tools

plugins: tools
	cd plugins && $(CARGO) build --release

## The configure page (host/ui: Preact, bundled by esbuild, both pinned in
## host/ui/package-lock.json) into host/ui/dist, which the host embeds.
ui:
	@test -d host/ui/node_modules/preact || (cd host/ui && npm ci --no-audit --no-fund --loglevel=error)
	cd host/ui && npm run --silent build

host: ui
	$(CARGO) build

## The reference stack, built from stacks/reference into $(REFERENCE), and
## the catalog listing it (stacks/catalog.yaml) beside it.
stack: plugins host component-tools
	$(CAIRN_DEBUG) stack build stacks/reference --out $(REFERENCE)
	cp stacks/catalog.yaml target/stacks/catalog.yaml

test: stack $(TOOLS)/kubectl system-tools browser-tools c-tools test-plugins test-host

## The SDK's and every component's native unit tests (the whole plugins
## workspace, so a new component's tests run without being listed).
test-plugins: tools
	cd plugins && $(CARGO) test --target $(HOST_TARGET) --workspace

## The host's unit tests and the end-to-end tests in tests/.
test-host: stack $(TOOLS)/kubectl system-tools browser-tools c-tools
	$(CARGO) test

demo: stack system-tools
	tests/demo/run $(CAIRN_DEBUG)

bench: stack $(TOOLS)/helm system-tools
	$(CARGO) build --release
	python3 tests/bench/bench.py --cairn $(CAIRN_RELEASE) --helm $(TOOLS)/helm --wasm $(WASM_DIR) --reference $(REFERENCE)

## Coverage-guided fuzzing of every parser of untrusted input (the same
## targets `make test` runs briefly in tests/e2e/fuzz.rs). cargo-fuzz drives
## libFuzzer; RUSTC_BOOTSTRAP lets the stable toolchain take its flags.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS := output journal lock cairn_yaml stack_yaml schema merge catalog
fuzz:
	@test -x $(TOOLS)/cargo-fuzz || $(CARGO) install cargo-fuzz --locked --version 0.13.2 --root target/tools
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p tests/fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(TOOLS)/cargo-fuzz run --fuzz-dir tests/fuzz $$t tests/fuzz/corpus/$$t tests/fuzz/seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 || exit 1; \
	done

fmt:
	$(CARGO) fmt
	cd plugins && $(CARGO) fmt

lint: tools ui
	$(CARGO) fmt --check
	cd plugins && $(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd plugins && $(CARGO) clippy --release -- -D warnings

clean:
	$(CARGO) clean
	rm -rf demo
