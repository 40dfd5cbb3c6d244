package engine_test

import (
	"math/rand"
	"strings"
	"testing"

	"tlkit/compare"
	"tlkit/engine"
	"tlkit/models"
	"tlkit/ops"
)

// TestConstantWeightsFoldBatchNorm: folding a ResNet's BatchNorms into its convolutions leaves no BatchNorm in
// the program, changes the outputs only by rounding, and leaves the model's tensors untouched;
// without the option, or in a training program, nothing is folded. The convolutions of a
// ConstantWeights program keep their Winograd-transformed weights, so a second pass must give
// bitwise the first one's outputs.
func TestConstantWeightsFoldBatchNorm(t *testing.T) {
	m, err := models.ResNet(18, 8, 3, 10, []int{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(4))
	for _, tn := range m.Tensors() { // statistics and affine parameters away from 0/1
		if strings.Contains(tn.Name, "bn") || strings.Contains(tn.Name, "downsample.1") {
			for i := range tn.Data {
				tn.Data[i] = 0.5 + rng.Float32()
			}
		}
	}
	before := m.Tensor("bn1.running_var").Data[0]
	x := make([]float32, 4*3*32*32)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	run := func(o engine.Options) ([]float32, int) {
		p, err := engine.Compile(m, o)
		if err != nil {
			t.Fatal(err)
		}
		p.SetInput(x)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		first := append([]float32(nil), p.Output(0).Data().([]float32)...)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		for i, v := range p.Output(0).Data().([]float32) {
			if v != first[i] {
				t.Fatalf("%+v: the second pass's output %d is %v, the first's %v", o, i, v, first[i])
			}
		}
		kept := 0
		for _, s := range p.Schedule() {
			if c, ok := s.Node.Op().(*ops.Conv2D); ok && c.ConstWeights {
				kept++
			}
		}
		if want := o.ConstantWeights && !o.Train; (kept > 0) != want {
			t.Errorf("%+v: %d convolutions keep their weights' transforms", o, kept)
		}
		bn := 0
		for _, s := range p.Schedule() {
			if s.Node.Op() != nil && strings.HasPrefix(s.Node.Op().String(), "BatchNorm") {
				bn++
			}
		}
		return append([]float32(nil), p.Output(0).Data().([]float32)...), bn
	}
	plain, nPlain := run(engine.Options{Batch: 4})
	folded, nFolded := run(engine.Options{Batch: 4, ConstantWeights: true})
	if nPlain != 20 || nFolded != 0 {
		t.Fatalf("BatchNorm ops: %d unfolded (want 20), %d folded (want 0)", nPlain, nFolded)
	}
	d := compare.RelL2(folded, plain)
	if d > 1e-6 {
		t.Errorf("folded outputs differ from unfolded ones by relative L2 %.2e", d)
	}
	t.Logf("relative L2 between folded and unfolded outputs: %.2e", d)
	if m.Tensor("bn1.running_var").Data[0] != before || len(m.Nodes) == 0 {
		t.Error("folding changed the model")
	}
	if _, n := run(engine.Options{Batch: 4, Train: true, ConstantWeights: true}); n < 20 {
		t.Errorf("a training program folded BatchNorm (%d BatchNorm ops and gradients left)", n)
	}
}
