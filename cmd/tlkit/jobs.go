package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"tlkit/atomicfile"
	"tlkit/finetune"
	"tlkit/nn"
	"tlkit/report"
	"tlkit/train"
)

// jobDataFlags are the data flags transfer, finetune and eval share.
func jobDataFlags(subset int) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data", Value: "cifar100", Usage: "dataset: cifar100, cifar100-coarse (CIFAR-100's 20 superclasses), mnist or fashion-mnist"},
		&cli.StringFlag{Name: "data-dir", Usage: "where datasets live, each as its archive extracts (cifar-100-binary/, cifar-100-python/, mnist/ ...); default $TLKIT_DATA, then ~/.cache/tlkit/data"},
		&cli.IntFlag{Name: "image-size", Usage: "side images are resized to (default: the size the model fixes, what the checkpoint was trained at, or 224); another size than the model's refixes its input, which fully convolutional networks such as ResNets allow (32 trains on CIFAR's own size)"},
		&cli.IntFlag{Name: "train-subset", Value: subset, Usage: "train on a seeded random subset of this many images (0: all)"},
		&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the subset, the new head, shuffling and augmentation"},
	}
}

// dataOptions reads the data flags; for a resumed run, the checkpoint's recorded options hold
// wherever a flag was not given, so the run continues on the same images.
func dataOptions(c *cli.Context, resume *train.Loaded) finetune.DataOptions {
	o := finetune.DataOptions{Name: c.String("data"), Dir: c.String("data-dir"), ImageSize: c.Int("image-size"),
		TrainSubset: c.Int("train-subset"), Seed: c.Int64("seed"), Augment: c.Bool("augment")}
	if resume == nil {
		return o
	}
	rec, ok := finetune.RecordedData(resume.Model)
	if !ok {
		return o
	}
	if !c.IsSet("data") {
		o.Name = rec.Name
	}
	if !c.IsSet("image-size") {
		o.ImageSize = rec.ImageSize
	}
	if !c.IsSet("train-subset") {
		o.TrainSubset = rec.TrainSubset
	}
	if !c.IsSet("seed") {
		o.Seed = rec.Seed
	}
	if !c.IsSet("augment") {
		o.Augment = rec.Augment
	}
	return o
}

func trainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "classes", Usage: "classes of the new head (default: the dataset's)"},
		&cli.IntFlag{Name: "epochs", Value: 10, Usage: "passes over the training set"},
		&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "samples per mini-batch"},
		&cli.Float64Flag{Name: "lr", Value: 1e-4, Usage: "Adam learning rate"},
		&cli.BoolFlag{Name: "augment", Usage: "random crops (padding 4) and horizontal flips of training images"},
		&cli.StringFlag{Name: "out", Usage: "directory for checkpoint.safetensors (every epoch, atomically), metrics.csv and curves.png"},
		&cli.StringFlag{Name: "resume", Usage: "continue an interrupted run from its checkpoint (weights, BatchNorm statistics, optimizer, position, recipe); --epochs may change the run's length"},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON object with the results when done (and nothing else on stdout)"},
		ortFlag(),
		deviceFlag(),
		tf32Flag(),
	}
}

func deviceFlag() cli.Flag {
	return &cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, or cuda: tlkit's own CUDA backend (NVIDIA libraries loaded at run time: libcuda, cudart, cuBLAS, cuDNN 9, NVRTC)"}
}

func tf32Flag() cli.Flag {
	return &cli.BoolFlag{Name: "tf32", Usage: "with --device cuda, let float32 products use TF32 tensor cores (faster, ~1e-3 relative rounding; off by default, as PyTorch's matmul default)"}
}

func trainConfig(c *cli.Context) (train.Config, error) {
	cfg := train.Config{Epochs: c.Int("epochs"), BatchSize: c.Int("batch-size"), LR: c.Float64("lr"), Seed: c.Int64("seed"),
		Augment: c.Bool("augment")}
	if cfg.Epochs < 1 || cfg.BatchSize < 1 || cfg.LR <= 0 {
		return cfg, cli.Exit("--epochs, --batch-size and --lr must be positive", 2)
	}
	return cfg, nil
}

// jobRun holds what transfer and finetune share: model loading, recorders, signals, output.
type jobRun struct {
	c       *cli.Context
	model   *nn.Model
	resume  *train.Loaded
	out     string
	ckpt    string
	rec     train.Recorder
	ctx     context.Context
	stop    func()
	started time.Time
}

