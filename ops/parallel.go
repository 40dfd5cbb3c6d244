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

// scratch hands out reusable buffers for temporary data (im2col columns, partial sums).
var scratch32, scratch64 sync.Pool

func getScratch[T Float](n int) []T {
	var zero T
	var p *sync.Pool
	if any(zero) == any(float32(0)) {
		p = &scratch32
	} else {
		p = &scratch64
	}
	if v := p.Get(); v != nil {
		s := *(v.(*[]T))
		if cap(s) >= n {
			return s[:n]
		}
	}
	return make([]T, n)
}

func putScratch[T Float](s []T) {
	var zero T
	if any(zero) == any(float32(0)) {
		scratch32.Put(&s)
	} else {
		scratch64.Put(&s)
	}
}
