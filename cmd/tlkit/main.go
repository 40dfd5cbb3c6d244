// Command tlkit trains, fine-tunes, evaluates and validates convolutional networks: the seed's
// MNIST models, and networks that arrive as ONNX files.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:  "tlkit",
		Usage: "transfer learning and fine-tuning of convolutional networks, checked against ONNX Runtime",
		Description: `tlkit imports a network from an ONNX file into a gorgonia graph, replaces its classification
head, and trains the head alone on a frozen backbone (transfer) or the whole network (finetune).
It also trains the classic MNIST models from scratch, prints torchsummary-style summaries, and
compares every number it computes with ONNX Runtime (validate).

Start with:
   tlkit demo                                  # offline transfer-learning demo
   tlkit train --model lenet5 --data mnist     # the MNIST comparison, one model
   tlkit summary resnet34.onnx --classes 100 --freeze backbone`,
		Commands: []*cli.Command{
			trainCommand(),
			summaryCommand(),
			validateCommand(),
			transferCommand(),
			finetuneCommand(),
			evalCommand(),
			exportCommand(),
			dataCommand(),
			demoCommand(),
			benchCommand(),
		},
		HideHelpCommand: true,
	}
	if err := app.Run(interspersed(app, os.Args)); err != nil {
		code := 1
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "tlkit:", msg)
			if jsonRequested(os.Args) {
				// A script that asked for JSON reads the failure as JSON too.
				printJSON(map[string]any{"error": msg, "exit_code": code})
			}
		}
		os.Exit(code)
	}
}

// jsonRequested reports whether the command line asks for --json output.
func jsonRequested(args []string) bool {
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "--json" || a == "-json" || a == "--json=true" || a == "-json=true" {
			return true
		}
	}
	return false
}

// printJSON writes v to standard output as the indented JSON object (or list) that every
// command's --json prints.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
