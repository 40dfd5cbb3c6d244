package summary

import (
	"bytes"
	"strings"
	"testing"

	"tlkit/importer"
	"tlkit/models"
)

// The seed tutorial's parameter counts (torchsummary on the PyTorch models).
func TestSeedModelCounts(t *testing.T) {
	want := map[string]int64{"mlp": 203530, "cnn": 222058, "lenet5": 44426}
	for name, n := range want {
		m, err := models.Build(name, 0, 10, []int{1, 28, 28})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Of(m)
		if err != nil {
			t.Fatal(err)
		}
		if s.Total != n || s.Trainable != n || s.NonTrainable != 0 {
			t.Errorf("%s: total %d trainable %d non-trainable %d, want %d/%d/0", name, s.Total, s.Trainable, s.NonTrainable, n, n)
		}
		var sum int64
		for _, r := range s.Rows {
			sum += r.Params
		}
		if sum != n {
			t.Errorf("%s: rows add up to %d, want %d", name, sum, n)
		}
	}
}

func TestLeNetTable(t *testing.T) {
	m, _ := models.Build("lenet5", 0, 10, []int{1, 28, 28})
	s, err := Of(m)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// torchsummary's rows for LeNet-5: conv1 [-1, 6, 24, 24] 156, pool [-1, 6, 12, 12],
	// conv2 [-1, 16, 8, 8] 2,416, conv3 [-1, 120, 1, 1] 30,840, fc1 10,164, fc2 850.
	for _, want := range []string{"[-1, 6, 24, 24]", "156", "[-1, 6, 12, 12]", "[-1, 16, 8, 8]", "2,416", "[-1, 120, 1, 1]", "30,840",
		"[-1, 84]", "10,164", "[-1, 10]", "850", "Total params: 44,426", "Trainable params: 44,426", "Non-trainable params: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestResNet34Frozen(t *testing.T) {
	m, err := models.ResNet(34, 64, 0, 100, []int{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	m.Freeze(func(name string) bool { return !strings.HasPrefix(name, "fc.") })
	s, err := Of(m)
	if err != nil {
		t.Fatal(err)
	}
	// torchvision ResNet-34 with a 100-class head: 21,335,972 parameters, 51,300 in the head.
	if s.Total != 21335972 || s.Trainable != 51300 || s.NonTrainable != 21335972-51300 {
		t.Errorf("got %d / %d / %d", s.Total, s.Trainable, s.NonTrainable)
	}
}

// TestExportedShapeOps: the pads and target shapes PyTorch's exporter computes from the input's
// shape (Shape, Gather, Concat, Reshape, Slice, Transpose of shape vectors, folded at build
// time) are not layers, while the same operators on activations (the channel split and
// shuffle) are; every row has an output shape, and the parameters are PyTorch's 769
// (Softsign's constant 1 is not one).
func TestExportedShapeOps(t *testing.T) {
	m, err := importer.ReadFile("../testdata/onnx/actnet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Of(m)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range s.Rows {
		if r.Output == nil {
			t.Errorf("row %s (%s) has no output shape", r.Name, r.Op)
		}
		ops = append(ops, r.Op)
	}
	want := "Conv PRelu Pad Slice Slice Relu Concat Reshape Transpose Reshape Conv Elu Pad Conv Softplus ReduceMean Gemm Selu Abs Add Div Gemm"
	if got := strings.Join(ops, " "); got != want {
		t.Errorf("layers %s\nwant   %s", got, want)
	}
	if s.Total != 769 || s.Trainable != 769 {
		t.Errorf("total %d trainable %d, want 769", s.Total, s.Trainable)
	}
}
