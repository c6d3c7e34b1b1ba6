#!/usr/bin/env bash
# `make bench`: every benchmark, then a readable summary. Only 127.0.0.1 is contacted
# (dynalite and fake Segment servers started by the benchmarks themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT

section() { printf '\n== %s\n' "$1"; }

section "webhook path: verify, parse, validate, marshal (no network)"
go test -run '^$' -bench 'BenchmarkWebhook|BenchmarkParseBody' -benchmem ./internal/event ./internal/ingest | tee -a "$out"

section "local stream: publishing one record, in memory and on disk (fsynced)"
go test -run '^$' -bench 'BenchmarkPublish' -benchmem ./internal/stream | tee -a "$out"

section "Segment batch client: packing and throughput against the fake server"
go test -run '^$' -bench . -benchmem ./internal/segment | tee -a "$out"

section "Segment triggers: identify and track a 1,000-touch user end to end against the fake server"
go test -run '^$' -bench . -benchmem ./internal/trigger | tee -a "$out"

section "identity links: what the merge caps add to a new link, against dynalite"
go test -run '^$' -bench . -benchmem ./internal/store | tee -a "$out"

section "attribution models"
go test -run '^$' -bench . -benchmem ./internal/attribution | tee -a "$out"

section "source detection vs npm inbound"
./scripts/bench-detect.sh | tee -a "$out"

section "attribution detect vs a node filter over inbound, whole processes"
./scripts/bench-filter.sh | tee -a "$out"

for extra in scripts/bench-*.sh; do
  [[ "$extra" == scripts/bench-detect.sh || "$extra" == scripts/bench-filter.sh ]] && continue
  section "$(basename "$extra" .sh)"
  "$extra" | tee -a "$out"
done

section "summary"
awk '
/^Benchmark/ {
  line = sprintf("  %-44s", $1)
  for (i = 3; i < NF; i++) {
    if ($(i+1) ~ /^(ns\/op|B\/op|allocs\/op|events\/s|msgs\/s|requests|min_requests|MB\/s|ceiling_requests\/s|ms\/report|conversions\/s|requests\/conversion|dynalite_cpu_ms\/conversion|go_cpu_ms\/conversion|s\/refresh|touches)$/) line = line sprintf(" %12s %s", $i, $(i+1))
  }
  print line
}
/detections\/s|lines\/s|ratio  |^whole filter|^attribution model over|^data-driven refresh/ { print }
' "$out"
