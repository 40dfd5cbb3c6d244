package finetune

import (
	"fmt"
	"io"
	"time"

	"tlkit/datasets"
	"tlkit/engine"
	"tlkit/exporter"
	"tlkit/gpu"
	"tlkit/nn"
	"tlkit/ort"
	"tlkit/report"
	"tlkit/train"
)

// EvalOptions configures an evaluation.
type EvalOptions struct {
	Data      DataOptions
	Engine    string      // "tlkit" or "ort"
	Device    *gpu.Device // tlkit's engine on this GPU; nil: the CPU
	ORTLib    string
	BatchSize int // default 128
	Bars      io.Writer
}

// EvalResult is a model's score on a test set.
type EvalResult struct {
	Metrics    *train.Metrics
	ClassNames []string
	Engine     string
	Seconds    float64
}

// Evaluate scores m on the test split of the data with tlkit's engine or ONNX Runtime, keeping
// every prediction and the confusion matrix.
func Evaluate(m *nn.Model, o EvalOptions) (*EvalResult, error) {
	data, err := LoadData(o.Data, m)
	if err != nil {
		return nil, err
	}
	if o.BatchSize == 0 {
		o.BatchSize = 128
	}
	out := m.Outputs[0].Name
	p1, err := engine.Compile(m, engine.Options{Batch: 1})
	if err != nil {
		return nil, err
	}
	if s, ok := p1.ValueShape(out); !ok || len(s) != 2 || s[1] != data.Classes {
		return nil, fmt.Errorf("the model's output %q has shape %v; %s has %d classes", out, s, o.Data.Name, data.Classes)
	}
	start := time.Now()
	res := &EvalResult{ClassNames: data.ClassNames, Engine: o.Engine}
	var bar *report.Bar
	if o.Bars != nil {
		bar = report.NewBar(o.Bars, int64(data.Test.Len()), "eval ("+o.Engine+")", false)
		defer bar.Finish()
	}
	switch o.Engine {
	case "tlkit", "":
		res.Engine = "tlkit"
		rec := barRecorder{bar: bar}
		var f train.Forwarder = train.NewCPU(m, engine.Options{ConstantWeights: true})
		if o.Device != nil {
			res.Engine = "tlkit-cuda"
			f = train.NewGPU(o.Device, m, engine.Options{ConstantWeights: true})
		}
		res.Metrics, err = train.Evaluate(f, data.Test,
			train.EvalOptions{BatchSize: o.BatchSize, Classes: data.Classes, Confusion: true, Predictions: true}, &rec)
	case "ort":
		res.Metrics, err = evaluateORT(m, data, o, bar)
	default:
		return nil, fmt.Errorf("unknown engine %q (tlkit or ort)", o.Engine)
	}
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func evaluateORT(m *nn.Model, data *Data, o EvalOptions, bar *report.Bar) (*train.Metrics, error) {
	if err := ort.Load(o.ORTLib); err != nil {
		return nil, err
	}
	b, err := exporter.Encode(m)
	if err != nil {
		return nil, err
	}
	s, err := ort.NewSession(b, ort.Options{Name: m.Name})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	met := train.NewMetrics(data.Classes, true)
	met.KeepPredictions = true
	loader := datasets.NewLoader(data.Test, datasets.LoaderOptions{BatchSize: o.BatchSize})
	it := loader.Epoch(0)
	defer it.Close()
	shape := make([]int64, len(m.Inputs[0].Shape))
	for i, d := range data.Test.Shape() {
		shape[i+1] = int64(d)
	}
	for it.Next() {
		bt := it.Batch()
		shape[0] = int64(bt.N)
		outs, err := s.Run([]ort.Tensor{{Name: m.Inputs[0].Name, Shape: append([]int64{}, shape...), Data: bt.X}})
		if err != nil {
			return nil, err
		}
		met.Add(outs[0].Data, bt.Y, bt.N)
		if bar != nil {
			bar.Add(int64(bt.N))
		}
	}
	return met, it.Err()
}

// barRecorder moves a progress bar as an evaluation reports batches.
type barRecorder struct {
	bar  *report.Bar
	done int
}

func (r *barRecorder) Start(train.RunInfo) error { return nil }
func (r *barRecorder) Step(s train.StepInfo) error {
	if r.bar != nil {
		r.bar.Add(int64(s.Samples - r.done))
		r.done = s.Samples
	}
	return nil
}
func (r *barRecorder) Epoch(train.EpochStats) error    { return nil }
func (r *barRecorder) Finish([]train.EpochStats) error { return nil }
