# The whole test suite is `make test`; CI (.ci/run) calls exactly that.
GO          ?= go
BIN         := $(CURDIR)/.bin
STATICCHECK := $(BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test test-deps vet lint fmt-check bench bench-scan scan-eval fuzz clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/warden ./cmd/warden

## test: formatting, go vet, staticcheck and every test with the race
## detector, including the end-to-end tests with the official SDKs.
test: fmt-check vet lint test-deps
	$(GO) test -race -count=1 -timeout 20m ./...

## test-deps: Node.js and the SDK packages for the end-to-end tests
test-deps:
	./scripts/test-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

## bench: the micro-benchmarks (seal/open, limiter, budgets, ...), then the
## load harness, which measures Warden against a direct call and a bare
## httputil.ReverseProxy in the same run and prints the ratios.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench

## scan-eval: the secret scanner on a generated labelled corpus (planted
## keys of every rule and decoys); prints recall and precision per rule.
## SEED picks another corpus.
SEED ?= 1
scan-eval:
	$(GO) test -count=1 -run '^TestCorpus$$' -v ./internal/scan/ -corpus.seed=$(SEED)

## bench-scan: scanner throughput in MB/s on the Go source tree, one worker
## and one per CPU, next to a walk-and-read baseline of the same files.
bench-scan:
	$(GO) test -run '^$$' -bench 'ScanTree' -benchtime 5x ./internal/scan/

## fuzz: run every fuzz target for FUZZTIME each
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
