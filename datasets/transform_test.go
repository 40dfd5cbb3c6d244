package datasets

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"testing"
)

// resizeFixture is testdata/resize_fixture.json, written by make_resize_fixture.py with PyTorch.
type resizeFixture struct {
	Cases []struct {
		Name        string
		Shape       []int
		Pixels      []uint8
		Size        []int
		Channels    int
		Mean, Std   []float32
		OutShape    []int     `json:"out_shape"`
		ChannelSums []float64 `json:"channel_sums"`
		Out         []float32
		SampleIndex []int     `json:"sample_index"`
		SampleValue []float32 `json:"sample_value"`
	}
	CropImage struct {
		Shape  []int
		Pixels []uint8
	} `json:"crop_image"`
	Crops []struct {
		Padding, Top, Left int
		Flip               bool
		Out                []float32
	}
}

func loadResizeFixture(t *testing.T) *resizeFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/resize_fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	var f resizeFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func oneImage(name string, shape []int, pixels []uint8) *Images {
	return &Images{Name: name, C: shape[0], H: shape[1], W: shape[2], Pixels: pixels, Labels: []int{3}}
}

// TestTransformMatchesTorch checks ToTensor + bilinear resize + channel repeat + Normalize against
// PyTorch's F.interpolate(align_corners=False, antialias=False) and torchvision's normalize.
func TestTransformMatchesTorch(t *testing.T) {
	f := loadResizeFixture(t)
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tf := Transform{Resize: Size{c.Size[0], c.Size[1]}, Channels: c.Channels, Mean: c.Mean, Std: c.Std}
			ds := Transformed(oneImage(c.Name, c.Shape, c.Pixels), tf)
			if got := ds.Shape(); !equalInts(got, c.OutShape) {
				t.Fatalf("shape %v, torch has %v", got, c.OutShape)
			}
			dst := make([]float32, SampleSize(ds))
			if y := ds.Get(0, dst, nil); y != 3 {
				t.Errorf("label %d, want 3", y)
			}
			// Allowed: one float32 ulp of a value in [0,1] (the resize), magnified by the
			// normalisation's 1/std, plus the rounding of the normalised value.
			stdMin := 1.0
			for _, s := range c.Std {
				stdMin = math.Min(stdMin, float64(s))
			}
			maxDiff := 0.0
			check := func(i int, want float32) {
				d := math.Abs(float64(dst[i] - want))
				maxDiff = math.Max(maxDiff, d)
				if d > 6e-8/stdMin+1.2e-7*math.Abs(float64(want)) {
					t.Errorf("value %d = %v, torch has %v", i, dst[i], want)
				}
			}
			if c.Out != nil {
				if len(c.Out) != len(dst) {
					t.Fatalf("%d values, torch has %d", len(dst), len(c.Out))
				}
				for i, w := range c.Out {
					check(i, w)
				}
			}
			for k, i := range c.SampleIndex {
				check(i, c.SampleValue[k])
			}
			plane := len(dst) / c.OutShape[0]
			for ch, want := range c.ChannelSums {
				sum := 0.0
				for _, v := range dst[ch*plane : (ch+1)*plane] {
					sum += float64(v)
				}
				if math.Abs(sum-want) > 1e-6*float64(plane) {
					t.Errorf("channel %d sums to %v, torch has %v", ch, sum, want)
				}
			}
			t.Logf("largest difference from torch: %g", maxDiff)
		})
	}
}

// TestCropFlipMatchesTorchvision checks the crop/flip geometry against torchvision's
// pad + crop + hflip for fixed offsets.
func TestCropFlipMatchesTorchvision(t *testing.T) {
	f := loadResizeFixture(t)
	s := f.CropImage.Shape
	for _, c := range f.Crops {
		out := make([]float32, s[0]*s[1]*s[2])
		cropFlip(out, f.CropImage.Pixels, s[0], s[1], s[2], c.Top-c.Padding, c.Left-c.Padding, c.Flip)
		for i := range out {
			if out[i] != c.Out[i] {
				t.Fatalf("padding %d top %d left %d flip %v: value %d = %v, torchvision has %v", c.Padding, c.Top, c.Left, c.Flip, i, out[i], c.Out[i])
			}
		}
	}
}

