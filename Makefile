# Earshot build, run and test entry points. `make run` and `make test` work on
# a fresh Debian 12 machine: they install what they need first.

GO      ?= go
BIN     := bin/earshot
VERSION ?= $(shell ./packaging/scripts/version.sh)
LDFLAGS := -X github.com/earshot/earshot/daemon.Version=$(VERSION)

# Debian packages the build and the tests need; installed by `make deps`.
DEBS_BUILD := gcc pkg-config libpocketsphinx-dev pocketsphinx-en-us flite1-dev libespeak-ng-dev libopus-dev
DEBS_TEST  := $(DEBS_BUILD) make pocketsphinx pocketsphinx-testdata opus-tools systemd softhsm2 \
              sip-tester sctk espeak-ng flite sox chromium python3-aiortc g++ \
              apertium apertium-eng-spa apertium-eng-cat apertium-es-pt apertium-spa-cat \
              libexttextcat-dev libexttextcat-data glpk-utils python3-sklearn prometheus gpg

# The Ollama server the inference/ollama tests run against: built once on CPU
# from the Go module proxy (cgo, needs g++) into a cache outside the repo.
OLLAMA_VERSION := v0.6.5
OLLAMA_BIN_DIR ?= $(HOME)/.cache/earshot/ollama-$(OLLAMA_VERSION)/bin
OLLAMA_BIN     := $(OLLAMA_BIN_DIR)/ollama

.PHONY: all build run test deps deps-build lint lint-tools vulncheck bench eval fuzz security soak clean deb ollama-server package-test fleet-test

all: build

deps-build:
	@./packaging/scripts/apt-ensure.sh $(DEBS_BUILD)

deps:
	@./packaging/scripts/apt-ensure.sh $(DEBS_TEST)

build: deps-build
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/earshot

run: build
	./$(BIN) serve

test: export EARSHOT_OLLAMA_BIN := $(OLLAMA_BIN)
test: deps build ollama-server
	$(GO) vet ./...
	# One package at a time: several start real servers (Ollama, Chromium,
	# SIPp, plugin processes) whose timing suffers when run side by side on
	# two cores.
	EARSHOT_BIN=$(abspath $(BIN)) $(GO) test -p 1 -count=1 -timeout 20m ./...
	cd plugins/sdk && $(GO) vet ./... && $(GO) test -count=1 ./...

# ollama-server builds the test server unless it is already cached (a few
# minutes, once per machine and version).
ollama-server: deps
	@if [ -x "$(OLLAMA_BIN)" ]; then echo "ollama server $(OLLAMA_VERSION): $(OLLAMA_BIN)"; else \
		echo "building the Ollama $(OLLAMA_VERSION) server (CPU) into $(OLLAMA_BIN_DIR); once, a few minutes"; \
		mkdir -p "$(OLLAMA_BIN_DIR)" && cd / && GOBIN="$(OLLAMA_BIN_DIR)" GOFLAGS=-buildvcs=false \
			$(GO) install github.com/ollama/ollama@$(OLLAMA_VERSION); fi

# Static checks, installed from the Go module proxy at pinned versions into a
# cache outside the repository (once per machine and version). Not part of
# `make test`: staticcheck and gosec take several minutes each here.
# gosec: exceptions are justified where they stand (#nosec G... -- reason);
# GOSEC_EXCLUDE are the rules left out whole, and why:
#   G104 unhandled errors: Close/Flush/Remove on cleanup and error paths,
#        where the first error is the one returned;
#   G115 integer conversions: audio, DSP and model arithmetic on bounded
#        values; lengths from the wire are checked where they are parsed
#        (and fuzzed, `make fuzz`);
#   G304 file paths from variables: the paths come from the configuration
#        or the daemon's own data directory, not from requests;
#   G103 unsafe: the cgo bindings of PocketSphinx;
#   G404 math/rand: sampling, shuffles and model training, never secrets
#        (keys, tokens and nonces use crypto/rand).
# GOSEC_EXCLUDE_DIRS are test-support packages and tools outside the binary.
# `make vulncheck` runs govulncheck on a vulnerability database built
# offline from the golang.org/x/vulndb module (its OSV files, indexed by its
# own indexdb command): the Go proxy is the only source reachable from here.
# Newer advisories need a newer VULNDB_VERSION. It is not part of `make lint`
# while it has findings it cannot fix here: the standard library of
# go1.26.8 (fixed in go1.26.9/go1.26.10), golang.org/x/net v0.60.0 (fixed
# in v0.62.0, whose x/sys renames the Landlock fields the plugin sandbox
# uses) and github.com/ollama/ollama v0.6.5 (server advisories, no fix).
TOOLS_BIN          ?= $(HOME)/.cache/earshot/tools/bin
STATICCHECK_VERSION := v0.8.2
GOSEC_VERSION       := v2.30.0
GOVULNCHECK_VERSION := v1.9.0
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR         ?= $(HOME)/.cache/earshot/vulndb-$(VULNDB_VERSION)
GOSEC_EXCLUDE      := G104,G115,G304,G103,G404
GOSEC_EXCLUDE_DIRS := -exclude-dir=ingesttest -exclude-dir=keystest -exclude-dir=whispertest \
                      -exclude-dir=ollamatest -exclude-dir=pluginstest -exclude-dir=testdata \
                      -exclude-dir=lidtrain -exclude-dir=tatoeba -exclude-dir=testspeech