func startJob(c *cli.Context, name string) (*jobRun, error) {
	j := &jobRun{c: c, out: c.String("out"), started: time.Now()}
	if r := c.String("resume"); r != "" {
		l, err := train.Load(r)
		if err != nil {
			return nil, err
		}
		if !l.HasState {
			return nil, fmt.Errorf("%s holds weights only; --resume needs a checkpoint written during training", r)
		}
		if job := l.Model.Meta[finetune.MetaJob]; job != name {
			return nil, fmt.Errorf("%s is a %s checkpoint; resume it with tlkit %s", r, job, job)
		}
		j.resume, j.model = l, l.Model
		if j.out == "" {
			j.out = filepath.Dir(r)
		}
	} else {
		if c.NArg() != 1 {
			return nil, cli.Exit(name+" takes one MODEL argument: an ONNX file or a tlkit checkpoint (see tlkit "+name+" --help)", 2)
		}
		m, err := loadModel(c.Args().First(), "", 0)
		if err != nil {
			return nil, err
		}
		j.model = m
	}
	recs := []train.Recorder{report.NewConsole(os.Stdout, os.Stderr, c.Bool("json"))}
	if j.out != "" {
		if err := os.MkdirAll(j.out, 0o755); err != nil {
			return nil, err
		}
		j.ckpt = filepath.Join(j.out, "checkpoint.safetensors")
		title := fmt.Sprintf("%s %s on %s", name, j.model.Name, c.String("data"))
		plot := report.NewPlot(filepath.Join(j.out, "curves.png"), title)
		if j.resume != nil {
			var hist []train.EpochStats
			_ = json.Unmarshal([]byte(j.resume.Meta["tlkit.history"]), &hist)
			plot = plot.WithHistory(hist)
		}
		recs = append(recs, report.NewCSV(filepath.Join(j.out, "metrics.csv")), plot)
	}
	j.rec = report.Multi(recs...)
	j.ctx, j.stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return j, nil
}

// jobResult is what --json prints for transfer and finetune.
type jobResult struct {
	Job            string             `json:"job"`
	Model          string             `json:"model"`
	Dataset        string             `json:"dataset"`
	Epochs         int                `json:"epochs"`
	TrainAccuracy  float64            `json:"train_accuracy"`
	TestAccuracy   float64            `json:"test_accuracy"`
	TestLoss       float64            `json:"test_loss"`
	TrainSamples   int                `json:"train_samples"`
	TestSamples    int                `json:"test_samples"`
	Params         int64              `json:"params"`
	Trainable      int64              `json:"trainable"`
	NonTrainable   int64              `json:"non_trainable"`
	Seconds        float64            `json:"seconds"`
	FeatureEngine  string             `json:"feature_engine,omitempty"`
	FeatureCache   bool               `json:"feature_cache_hit,omitempty"`
	FeatureSeconds float64            `json:"feature_seconds,omitempty"`
	Checkpoint     string             `json:"checkpoint,omitempty"`
	Notes          []string           `json:"notes,omitempty"`
	History        []train.EpochStats `json:"history"`
}

func (j *jobRun) finish(job string, res *finetune.Result, err error) error {
	defer j.stop()
	if errors.Is(err, train.ErrInterrupted) {
		msg := "interrupted"
		if j.ckpt != "" {
			msg += fmt.Sprintf("; the state was saved: resume with tlkit %s --resume %s", job, j.ckpt)
			if j.c.IsSet("data-dir") { // a checkpoint records the data options, not where they are on this machine
				msg += " --data-dir " + j.c.String("data-dir")
			}
		}
		return cli.Exit(msg, 130)
	}
	if err != nil {
		return err
	}
	if !j.c.Bool("json") {
		if j.ckpt != "" {
			fmt.Printf("checkpoint: %s\n", j.ckpt)
		}
		return nil
	}
	r := jobResult{Job: job, Model: res.Model.Name, Dataset: j.c.String("data"), Epochs: len(res.History), TrainSamples: res.TrainSamples,
		TestSamples: res.TestSamples, Params: res.Params, Trainable: res.Trainable, NonTrainable: res.Params - res.Trainable,
		Seconds: time.Since(j.started).Seconds(), FeatureEngine: res.Extractor, FeatureCache: res.CacheHit, FeatureSeconds: res.FeatureSeconds,
		Checkpoint: j.ckpt, Notes: res.Notes, History: res.History}
	if n := len(res.History); n > 0 {
		last := res.History[n-1]
		r.TrainAccuracy, r.TestAccuracy, r.TestLoss = last.TrainAcc, last.TestAcc, last.TestLoss
	}
	return printJSON(r)
}

