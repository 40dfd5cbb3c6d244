"""Builds small CIFAR-100 archives in both published formats, plus what torchvision reads from them.

Run with /usr/bin/python3 (numpy, torch 1.13, torchvision 0.14) from datasets/testdata:
    /usr/bin/python3 make_cifar_fixture.py
Writes cifar/<variant>/cifar-100-python/{train,test,meta} for
  py2 - the layout of the real archive: Python 2 cPickle protocol 2 (str keys as SHORT_BINSTRING,
        the uint8 array via numpy.core.multiarray._reconstruct with its bytes as a BINSTRING),
        assembled opcode by opcode here since no Python 2 is at hand;
  p2, p4, p5 - the same dicts re-pickled by Python 3's pickle at protocols 2, 4 and 5 (p5 with the
        labels as numpy int64 arrays and numpy scalars, as a re-saved archive may hold them);
cifar/binary/cifar-100-binary/{train.bin,test.bin,*_label_names.txt} with the same images, and
cifar/expected.json: torchvision.datasets.CIFAR100's targets, classes and per-image checksums, and
the coarse class names as Python's pickle reads them from meta.
"""
import json
import os
import pickle
import struct

import numpy as np
import torchvision.datasets.cifar as tvc

rs = np.random.RandomState(100)
FINE = ["fine_%02d" % i for i in range(100)]
FINE[7] = "caf\xe9"  # a latin-1 character, as a Python 2 str holds it
COARSE = ["coarse_%02d" % i for i in range(20)]
SPLITS = {"train": 5, "test": 3}
data = {s: rs.randint(0, 256, size=(n, 3072)).astype(np.uint8) for s, n in SPLITS.items()}
fine = {s: rs.randint(0, 100, size=n).tolist() for s, n in SPLITS.items()}
coarse = {s: rs.randint(0, 20, size=n).tolist() for s, n in SPLITS.items()}
fine["train"][0], coarse["train"][0] = 99, 19  # the largest labels occur


class Py2Pickler:
    """Emits the opcodes Python 2's cPickle.dump(obj, f, 2) writes; str values are Python 2 strs."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self):
        self.out += b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)
        self.memo += 1

    def str2(self, b):
        if isinstance(b, str):
            b = b.encode("latin1")
        if len(b) < 256:
            self.out += b"U" + bytes([len(b)]) + b
        else:
            self.out += b"T" + struct.pack("<i", len(b)) + b
        self.put()

    def int(self, v):
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        else:
            self.out += b"J" + struct.pack("<i", v)

    def dump(self, o):
        if isinstance(o, dict):
            self.out += b"}"
            self.put()
            self.out += b"("
            for k, v in o.items():
                self.dump(k)
                self.dump(v)
            self.out += b"u"
        elif isinstance(o, list):
            self.out += b"]"
            self.put()
            for i in range(0, len(o), 1000):
                self.out += b"("
                for v in o[i:i + 1000]:
                    self.dump(v)
                self.out += b"e"
        elif isinstance(o, (str, bytes)):
            self.str2(o)
        elif isinstance(o, int):
            self.int(o)
        elif isinstance(o, np.ndarray):
            assert o.dtype == np.uint8 and o.ndim == 2
            self.out += b"cnumpy.core.multiarray\n_reconstruct\n"
            self.put()
            self.out += b"cnumpy\nndarray\n"
            self.put()
            self.out += b"K\x00\x85"
            self.str2(b"b")
            self.out += b"\x87R"
            self.put()
            self.out += b"(K\x01"
            self.int(o.shape[0])
            self.int(o.shape[1])
            self.out += b"\x86"
            self.put()
            self.out += b"cnumpy\ndtype\n"
            self.put()
            self.str2(b"u1")
            self.out += b"K\x00K\x01\x87R"
            self.put()
            self.out += b"(K\x03"
            self.str2(b"|")
            self.out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
            self.str2(o.tobytes())
            self.out += b"tb"
        else:
            raise TypeError(type(o))

    def finish(self):
        return bytes(self.out) + b"."


def split_dict(s, numpy_labels=False):
    d = {"filenames": ["img_%s_%d.png" % (s, i) for i in range(SPLITS[s])], "batch_label": "%s batch 1 of 1" % s,
         "fine_labels": fine[s], "coarse_labels": coarse[s], "data": data[s]}
    if numpy_labels:
        d["fine_labels"] = np.array(fine[s], dtype=np.int64)
        d["coarse_labels"] = [np.int64(v) for v in coarse[s]]
    return d


meta = {"fine_label_names": FINE, "coarse_label_names": COARSE}
for variant in ["py2", "p2", "p4", "p5"]:
    d = os.path.join("cifar", variant, "cifar-100-python")
    os.makedirs(d, exist_ok=True)
    for s in SPLITS:
        with open(os.path.join(d, s), "wb") as f:
            if variant == "py2":
                p = Py2Pickler()
                p.dump(split_dict(s))
                f.write(p.finish())
            else:
                pickle.dump(split_dict(s, numpy_labels=variant == "p5"), f, protocol=int(variant[1]))
    with open(os.path.join(d, "meta"), "wb") as f:
        if variant == "py2":
            p = Py2Pickler()
            p.dump(meta)
            f.write(p.finish())
        else:
            pickle.dump(meta, f, protocol=int(variant[1]))

d = os.path.join("cifar", "binary", "cifar-100-binary")
os.makedirs(d, exist_ok=True)
for s in SPLITS:
    with open(os.path.join(d, s + ".bin"), "wb") as f:
        for i in range(SPLITS[s]):
            f.write(bytes([coarse[s][i], fine[s][i]]) + data[s][i].tobytes())
with open(os.path.join(d, "fine_label_names.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(FINE) + "\n\n")
with open(os.path.join(d, "coarse_label_names.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(COARSE) + "\n")

# What torchvision reads (its md5 checks are for the real files, so only existence is checked here).
tvc.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)
expected = {}
for variant in ["py2", "p2", "p4", "p5"]:
    root = os.path.join("cifar", variant)
    ev = {}
    for s in SPLITS:
        ds = tvc.CIFAR100(root, train=(s == "train"), download=False)
        with open(os.path.join(root, "cifar-100-python", s), "rb") as f:
            raw = pickle.load(f, encoding="latin1")
        chw = ds.data.transpose(0, 3, 1, 2).reshape(len(ds.data), -1).astype(np.int64)  # HWC -> CHW
        weights = np.arange(1, 3073, dtype=np.int64)
        ev[s] = {"targets": [int(t) for t in ds.targets], "coarse": [int(c) for c in raw["coarse_labels"]],
                 "pixel_sums": chw.sum(axis=1).tolist(), "weighted_sums": (chw * weights).sum(axis=1).tolist(),
                 "first_pixels": chw[0, :8].tolist()}
    ev["classes"] = ds.classes
    with open(os.path.join(root, "cifar-100-python", "meta"), "rb") as f:
        ev["coarse_classes"] = pickle.load(f, encoding="latin1")["coarse_label_names"]
    expected[variant] = ev
with open(os.path.join("cifar", "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False, indent=1)
