#!/usr/bin/env python3
"""PyTorch peer of tlkit's device check (scripts/gpu/check.sh): times the same workloads as
cmd/gpucheck on the same GPU, in PyTorch eager mode, float32.

  - fine-tuning step: torchvision resnet34(num_classes=100), Adam(lr=1e-3), cross-entropy,
    batch --batch at 224x224, TF32 off and on (torch.backends.cuda.matmul.allow_tf32 and
    torch.backends.cudnn.allow_tf32), median of --iters synchronised steps after --warmup;
  - frozen-backbone features: the same network with fc = Identity, eval mode, inference_mode,
    features copied to the host, TF32 off and on.

cudnn.benchmark is on, as tlkit benchmarks its convolution algorithms (gpu.AlgoFind).
Writes JSON to --out.
"""
import argparse
import json
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F


def resnet34(classes):
    try:
        import torchvision
        return torchvision.models.resnet34(num_classes=classes), "torchvision " + torchvision.__version__
    except Exception as e:  # torchvision missing: the same architecture, written out
        print("torchvision unavailable (%s): using the built-in ResNet-34" % e, flush=True)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            layers, cin = [], 64
            for stage, n in enumerate([3, 4, 6, 3]):
                cout = 64 << stage
                blocks = []
                for i in range(n):
                    blocks.append(Block(cin, cout, 2 if (i == 0 and stage > 0) else 1))
                    cin = cout
                layers.append(nn.Sequential(*blocks))
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return ResNet(), "built-in"


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def train_step_time(args, tf32):
    set_tf32(tf32)
    torch.manual_seed(1)
    m, src = resnet34(100)
    m = m.cuda().train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(args.batch, 3, 224, 224, device="cuda")
    y = torch.randint(0, 100, (args.batch,), device="cuda")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"model": src, "step_seconds_median": med, "step_seconds_min": min(times), "images_per_second": args.batch / med,
            "step_seconds": times, "last_loss": float(loss), "peak_memory_bytes": torch.cuda.max_memory_allocated()}


def feature_time(args, tf32):
    set_tf32(tf32)
    torch.manual_seed(1)
    m, src = resnet34(100)
    m.fc = nn.Identity()
    m = m.cuda().eval()
    x = torch.randn(args.batch, 3, 224, 224, device="cuda")
    with torch.inference_mode():
        for _ in range(args.warmup):
            m(x).cpu()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.iters):
            t = time.perf_counter()
            f = m(x).cpu()
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"model": src, "features": list(f.shape), "batch_seconds_median": med, "batch_seconds_min": min(times),
            "images_per_second": args.batch / med}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="torch_peer.json")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    args = p.parse_args()
    res = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "batch": args.batch,
           "cudnn_benchmark": True}
    torch.backends.cudnn.benchmark = True
    print("torch peer:", json.dumps(res), flush=True)

    def save():
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)

    for name, fn in [("train", train_step_time), ("features", feature_time)]:
        for tf32 in (False, True):
            key = "%s_tf32_%s" % (name, "on" if tf32 else "off")
            t0 = time.time()
            try:
                res[key] = fn(args, tf32)
            except Exception as e:
                res[key] = {"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()}
            r = dict(res[key])
            r.pop("step_seconds", None)
            r.pop("trace", None)
            print("%s (%.1fs): %s" % (key, time.time() - t0, json.dumps(r)), flush=True)
            save()
            torch.cuda.empty_cache()
    save()


if __name__ == "__main__":
    sys.exit(main())
