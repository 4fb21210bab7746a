#!/usr/bin/env bash
# The long fuzz run recorded in benchmarks/RESULTS.md: >= 10,000 cases per hypothesis target
# (configs, manifests, bundle verification, bundle archives) and >= 10,000 schemathesis cases over
# the API (400 per operation over 27). Niced: the machine is shared. Prints hypothesis' statistics per test.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
API_PER_OP="${2:-400}"
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) commit $(git rev-parse --short HEAD)"
DETECTOR_FUZZ_EXAMPLES="$N" nice -n 10 .venv/bin/python -m pytest -q -p no:cacheprovider \
  --hypothesis-show-statistics tests/trust/test_fuzz.py
DETECTOR_FUZZ_API_EXAMPLES="$API_PER_OP" nice -n 10 .venv/bin/python -m pytest -q -p no:cacheprovider \
  -s tests/api/test_fuzz.py
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
