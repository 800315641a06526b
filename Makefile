# Earshot build, run and test entry points. `make run` and `make test` work on
# a fresh Debian 12 machine: they install what they need first.

GO      ?= go
BIN     := bin/earshot
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/earshot/earshot/daemon.Version=$(VERSION)

# Debian packages the build and the tests need; installed by `make deps`.
DEBS_BUILD := gcc pkg-config libpocketsphinx-dev pocketsphinx-en-us
DEBS_TEST  := $(DEBS_BUILD) pocketsphinx pocketsphinx-testdata opus-tools systemd softhsm2 \
              sip-tester sctk espeak-ng sox chromium python3-aiortc

.PHONY: all build run test deps deps-build lint bench eval clean

all: build

deps-build:
	@./packaging/scripts/apt-ensure.sh $(DEBS_BUILD)

deps:
	@./packaging/scripts/apt-ensure.sh $(DEBS_TEST)

build: deps-build
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/earshot

run: build
	./$(BIN) serve

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed; skipped"; fi

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt

eval: deps
	$(GO) test -count=1 -tags eval -run '^TestEval' -v -timeout 60m ./... 2>&1 | grep -v '^=== RUN\|^--- PASS\|^PASS$$\|^ok ' 

clean:
	rm -rf bin