func transferCommand() *cli.Command {
	return &cli.Command{
		Name:      "transfer",
		Usage:     "train a new classification head on a frozen pretrained backbone",
		ArgsUsage: "MODEL.onnx|CHECKPOINT",
		Description: `Imports MODEL (an ONNX file, e.g. a torchvision ResNet-34 export, or a tlkit checkpoint), replaces its
classification head by a new Linear layer for the dataset's classes (--classes), freezes everything
else (BatchNorm in inference mode, statistics untouched) and trains the head with Adam.

The frozen backbone's output does not change, so tlkit computes each image's features once (with
ONNX Runtime when installed, tlkit's engine otherwise), caches them on disk keyed by the model, data,
subset and transform, and trains the head from the cache: later epochs, and later runs, do not run
the backbone at all. --augment changes the images every epoch, so it runs the backbone every step.

Defaults follow the seed tutorial: CIFAR-100 at 224×224 with ImageNet normalisation, a random 10,000
of the training images, batch 128, Adam lr 1e-4, 10 epochs, scored on the full test split.

Examples:
   tlkit transfer resnet34.onnx --data cifar100 --out runs/transfer
   tlkit transfer resnet34.onnx --data cifar100 --train-subset 0 --epochs 20 --json
   tlkit transfer --resume runs/transfer/checkpoint.safetensors`,
		Flags: append(append(jobDataFlags(10000), trainFlags()...),
			&cli.StringFlag{Name: "engine", Value: "auto", Usage: "who computes the backbone's features: auto (ONNX Runtime when installed), ort, tlkit"},
			&cli.StringFlag{Name: "cache-dir", Usage: "feature cache (default ~/.cache/tlkit/features)"}),
		Action: func(c *cli.Context) error {
			j, err := startJob(c, "transfer")
			if err != nil {
				return err
			}
			cfg, err := trainConfig(c)
			if err != nil {
				return err
			}
			if j.resume != nil && !c.IsSet("epochs") {
				cfg.Epochs = 0 // the checkpoint's
			}
			dev, err := train.OpenDevice(c.String("device"))
			if err != nil {
				return err
			}
			o := finetune.TransferOptions{Data: dataOptions(c, j.resume), Classes: c.Int("classes"), Train: cfg, Engine: c.String("engine"),
				ORTLib: c.String("ort-lib"), CacheDir: c.String("cache-dir"), Checkpoint: j.ckpt, Bars: os.Stderr, Log: os.Stderr,
				Device: dev, TF32: c.Bool("tf32")}
			res, err := finetune.Transfer(j.ctx, j.model, j.resume, o, j.rec)
			return j.finish("transfer", res, err)
		},
	}
}

