// Package checkpoint stores named tensors and string metadata in one file in the safetensors
// format (https://github.com/huggingface/safetensors), so that a tlkit checkpoint opens in
// PyTorch with safetensors.torch.load_file and a PyTorch export opens in tlkit.
//
// Files are written atomically: a reader, or a run resumed after a crash or kill, sees either
// the previous complete file or the new complete file, never a mixture.
package checkpoint

import (
	"fmt"
	"os"
	"sort"

	"tlkit/atomicfile"
)

// Tensor is a named, row-major array. Exactly one of F32, F64 and I64 holds its values;
// a tensor with no elements still needs its (empty, non-nil) slice to say its type.
type Tensor struct {
	Name  string
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
}

// File is the content of a checkpoint: its metadata and its tensors, sorted by name.
type File struct {
	Meta    map[string]string
	Tensors []Tensor
}

// Get returns the tensor called name, or nil when the file has none.
func (f *File) Get(name string) *Tensor {
	i := sort.Search(len(f.Tensors), func(i int) bool { return f.Tensors[i].Name >= name })
	if i < len(f.Tensors) && f.Tensors[i].Name == name {
		return &f.Tensors[i]
	}
	return nil
}

// Write stores tensors and meta at path in the safetensors format, atomically: the bytes go
// to a temporary file in the same directory, which is synced and then renamed over path.
// The same inputs always give the same bytes: header keys are sorted, and the data holds the
// 8-byte types first (so they stay aligned) and then the rest, each group in name order.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	enc, err := newEncoding(tensors, meta)
	if err != nil {
		return fmt.Errorf("writing checkpoint %s: %w", path, err)
	}
	if err := atomicfile.Write(path, enc.writeTo); err != nil {
		return fmt.Errorf("writing checkpoint %s: %w", path, err)
	}
	return nil
}

// Read loads and validates the safetensors file at path. Every problem found is reported as
// an error naming the file.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
