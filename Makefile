# athenawatch — `make test` installs what the tests need and runs every test.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
# A count, not a duration: a duration -fuzztime races Go 1.26's fuzz
# coordinator at the deadline (golang/go#75804, fixed in Go 1.27) and fails
# the run with a bare "context deadline exceeded" and no crasher.
FUZZTIME ?= 500000x

.PHONY: test check unit race fuzz bench build demo

test: check unit race fuzz

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

# The packages with concurrency of their own, under the race detector.
race:
	$(GO) test -count=1 -race -timeout 15m ./internal/source/... ./internal/enrich/... ./internal/store/...

# A short coverage-guided run of the record reader's fuzz test. A crasher it
# finds is written to internal/cloudtrail/testdata/fuzz/FuzzRead and fails the run.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./internal/cloudtrail

bench:
	bash bench/ingest.sh

demo:
	$(GO) run ./cmd/athenawatch demo
