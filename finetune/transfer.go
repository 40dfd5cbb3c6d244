package finetune

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tlkit/backbone"
	"tlkit/datasets"
	"tlkit/gpu"
	"tlkit/head"
	"tlkit/nn"
	"tlkit/ort"
	"tlkit/report"
	"tlkit/train"
)

// Job metadata kept in checkpoints.
const (
	MetaJob = "tlkit.job"
)

// TransferOptions configures a transfer-learning run: a new head trained on a frozen backbone.
type TransferOptions struct {
	Data    DataOptions
	Classes int // size of the new head; 0: the dataset's number of classes
	Train   train.Config
	// Engine computes the backbone's features: "auto" (ONNX Runtime when its library is found,
	// tlkit's engine otherwise), "ort" or "tlkit".
	Engine string
	ORTLib string
	// CacheDir holds computed features between runs (default DefaultCacheDir()).
	CacheDir string
	// Checkpoint is written after every epoch and on interruption; "" writes none.
	Checkpoint string
	// Bars receives progress bars of long passes (feature extraction); nil shows none.
	Bars io.Writer
	// Log receives notes for the user; nil discards them.
	Log io.Writer
	// Device, when set, trains (and extracts features) on that CUDA GPU; TF32 allows its tensor
	// cores in float32 products.
	Device *gpu.Device
	TF32   bool
}

// Result describes a finished (or interrupted) job.
type Result struct {
	Model            *nn.Model
	History          []train.EpochStats
	Params           int64
	Trainable        int64
	Extractor        string  // who computed the features ("" when the backbone ran every step)
	CacheHit         bool    // features came from the cache
	FeatureSeconds   float64 // time spent computing (or loading) features
	TrainSamples     int
	TestSamples      int
	Notes            []string
	CheckpointWriter string
}

// DefaultCacheDir is $XDG_CACHE_HOME/tlkit/features or ~/.cache/tlkit/features.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "tlkit", "features")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "tlkit", "features")
	}
	return filepath.Join(os.TempDir(), "tlkit-features")
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// PrepareHead gives m a head of classes outputs: a tlkit checkpoint's trained head is kept when it
// already has that size, any other head is replaced by a new Linear layer (initialised from seed).
func PrepareHead(m *nn.Model, classes int, seed int64) (*nn.Model, *head.Head, error) {
	h, err := head.Find(m)
	if err != nil {
		return nil, nil, err
	}
	if m.Meta[MetaJob] != "" && h.Out == classes && !h.Softmax {
		return m, h, nil
	}
	return head.Replace(m, classes, seed)
}

// headFor gives m (PrepareHead) a head for the dataset's classes; classes, when not 0, must
// agree with them.
func headFor(m *nn.Model, classes int, data *Data, dataset string, seed int64) (*nn.Model, *head.Head, error) {
	if classes == 0 {
		classes = data.Classes
	}
	m, h, err := PrepareHead(m, classes, seed)
	if err != nil {
		return nil, nil, err
	}
	if h.Out != data.Classes {
		return nil, nil, fmt.Errorf("the head has %d classes but %s has %d", h.Out, dataset, data.Classes)
	}
	return m, h, nil
}

// extractor chooses who computes a backbone's features.
func extractor(bb *nn.Model, engine, lib string, dev *gpu.Device, log io.Writer) (backbone.Extractor, error) {
	if dev != nil && (engine == "auto" || engine == "" || engine == "tlkit") {
		return backbone.NewGPUExtractor(dev, bb), nil
	}
	switch engine {
	case "tlkit":
		return backbone.NewEngineExtractor(bb), nil
	case "ort", "auto", "":
		if err := ort.Load(lib); err != nil {
			if engine == "ort" {
				return nil, err
			}
			logf(log, "note: ONNX Runtime is not available, so tlkit's engine computes the features (slower): %v", firstLine(err))
			return backbone.NewEngineExtractor(bb), nil
		}
		return backbone.NewORTExtractor(bb)
	}
	return nil, fmt.Errorf("unknown engine %q (auto, ort or tlkit)", engine)
}

