// Package conformance runs the ONNX project's node tests (Debian's libonnx-testdata) through
// tlkit's importer and engine and judges the results the way ONNX Runtime's test runner does.
//
// A node test is a directory with a model.onnx (usually a single operator) and
// test_data_set_0/input_K.pb, output_K.pb TensorProtos. A test is in scope when every operator
// of its model is one that engine.SupportedOps claims; its outcome is a pass, an error (the
// model is refused: an unsupported feature), a mismatch (wrong values or shapes) or a panic.
// The tests of this package hold each error against the table of known deviations
// (deviations.go) and write docs/onnx-conformance.md from the same run.
//
// tlkit models take one data input (a batch of images); a node test's other inputs (weights,
// Reshape's shape, Clip's bounds, Pad's pads...) are turned into initializers holding the test's
// input values before the model is imported, as an exporter would have stored them. The data
// input's first dimension is the batch the program is compiled for.
package conformance

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"tlkit/engine"
	"tlkit/importer"
	"tlkit/onnxfile"
)

// DataDir is where Debian's libonnx-testdata installs the ONNX node tests.
const DataDir = "/usr/share/libonnx-testdata/data/node"

// The tolerance ONNX Runtime's test runner applies to these tests' float outputs:
// |got - want| <= ATol + RTol*|want|.
const (
	RTol = 1e-3
	ATol = 1e-5
)

// Test is one node test.
type Test struct {
	Name string   // directory name, such as "test_conv_with_strides_padding"
	Dir  string   // the directory
	Ops  []string // the distinct operator types of model.onnx, sorted
	// Unclaimed lists the operators of Ops that the engine does not claim.
	Unclaimed []string
}

// InScope reports whether every operator of the test is one the engine claims.
func (t *Test) InScope() bool { return len(t.Unclaimed) == 0 }

// Tests lists the node tests under dir (DataDir), sorted by name, with their operators. Models
// that onnxfile does not model (the subgraphs of If, Loop, Scan and SequenceMap) are counted in
// unreadable and left out: they use operators no CNN needs, and onnxfile's tests cover them.
func Tests(dir string) (tests []Test, unreadable int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t := Test{Name: e.Name(), Dir: filepath.Join(dir, e.Name())}
		m, err := onnxfile.ReadFile(filepath.Join(t.Dir, "model.onnx"))
		if err != nil {
			var ue *onnxfile.UnsupportedError
			if errors.As(err, &ue) {
				unreadable++
				continue
			}
			return nil, 0, fmt.Errorf("%s: %w", t.Name, err)
		}
		for _, n := range m.Graph.Nodes {
			op := n.OpType
			if n.Domain != "" && n.Domain != "ai.onnx" {
				op = n.Domain + ":" + op
			}
			if !slices.Contains(t.Ops, op) {
				t.Ops = append(t.Ops, op)
			}
		}
		sort.Strings(t.Ops)
		for _, op := range t.Ops {
			if !engine.Supported(op) {
				t.Unclaimed = append(t.Unclaimed, op)
			}
		}
		if len(t.Ops) == 0 {
			t.Unclaimed = []string{"(no nodes)"}
		}
		tests = append(tests, t)
	}
	sort.Slice(tests, func(i, j int) bool { return tests[i].Name < tests[j].Name })
	return tests, unreadable, nil
}

// Status is the outcome of running a test.
type Status int

