package models

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"tlkit/nn"
	"tlkit/torchrand"
)

// Digest is how testdata/torch/make_runs.py records a tensor: the sha256 of its float32 values
// (little-endian, row-major) and its first values.
type Digest struct {
	SHA256 string    `json:"sha256"`
	First  []float32 `json:"first"`
}

// Runs is testdata/torch/runs.json, PyTorch 1.13's seeded initialisations and runs.
type Runs struct {
	Init   map[string][]Digest `json:"init"`
	Head   map[string][]Digest `json:"head"`
	Orders map[string][][]int  `json:"orders"`
}

func loadRuns(t *testing.T) Runs {
	b, err := os.ReadFile("../testdata/torch/runs.json")
	if err != nil {
		t.Fatal(err)
	}
	var r Runs
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func digest(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestInitMatchesPyTorch checks that Build(name, seed) gives, bit for bit, the weights of
// torch.manual_seed(seed) followed by constructing the same torch.nn model, and that the
// generator is left where a DataLoader(shuffle=True) then starts its epochs.
func TestInitMatchesPyTorch(t *testing.T) {
	r := loadRuns(t)
	for _, name := range []string{"mlp", "cnn", "lenet5"} {
		for _, seed := range []int64{0, 1} {
			want := r.Init[fmt.Sprintf("%s/%d", name, seed)]
			g := torchrand.New(uint64(seed))
			m, err := BuildFrom(name, g, 10, []int{1, 28, 28})
			if err != nil {
				t.Fatal(err)
			}
			ps := m.Params()
			if len(ps) != len(want) {
				t.Fatalf("%s: %d parameters, PyTorch %d", name, len(ps), len(want))
			}
			for i, p := range ps {
				if got := digest(p.Data); got != want[i].SHA256 {
					t.Errorf("%s seed %d: %s starts %v, PyTorch's starts %v", name, seed, p.Name, p.Data[:3], want[i].First)
				}
			}
			if seed != 0 {
				continue
			}
			s := g.Shuffles()
			for e, w := range r.Orders[name] {
				got := s.Order(e+1, 60000)[:len(w)]
				for i := range w {
					if got[i] != w[i] {
						t.Fatalf("%s: epoch %d reads %v first, PyTorch's DataLoader %v", name, e+1, got, w)
					}
				}
			}
		}
	}
}

// TestLinearInitMatchesPyTorch: torch.manual_seed(seed); nn.Linear(512, 100).
func TestLinearInitMatchesPyTorch(t *testing.T) {
	r := loadRuns(t)
	for _, seed := range []uint64{0, 5} {
		w, b := nn.LinearInit(torchrand.New(seed), 512, 100)
		want := r.Head[fmt.Sprint(seed)]
		if digest(w) != want[0].SHA256 || digest(b) != want[1].SHA256 {
			t.Errorf("seed %d: weight starts %v, bias %v; PyTorch's %v, %v", seed, w[:3], b[:3], want[0].First, want[1].First)
		}
	}
}
