# athenawatch — `make test` installs what the tests need and runs every test.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
VERSITYGW_VERSION := v1.8.0
# A count, not a duration: a duration -fuzztime races Go 1.26's fuzz
# coordinator at the deadline (golang/go#75804, fixed in Go 1.27) and fails
# the run with a bare "context deadline exceeded" and no crasher.
FUZZTIME ?= 500000x

.PHONY: test tools check unit race fuzz bench build demo

test: tools check unit race fuzz

# The tests need, from Debian: gcc for the race detector (cgo), chromium for
# the dashboard's browser test, prometheus for promtool (the /metrics format
# check) and Node.js with npm. Each is installed when missing (CI and fresh
# machines run as root with apt-get; elsewhere through sudo). From the Go
# module proxy: versitygw, a real S3 server the s3 source and the export are
# tested against. From the npm registry: @duckdb/node-api, pinned by its
# package-lock.json: DuckDB is the second engine that reads the exported
# usage lake.
tools:
	@missing=; \
	command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (needed by the tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@gobin=$$($(GO) env GOBIN); [ -n "$$gobin" ] || gobin=$$($(GO) env GOPATH)/bin; \
	if ! command -v versitygw >/dev/null 2>&1 && [ ! -x "$$gobin/versitygw" ]; then \
		echo "installing versitygw $(VERSITYGW_VERSION) (a real S3 server for the s3 source's tests; a few minutes)"; \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); \
	fi
	@if [ ! -d internal/duckdb/node/node_modules/@duckdb/node-api ]; then \
		echo "installing @duckdb/node-api (DuckDB reads the exported usage lake in the lake tests)"; \
		npm ci --prefix internal/duckdb/node --no-audit --no-fund --loglevel=error; \
	fi

build:
	$(GO) build ./...

# Formatting, vet and staticcheck (fetched through the Go module proxy).
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

unit:
	$(GO) test -count=1 -timeout 15m ./...

# The packages with concurrency of their own, under the race detector. The
# store's generator (internal/store/storegen) writes from one goroutine
# through the store tested here, and takes minutes under the detector: left
# out. internal/store alone takes up to ten minutes under the detector on a
# slow 2-core machine: the timeout leaves room for one slower still.
race:
	CGO_ENABLED=1 $(GO) test -count=1 -race -timeout 30m ./internal/source/... ./internal/enrich/... ./internal/store ./internal/awsemu/... ./internal/web/... ./internal/lake

# A short coverage-guided run of the record reader's fuzz test. A crasher it
# finds is written to internal/cloudtrail/testdata/fuzz/FuzzRead and fails the run.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./internal/cloudtrail

bench:
	bash bench/ingest.sh

demo:
	$(GO) run ./cmd/athenawatch demo
