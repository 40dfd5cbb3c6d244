package datasets

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarExpected is testdata/cifar/expected.json: what torchvision's CIFAR100 class (and
// pickle.load(encoding="latin1") for the coarse labels) reads from the fixture archives that
// make_cifar_fixture.py wrote.
type cifarSplitExpected struct {
	Targets      []int
	Coarse       []int
	PixelSums    []int `json:"pixel_sums"`
	WeightedSums []int `json:"weighted_sums"`
	FirstPixels  []int `json:"first_pixels"`
}

type cifarExpected struct {
	Train, Test   cifarSplitExpected
	Classes       []string
	CoarseClasses []string `json:"coarse_classes"`
}

func loadCIFARExpected(t *testing.T) map[string]cifarExpected {
	t.Helper()
	b, err := os.ReadFile("testdata/cifar/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]cifarExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func checkCIFARSplit(t *testing.T, what string, s *Images, e cifarSplitExpected) {
	t.Helper()
	if s.C != 3 || s.H != 32 || s.W != 32 || s.Len() != len(e.Targets) {
		t.Fatalf("%s: %d images of %dx%dx%d, want %d of 3x32x32", what, s.Len(), s.C, s.H, s.W, len(e.Targets))
	}
	if !equalInts(s.Labels, e.Targets) || !equalInts(s.Coarse, e.Coarse) {
		t.Errorf("%s: labels %v coarse %v, torchvision has %v and %v", what, s.Labels, s.Coarse, e.Targets, e.Coarse)
	}
	for i := 0; i < s.Len(); i++ {
		sum, wsum := 0, 0
		for k, v := range s.Image(i) {
			sum += int(v)
			wsum += (k + 1) * int(v)
		}
		if sum != e.PixelSums[i] || wsum != e.WeightedSums[i] {
			t.Errorf("%s: image %d sums %d / %d (CHW-weighted), torchvision has %d / %d", what, i, sum, wsum, e.PixelSums[i], e.WeightedSums[i])
		}
	}
	for k, v := range e.FirstPixels {
		if int(s.Pixels[k]) != v {
			t.Errorf("%s: pixel %d = %d, torchvision has %d", what, k, s.Pixels[k], v)
		}
	}
}

// TestLoadCIFAR100Python reads the python version pickled as Python 2's cPickle did (py2) and
// re-pickled by Python 3 at protocols 2, 4 and 5 (with numpy label arrays and scalars).
func TestLoadCIFAR100Python(t *testing.T) {
	exp := loadCIFARExpected(t)
	for _, variant := range []string{"py2", "p2", "p4", "p5"} {
		e := exp[variant]
		// The folder holding cifar-100-python/, and that folder itself.
		for _, dir := range []string{filepath.Join("testdata/cifar", variant), filepath.Join("testdata/cifar", variant, "cifar-100-python")} {
			train, test, err := LoadCIFAR100(dir)
			if err != nil {
				t.Fatalf("%s: %v", variant, err)
			}
			checkCIFARSplit(t, variant+" train", train, e.Train)
			checkCIFARSplit(t, variant+" test", test, e.Test)
			if len(train.ClassNames) != 100 || strings.Join(train.ClassNames, ",") != strings.Join(e.Classes, ",") {
				t.Errorf("%s: class names %v, torchvision has %v", variant, train.ClassNames, e.Classes)
			}
			if train.ClassNames[7] != "café" || train.Name != "cifar100/train" || test.Name != "cifar100/test" {
				t.Errorf("%s: class 7 %q, names %q %q", variant, train.ClassNames[7], train.Name, test.Name)
			}
			checkCoarseView(t, variant, train, test, e)
		}
	}
}

// TestLoadCIFAR100Binary reads the binary version of the same images and checks it against the
// python version's torchvision values.
func TestLoadCIFAR100Binary(t *testing.T) {
	e := loadCIFARExpected(t)["py2"]
	train, test, err := LoadCIFAR100("testdata/cifar/binary")
	if err != nil {
		t.Fatal(err)
	}
	checkCIFARSplit(t, "binary train", train, e.Train)
	checkCIFARSplit(t, "binary test", test, e.Test)
	if strings.Join(train.ClassNames, ",") != strings.Join(e.Classes, ",") {
		t.Errorf("class names %v", train.ClassNames)
	}
	checkCoarseView(t, "binary", train, test, e)
	// --data cifar100-coarse opens the same archive with the superclass labels.
	ctrain, _, err := Open("cifar100-coarse", "testdata/cifar/binary")
	if err != nil || !equalInts(ctrain.Labels, e.Train.Coarse) || len(ctrain.ClassNames) != 20 {
		t.Errorf("Open(cifar100-coarse): %v, labels %v", err, ctrain.Labels)
	}
}

// checkCoarseView: the coarse view (--data cifar100-coarse) labels each image with its
// superclass and names the 20 superclasses as the archive's meta does.
func checkCoarseView(t *testing.T, what string, train, test *Images, e cifarExpected) {
	t.Helper()
	for _, c := range []struct {
		s *Images
		e cifarSplitExpected
	}{{train.CoarseView(), e.Train}, {test.CoarseView(), e.Test}} {
		if !equalInts(c.s.Labels, c.e.Coarse) || strings.Join(c.s.ClassNames, ",") != strings.Join(e.CoarseClasses, ",") || !strings.HasSuffix(c.s.Name, "-coarse") {
			t.Errorf("%s %s: labels %v names %v, pickle has %v and %v", what, c.s.Name, c.s.Labels, c.s.ClassNames, c.e.Coarse, e.CoarseClasses)
		}
	}
}

func cifarRecordBytes(coarse, fine byte, fill byte) []byte {
	r := make([]byte, cifarRecord)
	r[0], r[1] = coarse, fine
	for i := 2; i < len(r); i++ {
		r[i] = fill + byte(i)
	}
	return r
}

func TestParseCIFAR100BinaryErrors(t *testing.T) {
	rec := cifarRecordBytes(3, 42, 0)
	if _, fine, coarse, err := ParseCIFAR100Binary(append(rec, cifarRecordBytes(19, 99, 1)...), "t.bin"); err != nil || !equalInts(fine, []int{42, 99}) || !equalInts(coarse, []int{3, 19}) {
		t.Fatalf("two records: %v %v %v", fine, coarse, err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "t.bin: 0 bytes, expected a positive multiple of 3074"},
		{"truncated", rec[:1000], "t.bin: 1000 bytes, expected a positive multiple of 3074"},
		{"fine out of range", cifarRecordBytes(3, 100, 0), "t.bin: record 0 has coarse label 3 and fine label 100, expected 0..19 and 0..99"},
		{"coarse out of range", append(rec, cifarRecordBytes(20, 1, 0)...), "t.bin: record 1 has coarse label 20"},
	} {
		if _, _, _, err := ParseCIFAR100Binary(c.data, "t.bin"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestLoadCIFAR100Errors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadCIFAR100(dir); err == nil || !strings.Contains(err.Error(), "no CIFAR-100 found") {
		t.Errorf("empty folder: %v", err)
	}
	bin := filepath.Join(dir, "cifar-100-binary")
	src := "testdata/cifar/binary/cifar-100-binary"
	for _, f := range []string{"train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(bin, f), b)
	}
	writeFile(t, filepath.Join(bin, "coarse_label_names.txt"), []byte("a\nb\n"))
	if _, _, err := LoadCIFAR100(dir); err == nil || !strings.Contains(err.Error(), "coarse_label_names.txt: 2 class names, expected 20") {
		t.Errorf("short name list: %v", err)
	}

	py := filepath.Join(dir, "python", "cifar-100-python")
	for _, f := range []string{"train", "test", "meta"} {
		b, err := os.ReadFile(filepath.Join("testdata/cifar/py2/cifar-100-python", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(py, f), b)
	}
	train, _ := os.ReadFile(filepath.Join(py, "train"))
	writeFile(t, filepath.Join(py, "train"), train[:len(train)/2])
	if _, _, err := LoadCIFAR100(py); err == nil || !strings.Contains(err.Error(), filepath.Join(py, "train")+": pickle: truncated") {
		t.Errorf("truncated pickle: %v", err)
	}
	// Relabel: the py2 pickle stores fine labels as BININT1; turn the first one into 100.
	i := bytes.Index(train, []byte("fine_labels"))
	mod := append([]byte(nil), train...)
	k := bytes.IndexByte(mod[i:], 'K') + i // first BININT1 after the key
	mod[k+1] = 100
	writeFile(t, filepath.Join(py, "train"), mod)
	if _, _, err := LoadCIFAR100(py); err == nil || !strings.Contains(err.Error(), "fine_labels[0] is 100, expected 0..99") {
		t.Errorf("label out of range: %v", err)
	}
	writeFile(t, filepath.Join(py, "train"), []byte("not a pickle"))
	if _, _, err := LoadCIFAR100(py); err == nil || !strings.Contains(err.Error(), "unsupported opcode 0x6e") {
		t.Errorf("not a pickle: %v", err)
	}
}

// FuzzParseCIFAR100Binary checks that no input makes the binary reader panic. Seeds are in
// testdata/fuzz/FuzzParseCIFAR100Binary.
func FuzzParseCIFAR100Binary(f *testing.F) {
	f.Add(cifarRecordBytes(1, 2, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		px, fine, coarse, err := ParseCIFAR100Binary(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(px) != len(fine)*cifarImageBytes || len(fine) != len(coarse) {
			t.Fatalf("%d pixels for %d/%d labels", len(px), len(fine), len(coarse))
		}
	})
}

// FuzzParseCIFAR100Pickle checks that no input makes the unpickler panic. Seeds are the fixture
// pickles.
func FuzzParseCIFAR100Pickle(f *testing.F) {
	for _, v := range []string{"py2", "p2", "p4", "p5"} {
		b, err := os.ReadFile(filepath.Join("testdata/cifar", v, "cifar-100-python", "test"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseCIFAR100Pickle(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(s.Pixels) != s.Len()*cifarImageBytes {
			t.Fatalf("%d pixels for %d labels", len(s.Pixels), s.Len())
		}
	})
}
