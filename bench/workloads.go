package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"tlkit/datasets"
	"tlkit/engine"
	"tlkit/exporter"
	"tlkit/importer"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/optim"
	"tlkit/ort"
	"tlkit/train"
)

type quiet struct{ epochEnd func(int) }

func (quiet) Start(train.RunInfo) error { return nil }
func (quiet) Step(train.StepInfo) error { return nil }
func (q quiet) Epoch(s train.EpochStats) error {
	if q.epochEnd != nil {
		q.epochEnd(s.Epoch)
	}
	return nil
}
func (quiet) Finish([]train.EpochStats) error { return nil }

// Run measures every selected workload and returns the rows.
func Run(ctx context.Context, o Options) ([]Row, error) {
	if o.Repeats == 0 {
		o.Repeats = 3
	}
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
	// withTorch is whether the PyTorch rows get their peer; ONNX Runtime's rows only need o.Peers.
	withTorch := o.Peers
	if withTorch {
		if err := PeerAvailable(o.Python); err != nil {
			o.logf("note: %v; PyTorch columns stay empty", err)
			withTorch = false
		}
	}
	var rows []Row
	add := func(r Row) {
		if len(r.PeerRuns) > 0 {
			r.Peer = Median(r.PeerRuns)
		} else if r.PeerRuns == nil && r.Peer == 0 {
			r.Peer = math.NaN()
		}
		r.TLKit = Median(r.TLKitRuns)
		r.Ratio = ratio(r.Unit, r.TLKit, r.Peer)
		o.logf("%-32s tlkit %10.4g %-5s  %s %10.4g  ratio %.3f", r.Name, r.TLKit, r.Unit, r.PeerName, r.Peer, r.Ratio)
		rows = append(rows, r)
	}
	mnistDir, _ := datasets.GoMNISTDir()
	for _, name := range []string{"mlp", "cnn", "lenet5"} {
		w := "mnist-epoch/" + name
		if !o.wants(w) {
			continue
		}
		o.logf("running %s", w)
		r := Row{Name: w, Unit: "s", PeerName: "pytorch"}
		v, err := mnistEpoch(ctx, name, o.Repeats)
		if err != nil {
			return rows, err
		}
		r.TLKitRuns = v
		if withTorch {
			p, err := torch(ctx, &o, "mnist-epoch", "--model", name, "--mnist", mnistDir, "--repeats", strconv.Itoa(o.Repeats))
			if err != nil {
				return rows, err
			}
			r.PeerRuns = p.Values
		}
		add(r)
	}
	for _, c := range []struct{ batch, size int }{{32, 32}, {8, 224}} {
		w := fmt.Sprintf("resnet34-step/b%d/%d", c.batch, c.size)
		if !o.wants(w) {
			continue
		}
		o.logf("running %s (in a child process, for its peak memory)", w)
		var runs, rss []float64
		for i := 0; i < o.Repeats; i++ {
			v, m, err := child(ctx, &o, w)
			if err != nil {
				return rows, err
			}
			runs, rss = append(runs, v), append(rss, m)
		}
		r := Row{Name: w, Unit: "s", PeerName: "pytorch", TLKitRuns: runs, Note: "full fine-tuning step: forward, backward, Adam"}
		m := Row{Name: w + "/peak-rss", Unit: "MiB", PeerName: "pytorch", TLKitRuns: rss, Note: "peak resident memory of the process"}
		if withTorch {
			var pr, pm []float64
			for i := 0; i < o.Repeats; i++ {
				p, err := torch(ctx, &o, "resnet-step", "--batch", strconv.Itoa(c.batch), "--size", strconv.Itoa(c.size), "--repeats", "3")
				if err != nil {
					return rows, err
				}
				pr, pm = append(pr, Median(p.Values)), append(pm, p.MaxRSS)
			}
			r.PeerRuns, m.PeerRuns = pr, pm
		}
		add(r)
		add(m)
	}
	for _, c := range []struct{ batch, size int }{{8, 224}, {8, 32}} {
		w := fmt.Sprintf("resnet34-forward/b%d/%d", c.batch, c.size)
		if !o.wants(w) {
			continue
		}
		o.logf("running %s", w)
		r, err := forward(c.batch, c.size, o.Repeats, o.Peers)
		if err != nil {
			return rows, err
		}
		add(r)
	}
	if o.wants("transfer-job") {
		o.logf("running transfer-job")
		r, err := transferJob(ctx, &o, withTorch)
		if err != nil {
			return rows, err
		}
		add(r)
	}
	if o.wants("memory-flat") {
		o.logf("running memory-flat (in a child process)")
		v, _, err := child(ctx, &o, "memory-flat")
		if err != nil {
			return rows, err
		}
		add(Row{Name: "memory-flat/epoch2-to-10", Unit: "%", PeerName: "", TLKitRuns: []float64{v}, PeerRuns: []float64{}, Peer: math.NaN(),
			Note: "RSS growth from the end of epoch 2 to the end of epoch 10 (ResNet-34, 32×32, batch 32)"})
	}
	return rows, nil
}

