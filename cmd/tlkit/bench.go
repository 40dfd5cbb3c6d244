package main

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"tlkit/bench"
	"tlkit/train"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure tlkit against PyTorch and ONNX Runtime on this machine, in the same run",
		Description: `Runs each workload with tlkit and with its peer in the same run and reports medians of --repeats
runs and their ratio (tlkit's time over the peer's, or the peer's throughput over tlkit's, or
tlkit's memory over the peer's: below 1 is better for tlkit):

   mnist-epoch/{mlp,cnn,lenet5}       one MNIST training epoch, batch 128         vs PyTorch
   resnet34-step/b32/32, b8/224       ResNet-34 fine-tuning step (+ peak memory)  vs PyTorch
   resnet34-forward/b8/224, b8/32     imported ResNet-34 inference                vs ONNX Runtime
   transfer-job/10x10000/224          the whole transfer job vs the seed recipe   vs PyTorch
   memory-flat/epoch2-to-10           memory growth over a 10-epoch run

PyTorch runs through /usr/bin/python3 (Debian's python3-torch; scripts/setup.sh --bench installs
it); ONNX Runtime through tlkit's Go bridge. Machines are noisy: compare ratios, not times across
runs. docs/performance.md records a run.

Examples:
   tlkit bench
   tlkit bench --only resnet34-step --repeats 5 --json`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "repeats", Value: 3, Usage: "timed repeats per workload (the median is reported)"},
			&cli.StringSliceFlag{Name: "only", Usage: "run only workloads whose names start with this (repeatable)"},
			&cli.BoolFlag{Name: "no-peers", Usage: "measure tlkit only"},
			&cli.StringFlag{Name: "python", Value: "/usr/bin/python3", Usage: "the Python with PyTorch"},
			&cli.BoolFlag{Name: "json", Usage: "print the rows as a JSON list"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, or cuda: tlkit's CUDA backend vs PyTorch on the same GPU (ResNet-34, batch --gpu-batch, 224×224, TF32 off and on)"},
			&cli.IntFlag{Name: "gpu-batch", Value: 64, Usage: "batch size of the GPU workloads"},
			&cli.BoolFlag{Name: "profile", Usage: "instead of the comparison, print where a ResNet-34 fine-tuning step spends its time (per op kind), at batch 32 32×32 and batch 8 224×224"},
			&cli.StringFlag{Name: "worker", Hidden: true},
		},
		Action: func(c *cli.Context) error {
			if w := c.String("worker"); w != "" {
				v, err := bench.Worker(w, c.Int("repeats"))
				if err != nil {
					return err
				}
				fmt.Println(v)
				return nil
			}
			if c.Bool("profile") {
				for _, s := range [][2]int{{32, 32}, {8, 224}} {
					out, err := bench.Profile(s[0], s[1], 5)
					if err != nil {
						return err
					}
					fmt.Println(out)
				}
				return nil
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o := bench.Options{Repeats: c.Int("repeats"), Only: c.StringSlice("only"), Python: c.String("python"),
				Peers: !c.Bool("no-peers"), Self: self, Log: os.Stderr}
			var rows []bench.Row
			if c.String("device") == "cpu" {
				rows, err = bench.Run(c.Context, o)
			} else {
				dev, derr := train.OpenDevice(c.String("device"))
				if derr != nil {
					return derr
				}
				if !c.IsSet("repeats") {
					o.Repeats = 10
				}
				rows, err = bench.RunGPU(c.Context, o, dev, c.Int("gpu-batch"))
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(rows)
			}
			fmt.Printf("| %-28s | %-5s | %10s | %10s | %-22s | %6s |\n", "workload", "unit", "tlkit", "peer", "peer name", "ratio")
			fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 30), strings.Repeat("-", 7), strings.Repeat("-", 12), strings.Repeat("-", 12), strings.Repeat("-", 24), strings.Repeat("-", 8))
			for _, r := range rows {
				ratio, peer := "-", "-"
				if !math.IsNaN(r.Ratio) {
					ratio = fmt.Sprintf("%.2f", r.Ratio)
				}
				if !math.IsNaN(r.Peer) {
					peer = fmt.Sprintf("%.4g", r.Peer)
				}
				fmt.Printf("| %-28s | %-5s | %10.4g | %10s | %-22s | %6s |\n", r.Name, r.Unit, r.TLKit, peer, r.PeerName, ratio)
			}
			return nil
		},
	}
}
