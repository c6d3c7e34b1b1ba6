#!/usr/bin/env bash
# Lambda artifact sizes and cold starts: builds every Lambda (linux/arm64 zips, as
# deployed, and host-architecture zips), runs each bootstrap once under the AWS Lambda
# Runtime Interface Emulator against dynalite (COLD_STARTS times each, default 5), and
# prints zip sizes and init durations.
# Run by `make bench` (scripts/bench.sh runs every scripts/bench-*.sh). Only 127.0.0.1
# is contacted. Init durations are the emulator's "INIT REPORT" on this machine: compare
# them with each other and over time, not with AWS's numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT

DEPLOY_COLD_STARTS=${COLD_STARTS:-5} go test -count=1 -run '^TestDeploy$' -v ./internal/deploy >"$out" 2>&1 || { cat "$out"; exit 1; }

awk '
/report: lambda=/ {
  delete v
  for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  name = v["lambda"]; if (!(name in seen)) { seen[name] = 1; order[++n] = name }
  if ("zip_bytes" in v) { zip[name] = v["zip_bytes"]; exe[name] = v["bootstrap_bytes"] }
  if ("init_ms" in v) { init[name] = v["init_ms"]; arch = v["arch"] }
  if ("init_min_ms" in v) { initmin[name] = v["init_min_ms"]; cold = v["cold_starts"] }
}
END {
  printf "  %-10s %12s %18s   init ms, linux/%s, median (min) of %d cold starts under aws-lambda-rie\n", "lambda", "zip (arm64)", "bootstrap (arm64)", arch, cold ? cold : 1
  for (i = 1; i <= n; i++) {
    l = order[i]
    printf "  %-10s %9.2f MB %15.2f MB   %8s (%s)\n", l, zip[l] / 1e6, exe[l] / 1e6, (l in init) ? init[l] : "-", (l in initmin) ? initmin[l] : "-"
  }
}' "$out"
