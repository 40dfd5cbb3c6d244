#!/usr/bin/python3
"""PyTorch peer for `tlkit bench`: times the same workloads as tlkit on the same machine.

Each workload prints one JSON line {"name", "unit", "values": [...]} with one value per repeat
(seconds, or images per second). Run by tlkit bench; by hand:
    /usr/bin/python3 bench/peers/torch_peer.py mnist-epoch --model lenet5 --mnist DIR --repeats 3
"""
import argparse, gzip, json, os, resource, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def threads(n):
    torch.set_num_threads(n)


def mnist_model(name):
    # The seed tutorial's models, trained on logits (no final Softmax).
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(24 * 24 * 8, 48), nn.ReLU(), nn.Linear(48, 10))
    if name == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                             nn.AvgPool2d(2), nn.Conv2d(16, 120, 4), nn.Tanh(), nn.Flatten(),
                             nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    raise SystemExit("unknown model " + name)


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def emit(name, unit, values):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print(json.dumps({"name": name, "unit": unit, "values": values, "maxrss_mib": rss}), flush=True)


def mnist_epoch(a):
    x = read_idx(os.path.join(a.mnist, "train-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    y = read_idx(os.path.join(a.mnist, "train-labels-idx1-ubyte.gz")).long()
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
    vals = []
    for r in range(a.repeats + 1):
        m = mnist_model(a.model)
        opt = torch.optim.Adam(m.parameters(), lr=1e-4)
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(m(xb), yb).backward()
            opt.step()
        if r > 0:  # the first epoch warms up allocators and caches
            vals.append(time.perf_counter() - t0)
    emit("mnist-epoch/" + a.model, "s", vals)


def resnet34(classes=100):
    import torchvision
    return torchvision.models.resnet34(num_classes=classes)


def resnet_step(a):
    m = resnet34()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    x = torch.rand(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 100, (a.batch,))  # random labels: the loss stays that of an untrained network
    vals = []
    for r in range(a.repeats + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
        if r > 0:
            vals.append(time.perf_counter() - t0)
    emit("resnet34-step/b%d/%d" % (a.batch, a.size), "s", vals)


def resnet_forward(a):
    m = resnet34().eval()
    x = torch.rand(a.batch, 3, a.size, a.size)
    vals = []
    with torch.no_grad():
        for r in range(a.repeats + 1):
            t0 = time.perf_counter()
            m(x)
            if r > 0:
                vals.append(a.batch / (time.perf_counter() - t0))
    emit("resnet34-forward/b%d/%d" % (a.batch, a.size), "img/s", vals)


def transfer_recipe(a):
    """The seed tutorial's transfer recipe: ResNet-34 frozen (requires_grad False), a new 512->100 head, Adam
    1e-4, batch 128, 224x224 inputs; every epoch runs the frozen backbone on every image again. One epoch over
    --images random images is timed and scaled to 10 epochs over 10,000 images."""
    m = resnet34(1000)
    for p in m.parameters():
        p.requires_grad = False
    m.fc = nn.Linear(512, 100)
    opt = torch.optim.Adam(m.fc.parameters(), lr=1e-4)
    m.train()  # the tutorial trains in train mode: BatchNorm uses batch statistics (parameters still frozen)
    x = torch.rand(a.images, 3, 224, 224)
    y = torch.randint(0, 100, (a.images,))
    vals = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        for i in range(0, a.images, 128):
            opt.zero_grad()
            F.cross_entropy(m(x[i:i + 128]), y[i:i + 128]).backward()
            opt.step()
        vals.append((time.perf_counter() - t0) * (10000 / a.images) * 10)
    emit("transfer-job/10x10000/224", "s", vals)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=["mnist-epoch", "resnet-step", "resnet-forward", "transfer-recipe"])
    p.add_argument("--model", default="lenet5")
    p.add_argument("--mnist", default="")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=256)
    a = p.parse_args()
    threads(a.threads)
    {"mnist-epoch": mnist_epoch, "resnet-step": resnet_step, "resnet-forward": resnet_forward,
     "transfer-recipe": transfer_recipe}[a.workload](a)


if __name__ == "__main__":
    main()
