package datasets

import (
	"fmt"
	"sort"

	"tlkit/torchrand"
)

// RandomSplit partitions a random selection of [0, n) into disjoint parts of the given sizes,
// each sorted ascending; the same (n, sizes, seed) always gives the same parts. The selection is
// PyTorch's: when the sizes add up to n, part i holds the indices of the i-th subset of
// torch.utils.data.random_split(dataset, sizes) right after torch.manual_seed(seed) (consecutive
// slices of torch.randperm(n)), so a 10,000-image subset of CIFAR-100 is the seed tutorial's own
// for the same seed. Indices not covered by the sizes are left out. It panics if a size is
// negative or the sizes add up to more than n, which is a caller's error to check first.
func RandomSplit(n int, sizes []int, seed int64) [][]int {
	total := 0
	for _, s := range sizes {
		if s < 0 {
			panic(fmt.Sprintf("datasets.RandomSplit: negative size %d", s))
		}
		total += s
	}
	if total > n {
		panic(fmt.Sprintf("datasets.RandomSplit: sizes %v add up to %d, more than the %d samples", sizes, total, n))
	}
	perm := torchrand.New(uint64(seed)).Perm(n)
	parts := make([][]int, len(sizes))
	at := 0
	for i, s := range sizes {
		parts[i] = append([]int(nil), perm[at:at+s]...)
		sort.Ints(parts[i])
		at += s
	}
	return parts
}

// RandomSubset picks k of the indices [0, n) at random, sorted ascending and determined by seed.
// When k >= n it returns all n indices in order (the caller may want to say so).
func RandomSubset(n, k int, seed int64) []int {
	if k >= n {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all
	}
	if k <= 0 {
		return []int{}
	}
	return RandomSplit(n, []int{k}, seed)[0]
}
