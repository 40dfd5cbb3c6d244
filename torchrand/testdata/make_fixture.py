"""PyTorch 1.13's draws for torchrand's tests (torchrand/testdata/draws.json).

Run from the repository root with the Debian Python (torch 1.13):
    /usr/bin/python3 torchrand/testdata/make_fixture.py > torchrand/testdata/draws.json
"""
import json

import torch

out = {}
torch.manual_seed(0)
out["uniform"] = torch.empty(10).uniform_(-0.3, 0.3).tolist()
torch.manual_seed(0)
out["int64"] = [int(torch.empty((), dtype=torch.int64).random_().item()) for _ in range(3)]
g = torch.Generator()
g.manual_seed(12345)
out["perm10"] = torch.randperm(10, generator=g).tolist()
g = torch.Generator()
g.manual_seed(7)
p = torch.randperm(60000, generator=g)
out["perm60000_head"] = p[:10].tolist()
out["perm60000_tail"] = p[-5:].tolist()
# two epochs of DataLoader(shuffle=True) over 1,000 samples, from torch.manual_seed(0)
torch.manual_seed(0)
dl = torch.utils.data.DataLoader(torch.arange(1000), batch_size=1000, shuffle=True)
out["dl"] = [next(iter(dl))[:8].tolist() for _ in range(2)]
print(json.dumps(out))
