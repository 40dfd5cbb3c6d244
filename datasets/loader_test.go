package datasets

import (
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"
)

// probe is a Dataset whose sample i is filled with i (plus a random draw when an rng is given),
// so a batch shows which samples it holds and what augmentation they got.
type probe struct {
	n     int
	size  int
	delay time.Duration
	panic int // index whose Get panics; -1 for none
}

func (p *probe) Len() int     { return p.n }
func (p *probe) Shape() []int { return []int{p.size} }
func (p *probe) Classes() int { return 7 }
func (p *probe) Get(i int, dst []float32, rng *rand.Rand) int {
	if i == p.panic {
		panic("probe: bad sample")
	}
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
	for k := range dst {
		dst[k] = float32(i)
	}
	if rng != nil {
		dst[len(dst)-1] = float32(rng.Intn(1 << 20))
	}
	return i % 7
}

// epochSamples reads one epoch and returns per dataset index the sample values, checking the
// batch invariants on the way.
func epochSamples(t *testing.T, l *Loader, epoch int) (order []int, samples map[int][]float32) {
	t.Helper()
	samples = map[int][]float32{}
	it := l.Epoch(epoch)
	defer it.Close()
	nb := 0
	for it.Next() {
		b := it.Batch()
		nb++
		size := len(b.X) / b.N
		if len(b.Y) != b.N || len(b.Index) != b.N || len(b.X) != b.N*size {
			t.Fatalf("batch %d: N=%d but %d labels, %d indices, %d values", nb, b.N, len(b.Y), len(b.Index), len(b.X))
		}
		for j, idx := range b.Index {
			if b.Y[j] != idx%7 || b.X[j*size] != float32(idx) {
				t.Fatalf("batch %d slot %d: index %d holds label %d and value %v", nb, j, idx, b.Y[j], b.X[j*size])
			}
			order = append(order, idx)
			samples[idx] = append([]float32(nil), b.X[j*size:(j+1)*size]...)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if nb != l.NumBatches() {
		t.Fatalf("%d batches, NumBatches says %d", nb, l.NumBatches())
	}
	return order, samples
}

func TestLoaderCoversEveryIndexOnce(t *testing.T) {
	for _, c := range []struct {
		n, bs    int
		dropLast bool
		batches  int
		seen     int
	}{
		{10000, 128, false, 79, 10000}, // 78 full batches and one of 16
		{10, 3, false, 4, 10},
		{10, 3, true, 3, 9},
		{6, 3, false, 2, 6},
		{2, 5, false, 1, 2},
		{0, 4, false, 0, 0},
	} {
		for _, shuffle := range []bool{false, true} {
			l := NewLoader(&probe{n: c.n, size: 3, panic: -1}, LoaderOptions{BatchSize: c.bs, Shuffle: shuffle, Seed: 7, DropLast: c.dropLast})
			if l.NumBatches() != c.batches {
				t.Errorf("n=%d bs=%d: %d batches, want %d", c.n, c.bs, l.NumBatches(), c.batches)
			}
			order, _ := epochSamples(t, l, 1)
			if len(order) != c.seen {
				t.Fatalf("n=%d bs=%d drop=%v: read %d samples, want %d", c.n, c.bs, c.dropLast, len(order), c.seen)
			}
			seen := map[int]bool{}
			for k, i := range order {
				if seen[i] || i < 0 || i >= c.n {
					t.Fatalf("index %d read twice or out of range", i)
				}
				seen[i] = true
				if !shuffle && i != k {
					t.Fatalf("unshuffled order has %d at position %d", i, k)
				}
			}
		}
	}
}

// TestLoaderDeterminism checks that the order depends only on (Seed, epoch) and a sample's
// augmentation only on (Seed, epoch, index): batch size and worker count change nothing.
func TestLoaderDeterminism(t *testing.T) {
	ds := &probe{n: 257, size: 4, panic: -1}
	a := NewLoader(ds, LoaderOptions{BatchSize: 16, Shuffle: true, Augment: true, Seed: 42, Workers: 1, Prefetch: 1})
	b := NewLoader(ds, LoaderOptions{BatchSize: 16, Shuffle: true, Augment: true, Seed: 42, Workers: 5, Prefetch: 4})
	c := NewLoader(ds, LoaderOptions{BatchSize: 50, Shuffle: false, Augment: true, Seed: 42, Workers: 3})
	for epoch := 1; epoch <= 2; epoch++ {
		oa, sa := epochSamples(t, a, epoch)
		ob, sb := epochSamples(t, b, epoch)
		_, sc := epochSamples(t, c, epoch)
		if !equalInts(oa, ob) {
			t.Fatalf("epoch %d: orders differ with the worker count", epoch)
		}
		for i := 0; i < ds.n; i++ {
			if sa[i][3] != sb[i][3] || sa[i][3] != sc[i][3] {
				t.Fatalf("epoch %d: sample %d augmented as %v, %v, %v", epoch, i, sa[i][3], sb[i][3], sc[i][3])
			}
		}
	}
	o1, s1 := epochSamples(t, a, 1)
	o2, s2 := epochSamples(t, a, 2)
	if equalInts(o1, o2) {
		t.Error("epochs 1 and 2 have the same order")
	}
	same := 0
	for i := 0; i < ds.n; i++ {
		if s1[i][3] == s2[i][3] {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d samples got the same augmentation in epochs 1 and 2", same)
	}
	o3, _ := epochSamples(t, NewLoader(ds, LoaderOptions{BatchSize: 16, Shuffle: true, Seed: 43}), 1)
	if equalInts(o1, o3) {
		t.Error("seeds 42 and 43 give the same order")
	}
	if !equalInts(o1, a.Order(1)) {
		t.Error("Order(1) differs from what epoch 1 read")
	}
	// Without Augment the dataset gets no rng.
	_, plain := epochSamples(t, NewLoader(ds, LoaderOptions{BatchSize: 16}), 1)
	if plain[5][3] != 5 {
		t.Errorf("sample 5 was augmented without Augment: %v", plain[5])
	}
}

// TestLoaderBuffersRecycled checks that the loader reuses its batch buffers rather than
// allocating one per batch.
func TestLoaderBuffersRecycled(t *testing.T) {
	l := NewLoader(&probe{n: 100, size: 2, panic: -1}, LoaderOptions{BatchSize: 10, Prefetch: 2})
	it := l.Epoch(0)
	defer it.Close()
	bufs := map[*float32]bool{}
	for it.Next() {
		bufs[&it.Batch().X[0]] = true
	}
	if len(bufs) > 3 {
		t.Errorf("%d distinct batch buffers for Prefetch 2, want at most 3", len(bufs))
	}
}

// TestLoaderNoGoroutineLeak closes iterators early, mid-epoch and after the end, and checks that
// every goroutine they started has ended.
func TestLoaderNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := &probe{n: 200, size: 8, delay: 50 * time.Microsecond, panic: -1}
	l := NewLoader(ds, LoaderOptions{BatchSize: 8, Shuffle: true, Augment: true, Workers: 4, Prefetch: 3})
	for k := 0; k < 20; k++ {
		it := l.Epoch(k)
		for j := 0; j < k && it.Next(); j++ {
		}
		it.Close()
		it.Close() // a second Close is harmless
		if it.Next() {
			t.Fatal("Next after Close returned true")
		}
	}
	it := l.Epoch(99)
	for it.Next() {
	}
	it.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines before, %d after", before, n)
	}
}

// TestLoaderReportsPanics turns a Dataset's panic into Err instead of crashing.
func TestLoaderReportsPanics(t *testing.T) {
	l := NewLoader(&probe{n: 50, size: 2, panic: 33}, LoaderOptions{BatchSize: 4})
	it := l.Epoch(0)
	defer it.Close()
	n := 0
	for it.Next() {
		n++
	}
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), "probe: bad sample") {
		t.Errorf("error %v", err)
	}
	if n != 8 {
		t.Errorf("%d batches before the failing one, want 8", n)
	}
}

