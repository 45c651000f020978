#!/usr/bin/env bash
# Fills .device/ and .gl/ (both git-ignored) with what the GPU machine lacks for gpu-check.sh and
# checks the carry budget. Options: --dry-run | --check, --json, --verify, --no-gl (see pack.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node bin/run-script.js scripts/device/pack.ts "$@"
