// Package datasets is tlkit's data layer: readers for MNIST, Fashion-MNIST (IDX files) and
// CIFAR-100 (binary and python archives), the transform pipeline that turns stored uint8 images
// into normalised float32 CHW samples, a seeded prefetching batch loader, splits, offline lookup of
// the data on disk and downloads.
package datasets

import (
	"fmt"
	"math/rand"
)

// Images is a labelled image set held in memory as the files store it: uint8 pixels, CHW per image.
type Images struct {
	Name       string // e.g. "mnist/train", "cifar100/test"
	C, H, W    int
	Pixels     []uint8  // Len()*C*H*W
	Labels     []int    // class per image (CIFAR-100: the fine label 0..99)
	Coarse     []int    // CIFAR-100 coarse label 0..19; nil for other sets
	ClassNames []string // names of Labels' classes (MNIST: "0".."9"; Fashion: "T-shirt/top", ...; CIFAR: from the archive)
	// CoarseNames names the coarse classes (CIFAR-100's 20 superclasses, from the archive).
	CoarseNames []string
}

// CoarseView is s labelled with its coarse classes (CIFAR-100's 20 superclasses) instead of
// its fine ones; it shares s's pixels.
func (s *Images) CoarseView() *Images {
	c := *s
	c.Name += "-coarse"
	c.Labels, c.ClassNames = s.Coarse, s.CoarseNames
	return &c
}

// Len is the number of images.
func (s *Images) Len() int { return len(s.Labels) }

// Image returns the C*H*W pixels of image i, a view into Pixels.
func (s *Images) Image(i int) []uint8 {
	n := s.C * s.H * s.W
	return s.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// Dataset is what the training loop reads: float32 samples of one shape, with a label.
type Dataset interface {
	Len() int
	Shape() []int // per-sample shape after transforms, e.g. [1 28 28] or [3 224 224] or [512] for cached features
	Classes() int
	// Get writes sample i into dst (len == product of Shape()) and returns its label. rng drives random
	// augmentation; a nil rng means no augmentation (evaluation).
	Get(i int, dst []float32, rng *rand.Rand) int
}

// SampleSize is the number of float32 values of one sample of ds: the product of its Shape.
func SampleSize(ds Dataset) int {
	n := 1
	for _, d := range ds.Shape() {
		n *= d
	}
	return n
}

// Tensors is an in-memory Dataset over float32 samples stored back to back, such as cached
// backbone features; it has no augmentation.
type Tensors struct {
	Data    []float32 // Len()*prod(shape) values
	Labels  []int
	shape   []int
	size    int
	classes int
}

// NewTensors wraps data (len(labels) samples of the given shape, back to back) as a Dataset with
// classes classes. It checks that the sizes agree and that every label is in [0, classes).
func NewTensors(data []float32, shape []int, labels []int, classes int) (*Tensors, error) {
	size := 1
	for _, d := range shape {
		if d <= 0 {
			return nil, fmt.Errorf("datasets: tensor sample shape %v has a non-positive dimension", shape)
		}
		size *= d
	}
	if len(data) != len(labels)*size {
		return nil, fmt.Errorf("datasets: %d labels of shape %v need %d values, got %d", len(labels), shape, len(labels)*size, len(data))
	}
	if classes <= 0 {
		return nil, fmt.Errorf("datasets: classes must be positive, got %d", classes)
	}
	for i, y := range labels {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("datasets: label %d of sample %d is outside [0, %d)", y, i, classes)
		}
	}
	return &Tensors{Data: data, Labels: labels, shape: append([]int(nil), shape...), size: size, classes: classes}, nil
}

// Len is the number of samples.
func (t *Tensors) Len() int { return len(t.Labels) }

// Shape is the per-sample shape given to NewTensors.
func (t *Tensors) Shape() []int { return append([]int(nil), t.shape...) }

// Classes is the number of classes given to NewTensors.
func (t *Tensors) Classes() int { return t.classes }

// Get copies sample i into dst; rng is ignored.
func (t *Tensors) Get(i int, dst []float32, rng *rand.Rand) int {
	copy(dst[:t.size], t.Data[i*t.size:(i+1)*t.size])
	return t.Labels[i]
}

type subset struct {
	ds      Dataset
	indices []int
}

// Subset is the Dataset of ds's samples at indices, in that order (sample i of the subset is
// sample indices[i] of ds). It panics if an index is outside [0, ds.Len()), a programming error.
func Subset(ds Dataset, indices []int) Dataset {
	n := ds.Len()
	for _, i := range indices {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("datasets.Subset: index %d outside [0, %d)", i, n))
		}
	}
	return &subset{ds: ds, indices: append([]int(nil), indices...)}
}

func (s *subset) Len() int     { return len(s.indices) }
func (s *subset) Shape() []int { return s.ds.Shape() }
func (s *subset) Classes() int { return s.ds.Classes() }
func (s *subset) Get(i int, dst []float32, rng *rand.Rand) int {
	return s.ds.Get(s.indices[i], dst, rng)
}
