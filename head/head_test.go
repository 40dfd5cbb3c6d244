package head

import (
	"errors"
	"strings"
	"testing"

	"tlkit/importer"
	"tlkit/models"
	"tlkit/nn"
)

func TestFindTorchvisionExports(t *testing.T) {
	for _, name := range []string{"resnet_bn", "resnet_folded", "mlp", "lenet5"} {
		m, err := importer.ReadFile("../testdata/onnx/" + name + ".onnx")
		if err != nil {
			t.Fatal(err)
		}
		h, err := Find(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantIn := map[string]int{"resnet_bn": 64, "resnet_folded": 64, "mlp": 256, "lenet5": 84}[name]
		if h.In != wantIn || h.Out != 10 {
			t.Errorf("%s: head %d→%d, want %d→10", name, h.In, h.Out, wantIn)
		}
		r, nh, err := Replace(m, 100, 1)
		if err != nil {
			t.Fatal(err)
		}
		tot, _ := r.Count()
		old, _ := m.Count()
		if want := old - int64(10*wantIn+10) + int64(100*wantIn+100); tot != want {
			t.Errorf("%s: %d parameters after the new head, want %d", name, tot, want)
		}
		FreezeBackbone(r, nh)
		if _, tr := r.Count(); tr != int64(100*wantIn+100) {
			t.Errorf("%s: %d trainable, want the head's %d", name, tr, 100*wantIn+100)
		}
	}
}

// torchvision's ResNet-34 with a 100-class head has 51,300 head parameters (the seed tutorial's
// summary) and 21,335,972 in all.
func TestResNet34Head(t *testing.T) {
	m, err := models.ResNet(34, 64, 0, 1000, []int{3, 224, 224})
	if err != nil {
		t.Fatal(err)
	}
	if tot, _ := m.Count(); tot != 21797672 {
		t.Fatalf("ResNet-34 has %d parameters, torchvision's has 21,797,672", tot)
	}
	r, h, err := Replace(m, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	FreezeBackbone(r, h)
	tot, tr := r.Count()
	if tot != 21335972 || tr != 51300 || h.Params[0] != "fc.weight" {
		t.Errorf("after replacing the head: %d total, %d trainable, params %v", tot, tr, h.Params)
	}
}

func TestSoftmaxHeadAndErrors(t *testing.T) {
	b := nn.NewBuilder("sm", 0, 4)
	x := b.Linear(b.Input(), "fc", 4, 3)
	x = b.Op("Softmax", map[string]nn.Attr{"axis": nn.Int(1)}, x)
	m, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Find(m)
	if err != nil || !h.Softmax || h.In != 4 {
		t.Fatalf("softmax head: %+v, %v", h, err)
	}
	r, _, err := Replace(m, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range r.Nodes {
		if n.Op == "Softmax" {
			t.Error("the trailing softmax survived: training must see logits")
		}
	}

	b = nn.NewBuilder("nohead", 0, 1, 8, 8)
	y := b.Conv(b.Input(), "conv", 1, 2, 3, nn.ConvOpts{})
	y = b.GlobalAvgPool(y)
	m, err = b.Finish(y)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Find(m)
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "GlobalAveragePool") {
		t.Errorf("got %v", err)
	}
}
