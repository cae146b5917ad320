# cairn: build, test, demo and benchmark from a fresh clone.
#
#   make demo    render the reference components and show the result
#   make test    every test (installs the wasm target and test tools first)
#   make bench   benchmarks against helm, results in target/bench/
#
# Components (plugins/) are built for wasm32-wasip2 by their own workspace;
# the host (host/) is built for this machine. Both share target/.

CARGO ?= cargo
HOST_TARGET := $(shell rustc -vV | sed -n 's/^host: //p')
WASM_DIR := target/wasm32-wasip2/release
CAIRN_DEBUG := target/debug/cairn
CAIRN_RELEASE := target/release/cairn
TOOLS := target/tools/bin

.PHONY: all tools plugins host test test-plugins test-host demo bench lint fmt clean

all: plugins host

## The Rust target components are compiled for.
tools:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

## Real kubectl (with kustomize) and helm, for tests and benchmarks.
$(TOOLS)/kubectl $(TOOLS)/helm:
	tests/tools/install-k8s-tools

plugins: tools
	cd plugins && $(CARGO) build --release

host:
	$(CARGO) build

test: plugins $(TOOLS)/kubectl test-plugins test-host

## The SDK and components' native unit tests.
test-plugins: tools
	cd plugins && $(CARGO) test --target $(HOST_TARGET) -p cairn-sdk -p ingress-nginx -p cert-manager

## The host's unit tests and the end-to-end tests in tests/.
test-host: plugins $(TOOLS)/kubectl
	$(CARGO) test

demo: plugins host
	tests/demo/run $(CAIRN_DEBUG)

bench: plugins $(TOOLS)/helm
	$(CARGO) build --release
	python3 tests/bench/bench.py --cairn $(CAIRN_RELEASE) --helm $(TOOLS)/helm --wasm $(WASM_DIR)

fmt:
	$(CARGO) fmt
	cd plugins && $(CARGO) fmt

lint: tools
	$(CARGO) fmt --check
	cd plugins && $(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd plugins && $(CARGO) clippy --release -- -D warnings

clean:
	$(CARGO) clean
	rm -rf demo