func firstLine(err error) string {
	s := err.Error()
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// headOnly is the head as a model of its own, reading features and sharing the whole model's
// head tensors, so training it trains them.
func headOnly(m *nn.Model, h *head.Head) (*nn.Model, error) {
	hm := &nn.Model{Name: m.Name + " head", Opset: m.Opset, Inputs: []nn.Value{{Name: h.Features, Shape: []int{-1, h.In}}},
		Outputs: []nn.Value{{Name: m.Outputs[0].Name}}, Nodes: h.Nodes}
	for _, p := range h.Params {
		if err := hm.AddTensor(m.Tensor(p)); err != nil {
			return nil, err
		}
	}
	return hm, hm.Check()
}

// Transfer trains a new head on m's frozen backbone. m is an imported network (its head is
// replaced) or a checkpoint; resume, when not nil, is a checkpoint of an interrupted transfer run
// to continue (m is then resume.Model). Without augmentation the backbone's features are computed
// once, cached on disk, and the head trains on them; with augmentation every step runs the
// frozen backbone on fresh images.
func Transfer(ctx context.Context, m *nn.Model, resume *train.Loaded, o TransferOptions, rec train.Recorder) (*Result, error) {
	res := &Result{}
	cfg := o.Train
	cfg.FreezeBN = true
	if resume != nil {
		m = resume.Model
		c, err := resumedConfig(resume, o.Train.Epochs)
		if err != nil {
			return nil, err
		}
		cfg = c
		o.Data.Augment = c.Augment
	}
	cfg.Augment = o.Data.Augment
	data, err := LoadData(o.Data, m)
	if err != nil {
		return nil, err
	}
	res.Notes = append(res.Notes, data.Notes...)
	for _, n := range data.Notes {
		logf(o.Log, "note: %s", n)
	}
	m, h, err := headFor(m, o.Classes, data, o.Data.Name, cfg.Seed)
	if err != nil {
		return nil, err
	}
	head.FreezeBackbone(m, h)
	data.Record(m, o.Data)
	m.Meta[MetaJob] = "transfer"
	res.Model = m
	res.Params, res.Trainable = m.Count()
	res.TrainSamples, res.TestSamples = data.Train.Len(), data.Test.Len()

	var tr *train.Trainer
	trainSet, testSet := data.Train, data.Test
	if o.Data.Augment {
		// Fresh random crops every epoch: the backbone must see every image again.
		tr = train.NewTrainer(m, cfg)
		tr.Device, tr.TF32 = o.Device, o.TF32
		logf(o.Log, "note: --augment changes the images every epoch, so the frozen backbone runs at every step (no feature cache)")
	} else {
		bb, err := backbone.Cut(m, h)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		trainF, testF, name, hit, err := features(bb, data, o)
		if err != nil {
			return nil, err
		}
		res.Extractor, res.CacheHit, res.FeatureSeconds = name, hit, time.Since(start).Seconds()
		hm, err := headOnly(m, h)
		if err != nil {
			return nil, err
		}
		tr = train.NewTrainer(hm, cfg)
		tr.Device, tr.TF32 = o.Device, o.TF32
		tr.Saved = m
		trainSet, testSet = trainF, testF
	}
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
	err = tr.Fit(ctx, trainSet, testSet, rec)
	res.History = tr.History
	return res, err
}

// features returns the backbone's features of the train and test sets, from the cache or computed.
func features(bb *nn.Model, data *Data, o TransferOptions) (trainF, testF *datasets.Tensors, extractorName string, hit bool, err error) {
	fp, err := backbone.Fingerprint(bb)
	if err != nil {
		return nil, nil, "", false, err
	}
	dir := o.CacheDir
	if dir == "" {
		dir = DefaultCacheDir()
	}
	var ex backbone.Extractor
	defer func() {
		if ex != nil {
			ex.Close()
		}
	}()
	hits := 0
	get := func(split string, ds datasets.Dataset) (*datasets.Tensors, error) {
		id := map[string]string{"split": split}
		for k, v := range data.Identity {
			id[k] = v
		}
		t, h, err := backbone.Cached(dir, backbone.CacheKey(fp, id), func() (*datasets.Tensors, error) {
			if ex == nil {
				var err error
				if ex, err = extractor(bb, o.Engine, o.ORTLib, o.Device, o.Log); err != nil {
					return nil, err
				}
			}
			var bar *report.Bar
			progress := func(int) {}
			if o.Bars != nil {
				bar = report.NewBar(o.Bars, int64(ds.Len()), "features ("+split+", "+ex.Name()+")", false)
				last := 0
				progress = func(done int) { bar.Add(int64(done - last)); last = done }
			}
			t, err := backbone.Compute(ds, ex, 64, progress)
			if bar != nil {
				bar.Finish()
			}
			return t, err
		})
		if h {
			hits++
			logf(o.Log, "features (%s): %d from the cache in %s (computed once for this backbone, data and transform)", split, ds.Len(), dir)
		}
		return t, err
	}
	if trainF, err = get("train", data.Train); err != nil {
		return
	}
	if testF, err = get("test", data.Test); err != nil {
		return
	}
	extractorName = "cache"
	if ex != nil {
		extractorName = ex.Name()
	}
	return trainF, testF, extractorName, hits == 2, nil
}

// resumedConfig is the training configuration of the interrupted run in l, with epochs (when
// positive) replacing its epoch count: a resumed run may be extended or shortened.
func resumedConfig(l *train.Loaded, epochs int) (train.Config, error) {
	c, err := l.Config()
	if err == nil && epochs > 0 {
		c.Epochs = epochs
	}
	return c, err
}
