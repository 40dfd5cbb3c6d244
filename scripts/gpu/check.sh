#!/usr/bin/env bash
# Device check of tlkit's CUDA backend (package gpu), run from the repository root on a GPU
# machine, after building the checker on a machine with Go:
#     go build -o bin/gpucheck ./cmd/gpucheck
#     OUT=/some/dir bash scripts/gpu/check.sh
# It prints the GPU and the libraries found, runs bin/gpucheck (tlkit GPU vs tlkit's CPU engine,
# then tlkit's throughput) and scripts/gpu/torch_peer.py (PyTorch on the same GPU), and writes
# $OUT/gpucheck.json (both, with throughput ratios) and $OUT/log.txt (everything printed).
# Each part has its own time limit ($GPUCHECK_TIMEOUT, default 170 s; $PEER_TIMEOUT, default
# 100 s); a failing part does not stop the others. Expected total: about 2 minutes on an H100.
set -u
OUT=${OUT:-$PWD/gpucheck-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec > >(tee "$OUT/log.txt") 2>&1
cd "$(dirname "$0")/../.."
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

stamp "== machine"
uname -a; (ldd --version | head -1) 2>/dev/null; nproc; free -g | head -2
stamp "== nvidia-smi"
timeout 30 nvidia-smi || echo "nvidia-smi failed or is missing"
timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv || true

stamp "== CUDA libraries (NVIDIA wheels, toolkit, loader cache)"
for d in /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
         /usr/lib/python3*/site-packages/nvidia/*/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] || continue
  echo "$d:"; ls "$d" | grep -E '^lib(cuda|cudart|cublas|cublasLt|cudnn|nvrtc)' | sed 's/^/    /'
done
(ldconfig -p | grep -E 'libcuda\.so|libcudnn\.so|libcublas\.so|libnvrtc\.so') || echo "(nothing in the loader cache)"
echo "TLKIT_CUDA_LIBS=${TLKIT_CUDA_LIBS:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-} NVIDIA_TF32_OVERRIDE=${NVIDIA_TF32_OVERRIDE:-}"
timeout 60 python3 - <<'PY' || echo "python3/torch not usable"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
      "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
try:
    import torchvision; print("torchvision", torchvision.__version__)
except Exception as e:
    print("torchvision missing:", e)
PY

stamp "== tlkit bin/gpucheck"
if [ ! -x bin/gpucheck ]; then
  echo "bin/gpucheck is missing: build it with 'go build -o bin/gpucheck ./cmd/gpucheck' and carry bin/"
else
  timeout -k 10 "${GPUCHECK_TIMEOUT:-170}" ./bin/gpucheck -out "$OUT/tlkit.json" -batch 64 -warmup 3 -iters 10
  echo "gpucheck exit status $?"
fi

stamp "== PyTorch peer"
timeout -k 10 "${PEER_TIMEOUT:-100}" python3 scripts/gpu/torch_peer.py --out "$OUT/torch.json" --batch 64 --warmup 3 --iters 10
echo "torch_peer exit status $?"

stamp "== summary"
OUT="$OUT" python3 - <<'PY'
import json, os
out = os.environ["OUT"]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception as e:
        return {"error": "%s: %s" % (name, e)}
tl, th = load("tlkit.json"), load("torch.json")
checks = {c["name"]: c for c in tl.get("checks", [])}
def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d
summary = {"checks": {n: ("ok" if c["ok"] else "FAILED: " + c.get("error", "").split("\n")[0]) for n, c in checks.items()}}
fw = get(checks, "forward_b8", "data") or {}
summary["forward_b8_rel_l2"] = {k: get(fw, k, "rel_l2") for k in ("tf32_off", "tf32_on", "tf32_off_accurate_algos", "tf32_off_heuristic_algos")}
st = get(checks, "finetune_step_b4", "data") or {}
summary["finetune_step_b4"] = {k: st.get(k) for k in ("loss_cpu", "loss_gpu", "loss_rel_diff", "logits_rel_l2", "grad_rel_l2_max",
                                                      "weight_rel_l2_max", "update_rel_l2_max", "bn_stats_rel_l2_max")}
cmp = {}
for kind, tkey, pkey in (("train", "throughput_train", "train"), ("features", "throughput_features", "features")):
    for tf in ("off", "on"):
        a = get(checks, tkey, "data", "tf32_" + tf, "images_per_second")
        b = get(th, "%s_tf32_%s" % (pkey, tf), "images_per_second")
        cmp["%s_tf32_%s" % (kind, tf)] = {"tlkit_images_per_s": a, "torch_images_per_s": b,
                                          "tlkit_over_torch": (a / b) if (a and b) else None}
summary["throughput_b64"] = cmp
res = {"summary": summary, "tlkit": tl, "torch": th}
with open(os.path.join(out, "gpucheck.json"), "w") as f:
    json.dump(res, f, indent=2)
print(json.dumps(summary, indent=2))
print("wrote", os.path.join(out, "gpucheck.json"))
PY
stamp "done"
