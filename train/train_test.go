package train

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"tlkit/datasets"
	"tlkit/nn"
)

// tinyData is a learnable synthetic problem: the class is which quadrant of an 8×8 image is brightest.
func tinyData(t *testing.T, n int, seed int64) datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	x := make([]float32, n*64)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		c := rng.Intn(4)
		y[i] = c
		for p := 0; p < 64; p++ {
			v := rng.Float32() * 0.5
			r, col := p/8, p%8
			if (r >= 4) == (c >= 2) && (col >= 4) == (c%2 == 1) {
				v += 0.5
			}
			x[i*64+p] = v
		}
	}
	ds, err := datasets.NewTensors(x, []int{1, 8, 8}, y, 4)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func tinyModel(t *testing.T, seed int64) *nn.Model {
	b := nn.NewBuilder("tiny", seed, 1, 8, 8)
	x := b.Conv(b.Input(), "conv", 1, 4, 3, nn.ConvOpts{Pad: 1})
	x = b.BatchNorm(x, "bn", 4)
	x = b.Act(x, "Relu")
	x = b.MaxPool(x, 2, 2, 0)
	x = b.Flatten(x)
	x = b.Linear(x, "fc", 64, 4)
	m, err := b.Finish(x)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// nop is a Recorder that shows nothing; stopAfter cancels the run after some training steps.
type nop struct {
	stopAfter int
	steps     int
	cancel    context.CancelFunc
}

func (r *nop) Start(RunInfo) error { return nil }
func (r *nop) Step(s StepInfo) error {
	if s.Phase == "train" {
		r.steps++
		if r.stopAfter > 0 && r.steps == r.stopAfter {
			r.cancel()
		}
	}
	return nil
}
func (r *nop) Epoch(EpochStats) error    { return nil }
func (r *nop) Finish([]EpochStats) error { return nil }

var recipe = Config{Epochs: 3, BatchSize: 16, LR: 1e-2, Seed: 7}

func weights(m *nn.Model) map[string][]float32 {
	w := map[string][]float32{}
	for _, t := range m.Tensors() {
		if t.Data != nil {
			w[t.Name] = append([]float32(nil), t.Data...)
		}
	}
	return w
}

func sameWeights(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	for name, va := range a {
		vb := b[name]
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("%s[%d]: %v vs %v", name, i, va[i], vb[i])
			}
		}
	}
}

func TestFitLearnsAndIsDeterministic(t *testing.T) {
	train, test := tinyData(t, 203, 1), tinyData(t, 50, 2) // 203: the last batch is partial
	run := func() (*Trainer, map[string][]float32) {
		m := tinyModel(t, 3)
		tr := NewTrainer(m, recipe)
		if err := tr.Fit(context.Background(), train, test, &nop{}); err != nil {
			t.Fatal(err)
		}
		return tr, weights(m)
	}
	a, wa := run()
	b, wb := run()
	sameWeights(t, wa, wb)
	last := a.History[len(a.History)-1]
	if last.TestAcc < 0.9 || last.TrainSamples != 203 || last.TestSamples != 50 {
		t.Errorf("after 3 epochs: %+v", last)
	}
	for i := range a.History {
		if a.History[i].TrainLoss != b.History[i].TrainLoss || a.History[i].TestAcc != b.History[i].TestAcc {
			t.Errorf("epoch %d differs between identical runs", i+1)
		}
	}
}

// An interrupted run, resumed from its checkpoint, ends with exactly the weights, BatchNorm
// statistics and metrics of an uninterrupted one.
func TestResumeEqualsUninterrupted(t *testing.T) {
	train, test := tinyData(t, 203, 1), tinyData(t, 50, 2)
	m := tinyModel(t, 3)
	straight := NewTrainer(m, recipe)
	if err := straight.Fit(context.Background(), train, test, &nop{}); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	m2 := tinyModel(t, 3)
	first := NewTrainer(m2, recipe)
	first.Checkpoint = func(tr *Trainer) error { return SaveState(path, tr) }
	ctx, cancel := context.WithCancel(context.Background())
	rec := &nop{stopAfter: 13 + 5, cancel: cancel} // mid-epoch 2 (13 batches per epoch)
	if err := first.Fit(ctx, train, test, rec); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run returned %v", err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Config()
	if err != nil {
		t.Fatal(err)
	}
	resumed := NewTrainer(l.Model, cfg)
	if err := l.Restore(resumed); err != nil {
		t.Fatal(err)
	}
	if resumed.Pos.Epoch != 1 || resumed.Pos.Batch != 5 || resumed.Pos.EpochElapsed <= 0 {
		t.Fatalf("resumed at %+v, want epoch 1 done and 5 batches of epoch 2, with their time", resumed.Pos)
	}
	before := resumed.Pos.EpochElapsed
	if err := resumed.Fit(context.Background(), train, test, &nop{}); err != nil {
		t.Fatal(err)
	}
	if e := resumed.History[1].EpochTime; e < before {
		t.Errorf("resumed epoch 2 took %v, less than the %v spent on it before the interruption", e, before)
	}
	sameWeights(t, weights(m), weights(l.Model))
	for i := range straight.History {
		a, b := straight.History[i], resumed.History[i]
		if a.TrainLoss != b.TrainLoss || a.TrainAcc != b.TrainAcc || a.TestAcc != b.TestAcc {
			t.Errorf("epoch %d: straight %+v, resumed %+v", i+1, a, b)
		}
	}
}

func TestNaNStopsAndKeepsCheckpoint(t *testing.T) {
	train := tinyData(t, 64, 1)
	m := tinyModel(t, 3)
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	cfg := recipe
	cfg.LR = 1e30
	tr := NewTrainer(m, cfg)
	saved := 0
	tr.Checkpoint = func(tr *Trainer) error { saved++; return SaveState(path, tr) }
	err := tr.Fit(context.Background(), train, nil, &nop{})
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want a NonFiniteError", err)
	}
	if nf.Checkpointed != (saved > 0) {
		t.Errorf("the error says checkpointed=%v after %d checkpoints: %v", nf.Checkpointed, saved, err)
	}
	if nf.Epoch > 1 {
		if _, err := Load(path); err != nil {
			t.Errorf("the last good checkpoint does not load: %v", err)
		}
	} else if _, err := os.Stat(path); err == nil && saved == 0 {
		t.Error("a checkpoint appeared without a completed epoch")
	}
}
