# licen-broker: the two set-up commands are `make demo` (the main job) and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
TESTVECTORS_DIR ?= $(abspath ../shared/testvectors)
export TESTVECTORS_DIR

.PHONY: build test demo bench fuzz format clean

build:
	$(SWIFT) build

## The whole test suite (what CI runs): Swift (including the dev chain, swtpm, PostgreSQL and
## loopback servers it starts itself), then the Vyper contract suite on py-evm. Suites run one
## at a time: on 2 cores, parallel suites that start servers starve Swift's cooperative pool
## and turn the stores' bounded-time checks into noise. A failed build stops at once; after
## it both suites always run (a Swift failure must not hide a contract regression), and the
## target fails if either did, naming which.
test:
	$(SWIFT) build --build-tests
	swift_status=0; contracts_status=0; \
	$(SWIFT) test --no-parallel || swift_status=$$?; \
	scripts/devchain test || contracts_status=$$?; \
	if [ $$swift_status -ne 0 ] || [ $$contracts_status -ne 0 ]; then \
	    echo "make test: FAILED (swift test exit $$swift_status, scripts/devchain test exit $$contracts_status)" >&2; \
	    exit 1; \
	fi

## The main job. For now: verify a real Intel TDX quote against its collateral with the operator CLI.
demo: build
	@test -d "$(TESTVECTORS_DIR)" || { echo "test vectors not found at $(TESTVECTORS_DIR): check out shared/ beside this repository or set TESTVECTORS_DIR"; exit 3; }
	$(SWIFT) run keyrelease verify-quote "$(TESTVECTORS_DIR)/tdx/dcap-qvl/tdx_quote" \
	    --collateral "$(TESTVECTORS_DIR)/tdx/dcap-qvl/tdx_quote_collateral.json" --at 2025-07-01T00:00:00Z

## Benchmarks (release build), ratios against a baseline measured in the same run.
bench:
	Benchmarks/run

## libFuzzer runs (SECONDS per target, default 600).
fuzz:
	scripts/fuzz all $${SECONDS_PER_TARGET:-600}

clean:
	rm -rf .build .build-*

## Formats every Swift source in place with the toolchain's swift-format and `.swift-format`.
format:
	$(SWIFT) format format --in-place --recursive Sources Tests Benchmarks Fuzz/Sources
