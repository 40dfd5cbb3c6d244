package datasets

import (
	"fmt"
	"math/rand"
	"sync"
)

// Per-channel normalisation constants, as torchvision's examples use them.
var (
	// MNISTMean and MNISTStd are the MNIST training set's pixel mean and standard deviation (in [0,1]).
	MNISTMean = []float32{0.1307}
	MNISTStd  = []float32{0.3081}
	// ImageNetMean and ImageNetStd are the RGB statistics ImageNet-pretrained backbones expect.
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Size is an image height and width in pixels.
type Size struct{ H, W int }

// Transform is the pipeline from a stored uint8 image to a float32 CHW sample. The steps run in
// this order: random crop and flip (only when Get is given an rng), scaling to [0,1] as
// torchvision's ToTensor does (always), bilinear resize, channel replication, normalisation.
// The zero Transform yields the image scaled to [0,1] at its stored size.
type Transform struct {
	// RandomCropPadding, when P > 0, applies torchvision's RandomCrop((H, W), padding=P) at the
	// stored resolution: the image is padded with P zero pixels on every side and an H×W window is
	// cut at a uniformly random offset. Default 0: no cropping.
	RandomCropPadding int
	// HFlip mirrors the image left-right with probability 0.5 (RandomHorizontalFlip). Default false.
	HFlip bool
	// Resize is the output size, interpolated like PyTorch's F.interpolate(mode="bilinear",
	// align_corners=False, antialias=False). Default zero: keep the stored size.
	Resize Size
	// Channels is the number of output channels. Default 0: as stored. A 1-channel image with
	// Channels > 1 has its plane replicated, so grayscale sets can feed an RGB backbone.
	Channels int
	// Mean and Std normalise channel c to (x - Mean[c]) / Std[c] after replication; a single value
	// applies to every channel. Default nil: no normalisation (values stay in [0,1]).
	Mean, Std []float32
}

// Check reports whether t can be applied to images with c channels.
func (t Transform) Check(c int) error {
	if t.RandomCropPadding < 0 {
		return fmt.Errorf("datasets: negative random-crop padding %d", t.RandomCropPadding)
	}
	if t.Resize.H < 0 || t.Resize.W < 0 || (t.Resize.H == 0) != (t.Resize.W == 0) {
		return fmt.Errorf("datasets: resize to %dx%d: give both height and width, positive", t.Resize.H, t.Resize.W)
	}
	out := t.outChannels(c)
	if out != c && c != 1 {
		return fmt.Errorf("datasets: cannot turn %d channels into %d (only 1-channel images can be replicated)", c, out)
	}
	if (t.Mean == nil) != (t.Std == nil) {
		return fmt.Errorf("datasets: normalisation needs both Mean and Std")
	}
	if t.Mean != nil {
		if (len(t.Mean) != 1 && len(t.Mean) != out) || (len(t.Std) != 1 && len(t.Std) != out) {
			return fmt.Errorf("datasets: normalisation with %d means and %d stds for %d channels", len(t.Mean), len(t.Std), out)
		}
		for _, s := range t.Std {
			if !(s > 0) {
				return fmt.Errorf("datasets: normalisation std %v is not positive", s)
			}
		}
	}
	return nil
}

func (t Transform) outChannels(c int) int {
	if t.Channels > 0 {
		return t.Channels
	}
	return c
}

// transformed is the Dataset returned by Transformed.
type transformed struct {
	src        *Images
	t          Transform
	c, h, w    int // output shape
	classes    int
	mean, std  []float32 // per output channel
	ys, xs     []interpWeights
	scratch    sync.Pool
	srcSize    int
	needResize bool
}

// Transformed applies t to every image of src as it is read. It panics if t does not suit src
// (see Transform.Check), a programming error.
func Transformed(src *Images, t Transform) Dataset {
	if err := t.Check(src.C); err != nil {
		panic(fmt.Sprintf("%v (images %s)", err, src.Name))
	}
	d := &transformed{src: src, t: t, c: t.outChannels(src.C), h: src.H, w: src.W, srcSize: src.C * src.H * src.W}
	if t.Resize.H > 0 {
		d.h, d.w = t.Resize.H, t.Resize.W
	}
	d.needResize = d.h != src.H || d.w != src.W
	if d.needResize {
		d.ys = linearWeights(src.H, d.h)
		d.xs = linearWeights(src.W, d.w)
	}
	if t.Mean != nil {
		d.mean, d.std = make([]float32, d.c), make([]float32, d.c)
		for c := 0; c < d.c; c++ {
			d.mean[c], d.std[c] = pick(t.Mean, c), pick(t.Std, c)
		}
	}
	d.classes = len(src.ClassNames)
	for _, y := range src.Labels {
		if y+1 > d.classes {
			d.classes = y + 1
		}
	}
	d.scratch.New = func() any { s := make([]float32, d.srcSize); return &s }
	return d
}

func pick(v []float32, c int) float32 {
	if len(v) == 1 {
		return v[0]
	}
	return v[c]
}

func (d *transformed) Len() int     { return d.src.Len() }
func (d *transformed) Shape() []int { return []int{d.c, d.h, d.w} }
func (d *transformed) Classes() int { return d.classes }

// toTensor holds x/255 in float32 for every byte, as torchvision's ToTensor computes it.
var toTensor = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

func (d *transformed) Get(i int, dst []float32, rng *rand.Rand) int {
	src := d.src
	img := src.Image(i)
	top, left, flip := d.t.RandomCropPadding, d.t.RandomCropPadding, false
	if rng != nil {
		if p := d.t.RandomCropPadding; p > 0 {
			top, left = rng.Intn(2*p+1), rng.Intn(2*p+1)
		}
		if d.t.HFlip {
			flip = rng.Float64() < 0.5
		}
	}
	// Scaled (and cropped/flipped) image at the stored size: straight into dst when no resize.
	var plane []float32
	var sp *[]float32
	if d.needResize {
		sp = d.scratch.Get().(*[]float32)
		plane = *sp
	} else {
		plane = dst[:d.srcSize]
	}
	cropFlip(plane, img, src.C, src.H, src.W, top-d.t.RandomCropPadding, left-d.t.RandomCropPadding, flip)
	oh, ow := d.h, d.w
	if d.needResize {
		for c := 0; c < src.C; c++ {
			resizeBilinear(dst[c*oh*ow:(c+1)*oh*ow], plane[c*src.H*src.W:(c+1)*src.H*src.W], src.W, d.ys, d.xs)
		}
		d.scratch.Put(sp)
	}
	if d.c != src.C { // 1 -> d.c replication
		for c := 1; c < d.c; c++ {
			copy(dst[c*oh*ow:(c+1)*oh*ow], dst[:oh*ow])
		}
	}
	if d.mean != nil {
		for c := 0; c < d.c; c++ {
			m, s := d.mean[c], d.std[c]
			p := dst[c*oh*ow : (c+1)*oh*ow]
			for k, v := range p {
				p[k] = (v - m) / s
			}
		}
	}
	return src.Labels[i]
}

// cropFlip writes into out (c×h×w) the image img (c×h×w uint8) shifted so that out(y, x) =
// img(y+dy, x+dx), zero outside img, mirrored left-right when flip; values are scaled to [0,1].
// This is torchvision's pad(P) + crop(top, left, h, w) with dy = top-P, dx = left-P, then hflip.
func cropFlip(out []float32, img []uint8, c, h, w, dy, dx int, flip bool) {
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			row := out[(ch*h+y)*w : (ch*h+y+1)*w]
			sy := y + dy
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			in := img[(ch*h+sy)*w : (ch*h+sy+1)*w]
			for x := 0; x < w; x++ {
				sx := x + dx
				if flip {
					sx = (w - 1 - x) + dx
				}
				if sx < 0 || sx >= w {
					row[x] = 0
				} else {
					row[x] = toTensor[in[sx]]
				}
			}
		}
	}
}

