package ort

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// ElementType is the element type of a tensor, numbered as ONNX's TensorProto.DataType.
type ElementType int32

// The element types a Tensor can carry; IOInfo may report any other ONNX type.
const (
	TypeFloat ElementType = 1 // float32
	TypeInt64 ElementType = 7
)

// elementTypeNames are ONNX's TensorProto.DataType names, lower-cased, indexed by their numbers.
var elementTypeNames = []string{"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
	"string", "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
	"float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4"}

// String is ONNX's name for the type, lower-cased: "float", "int64", "double", ...
func (t ElementType) String() string {
	if t >= 0 && int(t) < len(elementTypeNames) {
		return elementTypeNames[t]
	}
	return "element type " + strconv.Itoa(int(t))
}

// IOInfo describes one input or output of a model as ONNX Runtime sees it.
type IOInfo struct {
	Name string
	Type ElementType
	// Shape has -1 for a symbolic or unknown dimension (such as the batch); it is empty when the model
	// declares no shape at all.
	Shape []int64
}

// String renders the info the way tlkit prints a model's signature, e.g. `image float[? 3 224 224]`.
func (i IOInfo) String() string {
	return i.Name + " " + i.Type.String() + formatShape(i.Shape)
}

// Tensor is a named, dense, row-major tensor passed to or returned by Session.Run. A float tensor keeps its
// elements in Data, an int64 tensor in Ints; the other is nil.
type Tensor struct {
	Name  string
	Shape []int64
	Data  []float32
	Ints  []int64
}

// Type is the element type the tensor carries: TypeInt64 when Ints is set, else TypeFloat.
func (t Tensor) Type() ElementType {
	if t.Ints != nil {
		return TypeInt64
	}
	return TypeFloat
}

// Options configure a Session.
type Options struct {
	// Threads is the number of threads ONNX Runtime uses inside an operator; 0 means one per CPU core.
	Threads int
	// Name names the model in error messages; NewSessionFromFile uses the file's path when it is empty.
	Name string
}

// Session is a model loaded into ONNX Runtime (CPU execution provider) that runs on any batch size its
// declared shapes allow. Run may be called from several goroutines at once.
type Session struct {
	name    string
	inputs  []IOInfo
	outputs []IOInfo

	mu      sync.RWMutex // Run holds it for reading, Close for writing, so Close never frees a running session
	session *onnxruntime.DynamicAdvancedSession
}

// NewSession loads a serialized ONNX model (the bytes of a .onnx file). ONNX Runtime parses it twice, once
// to list its inputs and outputs; NewSessionFromFile makes that first pass cheaper.
func NewSession(model []byte, o Options) (*Session, error) {
	name := o.Name
	if name == "" {
		name = "ONNX model"
	}
	if len(model) == 0 {
		return nil, fmt.Errorf("%s: no model bytes given", name)
	}
	return newSession(name, o,
		func() ([]onnxruntime.InputOutputInfo, []onnxruntime.InputOutputInfo, error) {
			return onnxruntime.GetInputOutputInfoWithONNXData(model)
		},
		func(in, out []string, opts *onnxruntime.SessionOptions) (*onnxruntime.DynamicAdvancedSession, error) {
			return onnxruntime.NewDynamicAdvancedSessionWithONNXData(model, in, out, opts)
		})
}

// NewSessionFromFile loads the ONNX model in the file at path (with its external data files, if any).
func NewSessionFromFile(path string, o Options) (*Session, error) {
	name := o.Name
	if name == "" {
		name = path
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the ONNX model: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: is not a file; expected an ONNX model (.onnx)", name)
	}
	return newSession(name, o,
		func() ([]onnxruntime.InputOutputInfo, []onnxruntime.InputOutputInfo, error) {
			// The model is loaded twice, once to learn its input and output names; this first load skips graph
			// optimization, which halves its cost.
			opts, err := describeOptions()
			if err != nil {
				return nil, nil, err
			}
			defer opts.Destroy()
			return onnxruntime.GetInputOutputInfoWithOptions(path, opts)
		},
		func(in, out []string, opts *onnxruntime.SessionOptions) (*onnxruntime.DynamicAdvancedSession, error) {
			return onnxruntime.NewDynamicAdvancedSession(path, in, out, opts)
		})
}

