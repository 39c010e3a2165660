# termhost: set-up, build, run, test. Every target installs what it needs first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

DEB_PACKAGES := pcscd libpcsclite-dev vsmartcard-vpcd pcsc-tools socat iproute2 util-linux procps systemd faketime chromium postgresql
NODE_BIN := node_modules/.bin

.PHONY: help setup deps build run test lint bench install clean soak

help:
	@echo "make run    set up, build and start the daemon on a simulated kiosk"
	@echo "make test   set up, build, lint and run the whole test suite"
	@echo "make bench  run all benchmarks (B=NAME for one)"
	@echo "make soak   the long reliability campaign (TERMHOST_SEED=S to replay)"
	@echo "make install PREFIX=/usr/local  install the daemon, CLI and systemd units"

deps:
	@bash scripts/setup-debian.sh $(DEB_PACKAGES)

node_modules/.install-stamp: package.json package-lock.json
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: deps node_modules/.install-stamp

build: setup
	$(NODE_BIN)/tsc -p tsconfig.build.json

lint: setup
	$(NODE_BIN)/tsc --noEmit -p .
	$(NODE_BIN)/biome check --error-on-warnings .

run: build
	exec node dist/simulators/main.js kiosk --daemon $(ARGS)

test: build lint
	bash scripts/run-tests.sh

soak: build
	TERMHOST_SOAK=long TERMHOST_SOAK_STRICT=1 bash scripts/run-tests.sh test/soak

bench: build
	bash scripts/run-bench.sh $(B)

PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" bash scripts/install.sh "$(PREFIX)"

clean:
	rm -rf dist node_modules/.install-stamp
