package backbone

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"tlkit/checkpoint"
	"tlkit/datasets"
	"tlkit/engine"
	"tlkit/exporter"
	"tlkit/gpu"
	"tlkit/nn"
	"tlkit/ort"
	"tlkit/train"
)

// Extractor computes a backbone's features for a batch of samples.
type Extractor interface {
	// Extract returns the features of the n samples in x (n × features, row-major).
	Extract(x []float32, n int) ([]float32, error)
	// Name says which engine computes, for reports.
	Name() string
	Close() error
}

// forwardExtractor runs the backbone in one of tlkit's engines (inference mode): the CPU
// engine's or the CUDA backend's inference programs, one per batch size.
type forwardExtractor struct {
	f     train.Forwarder
	name  string
	close func() error
}

// NewEngineExtractor computes features with tlkit's engine.
func NewEngineExtractor(m *nn.Model) Extractor {
	return &forwardExtractor{train.NewCPU(m, engine.Options{ConstantWeights: true}), "tlkit", func() error { return nil }}
}

// NewGPUExtractor computes features on a CUDA GPU with tlkit's own backend.
func NewGPUExtractor(d *gpu.Device, m *nn.Model) Extractor {
	g := train.NewGPU(d, m, engine.Options{ConstantWeights: true})
	return &forwardExtractor{g, "tlkit-cuda", g.P.Close}
}

func (e *forwardExtractor) Extract(x []float32, n int) ([]float32, error) {
	y, err := e.f.Forward(x, n)
	if err != nil {
		return nil, err
	}
	// the CPU engine's output buffer is reused by the next batch; the caller keeps these
	return append([]float32(nil), y...), nil
}

func (e *forwardExtractor) Name() string { return e.name }
func (e *forwardExtractor) Close() error { return e.close() }

// ortExtractor runs the backbone, exported to ONNX, in ONNX Runtime: for inference it runs close
// to this machine's arithmetic peak, so it is the fast way to compute a frozen backbone's features.
type ortExtractor struct {
	s     *ort.Session
	input string
	shape []int64
}

// NewORTExtractor exports m and opens it in ONNX Runtime (which must be initialised).
func NewORTExtractor(m *nn.Model) (Extractor, error) {
	b, err := exporter.Encode(m)
	if err != nil {
		return nil, err
	}
	s, err := ort.NewSession(b, ort.Options{Threads: runtime.GOMAXPROCS(0), Name: m.Name + " backbone"})
	if err != nil {
		return nil, err
	}
	shape := make([]int64, len(m.Inputs[0].Shape))
	for i, d := range m.Inputs[0].Shape {
		shape[i] = int64(d)
	}
	return &ortExtractor{s: s, input: m.Inputs[0].Name, shape: shape}, nil
}

func (e *ortExtractor) Extract(x []float32, n int) ([]float32, error) {
	shape := append([]int64{}, e.shape...)
	shape[0] = int64(n)
	out, err := e.s.Run([]ort.Tensor{{Name: e.input, Shape: shape, Data: x}})
	if err != nil {
		return nil, err
	}
	return out[0].Data, nil
}

func (e *ortExtractor) Name() string { return "onnxruntime" }
func (e *ortExtractor) Close() error { return e.s.Close() }

// Compute runs every sample of ds (no augmentation) through ex in batches and returns the
// features as an in-memory dataset with ds's labels. progress, when set, is called after each
// batch with the samples done.
func Compute(ds datasets.Dataset, ex Extractor, batch int, progress func(done int)) (*datasets.Tensors, error) {
	loader := datasets.NewLoader(ds, datasets.LoaderOptions{BatchSize: batch})
	it := loader.Epoch(0)
	defer it.Close()
	var feats []float32
	labels := make([]int, 0, ds.Len())
	width := 0
	for it.Next() {
		b := it.Batch()
		f, err := ex.Extract(b.X, b.N)
		if err != nil {
			return nil, err
		}
		if width == 0 {
			width = len(f) / b.N
			feats = make([]float32, 0, ds.Len()*width)
		}
		for _, v := range f {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("the backbone produced a non-finite feature (%v)", v)
			}
		}
		feats = append(feats, f...)
		labels = append(labels, b.Y[:b.N]...)
		if progress != nil {
			progress(len(labels))
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return datasets.NewTensors(feats, []int{width}, labels, ds.Classes())
}

// Fingerprint identifies a backbone by its structure and every tensor's values, for cache keys.
func Fingerprint(m *nn.Model) (string, error) {
	h := sha256.New()
	s, err := nn.MarshalStructure(m)
	if err != nil {
		return "", err
	}
	h.Write(s)
	buf := make([]byte, 4)
	for _, t := range m.Tensors() {
		for _, v := range t.Data {
			u := math.Float32bits(v)
			buf[0], buf[1], buf[2], buf[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(buf)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CacheKey combines what the features depend on: the backbone, the data (name, split, subset,
// transform) into a file name component.
func CacheKey(backbone string, data any) string {
	b, _ := json.Marshal(data)
	h := sha256.Sum256(append([]byte(backbone+"|"), b...))
	return hex.EncodeToString(h[:12])
}

// Cached returns the features stored under key in dir, or computes them with compute and stores
// them (atomically) for the next run. hit reports whether they came from the cache. An unreadable
// or inconsistent cache file is recomputed, never trusted.
func Cached(dir, key string, compute func() (*datasets.Tensors, error)) (t *datasets.Tensors, hit bool, err error) {
	path := filepath.Join(dir, "features-"+key+".safetensors")
	if f, err := checkpoint.Read(path); err == nil {
		if t, err := fromFile(f, key); err == nil {
			return t, true, nil
		}
	}
	t, err = compute()
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, false, fmt.Errorf("feature cache: %w", err)
	}
	labels := make([]int64, len(t.Labels))
	for i, y := range t.Labels {
		labels[i] = int64(y)
	}
	width := t.Shape()[0]
	err = checkpoint.Write(path, []checkpoint.Tensor{
		{Name: "features", Shape: []int{t.Len(), width}, F32: t.Data},
		{Name: "labels", Shape: []int{t.Len()}, I64: labels},
	}, map[string]string{"tlkit.cache_key": key, "tlkit.classes": strconv.Itoa(t.Classes())})
	if err != nil {
		return t, false, fmt.Errorf("feature cache: %w", err)
	}
	return t, false, nil
}

func fromFile(f *checkpoint.File, key string) (*datasets.Tensors, error) {
	if f.Meta["tlkit.cache_key"] != key {
		return nil, fmt.Errorf("cache key mismatch")
	}
	classes, err := strconv.Atoi(f.Meta["tlkit.classes"])
	if err != nil {
		return nil, err
	}
	x, y := f.Get("features"), f.Get("labels")
	if x == nil || y == nil || x.F32 == nil || y.I64 == nil || len(x.Shape) != 2 || x.Shape[0] != len(y.I64) {
		return nil, fmt.Errorf("malformed feature cache")
	}
	labels := make([]int, len(y.I64))
	for i, v := range y.I64 {
		labels[i] = int(v)
	}
	return datasets.NewTensors(x.F32, []int{x.Shape[1]}, labels, classes)
}
