// Package demo is tlkit's offline transfer-learning demonstration: a small backbone pretrained on
// MNIST digits ships inside the binary and is transferred, frozen, to Fashion-MNIST beside the same
// network with random weights, so the value of pretraining is visible in a couple of minutes on
// two cores without any download.
package demo

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"time"

	"tlkit/datasets"
	"tlkit/finetune"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/train"
)

// Backbone is DemoNet pretrained by Pretrain with the recipe below (regenerate with
// `tlkit demo --pretrain demo/backbone.safetensors`).
//
//go:embed backbone.safetensors
var Backbone []byte

// Recipe is how Backbone was pretrained: MNIST's 60,000 training digits, pixels in [0,1], Adam.
var Recipe = train.Config{Epochs: 3, BatchSize: 128, LR: 1e-3, Seed: 0}

// Pretrain trains DemoNet on MNIST with Recipe and writes it to path.
func Pretrain(ctx context.Context, dataDir, path string, rec train.Recorder) (*nn.Model, error) {
	tr, te, err := datasets.Open("mnist", datasets.DataDir(dataDir))
	if err != nil {
		return nil, err
	}
	m, err := models.Build("demonet", Recipe.Seed, 10, []int{1, 28, 28})
	if err != nil {
		return nil, err
	}
	t := train.NewTrainer(m, Recipe)
	t.Name, t.Dataset = "demonet", "mnist"
	if err := t.Fit(ctx, datasets.Transformed(tr, datasets.Transform{}), datasets.Transformed(te, datasets.Transform{}), rec); err != nil {
		return nil, err
	}
	last := t.History[len(t.History)-1]
	meta := map[string]string{"tlkit.pretrained_on": "mnist", "tlkit.pretrain_test_accuracy": fmt.Sprintf("%.4f", last.TestAcc),
		"tlkit.pretrain_recipe": fmt.Sprintf("%d epochs, batch %d, Adam lr %g, seed %d", Recipe.Epochs, Recipe.BatchSize, Recipe.LR, Recipe.Seed)}
	return m, train.SaveModel(path, m, meta)
}

// Options configures Run.
type Options struct {
	DataDir     string
	TrainSubset int // Fashion-MNIST training images the head sees (default 2,000)
	Epochs      int // head training epochs (default 20)
	Seed        int64
	Bars        io.Writer
	Log         io.Writer
}

// Arm is one side of the comparison.
type Arm struct {
	Backbone   string             `json:"backbone"`
	TestAcc    float64            `json:"test_accuracy"`
	TrainAcc   float64            `json:"train_accuracy"`
	Trainable  int64              `json:"trainable"`
	Params     int64              `json:"params"`
	History    []train.EpochStats `json:"history"`
	FeatureSec float64            `json:"feature_seconds"`
}

// Result is the demo's outcome.
type Result struct {
	Target      string  `json:"dataset"`
	TrainImages int     `json:"train_images"`
	TestImages  int     `json:"test_images"`
	Pretrained  Arm     `json:"pretrained"`
	Random      Arm     `json:"random_init"`
	GainPoints  float64 `json:"gain_points"`
	Seconds     float64 `json:"seconds"`
}

// Run transfers the embedded pretrained backbone and a randomly initialised one to Fashion-MNIST:
// each keeps its backbone frozen, features are computed once, and a new Linear head trains on a
// subset of the training images; both are scored on all 10,000 test images.
func Run(ctx context.Context, o Options, rec func(arm string) train.Recorder) (*Result, error) {
	if o.TrainSubset == 0 {
		o.TrainSubset = 2000
	}
	if o.Epochs == 0 {
		o.Epochs = 20
	}
	start := time.Now()
	l, err := train.LoadBytes(Backbone, "embedded demo backbone")
	if err != nil {
		return nil, err
	}
	random, err := models.Build("demonet", o.Seed+1000, 10, []int{1, 28, 28})
	if err != nil {
		return nil, err
	}
	res := &Result{Target: "fashion-mnist"}
	for _, arm := range []struct {
		name string
		m    *nn.Model
		dst  *Arm
	}{{"pretrained on MNIST", l.Model, &res.Pretrained}, {"random initialisation", random, &res.Random}} {
		o := finetune.TransferOptions{
			Data:   finetune.DataOptions{Name: "fashion-mnist", Dir: o.DataDir, TrainSubset: o.TrainSubset, Seed: o.Seed},
			Train:  train.Config{Epochs: o.Epochs, BatchSize: 128, LR: 1e-2, Seed: o.Seed},
			Engine: "tlkit", Bars: o.Bars, Log: o.Log,
		}
		r, err := finetune.Transfer(ctx, arm.m, nil, o, rec(arm.name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arm.name, err)
		}
		last := r.History[len(r.History)-1]
		*arm.dst = Arm{Backbone: arm.name, TestAcc: last.TestAcc, TrainAcc: last.TrainAcc, Trainable: r.Trainable, Params: r.Params,
			History: r.History, FeatureSec: r.FeatureSeconds}
		res.TrainImages, res.TestImages = r.TrainSamples, r.TestSamples
	}
	res.GainPoints = 100 * (res.Pretrained.TestAcc - res.Random.TestAcc)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