func mnistEpoch(ctx context.Context, name string, repeats int) ([]float64, error) {
	tr, _, err := datasets.Open("mnist", "")
	if err != nil {
		return nil, err
	}
	ds := datasets.Transformed(tr, datasets.Transform{})
	return timeIt(repeats, func() error {
		m, err := models.Build(name, 0, 10, []int{1, 28, 28})
		if err != nil {
			return err
		}
		return train.NewTrainer(m, train.Config{Epochs: 1, BatchSize: 128, LR: 1e-4}).Fit(ctx, ds, nil, quiet{})
	})
}

// importedResNet34 is torchvision's ResNet-34 architecture with a 100-class head, exported to ONNX
// and imported back, as a user's file would be.
func importedResNet34(size int) (*nn.Model, []byte, error) {
	m, err := models.ResNet(34, 64, 1, 100, []int{3, size, size})
	if err != nil {
		return nil, nil, err
	}
	b, err := exporter.Encode(m)
	if err != nil {
		return nil, nil, err
	}
	im, err := importer.Decode(b, "resnet34")
	return im, b, err
}

func randomInput(n int) []float32 {
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// forward times inference of an imported ResNet-34 in tlkit's engine and, when peers is set and
// ONNX Runtime is installed, in ONNX Runtime.
func forward(batch, size, repeats int, peers bool) (Row, error) {
	r := Row{Name: fmt.Sprintf("resnet34-forward/b%d/%d", batch, size), Unit: "img/s", PeerName: "onnxruntime",
		Note: "inference of an imported ResNet-34 (the frozen backbone's work)"}
	m, b, err := importedResNet34(size)
	if err != nil {
		return r, err
	}
	x := randomInput(batch * 3 * size * size)
	// A frozen backbone, as transfer learning runs it: BatchNorm folded into the convolutions.
	p, err := engine.Compile(m, engine.Options{Batch: batch, ConstantWeights: true})
	if err != nil {
		return r, err
	}
	p.SetInput(x)
	t, err := timeIt(repeats, p.Run)
	if err != nil {
		return r, err
	}
	r.TLKitRuns = throughput(batch, t)
	if !peers {
		return r, nil
	}
	if _, err := ort.LibraryPath(""); err != nil {
		r.Note += "; ONNX Runtime not installed (scripts/install-onnxruntime.sh installs it)"
		return r, nil
	}
	s, err := ortSession(b)
	if err != nil {
		return r, err
	}
	defer s.Close()
	in := []ort.Tensor{{Name: "input", Shape: []int64{int64(batch), 3, int64(size), int64(size)}, Data: x}}
	t, err = timeIt(repeats, func() error { _, err := s.Run(in); return err })
	if err != nil {
		return r, err
	}
	r.PeerRuns = throughput(batch, t)
	return r, nil
}

// ortSession opens the ONNX model b in ONNX Runtime (the installed library) on all cores.
func ortSession(b []byte) (*ort.Session, error) {
	if err := ort.Load(""); err != nil {
		return nil, err
	}
	return ort.NewSession(b, ort.Options{Threads: runtime.GOMAXPROCS(0)})
}

// transferJob times tlkit's transfer job against the seed tutorial's PyTorch recipe for 10 epochs
// over 10,000 CIFAR-100 images at 224×224. tlkit computes the frozen backbone's features once
// (ONNX Runtime, train and test split), then trains the head from the cache; PyTorch runs the
// frozen backbone on every image in every epoch. Backbone passes are timed on a sample of images
// and scaled; head training runs in full.
func transferJob(ctx context.Context, o *Options, withTorch bool) (Row, error) {
	const sample = 128
	r := Row{Name: "transfer-job/10x10000/224", Unit: "s", PeerName: "pytorch (seed recipe)",
		Note: fmt.Sprintf("backbone passes timed on %d images and scaled to 10,000 (tlkit: train and test features once; PyTorch: train images every epoch)", sample)}
	_, b, err := importedResNet34(224)
	if err != nil {
		return r, err
	}
	s, err := ortSession(b)
	if err != nil {
		return r, err
	}
	defer s.Close()
	x := randomInput(32 * 3 * 224 * 224)
	in := []ort.Tensor{{Name: "input", Shape: []int64{32, 3, 224, 224}, Data: x}}
	for i := 0; i < o.Repeats; i++ {
		t0 := time.Now()
		for done := 0; done < sample; done += 32 {
			if _, err := s.Run(in); err != nil {
				return r, err
			}
		}
		perImage := time.Since(t0).Seconds() / sample
		extract := perImage * 20000 // train and test features, once
		// Head training: 10 epochs over 10,000 cached 512-wide features, scored on 10,000 each epoch.
		feats := randomInput(10000 * 512)
		labels := make([]int, 10000)
		for j := range labels {
			labels[j] = j % 100
		}
		ds, err := datasets.NewTensors(feats, []int{512}, labels, 100)
		if err != nil {
			return r, err
		}
		hb := nn.NewBuilder("head", 0, 512)
		hm, err := hb.Finish(hb.Linear(hb.Input(), "fc", 512, 100))
		if err != nil {
			return r, err
		}
		t1 := time.Now()
		if err := train.NewTrainer(hm, train.Config{Epochs: 10, BatchSize: 128, LR: 1e-4}).Fit(ctx, ds, ds, quiet{}); err != nil {
			return r, err
		}
		r.TLKitRuns = append(r.TLKitRuns, extract+time.Since(t1).Seconds())
	}
	if withTorch {
		p, err := torch(ctx, o, "transfer-recipe", "--images", strconv.Itoa(sample), "--repeats", strconv.Itoa(o.Repeats))
		if err != nil {
			return r, err
		}
		r.PeerRuns = p.Values
	}
	return r, nil
}

// Worker runs one workload in this process (tlkit bench --worker NAME) and returns its figure.
func Worker(name string, repeats int) (float64, error) {
	switch name {
	case "resnet34-step/b32/32":
		return step(32, 32, repeats)
	case "resnet34-step/b8/224":
		return step(8, 224, repeats)
	case "memory-flat":
		return memoryFlat()
	}
	return 0, fmt.Errorf("unknown worker %q", name)
}

// step returns the median time of a full fine-tuning step of ResNet-34.
func step(batch, size, repeats int) (float64, error) {
	m, err := models.ResNet(34, 64, 0, 100, []int{3, size, size})
	if err != nil {
		return 0, err
	}
	p, err := engine.Compile(m, engine.Options{Batch: batch, Train: true})
	if err != nil {
		return 0, err
	}
	p.SetInput(randomInput(batch * 3 * size * size))
	p.SetLabels(randomLabels(batch, 100))
	opt := optim.NewAdam(1e-4)
	t, err := timeIt(max(repeats, 3), func() error {
		if err := p.Run(); err != nil {
			return err
		}
		return opt.Update(p.GradParams())
	})
	if err != nil {
		return 0, err
	}
	return Median(t), nil
}

// rssMiB is the resident set size of this process.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return math.NaN()
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return float64(res*int64(os.Getpagesize())) / (1 << 20)
}

