"""Writes resize_fixture.json: reference outputs of the tlkit image pipeline computed by PyTorch.

Run with /usr/bin/python3 (torch 1.13, torchvision 0.14) from datasets/testdata:
    /usr/bin/python3 make_resize_fixture.py
Each case: a uint8 CHW image, ToTensor's x/255, F.interpolate(mode="bilinear", align_corners=False,
antialias=False) to a new size, optional 1->3 channel repeat, optional torchvision normalize.
Crop cases: torchvision's F.pad (zeros) + F.crop + F.hflip as RandomCrop/RandomHorizontalFlip apply them.
"""
import json

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
rs = np.random.RandomState(20240611)


def pipeline(img, size, channels, norm):
    x = torch.from_numpy(img).float().div(255)
    if size is not None:
        x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=False)[0]
    if channels is not None and channels != x.shape[0]:
        x = x.repeat(channels, 1, 1)
    if norm is not None:
        x = TF.normalize(x, norm[0], norm[1])
    return x


cases = []
for name, shape, size, channels, norm, full in [
    ("up_gray", (1, 5, 7), (11, 13), None, None, True),
    ("up_rgb_imagenet", (3, 6, 5), (17, 9), None, IMAGENET, True),
    ("down_rgb", (3, 9, 9), (4, 5), None, None, True),
    ("gray_to_rgb_imagenet", (1, 12, 12), (20, 20), 3, IMAGENET, True),
    ("mnist_norm_nosize", (1, 6, 6), None, None, ([0.1307], [0.3081]), True),
    ("cifar_to_224", (3, 32, 32), (224, 224), None, IMAGENET, False),
]:
    img = rs.randint(0, 256, size=shape).astype(np.uint8)
    out = pipeline(img, size, channels, norm).contiguous()
    case = {
        "name": name,
        "shape": list(shape),
        "pixels": img.reshape(-1).tolist(),
        "size": list(size) if size else [0, 0],
        "channels": channels or 0,
        "mean": norm[0] if norm else None,
        "std": norm[1] if norm else None,
        "out_shape": list(out.shape),
        "channel_sums": out.double().sum(dim=(1, 2)).tolist(),
    }
    flat = out.reshape(-1)
    if full:
        case["out"] = [float(v) for v in flat]
    else:
        idx = rs.choice(flat.numel(), size=200, replace=False)
        idx.sort()
        case["sample_index"] = idx.tolist()
        case["sample_value"] = [float(flat[i]) for i in idx]
    cases.append(case)

crops = []
img = rs.randint(0, 256, size=(3, 6, 5)).astype(np.uint8)
for pad, top, left, flip in [(2, 1, 3, False), (2, 0, 0, True), (2, 4, 4, False), (3, 6, 2, True), (1, 1, 1, True)]:
    t = torch.from_numpy(img)
    padded = TF.pad(t, [pad], fill=0, padding_mode="constant")
    c = TF.crop(padded, top, left, img.shape[1], img.shape[2])
    if flip:
        c = TF.hflip(c)
    crops.append({"padding": pad, "top": top, "left": left, "flip": flip, "out": (c.float().div(255)).reshape(-1).tolist()})

with open("resize_fixture.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases, "crop_image": {"shape": list(img.shape), "pixels": img.reshape(-1).tolist()}, "crops": crops}, f)
