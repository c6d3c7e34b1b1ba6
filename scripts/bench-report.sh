#!/usr/bin/env bash
# Conversions and reports against dynalite: a whole year's report under every model
# (100,000 conversions over 365 days, warm; target under 1 s), and conversions credited
# and rolled up per second through the local stream (target at least 300/s).
# BENCH_CONVERSIONS sets the stream benchmarks' size (default 2,000).
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(go test -run '^$' -bench 'BenchmarkReportYear|BenchmarkStreamConversions' -benchtime "${REPORT_BENCHTIME:-3x}" -timeout 30m ./internal/ledger 2>&1 | grep -v '^time=')
printf "%s\n" "$out"
awk '
/^BenchmarkReportYear/ { for (i = 3; i < NF; i++) if ($(i+1) == "ms/report") report = $i }
/^BenchmarkStreamConversions\/live/ { for (i = 3; i < NF; i++) { if ($(i+1) == "conversions/s") live = $i; if ($(i+1) == "requests/conversion") liveReq = $i; if ($(i+1) == "ceiling_requests/s") ceil = $i; if ($(i+1) == "dynalite_cpu_ms/conversion") node = $i; if ($(i+1) == "go_cpu_ms/conversion") gocpu = $i } }
/^BenchmarkStreamConversions\/spread/ { for (i = 3; i < NF; i++) { if ($(i+1) == "conversions/s") spread = $i; if ($(i+1) == "requests/conversion") spreadReq = $i } }
END {
  printf "\nconversions and reports against dynalite\n"
  printf "  year report, model=all, warm : %8.0f ms      (target < 1000 ms: %s)\n", report, (report < 1000 ? "met" : "NOT met")
  printf "  stream, live conversions     : %8.0f conv/s  (%.1f DynamoDB requests each; target >= 300/s: %s)\n", live, liveReq, (live >= 300 ? "met" : "NOT met")
  printf "  stream, spread over a year   : %8.0f conv/s  (%.1f DynamoDB requests each)\n", spread, spreadReq
  printf "  dynalite, bare request loop  : %8.0f requests/s now, so at most %.0f conv/s at %.1f requests each\n", ceil, ceil / liveReq, liveReq
  if (node > 0) printf "  CPU per live conversion      : %8.2f ms dynalite (single-threaded: at most %.0f conv/s), %.2f ms Go\n", node, 1000 / node, gocpu
}' <<<"$out"
