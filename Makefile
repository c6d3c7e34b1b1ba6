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
# The Lambdas that detect sources (their binaries link internal/touches or
# internal/dashboard; internal/deploy's test keeps this list honest): with
# REFERERS_FILE set, their zips carry it as referers.yml.
DETECTING   := dashboard detect redrive
comma       := ,
# REFERERS_FILE as the processes read it: the environment or make's command line,
# else .env (so `make deploy` ships the list `make run` uses).
ifeq ($(origin REFERERS_FILE),undefined)
REFERERS_FILE := $(shell sed -nE 's/^[[:space:]]*(export[[:space:]]+)?REFERERS_FILE[[:space:]]*=[[:space:]]*//p' .env 2>/dev/null | tail -n 1 | sed -E "s/[[:space:]]+\#.*$$//; s/^['\"]//; s/['\"][[:space:]]*$$//")
endif
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

# The dashboard's browser tests drive the system's Chromium (CHROMIUM names another binary).
chromium: ## install headless Chromium for the browser tests when missing (root + apt-get), else say how
	@if [ -n "$${CHROMIUM:-}" ] || command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the dashboard's browser tests"; \
		apt-get update -qq && (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium); \
	else \
		echo "The dashboard's browser tests need Chromium. Install it with: sudo apt-get update && sudo apt-get install -y chromium-headless-shell" >&2; \
		echo "(elsewhere: install Chromium or Chrome and set CHROMIUM=/path/to/it)" >&2; \
		exit 1; \
	fi

test: deps chromium ## vet and every test, including those against dynalite and in headless Chromium
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

bench: deps ## benchmarks with a readable summary (make bench > bench.txt to keep it)
	./scripts/bench.sh

# The rules are checked first, by the CLI on no input: a broken rules.json or
# REFERERS_FILE fails the build rather than every deployed function's start. With
# REFERERS_FILE, $(BIN)/lambda-env.yml tells serverless.yml where the functions find it.
build: ## one reproducible zip per Lambda, $(BIN)/<name>.zip holding bootstrap for linux/$(LAMBDA_ARCH) (and REFERERS_FILE)
	@mkdir -p $(BIN)/.build/linux_$(LAMBDA_ARCH)
	REFERERS_FILE='$(if $(REFERERS_FILE),$(abspath $(REFERERS_FILE)))' $(GO) run ./cmd/attribution detect </dev/null
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o $(BIN)/.build/linux_$(LAMBDA_ARCH)/ $(addprefix ./cmd/,$(LAMBDAS))
	$(GO) -C tools run ./zipbootstrap -out $(abspath $(BIN)) \
		$(if $(REFERERS_FILE),-add referers.yml=$(abspath $(REFERERS_FILE)) -to $(subst $(eval) ,$(comma),$(DETECTING))) \
		$(abspath $(addprefix $(BIN)/.build/linux_$(LAMBDA_ARCH)/,$(LAMBDAS)))
	$(if $(REFERERS_FILE),printf 'REFERERS_FILE: /var/task/referers.yml\n' >$(BIN)/lambda-env.yml,rm -f $(BIN)/lambda-env.yml)
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

.PHONY: help deps chromium run test bench build package deploy lint
