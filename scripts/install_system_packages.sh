#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (real-browser tests of JupyterLab and Voila)
# and the Fashion-MNIST files (the full-dataset loader test). Installs only what is missing.
set -euo pipefail
missing=()
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium chromium-driver)
fc-list 2>/dev/null | grep -qi "liberation" || missing+=(fonts-liberation)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "The tests need: ${missing[*]} (Debian package names). Install them with your system's package manager." >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
