package finetune

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"tlkit/engine"
	"tlkit/head"
	"tlkit/importer"
	"tlkit/nn"
	"tlkit/train"
)

// The small CIFAR-100 archive the datasets tests build their fixtures from (5 training and 3 test
// images, in the binary layout).
const cifarDir = "../datasets/testdata/cifar/binary"

type quiet struct {
	cancelAfter int
	steps       int
	cancel      context.CancelFunc
}

func (q *quiet) Start(train.RunInfo) error { return nil }
func (q *quiet) Step(s train.StepInfo) error {
	if s.Phase == "train" {
		q.steps++
		if q.cancelAfter > 0 && q.steps == q.cancelAfter {
			q.cancel()
		}
	}
	return nil
}
func (q *quiet) Epoch(train.EpochStats) error    { return nil }
func (q *quiet) Finish([]train.EpochStats) error { return nil }

func resnet(t *testing.T) *nn.Model {
	m, err := importer.ReadFile("../testdata/onnx/resnet_bn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTransferEvalExport(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	ckpt := filepath.Join(dir, "transfer.safetensors")
	o := TransferOptions{
		Data:       DataOptions{Name: "cifar100", Dir: cifarDir},
		Train:      train.Config{Epochs: 3, BatchSize: 2, LR: 1e-2, Seed: 1},
		Engine:     "tlkit",
		CacheDir:   cache,
		Checkpoint: ckpt,
	}
	res, err := Transfer(context.Background(), resnet(t), nil, o, &quiet{})
	if err != nil {
		t.Fatal(err)
	}
	// resnet_bn: a width-8 torchvision ResNet; its 64→10 head becomes 64→100.
	if res.Trainable != 64*100+100 || res.TrainSamples != 5 || res.TestSamples != 3 || res.CacheHit {
		t.Errorf("result %+v", res)
	}
	if len(res.History) != 3 || res.History[2].TestSamples != 3 {
		t.Errorf("history %+v", res.History)
	}
	// The same run again reads the features from the cache and ends identically.
	o.Checkpoint = ""
	again, err := Transfer(context.Background(), resnet(t), nil, o, &quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.CacheHit || again.History[2].TrainLoss != res.History[2].TrainLoss {
		t.Errorf("second run: cache hit %v, loss %v vs %v", again.CacheHit, again.History[2].TrainLoss, res.History[2].TrainLoss)
	}
	// ONNX Runtime computes the same features (the cache is keyed by data, not by engine).
	o.Engine, o.CacheDir = "ort", filepath.Join(dir, "cache-ort")
	viaORT, err := Transfer(context.Background(), resnet(t), nil, o, &quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if viaORT.Extractor != "onnxruntime" || math.Abs(viaORT.History[2].TrainLoss-res.History[2].TrainLoss) > 1e-4 {
		t.Errorf("ONNX Runtime features: extractor %s, loss %v vs %v", viaORT.Extractor, viaORT.History[2].TrainLoss, res.History[2].TrainLoss)
	}

	l, err := train.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if tot, tr := l.Model.Count(); tot != res.Params || tr != res.Trainable {
		t.Errorf("checkpoint counts %d/%d", tot, tr)
	}
	// Evaluation with tlkit's engine and with ONNX Runtime agree sample by sample.
	a, err := Evaluate(l.Model, EvalOptions{Data: DataOptions{Name: "cifar100", Dir: cifarDir}, Engine: "tlkit"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(l.Model, EvalOptions{Data: DataOptions{Name: "cifar100", Dir: cifarDir}, Engine: "ort"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Metrics.Samples != 3 || len(a.Metrics.Predictions) != 3 {
		t.Fatalf("scored %d samples", a.Metrics.Samples)
	}
	for i := range a.Metrics.Predictions {
		if a.Metrics.Predictions[i] != b.Metrics.Predictions[i] {
			t.Errorf("sample %d: tlkit predicts %d, ONNX Runtime %d", i, a.Metrics.Predictions[i], b.Metrics.Predictions[i])
		}
	}
	if math.Abs(a.Metrics.Loss()-b.Metrics.Loss()) > 1e-4 {
		t.Errorf("losses differ: %v vs %v", a.Metrics.Loss(), b.Metrics.Loss())
	}
	// The export runs in ONNX Runtime with tlkit's outputs.
	check, ortErr, err := Export(l.Model, filepath.Join(dir, "m.onnx"), "", 4, 3)
	if err != nil || ortErr != nil {
		t.Fatal(err, ortErr)
	}
	if check.RelL2 > 1e-4 || check.Top1Agree != 1 {
		t.Errorf("export check %+v", check)
	}
}

// Fine-tuning from a transfer checkpoint keeps the trained head; an interrupted fine-tuning run
// resumed from its checkpoint ends with the weights and BatchNorm statistics of an uninterrupted one.
func TestFinetuneKeepsHeadAndResumes(t *testing.T) {
	dir := t.TempDir()
	tckpt := filepath.Join(dir, "transfer.safetensors")
	_, err := Transfer(context.Background(), resnet(t), nil, TransferOptions{Data: DataOptions{Name: "cifar100", Dir: cifarDir},
		Train: train.Config{Epochs: 1, BatchSize: 2, LR: 1e-2, Seed: 1}, Engine: "tlkit", CacheDir: filepath.Join(dir, "c"), Checkpoint: tckpt}, &quiet{})
	if err != nil {
		t.Fatal(err)
	}
	load := func() *train.Loaded {
		l, err := train.Load(tckpt)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	headBefore := append([]float32(nil), load().Model.Tensor("fc.weight").Data...)
	m := load().Model
	kept, _, err := PrepareHead(m, 100, 9)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range kept.Tensor("fc.weight").Data {
		if v != headBefore[i] {
			t.Fatalf("the transfer head was replaced (fc.weight[%d] %v, was %v)", i, v, headBefore[i])
		}
	}

	// Batches of 3 and 2: BatchNorm cannot train on a batch of one 1×1 feature map.
	o := FinetuneOptions{Data: DataOptions{Name: "cifar100", Dir: cifarDir}, Train: train.Config{Epochs: 3, BatchSize: 3, LR: 1e-3, Seed: 2},
		Cosine: true, WarmupEpochs: 1}
	straight, err := Finetune(context.Background(), load().Model, nil, o, &quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if straight.Trainable != straight.Params {
		t.Errorf("fine-tuning trains %d of %d parameters", straight.Trainable, straight.Params)
	}
	fckpt := filepath.Join(dir, "finetune.safetensors")
	o.Checkpoint = fckpt
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := Finetune(ctx, load().Model, nil, o, &quiet{cancelAfter: 3, cancel: cancel}); !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	l, err := train.Load(fckpt)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := Finetune(context.Background(), nil, l, FinetuneOptions{Data: o.Data, Checkpoint: fckpt}, &quiet{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range straight.Model.Tensors() {
		got := resumed.Model.Tensor(tn.Name)
		for i := range tn.Data {
			if got.Data[i] != tn.Data[i] {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", tn.Name, i, got.Data[i], tn.Data[i])
			}
		}
	}
	if _, err := head.Find(resumed.Model); err != nil {
		t.Error(err)
	}
}

// TestImageSize: --image-size refixes a fully convolutional network's input (resnet_bn was
// exported at 32×32) and the network runs at the new size; a model whose layers depend on the
// size (the MLP's Linear reads 28×28 pixels) is refused with a message that says so.
func TestImageSize(t *testing.T) {
	m := resnet(t)
	d, err := LoadData(DataOptions{Name: "cifar100", Dir: cifarDir, ImageSize: 48}, m)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Inputs[0].Shape; s[2] != 48 || s[3] != 48 || d.Transform.Resize.H != 48 || d.Transform.Resize.W != 48 {
		t.Fatalf("input %v, resize %+v; want 48×48", s, d.Transform.Resize)
	}
	x := make([]float32, 3*48*48)
	d.Test.Get(0, x, nil)
	y, err := train.NewCPU(m, engine.Options{}).Forward(x, 1)
	if err != nil || len(y) != 10 {
		t.Fatalf("forward at 48×48: %d outputs, %v", len(y), err)
	}
	mlp, err := importer.ReadFile("../testdata/onnx/mlp.onnx")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadData(DataOptions{Name: "cifar100", Dir: cifarDir, ImageSize: 16}, mlp)
	if err == nil || !strings.Contains(err.Error(), "does not build for 16×16 images") {
		t.Fatalf("MLP at 16×16: %v", err)
	}
	if s := mlp.Inputs[0].Shape; s[2] != 28 || s[3] != 28 {
		t.Errorf("a refused size changed the model's input to %v", s)
	}
}
