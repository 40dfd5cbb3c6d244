package main

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"

	"codeberg.org/sbinet/npyio"
	"github.com/urfave/cli/v2"

	"tlkit/compare"
	"tlkit/engine"
	"tlkit/gpu"
	"tlkit/importer"
	"tlkit/nn"
	"tlkit/ort"
	"tlkit/train"
)

func ortFlag() cli.Flag {
	return &cli.StringFlag{Name: "ort-lib", Usage: "ONNX Runtime shared library (default $" + ort.LibraryEnv + ", then where scripts/install-onnxruntime.sh puts it)"}
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "run an ONNX model through tlkit and ONNX Runtime and compare every output",
		ArgsUsage: "MODEL.onnx",
		Description: `Imports MODEL.onnx into tlkit's engine, runs the same input through it and through ONNX Runtime,
and prints for each output the largest absolute difference, the relative L2 error
(‖tlkit − ort‖ / ‖ort‖) and, for N×classes outputs, how often the top-1 class agrees. It passes
when every relative L2 error is at most --tol, and exits with status 1 otherwise.

The input is --input X.npy (float32 or float64, the model's input shape with any batch size), or
a standard-normal batch of --batch samples drawn from --seed.

Examples:
   tlkit validate resnet34.onnx --batch 8
   tlkit validate model.onnx --input batch.npy --tol 1e-5 --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Usage: "input batch as a .npy file"},
			&cli.IntFlag{Name: "batch", Value: 4, Usage: "batch size of the random input"},
			&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the random input"},
			&cli.Float64Flag{Name: "tol", Value: 1e-4, Usage: "largest relative L2 error that passes"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
			ortFlag(),
			deviceFlag(),
			tf32Flag(),
		},
		Action: runValidate,
	}
}

type outputReport struct {
	Name          string   `json:"name"`
	Shape         []int    `json:"shape"`
	MaxAbsDiff    float64  `json:"max_abs_diff"`
	RelL2         float64  `json:"rel_l2"`
	Top1Agreement *float64 `json:"top1_agreement,omitempty"`
	// With --device cuda: tlkit's GPU output against ONNX Runtime and against tlkit's CPU engine.
	GPURelL2VsORT *float64 `json:"gpu_rel_l2_vs_ort,omitempty"`
	GPURelL2VsCPU *float64 `json:"gpu_rel_l2_vs_cpu,omitempty"`
}

type validateReport struct {
	OK          bool           `json:"ok"`
	Model       string         `json:"model"`
	Batch       int            `json:"batch"`
	Tolerance   float64        `json:"tolerance"`
	MaxAbsDiff  float64        `json:"max_abs_diff"`
	RelL2       float64        `json:"rel_l2"`
	Outputs     []outputReport `json:"outputs"`
	ORTVersion  string         `json:"ort_version"`
	InputSource string         `json:"input"`
	Device      string         `json:"device"`
	Note        string         `json:"note,omitempty"`
}

func runValidate(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("validate takes one MODEL.onnx argument (see tlkit validate --help)", 2)
	}
	if tol := c.Float64("tol"); !(tol >= 0) {
		return cli.Exit(fmt.Sprintf("--tol %v: give a relative L2 error of 0 or more", tol), 2)
	}
	path := c.Args().First()
	m, err := importer.ReadFile(path)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	x, shape, source, err := validationInput(c, m)
	if err != nil {
		return err
	}
	batch := shape[0]
	p, err := engine.Compile(m, engine.Options{Batch: batch})
	if err != nil {
		return err
	}
	if err := p.SetInput(x); err != nil {
		return err
	}
	if err := p.Run(); err != nil {
		return err
	}
	if err := ort.Load(c.String("ort-lib")); err != nil {
		return err
	}
	s, err := ort.NewSession(data, ort.Options{Name: path})
	if err != nil {
		return err
	}
	defer s.Close()
	ishape := make([]int64, len(shape))
	for i, d := range shape {
		ishape[i] = int64(d)
	}
	outs, err := s.Run([]ort.Tensor{{Name: m.Inputs[0].Name, Shape: ishape, Data: x}})
	if err != nil {
		return err
	}
	rep := validateReport{OK: true, Model: path, Batch: batch, Tolerance: c.Float64("tol"), ORTVersion: ort.Version(), InputSource: source,
		Device: "cpu"}
	var gpuOuts [][]float32
	if c.String("device") != "cpu" {
		dev, err := train.OpenDevice(c.String("device"))
		if err != nil {
			return err
		}
		gp, err := dev.Compile(p, gpu.Options{TF32: c.Bool("tf32")})
		if err != nil {
			return err
		}
		defer gp.Close()
		if err := gp.SetInput(x); err != nil {
			return err
		}
		if err := gp.Run(); err != nil {
			return err
		}
		for i := 0; i < p.NumOutputs(); i++ {
			o, err := gp.Output(i)
			if err != nil {
				return err
			}
			gpuOuts = append(gpuOuts, o)
		}
		rep.Device = "cuda"
		rep.Note = "ONNX Runtime runs on its CPU provider: its CUDA provider is not part of the npm package tlkit installs"
	}
	for i := 0; i < p.NumOutputs(); i++ {
		got := p.Output(i).Data().([]float32)
		want := outs[i].Data
		if len(got) != len(want) {
			return fmt.Errorf("output %q: tlkit computed %d values, ONNX Runtime %d", m.Outputs[i].Name, len(got), len(want))
		}
		o := outputReport{Name: m.Outputs[i].Name, Shape: []int(p.OutputShape(i))}
		o.MaxAbsDiff, o.RelL2 = compare.MaxAbsDiff(got, want), compare.RelL2(got, want)
		if len(o.Shape) == 2 && o.Shape[1] > 1 {
			f := compare.Top1Agreement(got, want, o.Shape[0])
			o.Top1Agreement = &f
		}
		if gpuOuts != nil {
			vo, vc := compare.RelL2(gpuOuts[i], want), compare.RelL2(gpuOuts[i], got)
			o.GPURelL2VsORT, o.GPURelL2VsCPU = &vo, &vc
			if !(vo <= rep.Tolerance) {
				rep.OK = false
			}
		}
		rep.MaxAbsDiff = math.Max(rep.MaxAbsDiff, o.MaxAbsDiff)
		rep.RelL2 = math.Max(rep.RelL2, o.RelL2)
		if !(o.RelL2 <= rep.Tolerance) {
			rep.OK = false
		}
		rep.Outputs = append(rep.Outputs, o)
	}
	if c.Bool("json") {
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Printf("model %s, input %s, ONNX Runtime %s\n", path, source, rep.ORTVersion)
		fmt.Printf("%-24s %-18s %14s %12s %8s\n", "output", "shape", "max |diff|", "rel L2", "top-1")
		for _, o := range rep.Outputs {
			top := "-"
			if o.Top1Agreement != nil {
				top = fmt.Sprintf("%.0f%%", 100**o.Top1Agreement)
			}
			fmt.Printf("%-24s %-18s %14.3g %12.3g %8s\n", o.Name, fmt.Sprint(o.Shape), o.MaxAbsDiff, o.RelL2, top)
			if o.GPURelL2VsORT != nil {
				fmt.Printf("  tlkit on the GPU: relative L2 %.3g against ONNX Runtime, %.3g against tlkit's CPU engine\n", *o.GPURelL2VsORT, *o.GPURelL2VsCPU)
			}
		}
		if rep.Note != "" {
			fmt.Println("note:", rep.Note)
		}
		verdict := "PASS"
		if !rep.OK {
			verdict = "FAIL"
		}
		fmt.Printf("%s: relative L2 error %.3g (tolerance %.3g)\n", verdict, rep.RelL2, rep.Tolerance)
	}
	if !rep.OK {
		return cli.Exit("", 1)
	}
	return nil
}

// validationInput reads --input or draws a random batch in the model's input shape.
func validationInput(c *cli.Context, m *nn.Model) ([]float32, []int, string, error) {
	want := m.Inputs[0].Shape
	if path := c.String("input"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, "", err
		}
		defer f.Close()
		r, err := npyio.NewReader(f)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: not a .npy file: %v", path, err)
		}
		shape := r.Header.Descr.Shape
		if r.Header.Descr.Fortran {
			return nil, nil, "", fmt.Errorf("%s holds a Fortran-order array; save a C-order one (numpy.ascontiguousarray)", path)
		}
		// npyio keeps the descr's quotes: '<f4'
		typ := strings.Trim(r.Header.Descr.Type, `'"`)
		var x []float32
		switch {
		case strings.HasSuffix(typ, "f4"):
			err = r.Read(&x)
		case strings.HasSuffix(typ, "f8"):
			var d []float64
			if err = r.Read(&d); err == nil {
				x = make([]float32, len(d))
				for i, v := range d {
					x[i] = float32(v)
				}
			}
		default:
			return nil, nil, "", fmt.Errorf("%s: element type %s; want float32 or float64", path, typ)
		}
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %v", path, err)
		}
		if len(shape) != len(want) {
			return nil, nil, "", fmt.Errorf("%s has shape %v; the model's input %q is %v", path, shape, m.Inputs[0].Name, want)
		}
		for i := 1; i < len(want); i++ {
			if want[i] > 0 && shape[i] != want[i] {
				return nil, nil, "", fmt.Errorf("%s has shape %v; the model's input %q is %v", path, shape, m.Inputs[0].Name, want)
			}
			if want[i] < 1 {
				want[i] = shape[i] // a size the file leaves open is the input's
			}
		}
		return x, shape, path, nil
	}
	shape := append([]int{c.Int("batch")}, want[1:]...)
	if shape[0] < 1 {
		return nil, nil, "", fmt.Errorf("--batch %d: give a batch of 1 or more", shape[0])
	}
	for _, d := range shape {
		if d < 1 {
			return nil, nil, "", fmt.Errorf("the model's input %q has shape %v; give --input with a concrete shape", m.Inputs[0].Name, want)
		}
	}
	rng := rand.New(rand.NewSource(c.Int64("seed")))
	x := make([]float32, nn.Numel(shape))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x, shape, fmt.Sprintf("standard normal, seed %d, shape %v", c.Int64("seed"), shape), nil
}
