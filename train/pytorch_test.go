package train_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"tlkit/datasets"
	"tlkit/models"
	"tlkit/torchrand"
	"tlkit/train"
)

// pytorchRuns is the "runs" part of testdata/torch/runs.json: the seed tutorial's recipe in
// PyTorch 1.13 on real MNIST, the running mean loss and accuracy after each of the first steps.
type pytorchRuns struct {
	Runs map[string]struct {
		Seed      int64     `json:"seed"`
		LR        float64   `json:"lr"`
		BatchSize int       `json:"batch_size"`
		MeanLoss  []float64 `json:"mean_loss"`
		MeanAcc   []float64 `json:"mean_acc"`
	} `json:"runs"`
}

// steps records the running means of the training phase and stops the run after len(loss) steps.
type steps struct {
	loss, acc []float64
	n         int
}

var errEnough = errors.New("enough steps")

func (r *steps) Start(train.RunInfo) error { return nil }
func (r *steps) Step(s train.StepInfo) error {
	if s.Phase != "train" {
		return nil
	}
	r.loss[r.n], r.acc[r.n] = s.Loss, s.Acc
	if r.n++; r.n == len(r.loss) {
		return errEnough
	}
	return nil
}
func (r *steps) Epoch(train.EpochStats) error    { return nil }
func (r *steps) Finish([]train.EpochStats) error { return nil }

// TestSeededRunFollowsPyTorch trains the seed's three models on MNIST with PyTorch's seed 0: the
// same initial weights and the same batches (torchrand), so the first step's loss must equal
// PyTorch's to float32 rounding and the following steps must stay on PyTorch's trajectory,
// drifting only by the order of float32 sums (about 4e-7 of the mean loss after 100 steps).
func TestSeededRunFollowsPyTorch(t *testing.T) {
	b, err := os.ReadFile("../testdata/torch/runs.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref pytorchRuns
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	imgs, _, err := datasets.Open("mnist", datasets.DataDir(""))
	if err != nil {
		t.Fatal(err)
	}
	ds := datasets.Transformed(imgs, datasets.Transform{})
	for _, name := range []string{"mlp", "cnn", "lenet5"} {
		run := ref.Runs[name]
		rng := torchrand.New(uint64(run.Seed))
		m, err := models.BuildFrom(name, rng, 10, ds.Shape())
		if err != nil {
			t.Fatal(err)
		}
		tr := train.NewTrainer(m, train.Config{Epochs: 1, BatchSize: run.BatchSize, LR: run.LR, Seed: run.Seed, Shuffler: rng.Shuffles()})
		rec := &steps{loss: make([]float64, len(run.MeanLoss)), acc: make([]float64, len(run.MeanAcc))}
		if err := tr.Fit(t.Context(), ds, nil, rec); !errors.Is(err, errEnough) {
			t.Fatalf("%s: %v", name, err)
		}
		var worst float64
		for i := range rec.loss {
			d := math.Abs(rec.loss[i]-run.MeanLoss[i]) / run.MeanLoss[i]
			worst = max(worst, d)
			if d > 1e-5 || math.Abs(rec.acc[i]-run.MeanAcc[i]) > 0.002 {
				t.Errorf("%s step %d: mean loss %.6f, accuracy %.4f; PyTorch %.6f, %.4f", name, i+1, rec.loss[i], rec.acc[i], run.MeanLoss[i], run.MeanAcc[i])
				break
			}
		}
		t.Logf("%s: %d steps, first loss %.7f (PyTorch %.7f), worst relative difference of the mean loss %.2e",
			name, len(rec.loss), rec.loss[0], run.MeanLoss[0], worst)
	}
}