const (
	// Pass: every output has the expected shape and values within the tolerance.
	Pass Status = iota
	// Refused: importing, compiling or running returned an error.
	Refused
	// Wrong: the program ran but an output has the wrong shape or values, or tlkit accepted a
	// model it cannot run as written.
	Wrong
	// Panic: something panicked.
	Panic
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Refused:
		return "refused"
	case Wrong:
		return "wrong"
	case Panic:
		return "panic"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one test.
type Result struct {
	Status Status
	// Stage is where a Refused test stopped: "data" (reading the test's files), "import"
	// (importer.Decode, which includes a trial build at batch 1), "compile" (engine.Compile at
	// the test's batch), "input" or "run".
	Stage string
	// Err is the error of a Refused test.
	Err error
	// Detail describes a Wrong result or a Panic (with its stack).
	Detail string
}

// Run imports the test's model, runs it on test_data_set_0 and compares the outputs. It never
// panics: a panic anywhere becomes a Panic result.
//
// The first graph input is the data input; its first dimension is the program's batch. Every
// other input that a node reads becomes an initializer holding the test's value for it (inputs
// no node reads are dropped, as ONNX Runtime ignores them). Inputs that are not tensors
// (sequences, optionals) are left as they are, and the importer must refuse the model.
func Run(t Test) Result { return runEdited(t, nil) }

// runEdited is Run with an edit of the decoded model before its inputs are prepared.
func runEdited(t Test, edit func(*onnxfile.Model)) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			r = Result{Status: Panic, Detail: fmt.Sprintf("%v\n%s", v, debug.Stack())}
		}
	}()
	refused := func(stage string, err error) Result { return Result{Status: Refused, Stage: stage, Err: err} }

	om, err := onnxfile.ReadFile(filepath.Join(t.Dir, "model.onnx"))
	if err != nil {
		return refused("data", err)
	}
	if edit != nil {
		edit(om)
	}
	set := filepath.Join(t.Dir, "test_data_set_0")
	g := &om.Graph
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for _, o := range g.Outputs {
		used[o.Name] = true
	}
	var x *onnxfile.Tensor // the data input's values
	var inputs []onnxfile.ValueInfo
	var nonTensor []string
	k := 0 // input_k.pb holds the k-th graph input that is not an initializer
	for _, in := range g.Inputs {
		if _, ok := g.Initializer(in.Name); ok {
			inputs = append(inputs, in)
			continue
		}
		file := filepath.Join(set, fmt.Sprintf("input_%d.pb", k))
		first := k == 0
		k++
		if in.Kind != onnxfile.TensorType {
			nonTensor = append(nonTensor, fmt.Sprintf("%s (%v)", in.Name, in.Kind))
			inputs = append(inputs, in)
			continue
		}
		if !first && !used[in.Name] {
			continue
		}
		v, err := readTensor(file)
		if err != nil {
			return refused("data", fmt.Errorf("input %q: %w", in.Name, err))
		}
		v.Name = in.Name
		if first {
			x = v
			fixShape(&in, v.Dims)
			inputs = append(inputs, in)
			continue
		}
		// A constant of the model, as an exporter stores weights and shape vectors.
		g.Initializers = append(g.Initializers, *v)
	}
	g.Inputs = inputs

	var outputs []*onnxfile.Tensor
	if nonTensor == nil {
		for i, o := range g.Outputs {
			v, err := readTensor(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				return refused("data", fmt.Errorf("output %q: %w", o.Name, err))
			}
			outputs = append(outputs, v)
		}
	}

	data, err := onnxfile.Encode(om)
	if err != nil {
		return refused("data", err)
	}
	m, err := importer.Decode(data, t.Name)
	if err != nil {
		return refused("import", err)
	}
	if nonTensor != nil {
		return Result{Status: Wrong, Detail: "imported a model whose inputs include " + strings.Join(nonTensor, ", ")}
	}
	if x == nil || len(x.Dims) == 0 {
		return Result{Status: Wrong, Detail: "imported a model without a batched data input"}
	}
	p, err := engine.Compile(m, engine.Options{Batch: int(x.Dims[0])})
	if err != nil {
		return refused("compile", err)
	}
	in, ok := floats32(x)
	if !ok {
		return Result{Status: Wrong, Detail: fmt.Sprintf("imported a model whose data input has element type %v", x.DataType)}
	}
	if err := p.SetInput(in); err != nil {
		return refused("input", err)
	}
	if err := p.Run(); err != nil {
		return refused("run", err)
	}
	if p.NumOutputs() != len(outputs) {
		return Result{Status: Wrong, Detail: fmt.Sprintf("%d outputs, want %d", p.NumOutputs(), len(outputs))}
	}
	var problems []string
	for i, want := range outputs {
		if d := compare(p.OutputShape(i), p.Output(i).Data(), want); d != "" {
			problems = append(problems, fmt.Sprintf("output %d (%s): %s", i, g.Outputs[i].Name, d))
		}
	}
	if problems != nil {
		return Result{Status: Wrong, Detail: strings.Join(problems, "; ")}
	}
	return Result{Status: Pass}
}

func readTensor(path string) (*onnxfile.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return onnxfile.DecodeTensor(b)
}

