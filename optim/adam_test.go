package optim

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

type fixT struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// TestAdamMatchesPyTorch replays torch.optim.Adam/AdamW runs recorded by
// testdata/torch/make_op_fixtures.py: same initial parameters, same gradient sequence, and the
// parameters after every step must agree to float32 precision.
func TestAdamMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("../testdata/torch/adam.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name    string   `json:"name"`
			Params  []fixT   `json:"params"`
			Grads   [][]fixT `json:"grads"`
			After   [][]fixT `json:"after"`
			HParams struct {
				LR          float64   `json:"lr"`
				Betas       []float64 `json:"betas"`
				Eps         float64   `json:"eps"`
				WeightDecay float64   `json:"weight_decay"`
				Decoupled   bool      `json:"decoupled"`
			} `json:"hparams"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 3 {
		t.Fatalf("only %d Adam cases", len(doc.Cases))
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			a := NewAdam(c.HParams.LR)
			if len(c.HParams.Betas) == 2 {
				a.Beta1, a.Beta2 = c.HParams.Betas[0], c.HParams.Betas[1]
			}
			if c.HParams.Eps != 0 {
				a.Eps = c.HParams.Eps
			}
			a.WeightDecay, a.Decoupled = c.HParams.WeightDecay, c.HParams.Decoupled
			ps := make([]Param, len(c.Params))
			for i, p := range c.Params {
				ps[i] = Param{Name: string(rune('a' + i)), W: f32(p.Data), G: make([]float32, len(p.Data))}
			}
			for step, gs := range c.Grads {
				for i, g := range gs {
					copy(ps[i].G, f32(g.Data))
				}
				if err := a.Update(ps); err != nil {
					t.Fatal(err)
				}
				for i, want := range c.After[step] {
					for j, w := range want.Data {
						if d := math.Abs(float64(ps[i].W[j]) - w); d > 1e-6*math.Max(1, math.Abs(w)) {
							t.Fatalf("step %d param %d[%d]: %.9g, PyTorch %.9g", step+1, i, j, ps[i].W[j], w)
						}
					}
				}
			}
		})
	}
}

func f32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}