// newSession builds a Session from a model source: describe lists its inputs and outputs (ONNX Runtime
// needs their names before it creates a session), create makes the session.
func newSession(name string, o Options,
	describe func() ([]onnxruntime.InputOutputInfo, []onnxruntime.InputOutputInfo, error),
	create func(in, out []string, opts *onnxruntime.SessionOptions) (*onnxruntime.DynamicAdvancedSession, error),
) (*Session, error) {
	if !initialized() {
		return nil, fmt.Errorf("%s: ONNX Runtime is not loaded; call ort.Init(path) first (ort.LibraryPath finds the library)", name)
	}
	opts, err := sessionOptions(o)
	if err != nil {
		return nil, fmt.Errorf("%s: setting up ONNX Runtime session options: %w", name, err)
	}
	defer opts.Destroy()

	rawIn, rawOut, err := describe()
	if err != nil {
		return nil, fmt.Errorf("%s: ONNX Runtime cannot load the model: %s", name, rootCause(err))
	}
	inputs, err := convertInfo(name, "input", rawIn)
	if err != nil {
		return nil, err
	}
	outputs, err := convertInfo(name, "output", rawOut)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, fmt.Errorf("%s: the model has %d inputs and %d outputs; package ort needs at least one of each",
			name, len(inputs), len(outputs))
	}
	sess, err := create(names(inputs), names(outputs), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: ONNX Runtime cannot load the model: %s", name, rootCause(err))
	}
	return &Session{name: name, inputs: inputs, outputs: outputs, session: sess}, nil
}

// sessionOptions turns Options into ONNX Runtime session options. It is the one place that chooses the
// execution provider (CPU, ONNX Runtime's default, for now); a CUDA provider is to be appended here.
func sessionOptions(o Options) (*onnxruntime.SessionOptions, error) {
	if o.Threads < 0 {
		return nil, fmt.Errorf("Threads is %d; want 0 (one per CPU core) or more", o.Threads)
	}
	threads := o.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return opts.SetIntraOpNumThreads(threads) },
		// Every failure also comes back as Run's or NewSession's error; ONNX Runtime's own log would print it twice.
		func() error { return opts.SetLogSeverityLevel(onnxruntime.LoggingLevelFatal) },
		// Idle ONNX Runtime threads otherwise busy-wait for the next Run, taking CPU from the Go code
		// (training the head) that runs between feature-extraction batches.
		func() error { return opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			opts.Destroy()
			return nil, err
		}
	}
	return opts, nil
}

// describeOptions are the options of the throwaway session that lists a model's inputs and outputs: no
// graph optimization, one thread.
func describeOptions() (*onnxruntime.SessionOptions, error) {
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return opts.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelDisableAll) },
		func() error { return opts.SetIntraOpNumThreads(1) },
		func() error { return opts.SetLogSeverityLevel(onnxruntime.LoggingLevelFatal) },
	} {
		if err := step(); err != nil {
			opts.Destroy()
			return nil, err
		}
	}
	return opts, nil
}

// convertInfo checks that every input or output (kind) is a tensor and describes it as an IOInfo.
func convertInfo(model, kind string, raw []onnxruntime.InputOutputInfo) ([]IOInfo, error) {
	out := make([]IOInfo, len(raw))
	for i, r := range raw {
		if r.OrtValueType != onnxruntime.ONNXTypeTensor {
			return nil, fmt.Errorf("%s: %s %q is a %s; package ort runs models whose inputs and outputs are "+
				"all dense tensors", model, kind, r.Name, r.OrtValueType)
		}
		out[i] = IOInfo{Name: r.Name, Type: ElementType(r.DataType), Shape: []int64(r.Dimensions.Clone())}
	}
	return out, nil
}