// memoryFlat trains ResNet-34 (32×32, batch 32) for 10 short epochs and returns the growth of the
// resident memory from the end of epoch 2 to the end of epoch 10, in percent.
func memoryFlat() (float64, error) {
	m, err := models.ResNet(34, 64, 0, 10, []int{3, 32, 32})
	if err != nil {
		return 0, err
	}
	n := 32 * 6
	x := randomInput(n * 3 * 32 * 32)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 10
	}
	ds, err := datasets.NewTensors(x, []int{3, 32, 32}, y, 10)
	if err != nil {
		return 0, err
	}
	var at2, at10 float64
	rec := quiet{epochEnd: func(e int) {
		runtime.GC()
		switch e {
		case 2:
			at2 = rssMiB()
		case 10:
			at10 = rssMiB()
		}
	}}
	if err := train.NewTrainer(m, train.Config{Epochs: 10, BatchSize: 32, LR: 1e-4}).Fit(context.Background(), ds, nil, rec); err != nil {
		return 0, err
	}
	return 100 * (at10 - at2) / at2, nil
}

// randomLabels draws n class indices, so the loss stays that of an untrained network (all-equal
// labels drive it to zero in a few steps, and the tiny gradients that follow are subnormal floats,
// which time something else).
func randomLabels(n, classes int) []int {
	rng := rand.New(rand.NewSource(2))
	y := make([]int, n)
	for i := range y {
		y[i] = rng.Intn(classes)
	}
	return y
}

