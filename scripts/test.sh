#!/usr/bin/env bash
# Runs tlkit's whole test suite after setting up what it needs (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
go vet ./...
go test -count=1 -timeout 30m ./...
