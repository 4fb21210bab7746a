#!/usr/bin/env bash
# The optional Ultralytics backend, tested in its own venv (torch is large and stays off the edge path).
# Installing it needs the local torch 2.14.1 / torchvision 0.29.1 files these machines carry; where they
# cannot be installed the step says so and stops without failing. A failing test does fail.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-ultralytics
if [ ! -x "$VENV/bin/python" ]; then
  python3.11 -m venv "$VENV" || { echo "ultralytics check: cannot create $VENV; skipped"; exit 0; }
fi
if ! "$VENV/bin/python" -m pip install -q 'torch==2.14.1' 'torchvision==0.29.1' \
   || ! "$VENV/bin/python" -m pip install -q -e '.[ultralytics]' pytest; then
  echo "ultralytics check: the extra could not be installed here; skipped"
  exit 0
fi
YOLO_OFFLINE=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/detect/test_ultralytics.py
