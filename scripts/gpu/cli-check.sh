#!/usr/bin/env bash
# Runs tlkit's commands with --device cuda as a user would, on the small CIFAR-100 archive the
# tests use and the repository's torchvision-structured ResNet export, and compares the GPU's
# evaluation with the CPU's, prediction by prediction. Run from the repository root on a GPU
# machine with bin/tlkit carried: OUT=/some/dir bash scripts/gpu/cli-check.sh
set -u
OUT=${OUT:-$PWD/gpu-cli-out}
mkdir -p "$OUT"
T=bin/tlkit
D=datasets/testdata/cifar/binary
M=testdata/onnx/resnet_bn.onnx
export XDG_CACHE_HOME="$OUT/cache"
step() { echo "== $*"; }
step "transfer --device cuda"
$T transfer $M --data cifar100 --data-dir $D --epochs 3 --batch-size 2 --device cuda --out "$OUT/tr" --json > "$OUT/transfer.json"; echo "exit $?"
step "finetune --device cuda (from the transfer checkpoint)"
$T finetune "$OUT/tr/checkpoint.safetensors" --data-dir $D --epochs 3 --batch-size 3 --device cuda --out "$OUT/ft" --json > "$OUT/finetune.json"; echo "exit $?"
step "finetune --device cpu (same recipe)"
$T finetune "$OUT/tr/checkpoint.safetensors" --data-dir $D --epochs 3 --batch-size 3 --out "$OUT/ft-cpu" --json > "$OUT/finetune-cpu.json"; echo "exit $?"
step "eval the GPU-trained checkpoint on the GPU and on the CPU"
$T eval "$OUT/ft/checkpoint.safetensors" --data-dir $D --device cuda --json --out "$OUT/ev-gpu" > "$OUT/eval-gpu.json"; echo "exit $?"
$T eval "$OUT/ft/checkpoint.safetensors" --data-dir $D --json --out "$OUT/ev-cpu" > "$OUT/eval-cpu.json"; echo "exit $?"
cmp -s "$OUT/ev-gpu/predictions.csv" "$OUT/ev-cpu/predictions.csv" && echo "predictions: GPU and CPU agree on every test image" || { echo "predictions differ:"; paste -d' ' "$OUT/ev-gpu/predictions.csv" "$OUT/ev-cpu/predictions.csv"; }
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(n):
    try:
        return json.load(open(os.path.join(out, n)))
    except Exception as e:
        return {"error": str(e)}
s = {k: load(k + ".json") for k in ["transfer", "finetune", "finetune-cpu", "eval-gpu", "eval-cpu"]}
for k in ["finetune", "finetune-cpu"]:
    h = s[k].get("history", [])
    print(k, "losses", [round(e["train_loss"], 6) for e in h])
print("eval top1 gpu", s["eval-gpu"].get("top1"), "cpu", s["eval-cpu"].get("top1"), "loss gpu", s["eval-gpu"].get("loss"), "cpu", s["eval-cpu"].get("loss"))
json.dump(s, open(os.path.join(out, "cli.json"), "w"), indent=1)
PY
