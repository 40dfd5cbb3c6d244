package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
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

// TestAdamVector checks that the vector path leaves bitwise the weights and moments of the Go
// loop, with and without weight decay, over gradients of every magnitude (subnormal, tiny, huge,
// NaN) and tensors whose lengths are not multiples of the vector width.
func TestAdamVector(t *testing.T) {
	if !adamVecOK {
		t.Log("no vector path on this machine: nothing to compare")
		return
	}
	defer func() { adamVecOK = true }()
	r := rand.New(rand.NewSource(3))
	grad := func() float32 {
		switch r.Intn(6) {
		case 0:
			return math.Float32frombits(r.Uint32() & 0x807fffff) // subnormal
		case 1:
			return float32(r.NormFloat64() * 1e-16)
		case 2:
			return float32(r.NormFloat64() * 1e6)
		case 3:
			if r.Intn(50) == 0 {
				return float32(math.NaN())
			}
		}
		return float32(r.NormFloat64())
	}
	for _, c := range []struct {
		name      string
		wd        float64
		decoupled bool
	}{{"plain", 0, false}, {"L2", 0.1, false}, {"decoupled", 0.1, true}} {
		var ws, gs [][]float32
		for _, n := range []int{1, 7, 8, 9, 1000, 40003} {
			w, g := make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i] = float32(r.NormFloat64()), grad()
			}
			ws, gs = append(ws, w), append(gs, g)
		}
		run := func(vec bool) [][]float32 {
			adamVecOK = vec
			a := NewAdam(1e-3)
			a.WeightDecay, a.Decoupled = c.wd, c.decoupled
			var ps []Param
			for i := range ws {
				ps = append(ps, Param{Name: fmt.Sprint(i), W: append([]float32(nil), ws[i]...), G: gs[i]})
			}
			for step := 0; step < 3; step++ {
				if err := a.Update(ps); err != nil {
					t.Fatal(err)
				}
			}
			var out [][]float32
			for i, p := range ps {
				s := a.state[fmt.Sprint(i)]
				out = append(out, p.W, s.M, s.V)
			}
			return out
		}
		vec, scalar := run(true), run(false)
		for k := range vec {
			for i := range vec[k] {
				a, b := vec[k][i], scalar[k][i]
				if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) {
					t.Fatalf("%s: tensor %d (%s) element %d: vector %g, Go %g", c.name, k/3, []string{"weights", "m", "v"}[k%3], i, a, b)
				}
			}
		}
	}
}