// interpWeights is one output coordinate of a linear interpolation: input indices i0, i1 and
// their weights.
type interpWeights struct {
	i0, i1 int
	w0, w1 float64
}

// linearWeights computes PyTorch's upsample_bilinear2d (CPU) indices and weights along one axis
// for align_corners=False: the scale in/out is a float32, the source coordinate
// scale*(dst+0.5)-0.5 (clamped at 0) is computed in float64 and the weights are float32.
func linearWeights(in, out int) []interpWeights {
	scale := float64(float32(in) / float32(out))
	ws := make([]interpWeights, out)
	for o := range ws {
		real := scale*(float64(o)+0.5) - 0.5
		if real < 0 {
			real = 0
		}
		i0 := min(int(real), in-1)
		l1 := min(max(float32(real-float64(i0)), 0), 1)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		ws[o] = interpWeights{i0: i0, i1: i1, w0: float64(1 - l1), w1: float64(l1)}
	}
	return ws
}

// resizeBilinear interpolates the plane in (width inW) into out using per-axis weights: each of
// the two input rows is interpolated along x, then they are blended along y, in float64 with one
// rounding to float32 at the end. This agrees with PyTorch's CPU kernel to within one float32 ulp
// (PyTorch's own result depends on the vector instructions it was built for).
func resizeBilinear(out, in []float32, inW int, ys, xs []interpWeights) {
	ow := len(xs)
	for oy, wy := range ys {
		r0 := in[wy.i0*inW : (wy.i0+1)*inW]
		r1 := in[wy.i1*inW : (wy.i1+1)*inW]
		row := out[oy*ow : (oy+1)*ow]
		for ox, wx := range xs {
			t0 := float64(r0[wx.i0])*wx.w0 + float64(r0[wx.i1])*wx.w1
			t1 := float64(r1[wx.i0])*wx.w0 + float64(r1[wx.i1])*wx.w1
			row[ox] = float32(t0*wy.w0 + t1*wy.w1)
		}
	}
}