func names(infos []IOInfo) []string {
	n := make([]string, len(infos))
	for i, info := range infos {
		n[i] = info.Name
	}
	return n
}

// rootCause is the innermost message of onnxruntime_go's wrapped errors ("Error creating C session: ..."),
// which is ONNX Runtime's own explanation.
func rootCause(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err.Error()
		}
		err = inner
	}
}

// Name is the name the session uses for its model in error messages.
func (s *Session) Name() string { return s.name }

// Inputs describes the model's inputs, in the model's order.
func (s *Session) Inputs() []IOInfo { return cloneInfo(s.inputs) }

// Outputs describes the model's outputs, in the model's order (the order Run returns them in).
func (s *Session) Outputs() []IOInfo { return cloneInfo(s.outputs) }

func cloneInfo(infos []IOInfo) []IOInfo {
	out := make([]IOInfo, len(infos))
	for i, info := range infos {
		out[i] = IOInfo{Name: info.Name, Type: info.Type, Shape: append([]int64(nil), info.Shape...)}
	}
	return out
}

// Run feeds one tensor per model input, matched by name in any order, and returns every output in the
// order of Outputs. Names, element types and shapes are checked against the model first; a dimension
// the model leaves symbolic (such as the batch) may take any positive size. Input data is passed to ONNX
// Runtime without copying; outputs are fresh Go slices, and must be float or int64 tensors of rank 1 or more.
func (s *Session) Run(inputs []Tensor) ([]Tensor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.session == nil {
		return nil, fmt.Errorf("%s: the session is closed", s.name)
	}
	ordered, err := s.matchInputs(inputs)
	if err != nil {
		return nil, err
	}

	in := make([]onnxruntime.Value, len(ordered))
	defer destroyAll(in)
	for i, t := range ordered {
		if in[i], err = newValue(t); err != nil {
			return nil, fmt.Errorf("%s: input %q: %v", s.name, t.Name, err)
		}
	}
	out := make([]onnxruntime.Value, len(s.outputs)) // nil entries: ONNX Runtime allocates them
	defer destroyAll(out)
	if err := s.session.Run(in, out); err != nil {
		return nil, fmt.Errorf("%s: ONNX Runtime failed to run the model: %s", s.name, rootCause(err))
	}

	results := make([]Tensor, len(out))
	for i, v := range out {
		if results[i], err = goTensor(s.outputs[i].Name, v); err != nil {
			return nil, fmt.Errorf("%s: output %q: %v", s.name, s.outputs[i].Name, err)
		}
	}
	return results, nil
}

// matchInputs puts the given tensors in the model's input order after checking their names, types and shapes.
func (s *Session) matchInputs(given []Tensor) ([]Tensor, error) {
	index := make(map[string]int, len(s.inputs))
	for i, info := range s.inputs {
		index[info.Name] = i
	}
	ordered := make([]Tensor, len(s.inputs))
	seen := make([]bool, len(s.inputs))
	for _, t := range given {
		i, ok := index[t.Name]
		if !ok {
			return nil, fmt.Errorf("%s: the model has no input %q; its inputs are %s", s.name, t.Name, s.signature())
		}
		if seen[i] {
			return nil, fmt.Errorf("%s: input %q is given twice", s.name, t.Name)
		}
		seen[i] = true
		if err := checkTensor(s.inputs[i], t); err != nil {
			return nil, fmt.Errorf("%s: input %q: %v", s.name, t.Name, err)
		}
		ordered[i] = t
	}
	var missing []string
	for i, ok := range seen {
		if !ok {
			missing = append(missing, strconv.Quote(s.inputs[i].Name))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing input %s; the model's inputs are %s", s.name,
			strings.Join(missing, ", "), s.signature())
	}
	return ordered, nil
}

