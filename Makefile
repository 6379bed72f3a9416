# Narcidi's front door. `make run` starts the server on the embedded default
# (SQLite and keys in ./data); `make test` runs every test, against the real
# PostgreSQL on 127.0.0.1:5432 too (see README.md).

GO      ?= go
SDK     := verifier-sdk
# -trimpath keeps the folder's path out of the build cache's keys, so a
# fresh clone (CI's) reuses what an earlier clone compiled. Not for the
# SDK's tests: they run the go command of runtime.GOROOT(), which -trimpath
# empties, and the SDK compiles in seconds.
TESTFLAGS := -race -count=1 -trimpath
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a time budget ends on a loaded machine
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 20000x
# promtool checks and unit-tests the alert rules (make rules); .ci/run
# installs it from the Go module proxy when it is missing.
PROMTOOL_VERSION := v0.316.0

.PHONY: run build test test-root test-browser test-sdk interop-deps fuzz lint rules bench bench-smoke clean

run:
	$(GO) run ./cmd/narcidi serve

build:
	$(GO) build -o bin/narcidi ./cmd/narcidi

# The server's tests, the SDK's tests and the fuzz runs are independent, so
# they run side by side (each one's output kept together); the browser tests
# come last, alone, as Chromium under load answers slowly.
test: lint rules
	$(MAKE) --no-print-directory -j3 --output-sync=target test-root test-sdk fuzz
	$(MAKE) --no-print-directory test-browser

# Every test of the server module but the browser tests, which have their
# own target (they need Debian's chromium: apt-get install chromium).
# Four packages at once, not one per core: their tests mostly wait on
# PostgreSQL, Redis and servers (on 2 cores: 335 s, against about 435 s).
test-root:
	$(GO) test $(TESTFLAGS) -p 4 -timeout 30m -skip 'InBrowser$$' ./...

# The console, portal and docs pages walked in headless Chromium; their
# screenshots land in docs/screenshots.
test-browser:
	$(GO) test $(TESTFLAGS) -timeout 20m -run 'InBrowser$$' ./cmd/narcidi

test-sdk: interop-deps
	cd $(SDK) && $(GO) test -race -count=1 ./...

# The npm package jose for the Node.js interop test (verifier-sdk/interop),
# pinned by package-lock.json; node_modules is git-ignored.
interop-deps:
	@command -v npm >/dev/null || { echo "npm (Node.js 20) is required by the interop test: apt-get install nodejs npm"; exit 1; }
	cd $(SDK)/interop/node && npm ci --no-audit --no-fund

# A short run of each fuzz target; `make fuzz FUZZTIME=5000000x` for a long one.
fuzz:
	cd $(SDK) && $(GO) test -trimpath -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) .
	cd $(SDK) && $(GO) test -trimpath -run='^$$' -fuzz='^FuzzParseClaims$$' -fuzztime=$(FUZZTIME) .
	cd $(SDK) && $(GO) test -trimpath -run='^$$' -fuzz='^FuzzParseLeaseFile$$' -fuzztime=$(FUZZTIME) .
	cd $(SDK) && $(GO) test -trimpath -run='^$$' -fuzz='^FuzzParseActivationRequest$$' -fuzztime=$(FUZZTIME) .
	$(GO) test -trimpath -run='^$$' -fuzz='^FuzzDecodeBody$$' -fuzztime=$(FUZZTIME) ./api

lint:
	@out="$$(gofmt -l . )"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -trimpath ./...
	cd $(SDK) && $(GO) vet -trimpath ./...

# The Prometheus alert rules (deploy/prometheus): syntax, then their unit
# tests (alerts_test.yml). promtool is looked up on PATH and in GOPATH/bin.
rules:
	@export PATH="$$PATH:$$($(GO) env GOPATH)/bin"; \
	command -v promtool >/dev/null || { echo "promtool is required: go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)"; exit 1; }; \
	set -e; promtool check rules deploy/prometheus/alerts.yml; promtool test rules deploy/prometheus/alerts_test.yml

# The benchmarks of issue 7 (README.md, Benchmarks): about 5 minutes; prints
# one table and writes bench/results.json. Needs the PostgreSQL of make test.
bench:
	sh bench/ensure-tools.sh
	$(GO) build -o bench/tmp/narcidi-bench ./cmd/narcidi-bench
	bench/tmp/narcidi-bench -root . -out bench/results.json

# The whole harness at tiny scale (under a minute): checks it still works.
bench-smoke:
	$(GO) test -count=1 -run '^TestBenchSmoke$$' ./cmd/narcidi-bench

clean:
	rm -rf bin
