#!/usr/bin/env bash
# System packages the test suite needs: chromium (real-browser tests of JupyterLab and Voila),
# the Fashion-MNIST files (the full-dataset loader test), and configurable-http-proxy from npm
# (the classroom test starts a real JupyterHub). Installs only what is missing.
set -euo pipefail
missing=()
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium chromium-driver)
fc-list 2>/dev/null | grep -qi "liberation" || missing+=(fonts-liberation)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
need_proxy=""
command -v configurable-http-proxy >/dev/null || need_proxy=1
if [ -n "$need_proxy" ] && ! command -v npm >/dev/null; then
    command -v node >/dev/null || missing+=(nodejs)
    missing+=(npm)
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
    if ! command -v sudo >/dev/null && { [ ${#missing[@]} -gt 0 ] || [ -n "$need_proxy" ]; }; then
        echo "Not root and no sudo: as root, install ${missing[*]} (Debian packages)" \
             "${need_proxy:+and run: npm install --global configurable-http-proxy}" >&2
        exit 1
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "The tests need: ${missing[*]} (Debian package names) and configurable-http-proxy" \
             "(npm). Install them with your system's package manager." >&2
        exit 1
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if [ -n "$need_proxy" ]; then
    # configurable-http-proxy 5 needs Node.js 20; Debian 12's nodejs is 18, which version 4 supports.
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    proxy=configurable-http-proxy
    [ "$node_major" -ge 20 ] || proxy=configurable-http-proxy@4
    $sudo npm install --global --no-fund --no-audit --loglevel=error "$proxy"
fi
