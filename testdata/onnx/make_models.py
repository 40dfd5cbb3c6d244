#!/usr/bin/python3
"""Makes the ONNX fixtures of tlkit's importer tests with PyTorch 1.13 / torchvision 0.14.

    /usr/bin/python3 testdata/onnx/make_models.py

(The .onnx files are reproduced byte for byte; the golden values of the .npz files differ in their
last bits between CPUs, as PyTorch's kernels sum in other orders: keep the committed ones when only
such bits change.)

For each model NAME it writes NAME.onnx and NAME.npz with the golden values PyTorch computed:
  x (input batch, float32), y (labels, int64), logits (eval mode, float32),
  loss (mean cross-entropy of logits against y, train mode for the BatchNorm model),
  and grad/PARAM for every parameter (from that loss), all in float32.

Models:
  mlp, cnn, lenet5       the seed tutorial's MNIST models (weights random, seed 0)
  resnet_bn              a torchvision-structured ResNet (BasicBlocks [1,1,1,1], width 8, 10
                         classes), exported keeping BatchNormalization nodes and state-dict names
  resnet_folded          the same network exported in eval mode: BatchNorm folded into Conv
  resnet_init            the same network freshly initialised (BatchNorm statistics 0 and 1, scales
                         1, shifts 0), exported keeping BatchNormalization: PyTorch stores each of
                         those equal tensors once and reads it through Identity nodes; also
                         params, PyTorch's parameter count
  resnet_init_folded     the same fresh network exported in eval mode: the equal (zero) biases folded
                         into its convolutions are stored once and read through Identity nodes; only
                         x, logits and params (the folded network's weights and biases)
  pad                    nn.ZeroPad2d and F.pad (constant values) between convolutions: PyTorch
                         computes the pads with a Slice of step -1 that an importer must fold
  actnet                 the less common layers of CNNs after convolutions: nn.PReLU (a learnable
                         [C,1,1] slope), reflect padding, ShuffleNetV2's split and channel shuffle
                         (Split, Concat, Reshape, Transpose), nn.ELU, replicate padding (Pad edge),
                         nn.Softplus, nn.SELU, nn.Softsign and a mean over H and W (ReduceMean)
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))


def mnist_model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(24 * 24 * 8, 48), nn.ReLU(), nn.Linear(48, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Conv2d(16, 120, 4), nn.Tanh(), nn.Flatten(),
                         nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


class PadNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        x = torch.relu(self.conv1(self.pad(x)))
        x = F.pad(x, (2, 1, 1, 0), value=0.5)
        x = F.pad(self.conv2(x), (1, 1, 1, 1))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ActNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.prelu = nn.PReLU(4, init=0.2)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.conv3 = nn.Conv2d(6, 6, 3)
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 5)

    def forward(self, x):
        x = nn.functional.pad(self.prelu(self.conv1(x)), (1, 1, 1, 1), mode="reflect")
        a, b = x.chunk(2, dim=1)  # ShuffleNetV2's unit: split, one half transformed, shuffle
        x = torch.cat([b, torch.relu(a)], 1)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        x = nn.functional.pad(F.elu(self.conv2(x), 0.5), (1, 0, 0, 1), mode="replicate")
        x = F.softplus(self.conv3(x)).mean(dim=(2, 3))
        return self.fc2(F.softsign(F.selu(self.fc1(x))))


class TinyResNet(nn.Module):
    """torchvision's ResNet layout and names (conv1, bn1, layerK.I..., fc) at width 8."""

    def __init__(self, width=8, blocks=(1, 1, 1, 1), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inp = width
        for i, n in enumerate(blocks):
            planes, stride = width << i, 1 if i == 0 else 2
            layers = []
            for j in range(n):
                down = None
                if j == 0 and (stride != 1 or inp != planes):
                    down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                layers.append(BasicBlock(inp, planes, stride if j == 0 else 1, down))
                inp = planes
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inp, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def golden(model, x, y, train_bn):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    model.train(train_bn)
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    out = {"x": x.numpy(), "y": y.numpy(), "logits": logits.numpy(), "loss": np.float32(loss.item())}
    for name, p in model.named_parameters():
        out["grad/" + name] = p.grad.numpy()
    return out


def export(model, x, path, keep_bn):
    model.eval()
    kw = dict(input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
              opset_version=13)
    if keep_bn:
        kw.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, export_params=True)
    torch.onnx.export(model, x, path, **kw)


