package models

import (
	"fmt"

	"tlkit/nn"
)

// ResNet builds torchvision's ResNet-18/34 (basic blocks) with parameter names equal to
// torchvision's state dict ("layer1.0.conv1.weight", "fc.bias"), so weights move between the two
// by name. width is the stem's channel count (64 in torchvision); smaller widths make test-sized
// networks of the same structure.
func ResNet(depth, width int, seed int64, classes int, s []int) (*nn.Model, error) {
	var blocks []int
	switch depth {
	case 18:
		blocks = []int{2, 2, 2, 2}
	case 34:
		blocks = []int{3, 4, 6, 3}
	default:
		return nil, fmt.Errorf("resnet: depth %d not available (18 or 34)", depth)
	}
	b := nn.NewBuilder(fmt.Sprintf("resnet%d", depth), seed, s...)
	x := b.Conv(b.Input(), "conv1", s[0], width, 7, nn.ConvOpts{Stride: 2, Pad: 3})
	x = b.BatchNorm(x, "bn1", width)
	x = b.Act(x, "Relu")
	x = b.MaxPool(x, 3, 2, 1)
	in := width
	for stage, n := range blocks {
		out := width << stage
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("layer%d.%d", stage+1, i)
			stride := 1
			if i == 0 && stage > 0 {
				stride = 2
			}
			y := b.Conv(x, p+".conv1", in, out, 3, nn.ConvOpts{Stride: stride, Pad: 1})
			y = b.BatchNorm(y, p+".bn1", out)
			y = b.Act(y, "Relu")
			y = b.Conv(y, p+".conv2", out, out, 3, nn.ConvOpts{Pad: 1})
			y = b.BatchNorm(y, p+".bn2", out)
			skip := x
			if stride != 1 || in != out {
				skip = b.Conv(x, p+".downsample.0", in, out, 1, nn.ConvOpts{Stride: stride})
				skip = b.BatchNorm(skip, p+".downsample.1", out)
			}
			x = b.Act(b.Add(y, skip), "Relu")
			in = out
		}
	}
	x = b.GlobalAvgPool(x)
	x = b.Flatten(x)
	x = b.Linear(x, "fc", in, classes)
	return b.Finish(x)
}
