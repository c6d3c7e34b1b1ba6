# The menu: run, test, bench, build, package, deploy, lint.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
PORT        ?= 3000
LAMBDAS     := events detect identify query trigger
GOFLAGS_LAMBDA := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -buildvcs=false

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: node_modules/.installed ## install pinned Node tools and Go modules
	$(GO) mod download

run: deps ## run the whole stack locally on http://127.0.0.1:$(PORT) (dynalite under .data/)
	$(GO) run ./cmd/attribution serve --port $(PORT) $(if $(DYNAMODB_ENDPOINT),,--dynalite)

test: deps ## vet and every test, including those against dynalite
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

bench: deps ## benchmarks with a readable summary (make bench > bench.txt to keep it)
	./scripts/bench.sh

lint: ## gofmt and vet
	@test -z "$$(gofmt -l cmd internal)" || (gofmt -l cmd internal; exit 1)
	$(GO) vet ./...

.PHONY: help deps run test bench lint