// TestLoaderWithTransformedImages runs the loader over real transformed images: each batch
// sample equals what Get gives for its index.
func TestLoaderWithTransformedImages(t *testing.T) {
	img := &Images{Name: "tiny", C: 1, H: 4, W: 4, Pixels: make([]uint8, 9*16), Labels: make([]int, 9)}
	for i := range img.Pixels {
		img.Pixels[i] = uint8(i * 7)
	}
	for i := range img.Labels {
		img.Labels[i] = i % 3
	}
	ds := Transformed(img, Transform{Resize: Size{7, 5}, Channels: 3, Mean: MNISTMean, Std: MNISTStd})
	l := NewLoader(ds, LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 3})
	it := l.Epoch(1)
	defer it.Close()
	want := make([]float32, SampleSize(ds))
	total := 0
	for it.Next() {
		b := it.Batch()
		for j, idx := range b.Index {
			if y := ds.Get(idx, want, nil); y != b.Y[j] {
				t.Fatalf("label %d, want %d", b.Y[j], y)
			}
			for k, v := range want {
				if b.X[j*len(want)+k] != v {
					t.Fatalf("sample %d value %d differs", idx, k)
				}
			}
		}
		total += b.N
	}
	if total != 9 || SampleSize(ds) != 3*7*5 {
		t.Errorf("read %d samples of size %d", total, SampleSize(ds))
	}
}