def main():
    torch.manual_seed(0)
    for name in ["mlp", "cnn", "lenet5"]:
        m = mnist_model(name)
        x = torch.rand(5, 1, 28, 28)
        y = torch.randint(0, 10, (5,))
        export(m, x, os.path.join(HERE, name + ".onnx"), keep_bn=False)
        np.savez(os.path.join(HERE, name + ".npz"), **golden(m, x, y, train_bn=False))
    m = TinyResNet()
    # Non-trivial BatchNorm statistics and affine parameters, as a trained network has.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    x = torch.rand(4, 3, 32, 32)
    y = torch.randint(0, 10, (4,))
    # Export first: golden() runs a training-mode forward, which moves the running statistics.
    export(m, x, os.path.join(HERE, "resnet_bn.onnx"), keep_bn=True)
    export(m, x, os.path.join(HERE, "resnet_folded.onnx"), keep_bn=False)
    g = golden(m, x, y, train_bn=True)  # the loss and gradients with batch statistics (fine-tuning)
    # running statistics after one training-mode forward (PyTorch momentum 0.1)
    for name, buf in m.named_buffers():
        if name.endswith("running_mean") or name.endswith("running_var"):
            g["after/" + name] = buf.numpy().copy()
    np.savez(os.path.join(HERE, "resnet.npz"), **g)

    m = TinyResNet()
    x = torch.rand(4, 3, 32, 32)
    y = torch.randint(0, 10, (4,))
    export(m, x, os.path.join(HERE, "resnet_init.onnx"), keep_bn=True)
    export(m, x, os.path.join(HERE, "resnet_init_folded.onnx"), keep_bn=False)
    g = golden(m, x, y, train_bn=True)
    g["params"] = np.int64(sum(p.numel() for p in m.parameters()))
    np.savez(os.path.join(HERE, "resnet_init.npz"), **g)
    folded = sum(c.weight.numel() + c.out_channels for c in m.modules() if isinstance(c, nn.Conv2d)) + \
        sum(p.numel() for p in m.fc.parameters())
    np.savez(os.path.join(HERE, "resnet_init_folded.npz"), x=g["x"], logits=g["logits"], params=np.int64(folded))

    m = PadNet()
    x = torch.rand(2, 3, 8, 8)
    y = torch.randint(0, 5, (2,))
    export(m, x, os.path.join(HERE, "pad.onnx"), keep_bn=False)
    np.savez(os.path.join(HERE, "pad.npz"), **golden(m, x, y, train_bn=False))

    m = ActNet()
    with torch.no_grad():
        m.prelu.weight.uniform_(-0.3, 0.5)  # one slope per channel, some negative
    x = torch.randn(3, 3, 10, 10)
    y = torch.randint(0, 5, (3,))
    export(m, x, os.path.join(HERE, "actnet.onnx"), keep_bn=False)
    g = golden(m, x, y, train_bn=False)
    # The exporter stores the slope reshaped to [4,1,1] under its own name: its gradient is
    # prelu.weight's, reshaped.
    import onnx
    slope = [n.input[1] for n in onnx.load(os.path.join(HERE, "actnet.onnx")).graph.node if n.op_type == "PRelu"][0]
    g["grad/" + slope] = g.pop("grad/prelu.weight").reshape(4, 1, 1)
    np.savez(os.path.join(HERE, "actnet.npz"), **g)


if __name__ == "__main__":
    main()