func finetuneCommand() *cli.Command {
	return &cli.Command{
		Name:      "finetune",
		Usage:     "train every parameter of a pretrained network on a new dataset",
		ArgsUsage: "MODEL.onnx|CHECKPOINT",
		Description: `Trains the whole network. MODEL is an ONNX file (its head is replaced, as transfer does) or a tlkit
checkpoint: starting from a transfer checkpoint keeps its trained head, the usual recipe (first the
head on the frozen backbone, then everything at a lower learning rate).

BatchNorm layers train with batch statistics and update their running statistics, as PyTorch's
model.train() does (momentum 0.1); --freeze-bn keeps them in inference mode instead. Adam with PyTorch's
defaults (betas 0.9, 0.999, eps 1e-8); --weight-decay adds an L2 term as torch.optim.Adam does, or
decays the weights directly with --adamw. --cosine decays the learning rate to 0 along a cosine after
--warmup-epochs of linear warm-up. --clip-grad caps the global gradient norm.

Examples:
   tlkit finetune runs/transfer/checkpoint.safetensors --lr 1e-5 --out runs/finetune
   tlkit finetune resnet34.onnx --data cifar100 --cosine --warmup-epochs 1 --weight-decay 5e-4 --adamw`,
		Flags: append(append(jobDataFlags(10000), trainFlags()...),
			&cli.BoolFlag{Name: "freeze-bn", Usage: "keep BatchNorm in inference mode (running statistics untouched)"},
			&cli.Float64Flag{Name: "weight-decay", Usage: "weight decay (default 0)"},
			&cli.BoolFlag{Name: "adamw", Usage: "decoupled weight decay (AdamW) instead of Adam's L2 term"},
			&cli.BoolFlag{Name: "cosine", Usage: "cosine learning-rate decay to 0 over the run"},
			&cli.Float64Flag{Name: "warmup-epochs", Usage: "linear warm-up before the cosine decay"},
			&cli.Float64Flag{Name: "clip-grad", Usage: "clip the global gradient norm to this value (0: off)"}),
		Action: func(c *cli.Context) error {
			j, err := startJob(c, "finetune")
			if err != nil {
				return err
			}
			cfg, err := trainConfig(c)
			if err != nil {
				return err
			}
			cfg.FreezeBN, cfg.WeightDecay, cfg.DecoupledWD, cfg.ClipNorm = c.Bool("freeze-bn"), c.Float64("weight-decay"), c.Bool("adamw"), c.Float64("clip-grad")
			if j.resume != nil && !c.IsSet("epochs") {
				cfg.Epochs = 0 // the checkpoint's
			}
			dev, err := train.OpenDevice(c.String("device"))
			if err != nil {
				return err
			}
			o := finetune.FinetuneOptions{Data: dataOptions(c, j.resume), Classes: c.Int("classes"), Train: cfg, Cosine: c.Bool("cosine"),
				WarmupEpochs: c.Float64("warmup-epochs"), Checkpoint: j.ckpt, Log: os.Stderr, Device: dev, TF32: c.Bool("tf32")}
			res, err := finetune.Finetune(j.ctx, j.model, j.resume, o, j.rec)
			return j.finish("finetune", res, err)
		},
	}
}

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "score a checkpoint or ONNX model on a test set: top-1, top-5, per class, confusion matrix",
		ArgsUsage: "CHECKPOINT|MODEL.onnx",
		Description: `Scores every test image (the last partial batch included) with tlkit's engine (--engine tlkit) or
ONNX Runtime on the exported model (--engine ort); both give the same predictions. A checkpoint
remembers the image size and normalisation it was trained with. With --out DIR it writes
confusion.csv, confusion.png, per_class.csv and predictions.csv.

Examples:
   tlkit eval runs/transfer/checkpoint.safetensors --data cifar100 --out runs/eval
   tlkit eval runs/finetune/checkpoint.safetensors --engine ort --json`,
		Flags: append(jobDataFlags(0)[:3],
			&cli.StringFlag{Name: "engine", Value: "tlkit", Usage: "tlkit or ort"},
			&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "samples per batch"},
			&cli.StringFlag{Name: "out", Usage: "directory for confusion.csv/.png, per_class.csv, predictions.csv"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
			ortFlag(), deviceFlag()),
		Action: runEval,
	}
}

type evalJSON struct {
	Model    string     `json:"model"`
	Dataset  string     `json:"dataset"`
	Engine   string     `json:"engine"`
	Top1     float64    `json:"top1"`
	Top5     float64    `json:"top5"`
	Loss     float64    `json:"loss"`
	Samples  int        `json:"samples"`
	Seconds  float64    `json:"seconds"`
	PerClass []*float64 `json:"per_class"` // null for a class with no test images
	Classes  []string   `json:"classes"`
}

func runEval(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("eval takes one CHECKPOINT or MODEL.onnx argument (see tlkit eval --help)", 2)
	}
	m, err := loadModel(c.Args().First(), "", 0)
	if err != nil {
		return err
	}
	data := finetune.DataOptions{Name: c.String("data"), Dir: c.String("data-dir"), ImageSize: c.Int("image-size")}
	if c.IsSet("data") == false && m.Meta[finetune.MetaDataset] != "" {
		data.Name = m.Meta[finetune.MetaDataset]
	}
	dev, err := train.OpenDevice(c.String("device"))
	if err != nil {
		return err
	}
	res, err := finetune.Evaluate(m, finetune.EvalOptions{Data: data, Engine: c.String("engine"), ORTLib: c.String("ort-lib"),
		BatchSize: c.Int("batch-size"), Bars: os.Stderr, Device: dev})
	if err != nil {
		return err
	}
	met := res.Metrics
	if out := c.String("out"); out != "" {
		if err := writeEvalFiles(out, res); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		j := evalJSON{Model: c.Args().First(), Dataset: data.Name, Engine: res.Engine, Top1: met.Acc(), Top5: met.Top5Acc(), Loss: met.Loss(),
			Samples: met.Samples, Seconds: res.Seconds, Classes: res.ClassNames}
		for _, a := range met.PerClass() {
			if math.IsNaN(a) {
				j.PerClass = append(j.PerClass, nil)
			} else {
				a := a
				j.PerClass = append(j.PerClass, &a)
			}
		}
		return printJSON(j)
	}
	fmt.Printf("%s on %s (%d test images, %s engine, %.1fs)\n", c.Args().First(), data.Name, met.Samples, res.Engine, res.Seconds)
	fmt.Printf("top-1 %.2f%%  top-5 %.2f%%  loss %.4f\n", 100*met.Acc(), 100*met.Top5Acc(), met.Loss())
	pc := met.PerClass()
	worst, best := 0, 0
	for i := range pc {
		if math.IsNaN(pc[i]) {
			continue
		}
		if math.IsNaN(pc[worst]) || pc[i] < pc[worst] {
			worst = i
		}
		if math.IsNaN(pc[best]) || pc[i] > pc[best] {
			best = i
		}
	}
	name := func(i int) string {
		if i < len(res.ClassNames) {
			return res.ClassNames[i]
		}
		return fmt.Sprint(i)
	}
	switch {
	case len(pc) == 0 || math.IsNaN(pc[best]):
	case pc[best] == pc[worst]: // a best and a worst class would name two arbitrary ones
		fmt.Printf("every class %.1f%%\n", 100*pc[best])
	default:
		fmt.Printf("best class %s %.1f%%, worst class %s %.1f%%\n", name(best), 100*pc[best], name(worst), 100*pc[worst])
	}
	if c.String("out") != "" {
		fmt.Printf("wrote %s\n", strings.Join([]string{"confusion.csv", "confusion.png", "per_class.csv", "predictions.csv"}, ", "))
	}
	return nil
}

