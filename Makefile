# The menu: run, test, bench, build, package, deploy, lint.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
PORT        ?= 3000
STAGE       ?= dev
# Every cmd/<name>/main.go is a Lambda, except the operator CLI cmd/attribution.
LAMBDAS     := $(filter-out attribution,$(patsubst cmd/%/main.go,%,$(sort $(wildcard cmd/*/main.go))))
LAMBDA_ARCH ?= arm64
BIN         ?= bin
GOFLAGS_LAMBDA := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -buildvcs=false
# osls offline: dummy credentials (packaging needs none, and this way no profile is
# read and no metadata endpoint is asked) and no interactive setup.
OSLS_OFFLINE := env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
	AWS_REGION=$${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true \
	SLS_INTERACTIVE_SETUP_DISABLE=1 SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off CI=true

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: node_modules/.installed ## install pinned Node tools and Go modules
	$(GO) mod download
	$(GO) -C tools mod download

run: deps ## run the whole stack locally on http://127.0.0.1:$(PORT) (dynalite under .data/)
	$(GO) build -o $(BIN)/attribution ./cmd/attribution
	exec $(BIN)/attribution serve --port $(PORT) $(if $(DYNAMODB_ENDPOINT),,--dynalite)

test: deps ## vet and every test, including those against dynalite
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

bench: deps ## benchmarks with a readable summary (make bench > bench.txt to keep it)
	./scripts/bench.sh

build: ## one reproducible zip per Lambda, $(BIN)/<name>.zip holding bootstrap for linux/$(LAMBDA_ARCH)
	@mkdir -p $(BIN)/.build/linux_$(LAMBDA_ARCH)
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(BIN)/.build/linux_$(LAMBDA_ARCH)/ $(addprefix ./cmd/,$(LAMBDAS))
	$(GO) -C tools run ./zipbootstrap -out $(abspath $(BIN)) $(abspath $(addprefix $(BIN)/.build/linux_$(LAMBDA_ARCH)/,$(LAMBDAS)))
	@ls -l $(addprefix $(BIN)/,$(addsuffix .zip,$(LAMBDAS)))

package: build node_modules/.installed ## build, then the CloudFormation `sls package` makes, offline, into .serverless/
	$(OSLS_OFFLINE) node_modules/.bin/osls package --stage $(STAGE)

deploy: build node_modules/.installed ## build and deploy with your AWS credentials: make deploy STAGE=prod
	node_modules/.bin/osls deploy --stage $(STAGE)

lint: ## gofmt, vet (linux and darwin), staticcheck (pinned in tools/go.mod)
	@test -z "$$(gofmt -l cmd internal tools)" || (gofmt -l cmd internal tools; exit 1)
	$(GO) vet ./...
	$(GO) -C tools vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...
	"$$($(GO) -C tools tool -n staticcheck)" ./...

.PHONY: help deps run test bench build package deploy lint
