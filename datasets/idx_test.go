package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an unsigned-byte IDX file with the given dimensions.
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gzipBytes(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTinyIDXSet writes an MNIST-style set of 3 train and 2 test 2×2 images into dir.
func writeTinyIDXSet(t *testing.T, dir string, gz bool) {
	t.Helper()
	files := map[string][]byte{
		"train-images-idx3-ubyte": idxBytes([]int{3, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
		"train-labels-idx1-ubyte": idxBytes([]int{3}, []byte{5, 0, 9}),
		"t10k-images-idx3-ubyte":  idxBytes([]int{2, 2, 2}, []byte{0, 255, 0, 255, 7, 7, 7, 7}),
		"t10k-labels-idx1-ubyte":  idxBytes([]int{2}, []byte{7, 2}),
	}
	for name, data := range files {
		if gz {
			writeFile(t, filepath.Join(dir, name+".gz"), gzipBytes(data))
		} else {
			writeFile(t, filepath.Join(dir, name), data)
		}
	}
}

func TestReadIDXRawAndGzip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		writeTinyIDXSet(t, dir, gz)
		train, test, err := LoadMNIST(dir)
		if err != nil {
			t.Fatalf("gzip %v: %v", gz, err)
		}
		if train.Len() != 3 || test.Len() != 2 || train.H != 2 || train.W != 2 || train.C != 1 {
			t.Fatalf("gzip %v: got %d/%d images of %dx%dx%d", gz, train.Len(), test.Len(), train.C, train.H, train.W)
		}
		if !bytes.Equal(train.Image(2), []byte{9, 10, 11, 12}) || train.Labels[0] != 5 || test.Labels[1] != 2 {
			t.Errorf("gzip %v: wrong content %v %v", gz, train.Pixels, train.Labels)
		}
		if train.Name != "mnist/train" || test.Name != "mnist/test" || train.ClassNames[9] != "9" {
			t.Errorf("gzip %v: names %q %q %v", gz, train.Name, test.Name, train.ClassNames)
		}
	}
}

// mnistReference holds values computed with numpy from the published .gz files (md5s as in
// torchvision): /usr/bin/python3 reading them with np.frombuffer(gzip.open(p).read(), offset=16 or 8).
var mnistReference = map[string]struct {
	n, pixelSum, img0Sum, lastSum, labelSum int
	firstLabels                             []int
	counts                                  []int
}{
	"mnist/train":         {60000, 1567298545, 27525, 20920, 267236, []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
	"mnist/test":          {10000, 264923200, 18454, 41833, 44434, []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	"fashion-mnist/train": {60000, 3431114169, 76247, 16684, 270000, []int{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, []int{6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000}},
	"fashion-mnist/test":  {10000, 573469082, 33456, 24390, 45000, []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, []int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}},
}

func checkReference(t *testing.T, s *Images) {
	t.Helper()
	ref, ok := mnistReference[s.Name]
	if !ok {
		t.Fatalf("no reference for %q", s.Name)
	}
	if s.Len() != ref.n || s.C != 1 || s.H != 28 || s.W != 28 || len(s.Pixels) != ref.n*784 {
		t.Fatalf("%s: %d images of %dx%dx%d, want %d of 1x28x28", s.Name, s.Len(), s.C, s.H, s.W, ref.n)
	}
	sum := func(p []uint8) int {
		total := 0
		for _, v := range p {
			total += int(v)
		}
		return total
	}
	if got := sum(s.Pixels); got != ref.pixelSum {
		t.Errorf("%s: pixel sum %d, numpy has %d", s.Name, got, ref.pixelSum)
	}
	if got := sum(s.Image(0)); got != ref.img0Sum {
		t.Errorf("%s: first image sums to %d, numpy has %d", s.Name, got, ref.img0Sum)
	}
	if got := sum(s.Image(s.Len() - 1)); got != ref.lastSum {
		t.Errorf("%s: last image sums to %d, numpy has %d", s.Name, got, ref.lastSum)
	}
	counts := make([]int, 10)
	labelSum := 0
	for _, y := range s.Labels {
		counts[y]++
		labelSum += y
	}
	if !equalInts(s.Labels[:10], ref.firstLabels) || !equalInts(counts, ref.counts) || labelSum != ref.labelSum {
		t.Errorf("%s: labels start %v with counts %v, numpy has %v and %v", s.Name, s.Labels[:10], counts, ref.firstLabels, ref.counts)
	}
}

// TestOpenMNISTFromGoModule finds MNIST through the GoMNIST module (the data root is empty).
func TestOpenMNISTFromGoModule(t *testing.T) {
	train, test, err := Open("mnist", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkReference(t, train)
	checkReference(t, test)
	if train.Labels[0] != 5 || test.Labels[0] != 7 {
		t.Errorf("first labels %d and %d, want 5 and 7", train.Labels[0], test.Labels[0])
	}
}

// TestOpenFashionMNISTFromDebian reads the dataset-fashion-mnist package's files.
func TestOpenFashionMNISTFromDebian(t *testing.T) {
	train, test, err := Open("fashion-mnist", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkReference(t, train)
	checkReference(t, test)
	if train.ClassNames[0] != "T-shirt/top" || train.ClassNames[9] != "Ankle boot" {
		t.Errorf("class names %v", train.ClassNames)
	}
}

func TestIDXErrors(t *testing.T) {
	good := idxBytes([]int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated: expected a 4-byte IDX magic number, file has 0 bytes"},
		{"bad magic", []byte("PK\x03\x04rest"), "not an IDX file: magic number 50 4b 03 04"},
		{"float type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 0}, "element type 0x0d, expected 0x08"},
		{"short header", []byte{0, 0, 8, 3, 0, 0}, "truncated: expected a header of 16 bytes for 3 dimensions, file has 6"},
		{"truncated data", good[:20], "truncated: dimensions [2 2 2] need 24 bytes, file has 20"},
		{"trailing data", append(append([]byte(nil), good...), 9), "need 24 bytes, file has more"},
		{"truncated gzip data", gzipBytes(good)[:30], "corrupt or truncated gzip data"},
		{"gzip of short file", gzipBytes(good[:20]), "its uncompressed content has 20"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0}, "not a valid gzip file"},
		{"huge dims", []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "more than 2^40 values"},
	} {
		_, err := ParseIDX(c.data, "x.idx")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x.idx: ") {
			t.Errorf("%s: error %v, want one naming x.idx and saying %q", c.name, err, c.want)
		}
	}
	if x, err := ParseIDX(good, "x"); err != nil || !equalInts(x.Dims, []int{2, 2, 2}) {
		t.Errorf("good file: %v %v", x, err)
	}
}

// TestMNISTSizeMessage checks the message for a truncated MNIST training file, which names the
// full expected size.
func TestMNISTSizeMessage(t *testing.T) {
	data := idxBytes([]int{60000, 28, 28}, make([]byte, 1000-16))
	_, err := ParseIDX(data, "train-images-idx3-ubyte")
	if err == nil || !strings.Contains(err.Error(), "need 47040016 bytes, file has 1000") {
		t.Errorf("error %v", err)
	}
}

func TestLoadIDXSetErrors(t *testing.T) {
	dir := t.TempDir()
	writeTinyIDXSet(t, dir, false)
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]int{2}, []byte{1, 2}))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "has 3 images but") || !strings.Contains(err.Error(), "has 2 labels") {
		t.Errorf("count mismatch: %v", err)
	}
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]int{3}, []byte{1, 2, 10}))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "label 10 of item 2 is out of range, expected 0..9") {
		t.Errorf("label range: %v", err)
	}
	writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]int{3, 1}, []byte{1, 2, 3}))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "expected 1 (labels)") {
		t.Errorf("label dims: %v", err)
	}
	os.Remove(filepath.Join(dir, "t10k-images-idx3-ubyte"))
	if _, _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz found") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseIDX checks that no input makes the IDX reader panic and that what it accepts is
// consistent with its header. Seeds are in testdata/fuzz/FuzzParseIDX.
func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(gzipBytes(idxBytes([]int{3}, []byte{1, 2, 3})))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseIDX(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v but %d values", x.Dims, len(x.Data))
		}
	})
}