func writeEvalFiles(out string, res *finetune.EvalResult) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cm, err := report.NewConfusionMatrix(res.Metrics.Confusion, res.ClassNames)
	if err != nil {
		return err
	}
	for _, w := range []func() error{
		func() error { return cm.WriteCSV(filepath.Join(out, "confusion.csv")) },
		func() error { return cm.WritePNG(filepath.Join(out, "confusion.png")) },
		func() error { return cm.WritePerClassCSV(filepath.Join(out, "per_class.csv")) },
	} {
		if err := w(); err != nil {
			return err
		}
	}
	return atomicfile.Write(filepath.Join(out, "predictions.csv"), func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString("index,label,predicted\n")
		for i, p := range res.Metrics.Predictions {
			fmt.Fprintf(bw, "%d,%d,%d\n", i, res.Metrics.Labels[i], p)
		}
		return bw.Flush()
	})
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a checkpoint as an ONNX model and check it in ONNX Runtime",
		ArgsUsage: "CHECKPOINT",
		Description: `Writes the checkpoint's network (its new head and trained weights, BatchNorm statistics included)
as ONNX with a symbolic batch axis. When ONNX Runtime is installed, a seeded random batch runs
through ONNX Runtime and tlkit's engine and the outputs are compared (relative L2 error, top-1
agreement); the export fails if the error exceeds --tol.

Example:
   tlkit export runs/finetune/checkpoint.safetensors -o resnet34-cifar100.onnx`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the ONNX file to write", Required: true},
			&cli.IntFlag{Name: "batch", Value: 4, Usage: "batch size of the check"},
			&cli.Float64Flag{Name: "tol", Value: 1e-4, Usage: "largest relative L2 error the check accepts"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
			ortFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("export takes one CHECKPOINT argument", 2)
			}
			m, err := loadModel(c.Args().First(), "", 0)
			if err != nil {
				return err
			}
			check, ortErr, err := finetune.Export(m, c.String("output"), c.String("ort-lib"), c.Int("batch"), 0)
			if err != nil {
				return err
			}
			ok := check == nil || check.RelL2 <= c.Float64("tol")
			if c.Bool("json") {
				j := map[string]any{"output": c.String("output"), "checked": check != nil, "ok": ok}
				if check != nil {
					j["check"] = check
				} else {
					j["not_checked_because"] = ortErr.Error()
				}
				if err := printJSON(j); err != nil {
					return err
				}
			} else {
				fmt.Printf("wrote %s\n", c.String("output"))
				if check == nil {
					fmt.Printf("not checked: ONNX Runtime is not available (%s)\n", firstLine(ortErr))
				} else {
					fmt.Printf("ONNX Runtime %s vs tlkit on a batch of %d: relative L2 %.3g, max |diff| %.3g, top-1 agreement %.0f%%\n",
						check.ORTVersion, check.Batch, check.RelL2, check.MaxAbsDiff, 100*check.Top1Agree)
				}
			}
			if !ok {
				return cli.Exit(fmt.Sprintf("the exported model differs from tlkit's: relative L2 %.3g > %.3g", check.RelL2, c.Float64("tol")), 1)
			}
			return nil
		},
	}
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
