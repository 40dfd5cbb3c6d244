// Package torchrand reproduces PyTorch's CPU random streams (torch.manual_seed, Tensor.uniform_,
// Tensor.random_, torch.randperm and DataLoader(shuffle=True)), so that tlkit's --seed N starts
// from the weights and visits the samples in the order that torch.manual_seed(N) gives the same
// model in PyTorch. Only the draws tlkit needs are here; each is checked against PyTorch 1.13 in
// the tests.
package torchrand

// Generator is PyTorch's CPU generator: a 32-bit Mersenne Twister (mt19937) seeded the way
// torch.Generator.manual_seed seeds it (init_genrand with the seed's low 32 bits).
type Generator struct {
	mt  [624]uint32
	idx int
}

// New returns the generator torch.manual_seed(seed) leaves behind.
func New(seed uint64) *Generator {
	g := &Generator{idx: 624}
	g.mt[0] = uint32(seed)
	for i := 1; i < 624; i++ {
		g.mt[i] = 1812433253*(g.mt[i-1]^(g.mt[i-1]>>30)) + uint32(i)
	}
	return g
}

// Clone returns an independent copy of g at the same point of its stream.
func (g *Generator) Clone() *Generator { c := *g; return &c }

func (g *Generator) twist() {
	const upper, lower, matrix = 0x80000000, 0x7fffffff, 0x9908b0df
	for i := 0; i < 624; i++ {
		y := g.mt[i]&upper | g.mt[(i+1)%624]&lower
		v := g.mt[(i+397)%624] ^ y>>1
		if y&1 != 0 {
			v ^= matrix
		}
		g.mt[i] = v
	}
	g.idx = 0
}

// Uint32 is the generator's next 32-bit draw (CPUGeneratorImpl::random).
func (g *Generator) Uint32() uint32 {
	if g.idx >= 624 {
		g.twist()
	}
	y := g.mt[g.idx]
	g.idx++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// Uint64 is two 32-bit draws, the first in the high half (CPUGeneratorImpl::random64).
func (g *Generator) Uint64() uint64 {
	hi := g.Uint32()
	return uint64(hi)<<32 | uint64(g.Uint32())
}

// Skip advances g by n 32-bit draws.
func (g *Generator) Skip(n int) {
	for ; n > 0; n-- {
		g.Uint32()
	}
}

// Uniform fills dst as Tensor.uniform_(from, to) fills a float32 tensor: one 32-bit draw per
// element, its low 24 bits scaled to [0, 1) and mapped to [from, to) in double precision with
// the bounds first rounded to float32, as ATen's uniform_real_distribution<float> does.
func (g *Generator) Uniform(dst []float32, from, to float64) {
	f, t := float64(float32(from)), float64(float32(to))
	for i := range dst {
		x := float64(g.Uint32()&(1<<24-1)) / (1 << 24)
		dst[i] = float32(x*(t-f) + f)
	}
}

// Int64 is torch.empty((), dtype=torch.int64).random_(): a 64-bit draw reduced to [0, 2^63).
func (g *Generator) Int64() int64 { return int64(g.Uint64() & (1<<63 - 1)) }

// Perm is torch.randperm(n, generator=g): a Fisher–Yates pass from the front, one 32-bit draw
// per position.
func (g *Generator) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := 0; i < n-1; i++ {
		z := int(g.Uint32() % uint32(n-i))
		p[i], p[i+z] = p[i+z], p[i]
	}
	return p
}

// EpochDraws is how many 32-bit draws of the global generator one epoch of
// DataLoader(shuffle=True) takes: the iterator's base seed and the sampler's seed, 64 bits each.
const EpochDraws = 4

// ShuffleOrder is the order in which one epoch of DataLoader(dataset, shuffle=True) reads a
// dataset of n samples when g is torch's global generator: the iterator draws its base seed, the
// RandomSampler draws a seed for a fresh generator and takes torch.randperm(n) from it.
func (g *Generator) ShuffleOrder(n int) []int {
	g.Int64()
	return New(uint64(g.Int64())).Perm(n)
}

// Shuffles replays the epoch orders of DataLoader(shuffle=True) from a snapshot of torch's
// global generator, taken where the loader's first epoch begins (after the model's
// initialisation). Each epoch is computed on its own, so a resumed run gets the same orders.
type Shuffles struct{ start *Generator }

// Shuffles snapshots g as the global generator a DataLoader's first epoch starts from.
func (g *Generator) Shuffles() Shuffles { return Shuffles{g.Clone()} }

// Order is the order in which epoch (counted from 1) reads n samples.
func (s Shuffles) Order(epoch, n int) []int {
	g := s.start.Clone()
	g.Skip(EpochDraws * (epoch - 1))
	return g.ShuffleOrder(n)
}
