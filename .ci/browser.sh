#!/usr/bin/env bash
# A real browser for tests/test_pages.py: Debian's chromium and chromium-driver (chromedriver).
# Skipped when both are already on PATH; uses sudo when not run as root.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
$sudo apt-get update -q
$sudo apt-get install -y -q chromium chromium-driver