func TestTensorsAndSubset(t *testing.T) {
	data := []float32{0, 1, 10, 11, 20, 21}
	ts, err := NewTensors(data, []int{2}, []int{1, 0, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 2)
	if y := ts.Get(2, dst, nil); y != 1 || dst[0] != 20 || dst[1] != 21 {
		t.Errorf("Get(2) = %d %v", y, dst)
	}
	sub := Subset(ts, []int{2, 0})
	if sub.Len() != 2 || sub.Classes() != 2 || !equalInts(sub.Shape(), []int{2}) {
		t.Errorf("subset: len %d classes %d shape %v", sub.Len(), sub.Classes(), sub.Shape())
	}
	if y := sub.Get(1, dst, nil); y != 1 || dst[0] != 0 {
		t.Errorf("subset Get(1) = %d %v", y, dst)
	}
	for _, bad := range []struct {
		data   []float32
		shape  []int
		labels []int
		k      int
	}{
		{data[:5], []int{2}, []int{1, 0, 1}, 2},
		{data, []int{2}, []int{1, 0, 2}, 2},
		{data, []int{0}, []int{}, 2},
		{data, []int{2}, []int{1, 0, 1}, 0},
	} {
		if _, err := NewTensors(bad.data, bad.shape, bad.labels, bad.k); err == nil {
			t.Errorf("NewTensors(%d values, %v, %v, %d): no error", len(bad.data), bad.shape, bad.labels, bad.k)
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("Subset with an out-of-range index did not panic")
		}
	}()
	Subset(ts, []int{3})
}

// BenchmarkLoaderCIFARTo224 measures one batch of 64 CIFAR-sized images resized to 224×224 with
// augmentation and ImageNet normalisation: the costly path of fine-tuning ImageNet backbones.
func BenchmarkLoaderCIFARTo224(b *testing.B) {
	img := &Images{Name: "bench", C: 3, H: 32, W: 32, Pixels: make([]uint8, 256*3072), Labels: make([]int, 256)}
	for i := range img.Pixels {
		img.Pixels[i] = uint8(i * 13)
	}
	ds := Transformed(img, Transform{RandomCropPadding: 4, HFlip: true, Resize: Size{224, 224}, Mean: ImageNetMean, Std: ImageNetStd})
	l := NewLoader(ds, LoaderOptions{BatchSize: 64, Shuffle: true, Augment: true})
	b.ResetTimer()
	for k := 0; k < b.N; {
		it := l.Epoch(k)
		for k < b.N && it.Next() {
			k++
		}
		it.Close()
	}
}
