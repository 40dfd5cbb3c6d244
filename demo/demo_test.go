package demo

import (
	"context"
	"fmt"
	"testing"

	"tlkit/train"
)

type quiet struct{}

func (quiet) Start(train.RunInfo) error       { return nil }
func (quiet) Step(train.StepInfo) error       { return nil }
func (quiet) Epoch(train.EpochStats) error    { return nil }
func (quiet) Finish([]train.EpochStats) error { return nil }

// The shipped backbone is the one the recipe describes, and it was trained to MNIST accuracy.
func TestEmbeddedBackbone(t *testing.T) {
	l, err := train.LoadBytes(Backbone, "embedded")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d epochs, batch %d, Adam lr %g, seed %d", Recipe.Epochs, Recipe.BatchSize, Recipe.LR, Recipe.Seed)
	if got := l.Meta["tlkit.pretrain_recipe"]; got != want {
		t.Errorf("embedded backbone was made with %q, the recipe is now %q: regenerate it with tlkit demo --pretrain", got, want)
	}
	if tot, _ := l.Model.Count(); tot != 94186 {
		t.Errorf("embedded backbone has %d parameters, DemoNet 94,186", tot)
	}
}

// The demo shows transfer: the pretrained frozen backbone beats the random one by a wide margin.
func TestRunShowsTransfer(t *testing.T) {
	res, err := Run(context.Background(), Options{TrainSubset: 1000, Epochs: 10}, func(string) train.Recorder { return quiet{} })
	if err != nil {
		t.Fatal(err)
	}
	if res.TestImages != 10000 || res.TrainImages != 1000 {
		t.Errorf("scored %d test images after training on %d", res.TestImages, res.TrainImages)
	}
	if res.Pretrained.TestAcc < 0.6 || res.GainPoints < 10 {
		t.Errorf("pretrained %.3f vs random %.3f: transfer should win clearly", res.Pretrained.TestAcc, res.Random.TestAcc)
	}
	if res.Pretrained.Trainable != 1290 {
		t.Errorf("%d trainable parameters, want the head's 1,290", res.Pretrained.Trainable)
	}
	t.Logf("pretrained %.2f%%, random %.2f%%", 100*res.Pretrained.TestAcc, 100*res.Random.TestAcc)
}