// TestAugmentationDistribution checks that RandomCrop offsets cover [0, 2P] uniformly-ish and
// HFlip flips about half the time, and that a nil rng leaves the image untouched.
func TestAugmentationDistribution(t *testing.T) {
	// A 1×5×5 image whose pixel value encodes its position, so each output reveals the crop/flip.
	const h, w, p = 5, 5, 2
	px := make([]uint8, h*w)
	for i := range px {
		px[i] = uint8(10 + i)
	}
	img := &Images{Name: "probe", C: 1, H: h, W: w, Pixels: px, Labels: []int{0}}
	ds := Transformed(img, Transform{RandomCropPadding: p, HFlip: true})
	dst := make([]float32, h*w)
	ds.Get(0, dst, nil)
	for i, v := range dst {
		if v != toTensor[px[i]] {
			t.Fatalf("no rng: value %d = %v, want %v", i, v, toTensor[px[i]])
		}
	}
	seen := map[[3]int]int{}
	rng := rand.New(rand.NewSource(1))
	const trials = 20000
	for k := 0; k < trials; k++ {
		ds.Get(0, dst, rng)
		// Recover (dy, dx, flip) from a pixel that is inside the image for every offset: the centre.
		v := int(math.Round(float64(dst[2*w+2])*255)) - 10
		sy, sx := v/w, v%w
		dy := sy - 2
		// Without flip sx = 2+dx; with flip sx = (w-1-2)+dx = 2+dx too: tell them apart by the neighbour.
		right := int(math.Round(float64(dst[2*w+3])*255)) - 10
		flip := 0
		if right == v-1 || (right < 0 && sx == 0) {
			flip = 1
		}
		dx := sx - 2
		if dy < -p || dy > p || dx < -p || dx > p {
			t.Fatalf("offset (%d, %d) outside ±%d", dy, dx, p)
		}
		seen[[3]int{dy, dx, flip}]++
	}
	if len(seen) != (2*p+1)*(2*p+1)*2 {
		t.Fatalf("saw %d of the %d crop/flip combinations", len(seen), (2*p+1)*(2*p+1)*2)
	}
	want := float64(trials) / float64(len(seen))
	for k, n := range seen {
		if math.Abs(float64(n)-want) > 0.25*want {
			t.Errorf("combination %v drawn %d times, expected about %.0f", k, n, want)
		}
	}
}

func TestTransformCheck(t *testing.T) {
	for _, c := range []struct {
		t Transform
		c int
	}{
		{Transform{Channels: 3}, 2},
		{Transform{Resize: Size{H: 3}}, 1},
		{Transform{Mean: []float32{0.5}}, 1},
		{Transform{Mean: []float32{0.5, 0.5}, Std: []float32{1, 1}}, 3},
		{Transform{Mean: []float32{0.5}, Std: []float32{0}}, 1},
		{Transform{RandomCropPadding: -1}, 1},
	} {
		if err := c.t.Check(c.c); err == nil {
			t.Errorf("%+v on %d channels: no error", c.t, c.c)
		}
	}
	if err := (Transform{Channels: 3, Mean: ImageNetMean, Std: ImageNetStd, Resize: Size{224, 224}}).Check(1); err != nil {
		t.Errorf("gray to ImageNet RGB: %v", err)
	}
}

func TestTransformedClasses(t *testing.T) {
	img := &Images{C: 1, H: 1, W: 1, Pixels: []uint8{0, 0}, Labels: []int{4, 1}}
	if n := Transformed(img, Transform{}).Classes(); n != 5 {
		t.Errorf("classes from labels: %d, want 5", n)
	}
	img.ClassNames = digitClasses()
	if n := Transformed(img, Transform{}).Classes(); n != 10 {
		t.Errorf("classes from names: %d, want 10", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
