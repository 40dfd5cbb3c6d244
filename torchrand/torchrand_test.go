package torchrand

import (
	"encoding/json"
	"os"
	"testing"
)

// fixture holds draws made by PyTorch 1.13 (testdata/make_fixture.py).
type fixture struct {
	Uniform      []float32 `json:"uniform"`
	Int64        []int64   `json:"int64"`
	Perm10       []int     `json:"perm10"`
	Perm60000    []int     `json:"perm60000_head"`
	Perm60000End []int     `json:"perm60000_tail"`
	DL           [][]int   `json:"dl"` // two epochs of DataLoader(shuffle=True) over 1,000 samples
}

func load(t *testing.T) fixture {
	b, err := os.ReadFile("testdata/draws.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMatchesPyTorch(t *testing.T) {
	f := load(t)
	u := make([]float32, len(f.Uniform))
	New(0).Uniform(u, -0.3, 0.3)
	for i := range u {
		if u[i] != f.Uniform[i] {
			t.Fatalf("uniform_[%d] = %v, PyTorch %v", i, u[i], f.Uniform[i])
		}
	}
	g := New(0)
	for i, want := range f.Int64 {
		if got := g.Int64(); got != want {
			t.Fatalf("random_ draw %d = %d, PyTorch %d", i, got, want)
		}
	}
	eq := func(what string, got, want []int) {
		t.Helper()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, PyTorch %v", what, got[:len(want)], want)
			}
		}
	}
	eq("randperm(10)", New(12345).Perm(10), f.Perm10)
	p := New(7).Perm(60000)
	eq("randperm(60000) head", p, f.Perm60000)
	eq("randperm(60000) tail", p[len(p)-len(f.Perm60000End):], f.Perm60000End)
	g = New(0)
	s := g.Shuffles()
	for e, want := range f.DL {
		eq("DataLoader epoch", g.ShuffleOrder(1000), want)
		eq("Shuffles.Order", s.Order(e+1, 1000), want)
	}
}
