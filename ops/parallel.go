package ops

import (
	"runtime"
	"sync"
)

// workers is how many goroutines a kernel splits its work over.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallelFor runs fn over [0,n) split into contiguous ranges, one per worker, and waits. Work
// smaller than grain items runs on the calling goroutine.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	w := workers()
	if grain < 1 {
		grain = 1
	}
	if n <= grain || w == 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	if max := (n + grain - 1) / grain; w > max {
		w = max
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := chunk; lo < n; lo += chunk {
		hi := lo + chunk
		if hi > n {
			hi = n
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	hi := chunk
	if hi > n {
		hi = n
	}
	fn(0, hi)
	wg.Wait()
}

// parallelTasks runs fn(task, worker) for every task in [0,n) on up to workers() goroutines.
// Worker w takes tasks w, w+W, w+2W, ... in order: a fixed assignment, so per-worker partial sums
// (a convolution's weight gradient) add up in the same order on every run.
func parallelTasks(n int, fn func(task, worker int)) {
	w := workers()
	if w > n {
		w = n
	}
	if w <= 1 {
		for t := 0; t < n; t++ {
			fn(t, 0)
		}
		return
	}
	var wg sync.WaitGroup
	for k := 1; k < w; k++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for t := worker; t < n; t += w {
				fn(t, worker)
			}
		}(k)
	}
	for t := 0; t < n; t += w {
		fn(t, 0)
	}
	wg.Wait()
}

// scratch hands out reusable buffers for temporary data (im2col columns, partial sums). A
// training step asks for the same sizes every time, so buffers are pooled by exact length: one
// pool for all sizes would hand back buffers too small to use, and every fresh allocation of
// megabytes costs page faults.
var scratch sync.Map // scratchKey -> *sync.Pool

type scratchKey struct {
	f64 bool
	n   int
}

func scratchPool[T Float](n int) *sync.Pool {
	var zero T
	k := scratchKey{any(zero) != any(float32(0)), n}
	if p, ok := scratch.Load(k); ok {
		return p.(*sync.Pool)
	}
	p, _ := scratch.LoadOrStore(k, &sync.Pool{})
	return p.(*sync.Pool)
}

func getScratch[T Float](n int) []T {
	if v := scratchPool[T](n).Get(); v != nil {
		return *(v.(*[]T))
	}
	return make([]T, n)
}

func putScratch[T Float](s []T) {
	scratchPool[T](len(s)).Put(&s)
}