// checkTensor reports how t fails to fit the model input described by want, or nil.
func checkTensor(want IOInfo, t Tensor) error {
	if t.Data != nil && t.Ints != nil {
		return errors.New("both Data (float) and Ints (int64) are set; a tensor carries one of them")
	}
	if t.Type() != want.Type {
		field := "Data"
		if want.Type == TypeInt64 {
			field = "Ints"
		} else if want.Type != TypeFloat {
			return fmt.Errorf("the model wants %s elements; ort.Tensor carries only float and int64", want.Type)
		}
		return fmt.Errorf("the model wants %s elements but the tensor holds %s (put them in %s)", want.Type, t.Type(), field)
	}
	if len(t.Shape) == 0 {
		return fmt.Errorf("the tensor has no shape; the model expects %s", formatShape(want.Shape))
	}
	for d, n := range t.Shape {
		if n < 1 {
			return fmt.Errorf("shape %s has dimension %d of size %d; sizes must be positive", formatShape(t.Shape), d, n)
		}
	}
	// An input declared without a shape accepts any; ONNX Runtime checks it against the graph.
	if len(want.Shape) > 0 {
		fits := len(t.Shape) == len(want.Shape)
		for d := 0; fits && d < len(t.Shape); d++ {
			fits = want.Shape[d] < 0 || want.Shape[d] == t.Shape[d]
		}
		if !fits {
			return fmt.Errorf("shape %s does not fit the model's %s (? is any size)", formatShape(t.Shape), formatShape(want.Shape))
		}
	}
	elements := int64(1)
	for _, n := range t.Shape {
		if elements > (1<<62)/n {
			return fmt.Errorf("shape %s is too large", formatShape(t.Shape))
		}
		elements *= n
	}
	if have := int64(max(len(t.Data), len(t.Ints))); have != elements {
		return fmt.Errorf("shape %s needs %d elements but the tensor has %d", formatShape(t.Shape), elements, have)
	}
	return nil
}

// newValue wraps a checked tensor's Go slice as an ONNX Runtime value, without copying the elements.
func newValue(t Tensor) (onnxruntime.Value, error) {
	shape := onnxruntime.NewShape(t.Shape...).Clone() // NewShape aliases t.Shape; keep the caller's slice untouched
	if t.Ints != nil {
		return onnxruntime.NewTensor(shape, t.Ints)
	}
	return onnxruntime.NewTensor(shape, t.Data)
}

// goTensor copies an output value into a Tensor.
func goTensor(name string, v onnxruntime.Value) (Tensor, error) {
	shape := []int64(v.GetShape())
	switch tv := v.(type) {
	case *onnxruntime.Tensor[float32]:
		return Tensor{Name: name, Shape: shape, Data: tv.GetData()}, nil
	case *onnxruntime.Tensor[int64]:
		return Tensor{Name: name, Shape: shape, Ints: tv.GetData()}, nil
	case nil:
		return Tensor{}, errors.New("ONNX Runtime returned no value")
	default:
		return Tensor{}, fmt.Errorf("has element type %s; ort.Tensor carries only float and int64",
			ElementType(v.DataType()))
	}
}

func destroyAll(values []onnxruntime.Value) {
	for _, v := range values {
		if v != nil {
			v.Destroy()
		}
	}
}

// signature lists the model's inputs for error messages, e.g. `image float[? 3 8 8]`.
func (s *Session) signature() string {
	parts := make([]string, len(s.inputs))
	for i, info := range s.inputs {
		parts[i] = info.String()
	}
	return strings.Join(parts, ", ")
}

// formatShape writes a shape as [d0 d1 ...] with ? for a symbolic dimension.
func formatShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range shape {
		if i > 0 {
			b.WriteByte(' ')
		}
		if n < 0 {
			b.WriteByte('?')
		} else {
			b.WriteString(strconv.FormatInt(n, 10))
		}
	}
	b.WriteByte(']')
	return b.String()
}

// Close releases the session's ONNX Runtime resources; it waits for running calls to finish. Closing twice is harmless.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return nil
	}
	err := s.session.Destroy()
	s.session = nil
	if err != nil {
		return fmt.Errorf("%s: closing the ONNX Runtime session: %w", s.name, err)
	}
	return nil
}
