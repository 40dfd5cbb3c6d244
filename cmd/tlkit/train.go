package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"tlkit/datasets"
	"tlkit/models"
	"tlkit/report"
	"tlkit/torchrand"
	"tlkit/train"
)

func dataFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", Usage: "where datasets live (default $TLKIT_DATA, then ~/.cache/tlkit/data; MNIST and Fashion-MNIST are also found offline without it)"},
	}
}

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a built-in model from scratch (the seed's MNIST comparison)",
		Description: `Trains one of the seed tutorial's models with Adam and softmax cross-entropy on logits, and
reports per epoch the training loss, the running training accuracy of that epoch's batches (no
second pass), the accuracy on the real test split (all samples, the last partial batch included)
and the elapsed time. A progress bar runs on stderr.

Models: ` + strings.Join(models.Names(), ", ") + `. Data: mnist, fashion-mnist (pixels scaled to [0,1], as
ToTensor does). With --out DIR it writes DIR/metrics.csv, DIR/curves.png and the trained weights
DIR/model.safetensors.

Examples:
   tlkit train --model lenet5 --data mnist
   tlkit train --model cnn --data fashion-mnist --epochs 5 --out runs/cnn --json`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: "lenet5", Usage: "model to train: " + strings.Join(models.Names(), ", ")},
			&cli.StringFlag{Name: "data", Value: "mnist", Usage: "dataset: mnist or fashion-mnist"},
			&cli.IntFlag{Name: "epochs", Value: 10, Usage: "passes over the training set"},
			&cli.IntFlag{Name: "batch-size", Value: 128, Usage: "samples per mini-batch"},
			&cli.Float64Flag{Name: "lr", Value: 1e-4, Usage: "Adam learning rate"},
			&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of initialisation and shuffling; the same seed gives the same run, starting from the weights and batch order of PyTorch's torch.manual_seed(seed) for the same model and DataLoader(shuffle=True)"},
			&cli.StringFlag{Name: "out", Usage: "directory for metrics.csv, curves.png and model.safetensors"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object with the results when done (and nothing else on stdout)"},
		}, dataFlags()...),
		Action: runTrain,
	}
}

// trainResult is what --json prints.
type trainResult struct {
	Model         string             `json:"model"`
	Dataset       string             `json:"dataset"`
	Epochs        int                `json:"epochs"`
	TrainAccuracy float64            `json:"train_accuracy"`
	TestAccuracy  float64            `json:"test_accuracy"`
	TrainLoss     float64            `json:"train_loss"`
	TestLoss      float64            `json:"test_loss"`
	TestSamples   int                `json:"test_samples"`
	TrainSamples  int                `json:"train_samples"`
	Seconds       float64            `json:"seconds"`
	Params        int64              `json:"params"`
	Trainable     int64              `json:"trainable_params"`
	History       []train.EpochStats `json:"history"`
	Out           string             `json:"out,omitempty"`
}

func runTrain(c *cli.Context) error {
	name, data := c.String("model"), c.String("data")
	if data != "mnist" && data != "fashion-mnist" {
		return cli.Exit(fmt.Sprintf("--data %q: train supports mnist and fashion-mnist", data), 2)
	}
	trainImgs, testImgs, err := datasets.Open(data, datasets.DataDir(c.String("data-dir")))
	if err != nil {
		return err
	}
	tf := datasets.Transform{}
	trainDS, testDS := datasets.Transformed(trainImgs, tf), datasets.Transformed(testImgs, tf)
	// PyTorch's random stream: the model's initial weights, then each epoch's shuffle, are those
	// of torch.manual_seed(seed), building the same model and DataLoader(shuffle=True).
	rng := torchrand.New(uint64(c.Int64("seed")))
	m, err := models.BuildFrom(name, rng, trainDS.Classes(), trainDS.Shape())
	if err != nil {
		return err
	}
	cfg := train.Config{Epochs: c.Int("epochs"), BatchSize: c.Int("batch-size"), LR: c.Float64("lr"), Seed: c.Int64("seed"), Shuffler: rng.Shuffles()}
	if cfg.Epochs < 1 || cfg.BatchSize < 1 || cfg.LR <= 0 {
		return cli.Exit("--epochs, --batch-size and --lr must be positive", 2)
	}
	tr := train.NewTrainer(m, cfg)
	tr.Name, tr.Dataset = name, data

	jsonOut := c.Bool("json")
	recs := []train.Recorder{report.NewConsole(os.Stdout, os.Stderr, jsonOut)}
	out := c.String("out")
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		recs = append(recs, report.NewCSV(filepath.Join(out, "metrics.csv")), report.NewPlot(filepath.Join(out, "curves.png"), name+" on "+data))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err = tr.Fit(ctx, trainDS, testDS, report.Multi(recs...))
	if out != "" && (err == nil || errors.Is(err, train.ErrInterrupted)) {
		if werr := train.SaveModel(filepath.Join(out, "model.safetensors"), m, map[string]string{"tlkit.model_name": name, "tlkit.dataset": data}); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if !jsonOut {
		return nil
	}
	last := tr.History[len(tr.History)-1]
	total, trainable := m.Count()
	res := trainResult{Model: name, Dataset: data, Epochs: cfg.Epochs, TrainAccuracy: last.TrainAcc, TestAccuracy: last.TestAcc,
		TrainLoss: last.TrainLoss, TestLoss: last.TestLoss, TestSamples: last.TestSamples, TrainSamples: last.TrainSamples,
		Seconds: time.Since(start).Seconds(), Params: total, Trainable: trainable, History: tr.History, Out: out}
	return printJSON(res)
}
