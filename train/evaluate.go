package train

import (
	"fmt"

	"tlkit/datasets"
)

// EvalOptions configures a test pass.
type EvalOptions struct {
	BatchSize   int
	Classes     int
	Confusion   bool // keep the confusion matrix
	Predictions bool // keep every sample's predicted class
	// Epoch and Epochs label the progress reports when the pass is part of training.
	Epoch, Epochs int
}

// Evaluate scores every sample of ds (the last partial batch included) with f and reports
// progress to rec (phase "test"); rec may be nil.
func Evaluate(f Forwarder, ds datasets.Dataset, o EvalOptions, rec Recorder) (*Metrics, error) {
	if o.BatchSize == 0 {
		o.BatchSize = 128
	}
	if o.Classes == 0 {
		o.Classes = ds.Classes()
	}
	loader := datasets.NewLoader(ds, datasets.LoaderOptions{BatchSize: o.BatchSize})
	m := NewMetrics(o.Classes, o.Confusion)
	m.KeepPredictions = o.Predictions
	it := loader.Epoch(0)
	defer it.Close()
	step := 0
	for it.Next() {
		b := it.Batch()
		logits, err := f.Forward(b.X, b.N)
		if err != nil {
			return nil, err
		}
		if len(logits) != b.N*o.Classes {
			return nil, fmt.Errorf("the model outputs %d classes but the data has %d", len(logits)/b.N, o.Classes)
		}
		m.Add(logits, b.Y, b.N)
		step++
		if rec != nil {
			if err := rec.Step(StepInfo{Phase: "test", Epoch: o.Epoch, Epochs: o.Epochs, Step: step, Steps: loader.NumBatches(),
				Samples: m.Samples, Loss: m.Loss(), Acc: m.Acc()}); err != nil {
				return nil, err
			}
		}
	}
	return m, it.Err()
}
