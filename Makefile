# Everyday commands. CI runs .ci/run, which uses the same targets.
SHELL := /usr/bin/env bash
# The Go toolchain: the patch release with the standard library's security
# fixes (govulncheck in CI fails on go1.26.8's html/template, net/http and
# crypto/x509 advisories). The go command fetches it through the module proxy.
export GOTOOLCHAIN ?= go1.26.10
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Pinned: the newest golangci-lint release that builds and runs with Go 1.26.
GOLANGCI_LINT := go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
# The ginkgo CLI at the version go.mod pins for the library.
GINKGO := go run github.com/onsi/ginkgo/v2/ginkgo
GINKGO_FLAGS := -r -p --randomize-all --race --fail-on-pending --fail-on-empty --keep-going --timeout=20m
# Suites to run (directories; every suite under the root when empty), e.g.
# make test PKGS="config db models".
PKGS ?=
# Where the JSON report of `make test` goes (outside the work tree).
TEST_REPORT_DIR ?= $(or $(TMPDIR),/tmp)/lighthouse526-test-reports

# The version stamped into the binary (`worker version`) and the image's
# label: the commit, with -dirty when the work tree has changes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The image `make image` builds and its tag.
IMAGE ?= localhost/lighthouse526-worker
IMAGE_TAG ?= $(VERSION)

.PHONY: services sidekiq rails build image migrate test vet golangci-lint lint fmt tidy

## services: make sure PostgreSQL and Redis run locally, and the database exists
services:
	scripts/services.sh

## sidekiq: install Debian's Sidekiq when missing (the specs run a real one; scripts/sidekiq.sh)
sidekiq:
	scripts/sidekiq.sh

## rails: install Debian's ActiveRecord, ruby-pg and Flipper when missing (the specs make VA.gov's tables with them; scripts/rails.sh)
rails:
	scripts/rails.sh

## build: the worker binary for local use, with the dev subcommands (bench, fake-lighthouse, demo-seed, demo-watch; build tag dev). The image's build has no tag and none of them.
build:
	go build -tags dev -ldflags "-X main.version=$(VERSION)" -o bin/worker ./worker

## image: the container image, FROM scratch around a static binary (Containerfile; scripts/image.sh installs buildah when missing)
image:
	IMAGE="$(IMAGE)" IMAGE_TAG="$(IMAGE_TAG)" VERSION="$(VERSION)" scripts/image.sh

## migrate: apply the schema migrations to DATABASE_URL
migrate: services
	go run ./worker migrate up

## test: every Ginkgo suite against real Postgres and Redis; ends with "N passed, N failed"
test: services sidekiq rails
	@mkdir -p "$(TEST_REPORT_DIR)"
	@rm -f "$(TEST_REPORT_DIR)/report.json" "$(TEST_REPORT_DIR)/summary.txt"
	@status=0; \
	$(GINKGO) $(GINKGO_FLAGS) --json-report=report.json --output-dir="$(TEST_REPORT_DIR)" $(PKGS) || status=$$?; \
	summary=0; go run ./scripts/ginkgosummary "$(TEST_REPORT_DIR)/report.json" | tee "$(TEST_REPORT_DIR)/summary.txt" || summary=$$?; \
	if (( status != 0 || summary != 0 )); then exit 1; fi

## vet: go vet
vet:
	go vet ./...

## golangci-lint: the linters of .golangci.yml
golangci-lint:
	$(GOLANGCI_LINT) run ./...

## lint: go vet and golangci-lint
lint: vet golangci-lint

## fmt: gofmt -s and goimports, the formatters of .golangci.yml
fmt:
	$(GOLANGCI_LINT) fmt ./...

## tidy: go mod tidy
tidy:
	go mod tidy

# --- Reliability and security (issue 8) ---

# How long `make fuzz` runs each fuzz target, and spends minimizing each
# new input: tasks' FuzzStatusBatchPath runs the whole batch path (Postgres,
# HTTP) at tens of inputs a second, where go test's default minute of
# minimizing each new input would take most of the run.
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 5s
# Where `make chaos` writes its results table (Markdown).
CHAOS_TABLE_FILE ?= $(or $(TMPDIR),/tmp)/lighthouse526-chaos-table.md

.PHONY: chaos vuln alerts-test fuzz

## chaos: the full fault suite (spec/chaos, CHAOS=full): a few thousand uploads per scenario; prints its table
chaos: services
	CHAOS=full CHAOS_TABLE_FILE="$(CHAOS_TABLE_FILE)" $(GINKGO) -p --randomize-all --fail-on-pending --fail-on-empty --timeout=90m spec/chaos
	@cat "$(CHAOS_TABLE_FILE)"

## vuln: govulncheck ./... (fails on a called vulnerable function; see scripts/vuln.sh)
vuln:
	scripts/vuln.sh

## alerts-test: promtool checks and unit-tests deploy/prometheus/alerts.yml (scripts/promtool.sh installs promtool when missing)
alerts-test:
	scripts/promtool.sh check rules deploy/prometheus/alerts.yml
	scripts/promtool.sh test rules deploy/prometheus/alerts_test.yml

## fuzz: every fuzz target for FUZZTIME each (default 60s); tasks' FuzzStatusBatchPath against the local PostgreSQL and Redis
fuzz: services
	@set -e; for pkg in ./lighthouse ./tasks; do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "==> $$pkg $$f ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	  done; \
	done

## bench: one full polling cycle at volume against an in-process fake Lighthouse (worker bench; BENCH_ARGS to change it)
BENCH_ARGS ?= --documents 100000
.PHONY: bench
bench: services
	go build -tags dev -o bin/worker ./worker
	bin/worker bench $(BENCH_ARGS)

# --- Integration surface (enqueue API, monitor, demo) ---

.PHONY: demo check-monitor

## demo: fake Lighthouse + worker + monitor, a few hundred documents tracked to completion (scripts/demo.sh)
demo:
	scripts/demo.sh

## check-monitor: open asynqmon in headless Chromium and check it lists the product's queue
check-monitor: build
	scripts/check-monitor.sh