// fixShape gives symbolic or unknown dimensions of a graph input the test data's sizes, as ONNX
// Runtime binds them when it runs the test.
func fixShape(v *onnxfile.ValueInfo, dims []int64) {
	if !v.HasShape {
		v.HasShape = true
		v.Shape = make([]onnxfile.Dim, len(dims))
		for i, d := range dims {
			v.Shape[i] = onnxfile.Dim{Value: d}
		}
		return
	}
	if len(v.Shape) != len(dims) {
		return
	}
	for i := range v.Shape {
		if v.Shape[i].Param != "" || v.Shape[i].Value < 0 {
			v.Shape[i] = onnxfile.Dim{Value: dims[i]}
		}
	}
}

// floats32 returns the elements of a float tensor as float32s.
func floats32(t *onnxfile.Tensor) ([]float32, bool) {
	switch t.DataType {
	case onnxfile.Float, onnxfile.Float16, onnxfile.BFloat16:
		return t.Float, true
	case onnxfile.Double:
		f := make([]float32, len(t.Double))
		for i, v := range t.Double {
			f[i] = float32(v)
		}
		return f, true
	}
	return nil, false
}

// numbers returns the elements of a numeric tensor as float64s.
func numbers(t *onnxfile.Tensor) ([]float64, bool) {
	var out []float64
	conv := func(n int, at func(int) float64) {
		out = make([]float64, n)
		for i := range out {
			out[i] = at(i)
		}
	}
	switch t.DataType {
	case onnxfile.Float, onnxfile.Float16, onnxfile.BFloat16:
		conv(len(t.Float), func(i int) float64 { return float64(t.Float[i]) })
	case onnxfile.Double:
		conv(len(t.Double), func(i int) float64 { return t.Double[i] })
	case onnxfile.Int64:
		conv(len(t.Int64), func(i int) float64 { return float64(t.Int64[i]) })
	case onnxfile.Int32:
		conv(len(t.Int32), func(i int) float64 { return float64(t.Int32[i]) })
	case onnxfile.Int16:
		conv(len(t.Int16), func(i int) float64 { return float64(t.Int16[i]) })
	case onnxfile.Int8:
		conv(len(t.Int8), func(i int) float64 { return float64(t.Int8[i]) })
	case onnxfile.Uint8, onnxfile.Bool:
		conv(len(t.Uint8), func(i int) float64 { return float64(t.Uint8[i]) })
	case onnxfile.Uint16:
		conv(len(t.Uint16), func(i int) float64 { return float64(t.Uint16[i]) })
	case onnxfile.Uint32:
		conv(len(t.Uint32), func(i int) float64 { return float64(t.Uint32[i]) })
	case onnxfile.Uint64:
		conv(len(t.Uint64), func(i int) float64 { return float64(t.Uint64[i]) })
	default:
		return nil, false
	}
	return out, true
}

// compare checks an output against the expected tensor: shape, then every value within
// ATol + RTol·|want| (NaN where NaN is expected, infinities exactly). It returns "" on success.
func compare(shape []int, got any, want *onnxfile.Tensor) string {
	wv, ok := numbers(want)
	if !ok {
		return fmt.Sprintf("expected values of element type %v cannot be compared", want.DataType)
	}
	wantShape := make([]int, len(want.Dims))
	for i, d := range want.Dims {
		wantShape[i] = int(d)
	}
	if !slices.Equal(shape, wantShape) {
		return fmt.Sprintf("shape %v, want %v", shape, wantShape)
	}
	var gv []float64
	switch v := got.(type) {
	case []float32:
		for _, f := range v {
			gv = append(gv, float64(f))
		}
	case []float64:
		gv = v
	default:
		return fmt.Sprintf("output holds %T", got)
	}
	if len(gv) != len(wv) {
		return fmt.Sprintf("%d values, want %d", len(gv), len(wv))
	}
	bad, worst, worstErr := 0, -1, 0.0
	for i := range wv {
		g, w := gv[i], wv[i]
		var e float64 // error beyond the tolerance, +Inf for NaN or infinity mismatches
		switch {
		case math.IsNaN(w) || math.IsNaN(g):
			if math.IsNaN(w) && math.IsNaN(g) {
				continue
			}
			e = math.Inf(1)
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			if g == w {
				continue
			}
			e = math.Inf(1)
		default:
			d := math.Abs(g - w)
			if d <= ATol+RTol*math.Abs(w) {
				continue
			}
			e = d
		}
		bad++
		if worst < 0 || e > worstErr {
			worst, worstErr = i, e
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d values out of tolerance; worst at flat index %d: got %g, want %g",
		bad, len(wv), worst, gv[worst], wv[worst])
}
