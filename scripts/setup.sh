#!/usr/bin/env bash
# Sets up everything tlkit and its tests need on a fresh Debian 12 machine, idempotently:
# Debian packages (OpenBLAS, the ONNX conformance data, Fashion-MNIST, Python's onnx and numpy for
# test checks), the ONNX Runtime library from npm, and the tlkit binary in bin/.
# Usage: scripts/setup.sh [--bench]   (--bench also installs PyTorch, the peer of `tlkit bench`)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libopenblas0-pthread libonnx-testdata dataset-fashion-mnist python3-onnx python3-numpy)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-torch python3-torchvision)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/install-onnxruntime.sh >/dev/null

mkdir -p bin
go build -o bin/tlkit ./cmd/tlkit
echo "setup: ready: bin/tlkit ($(go version | cut -d' ' -f3), ONNX Runtime at $(scripts/install-onnxruntime.sh --print-path 2>/dev/null || echo '?'))"
