package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"tlkit/head"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/summary"
)

func summaryCommand() *cli.Command {
	return &cli.Command{
		Name:      "summary",
		Usage:     "print a model's layers, output shapes and parameter counts (like torchsummary)",
		ArgsUsage: "MODEL",
		Description: `MODEL is a built-in name (` + strings.Join(models.Names(), ", ") + `), an ONNX file, or a tlkit
checkpoint (.safetensors). The table lists each layer's output shape (-1 is the batch) and
parameters, then the total, trainable and non-trainable parameter counts and their memory.

Examples:
   tlkit summary lenet5
   tlkit summary resnet34.onnx --classes 100 --freeze backbone    # what transfer trains`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input-shape", Value: "1,28,28", Usage: "per-sample input shape C,H,W: a built-in model's; for an ONNX model or checkpoint, refixes its input when given (sizes the file leaves open are shown at 224 otherwise)"},
			&cli.IntFlag{Name: "classes", Value: 10, Usage: "number of classes of a built-in model; for an ONNX model or checkpoint, replaces the head by a new Linear layer when given"},
			&cli.StringFlag{Name: "freeze", Usage: "'backbone' freezes every parameter but the head's, as transfer does"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of the table"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("summary takes one MODEL argument (see tlkit summary --help)", 2)
			}
			m, err := loadModel(c.Args().First(), c.String("input-shape"), c.Int("classes"))
			if err != nil {
				return err
			}
			if !models.IsBuiltin(c.Args().First()) {
				if err := fixInputShape(m, c); err != nil {
					return err
				}
			}
			if !models.IsBuiltin(c.Args().First()) && c.IsSet("classes") {
				if m, _, err = head.Replace(m, c.Int("classes"), 0); err != nil {
					return err
				}
			}
			switch c.String("freeze") {
			case "":
			case "backbone":
				h, err := head.Find(m)
				if err != nil {
					return err
				}
				head.FreezeBackbone(m, h)
			default:
				return cli.Exit(fmt.Sprintf("--freeze %q: the only choice is 'backbone'", c.String("freeze")), 2)
			}
			s, err := summary.Of(m)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return s.WriteJSON(os.Stdout)
			}
			return s.WriteText(os.Stdout)
		},
	}
}

// fixInputShape gives an imported model the per-sample shape --input-shape asks for, or 224 for
// each size its file leaves open (with a note), so that its layers' shapes can be shown.
func fixInputShape(m *nn.Model, c *cli.Context) error {
	in := m.Inputs[0].Shape
	if c.IsSet("input-shape") {
		s, err := parseShape(c.String("input-shape"))
		if err != nil {
			return err
		}
		if len(s) != len(in)-1 {
			return fmt.Errorf("--input-shape %s: the model's input %q is %v", c.String("input-shape"), m.Inputs[0].Name, in)
		}
		copy(in[1:], s)
		return nil
	}
	for i := 1; i < len(in); i++ {
		if in[i] < 1 {
			in[i] = 224
			fmt.Fprintf(os.Stderr, "note: the model leaves dimension %d of its input open; shown at 224 (--input-shape to choose)\n", i)
		}
	}
	return nil
}

func parseShape(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		var d int
		if _, err := fmt.Sscanf(strings.TrimSpace(p), "%d", &d); err != nil || d < 1 {
			return nil, fmt.Errorf("bad shape %q: want positive integers separated by commas, e.g. 3,224,224", s)
		}
		out = append(out, d)
	}
	return out, nil
}
