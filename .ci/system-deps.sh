#!/usr/bin/env bash
# System packages the tests need: GStreamer's RTSP server (tests/test_rtsp.py), run by the
# system Python through python3-gi; TrueType fonts the second clip generator prints pages in
# (streamocr/synth/footage.py; tests/test_never_lie.py skips without them). Idempotent and quiet: does nothing when all are present.
set -euo pipefail

packages=(
  python3-gi
  gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  fonts-liberation
  fonts-freefont-ttf
  fonts-dejavu-core
  fonts-dejavu-extra
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "system-deps: apt-get not found; install ${missing[*]} by hand (the RTSP tests will skip)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "system-deps: not root and no sudo; the RTSP tests will skip" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