lint-tools:
	@mkdir -p "$(TOOLS_BIN)"
	@[ -x "$(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)" ] || { cd / && GOBIN="$(TOOLS_BIN)" GOFLAGS=-buildvcs=false $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) && mv "$(TOOLS_BIN)/staticcheck" "$(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)"; }
	@[ -x "$(TOOLS_BIN)/gosec-$(GOSEC_VERSION)" ] || { cd / && GOBIN="$(TOOLS_BIN)" GOFLAGS=-buildvcs=false $(GO) install github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION) && mv "$(TOOLS_BIN)/gosec" "$(TOOLS_BIN)/gosec-$(GOSEC_VERSION)"; }
	@[ -x "$(TOOLS_BIN)/govulncheck-$(GOVULNCHECK_VERSION)" ] || { cd / && GOBIN="$(TOOLS_BIN)" GOFLAGS=-buildvcs=false $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) && mv "$(TOOLS_BIN)/govulncheck" "$(TOOLS_BIN)/govulncheck-$(GOVULNCHECK_VERSION)"; }
	@[ -f "$(VULNDB_DIR)/index/db.json" ] || { cd / && GOBIN="$(TOOLS_BIN)" GOFLAGS=-buildvcs=false $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) && \
		src=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
		"$(TOOLS_BIN)/indexdb" -vulns "$$src/data/osv" -out "$(VULNDB_DIR)"; }

lint: lint-tools
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	"$(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)" ./...
	"$(TOOLS_BIN)/gosec-$(GOSEC_VERSION)" -quiet -exclude=$(GOSEC_EXCLUDE) $(GOSEC_EXCLUDE_DIRS) ./...
	$(GO) test -count=1 -tags licensecheck -run '^TestModuleLicences$$' ./internal/licensecheck/

vulncheck: lint-tools
	"$(TOOLS_BIN)/govulncheck-$(GOVULNCHECK_VERSION)" -db "file://$(VULNDB_DIR)" ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.txt

# eval runs every TestEval... (EVAL_PKGS and EVAL_RUN narrow it) and shows
# only what did not pass; it fails when an eval fails (pipefail: the exit
# status is go test's, not the filter's). packaging/make_test.go checks it.
EVAL_PKGS ?= ./...
EVAL_RUN  ?= ^TestEval
eval: SHELL := /bin/bash
eval: .SHELLFLAGS := -o pipefail -c
eval: deps
	$(GO) test -count=1 -tags eval -run '$(EVAL_RUN)' -v -timeout 60m $(EVAL_PKGS) 2>&1 | { grep -v '^=== RUN\|^--- PASS\|^PASS$$\|^ok ' || test $$? = 1; }

# package-test installs the .deb on a clean Debian 12 root made by
# debootstrap (cached in ~/.cache/earshot/package-test), starts it, purges
# it. It needs root and the Debian archive; a few minutes, so not in test.
DEBS_PACKAGE_TEST := debootstrap systemd
package-test: build
	@./packaging/scripts/apt-ensure.sh $(DEBS_PACKAGE_TEST)
	EARSHOT_BIN=$(abspath $(BIN)) $(GO) test -tags packagetest -count=1 -run '^TestInstall' -v -timeout 30m ./packaging/

# fleet-test runs two daemons (127.0.0.2 and 127.0.0.3) behind Kamailio's
# dispatcher and sends them SIPREC calls with SIPp: calls spread over both,
# and go to the survivor when one stops. About a minute; not in test.
DEBS_FLEET_TEST := kamailio sip-tester
fleet-test:
	@./packaging/scripts/apt-ensure.sh $(DEBS_FLEET_TEST)
	$(GO) test -tags fleettest -count=1 -run '^TestFleet$$' -v -timeout 10m ./packaging/fleet/

# fuzz runs every native Go fuzzer for FUZZTIME each (default 30s, about 15
# minutes in all); not part of `make test`. FUZZPKG narrows the packages.
fuzz: deps
	GO=$(GO) ./packaging/scripts/fuzz.sh

# security runs the long attack tests (tag security: largest allowed and ten
# times larger inputs against a daemon process, with its peak RSS bounded;
# SIGKILL during chat writes, key rotation, purges and a KB import, with
# acknowledged data and the audit chain checked after each restart).
security: deps build
	EARSHOT_BIN=$(abspath $(BIN)) $(GO) test -p 1 -count=1 -tags security -run '^(TestResourceBounds|TestCrashLoops)$$' -v -timeout 40m ./daemon/

# soak runs a daemon process under mixed load (chats, SSE readers, WebSocket
# streams, uploads, administrator changes) for SOAK_TIME, reporting RSS and
# goroutines over time; it fails on errors, growth after warm-up or leaks.
SOAK_TIME ?= 10m
soak: deps build
	EARSHOT_BIN=$(abspath $(BIN)) EARSHOT_SOAK=$(SOAK_TIME) $(GO) test -count=1 -tags soak -run '^TestSoak$$' -v -timeout 60m ./daemon/

deb: build
	./packaging/deb/build.sh $(BIN) $(VERSION) dist

clean:
	rm -rf bin dist
