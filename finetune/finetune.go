package finetune

import (
	"context"
	"fmt"
	"io"

	"tlkit/gpu"
	"tlkit/nn"
	"tlkit/optim"
	"tlkit/train"
)

// FinetuneOptions configures fine-tuning of the whole network.
type FinetuneOptions struct {
	Data    DataOptions
	Classes int // 0: the dataset's
	Train   train.Config
	// WarmupEpochs of linear warm-up precede a cosine decay of the learning rate to 0 (timm's
	// schedule); 0 with Cosine false keeps the rate constant.
	Cosine       bool
	WarmupEpochs float64
	Checkpoint   string
	Log          io.Writer
	Device       *gpu.Device // train on this CUDA GPU; nil: the CPU
	TF32         bool
}

// Finetune trains every parameter of m (a new head when m is an imported network; a transfer
// checkpoint's trained head is kept). BatchNorm layers train with batch statistics and update
// their running statistics unless Train.FreezeBN.
func Finetune(ctx context.Context, m *nn.Model, resume *train.Loaded, o FinetuneOptions, rec train.Recorder) (*Result, error) {
	res := &Result{}
	cfg := o.Train
	if resume != nil {
		m = resume.Model
		c, err := resumedConfig(resume, o.Train.Epochs)
		if err != nil {
			return nil, err
		}
		cfg = c
		o.Data.Augment = c.Augment
		if s := m.Meta["tlkit.schedule"]; s != "" {
			fmt.Sscanf(s, "cosine warmup=%g", &o.WarmupEpochs)
			o.Cosine = true
		}
	}
	cfg.Augment = o.Data.Augment
	data, err := LoadData(o.Data, m)
	if err != nil {
		return nil, err
	}
	for _, n := range data.Notes {
		logf(o.Log, "note: %s", n)
	}
	res.Notes = data.Notes
	m, _, err = headFor(m, o.Classes, data, o.Data.Name, cfg.Seed)
	if err != nil {
		return nil, err
	}
	m.Freeze(func(string) bool { return false })
	data.Record(m, o.Data)
	m.Meta[MetaJob] = "finetune"
	if o.Cosine {
		m.Meta["tlkit.schedule"] = fmt.Sprintf("cosine warmup=%g", o.WarmupEpochs)
		steps := (data.Train.Len() + max(cfg.BatchSize, 1) - 1) / max(cfg.BatchSize, 1)
		cfg.Schedule = optim.Cosine{Base: cfg.LR, Warmup: int(o.WarmupEpochs * float64(steps))}
	}
	res.Model = m
	res.Params, res.Trainable = m.Count()
	res.TrainSamples, res.TestSamples = data.Train.Len(), data.Test.Len()
	tr := train.NewTrainer(m, cfg)
	tr.Device, tr.TF32 = o.Device, o.TF32
	tr.Name, tr.Dataset = m.Name, o.Data.Name
	if resume != nil {
		if err := resume.Restore(tr); err != nil {
			return nil, err
		}
	}
	if o.Checkpoint != "" {
		res.CheckpointWriter = o.Checkpoint
		tr.Checkpoint = func(t *train.Trainer) error { return train.SaveState(o.Checkpoint, t) }
	}
	err = tr.Fit(ctx, data.Train, data.Test, rec)
	res.History = tr.History
	return res, err
}