// Profile runs a ResNet-34 fine-tuning step (batch, size×size) a few times and reports where the
// time goes: each kind of op's share of the step, and the optimizer's.
func Profile(batch, size, steps int) (string, error) {
	m, err := models.ResNet(34, 64, 0, 100, []int{3, size, size})
	if err != nil {
		return "", err
	}
	p, err := engine.Compile(m, engine.Options{Batch: batch, Train: true})
	if err != nil {
		return "", err
	}
	p.SetInput(randomInput(batch * 3 * size * size))
	p.SetLabels(randomLabels(batch, 100))
	opt := optim.NewAdam(1e-4)
	var adam time.Duration
	step := func() error {
		if err := p.Run(); err != nil {
			return err
		}
		t0 := time.Now()
		err := opt.Update(p.GradParams())
		adam += time.Since(t0)
		return err
	}
	if err := step(); err != nil {
		return "", err
	}
	adam = 0
	p.Profile(true, false)
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		if err := step(); err != nil {
			return "", err
		}
	}
	total := time.Since(t0) / time.Duration(steps)
	type kv struct {
		k string
		v time.Duration
	}
	var kvs []kv
	for k, v := range p.ProfileTimes() {
		kvs = append(kvs, kv{k, v / time.Duration(steps)})
	}
	kvs = append(kvs, kv{"Adam (optim)", adam / time.Duration(steps)})
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
	var b strings.Builder
	fmt.Fprintf(&b, "ResNet-34 fine-tuning step, batch %d, %d×%d: %.1f ms (mean of %d steps after a warm-up)\n", batch, size, size, float64(total.Microseconds())/1000, steps)
	fmt.Fprintf(&b, "| op | ms per step | share |\n|---|---:|---:|\n")
	for _, e := range kvs {
		if e.v < 100*time.Microsecond {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.1f%% |\n", e.k, float64(e.v.Microseconds())/1000, 100*float64(e.v)/float64(total))
	}
	return b.String(), nil
}
