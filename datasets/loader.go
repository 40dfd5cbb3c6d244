package datasets

import (
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
)

// LoaderOptions configures a Loader. The zero value of each field means the default given.
type LoaderOptions struct {
	BatchSize int      // samples per batch; default 1 (as PyTorch's DataLoader)
	Shuffle   bool     // a fresh permutation every epoch; default false: dataset order
	Seed      int64    // seeds the permutations and the augmentation
	Shuffler  Shuffler // draws each epoch's permutation when Shuffle is set; default: one seeded by (Seed, epoch)
	Augment   bool     // pass each sample a seeded rng, enabling the Dataset's random augmentation; default false
	DropLast  bool     // drop the last partial batch; default false: it is used, so every sample is read
	Prefetch  int      // batches prepared ahead of the consumer; default 2
	Workers   int      // goroutines filling the samples of a batch; default GOMAXPROCS
}

// Shuffler gives the order in which an epoch (counted from 1) reads n samples, as a function of
// the epoch alone, so that a resumed run reads what the interrupted one would have.
// torchrand.Shuffles is the one that follows PyTorch's DataLoader(shuffle=True).
type Shuffler interface {
	Order(epoch, n int) []int
}

// Loader reads a Dataset in batches, one epoch at a time. The order of epoch e depends only on
// (Seed, e) and the augmentation of a sample only on (Seed, e, its index), never on goroutine
// timing, so runs are reproducible.
type Loader struct {
	ds   Dataset
	o    LoaderOptions
	size int // values per sample
}

// Batch is a batch of samples, NCHW (or N×shape) and contiguous. It stays valid until the next
// call of the iterator's Next.
type Batch struct {
	X     []float32 // N*prod(shape) values
	Y     []int     // N labels
	N     int       // samples in this batch (the last one may be short)
	Index []int     // dataset index of each sample
}

// NewLoader prepares to read ds with the options o.
func NewLoader(ds Dataset, o LoaderOptions) *Loader {
	if o.BatchSize <= 0 {
		o.BatchSize = 1
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 2
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return &Loader{ds: ds, o: o, size: SampleSize(ds)}
}

// NumBatches is the number of batches in one epoch.
func (l *Loader) NumBatches() int {
	n, b := l.ds.Len(), l.o.BatchSize
	if l.o.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order is the sequence of dataset indices that epoch reads: when shuffling, the Shuffler's
// permutation or one seeded by (Seed, epoch); else 0..Len()-1.
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	if !l.o.Shuffle {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order
	}
	if l.o.Shuffler != nil {
		return l.o.Shuffler.Order(epoch, n)
	}
	return rand.New(rand.NewSource(int64(mix(uint64(l.o.Seed), uint64(epoch), 0x5045524d)))).Perm(n)
}

// Iterator walks the batches of one epoch; a goroutine prepares the next batches meanwhile.
type Iterator struct {
	l       *Loader
	order   []int
	epoch   int
	ready   chan *Batch
	free    chan *Batch
	stop    chan struct{}
	done    chan struct{}
	cur     *Batch
	err     atomic.Pointer[error]
	closing sync.Once
}

// Epoch starts reading epoch number epoch. The caller loops `for it.Next() { b := it.Batch() }`,
// then checks it.Err(); it.Close() releases the iterator and may be called at any point, more than once.
func (l *Loader) Epoch(epoch int) *Iterator {
	it := &Iterator{l: l, order: l.Order(epoch), epoch: epoch,
		ready: make(chan *Batch, l.o.Prefetch), free: make(chan *Batch, l.o.Prefetch+1),
		stop: make(chan struct{}), done: make(chan struct{})}
	for i := 0; i < l.o.Prefetch+1; i++ {
		it.free <- &Batch{X: make([]float32, l.o.BatchSize*l.size), Y: make([]int, l.o.BatchSize), Index: make([]int, l.o.BatchSize)}
	}
	go it.produce()
	return it
}

// Next advances to the next batch, returning false at the end of the epoch, after Close or on an
// error. The previous batch's buffers are reused.
func (it *Iterator) Next() bool {
	if it.cur != nil {
		it.free <- it.cur // never blocks: free holds every buffer
		it.cur = nil
	}
	select {
	case <-it.stop:
		return false
	default:
	}
	select {
	case b, ok := <-it.ready:
		if !ok {
			return false
		}
		it.cur = b
		return true
	case <-it.stop:
		return false
	}
}

// Batch is the current batch, valid until the next call of Next.
func (it *Iterator) Batch() *Batch { return it.cur }

// Err is the first error met while filling batches (a Dataset's Get that panicked).
func (it *Iterator) Err() error {
	if p := it.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the prefetching goroutines and waits for them to end.
func (it *Iterator) Close() {
	it.closing.Do(func() { close(it.stop) })
	<-it.done
}

func (it *Iterator) fail(err error) {
	it.err.CompareAndSwap(nil, &err)
}

// produce fills batches in order and hands them to Next until the epoch ends or Close is called.
func (it *Iterator) produce() {
	defer close(it.done)
	defer close(it.ready)
	l := it.l
	bs := l.o.BatchSize
	nb := l.NumBatches()
	workers := l.o.Workers
	rngs := make([]*rand.Rand, workers)
	for w := range rngs {
		rngs[w] = rand.New(&splitMix{})
	}
	for k := 0; k < nb; k++ {
		var b *Batch
		select {
		case b = <-it.free:
		case <-it.stop:
			return
		}
		lo, hi := k*bs, min((k+1)*bs, len(it.order))
		b.N = hi - lo
		b.X, b.Y, b.Index = b.X[:b.N*l.size], b.Y[:b.N], b.Index[:b.N]
		copy(b.Index, it.order[lo:hi])
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < min(workers, b.N); w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				defer func() {
					if r := recover(); r != nil {
						it.fail(fmt.Errorf("datasets: reading a sample of epoch %d failed: %v", it.epoch, r))
					}
				}()
				for {
					j := int(next.Add(1)) - 1
					if j >= b.N {
						return
					}
					idx := b.Index[j]
					var rng *rand.Rand
					if l.o.Augment {
						rng = rngs[w]
						rng.Seed(int64(mix(uint64(l.o.Seed), uint64(it.epoch), uint64(idx))))
					}
					b.Y[j] = l.ds.Get(idx, b.X[j*l.size:(j+1)*l.size], rng)
				}
			}(w)
		}
		wg.Wait()
		if it.Err() != nil {
			return
		}
		select {
		case it.ready <- b:
		case <-it.stop:
			return
		}
	}
}

// mix hashes its arguments into a 64-bit seed (splitmix64 finaliser over a running sum).
func mix(vs ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vs {
		h = splitMixStep(h ^ v)
	}
	return h
}

func splitMixStep(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// splitMix is a cheap rand.Source64 (splitmix64) so that every sample can get its own seeded
// stream without the cost of seeding math/rand's default source.
type splitMix struct{ state uint64 }

func (s *splitMix) Uint64() uint64 {
	s.state += 0x9e3779b97f4a7c15
	x := s.state
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
func (s *splitMix) Int63() int64    { return int64(s.Uint64() >> 1) }
func (s *splitMix) Seed(seed int64) { s.state = uint64(seed) }
