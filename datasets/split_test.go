package datasets

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

func TestRandomSplit(t *testing.T) {
	parts := RandomSplit(100, []int{70, 20, 5}, 9)
	seen := map[int]bool{}
	for k, p := range parts {
		if len(p) != []int{70, 20, 5}[k] {
			t.Fatalf("part %d has %d indices", k, len(p))
		}
		for j, i := range p {
			if seen[i] || i < 0 || i >= 100 || (j > 0 && p[j-1] >= i) {
				t.Fatalf("index %d repeated, out of range or unsorted", i)
			}
			seen[i] = true
		}
	}
	again := RandomSplit(100, []int{70, 20, 5}, 9)
	other := RandomSplit(100, []int{70, 20, 5}, 10)
	for k := range parts {
		if !equalInts(parts[k], again[k]) {
			t.Fatal("same seed, different split")
		}
	}
	if equalInts(parts[1], other[1]) {
		t.Error("different seeds, same split")
	}
	whole := RandomSplit(10, []int{4, 6}, 1)
	if len(whole[0])+len(whole[1]) != 10 {
		t.Error("a split of all samples lost some")
	}
	defer func() {
		if recover() == nil {
			t.Error("sizes larger than n did not panic")
		}
	}()
	RandomSplit(10, []int{6, 5}, 1)
}

func TestRandomSubset(t *testing.T) {
	all := RandomSubset(5, 9, 1)
	if !equalInts(all, []int{0, 1, 2, 3, 4}) {
		t.Errorf("k >= n gave %v", all)
	}
	s := RandomSubset(1000, 10, 3)
	if len(s) != 10 || !equalInts(s, RandomSubset(1000, 10, 3)) || equalInts(s, RandomSubset(1000, 10, 4)) {
		t.Errorf("subset %v not deterministic per seed", s)
	}
	if len(RandomSubset(10, 0, 1)) != 0 {
		t.Error("k = 0 gave indices")
	}
}

// TestRandomSplitIsPyTorchs: RandomSplit(50000, {10000, 40000}, seed) holds the indices of
// torch.utils.data.random_split after torch.manual_seed(seed) (testdata/torch/make_runs.py).
func TestRandomSplitIsPyTorchs(t *testing.T) {
	b, err := os.ReadFile("../testdata/torch/runs.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Split map[string][]struct {
			Size     int   `json:"size"`
			Sum      int   `json:"sum"`
			Smallest []int `json:"smallest"`
		} `json:"split"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int64{0, 7} {
		want := ref.Split[fmt.Sprint(seed)]
		parts := RandomSplit(50000, []int{10000, 40000}, seed)
		for i, p := range parts {
			sum := 0
			for _, v := range p {
				sum += v
			}
			if len(p) != want[i].Size || sum != want[i].Sum || !equalInts(p[:10], want[i].Smallest) {
				t.Errorf("seed %d part %d: %d indices summing to %d, smallest %v; PyTorch %d, %d, %v",
					seed, i, len(p), sum, p[:10], want[i].Size, want[i].Sum, want[i].Smallest)
			}
		}
	}
}
