package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR-100 geometry: 32×32 RGB images, 100 fine classes grouped in 20 coarse ones.
const (
	cifarImageBytes = 3 * 32 * 32
	cifarRecord     = 2 + cifarImageBytes // binary version: coarse byte, fine byte, R, G, B planes
	cifarFine       = 100
	cifarCoarse     = 20
)

// ParseCIFAR100Binary decodes the records of a CIFAR-100 binary file (train.bin or test.bin):
// 3,074 bytes each, a coarse label, a fine label and the 1024 R, G and B bytes. name labels errors.
func ParseCIFAR100Binary(data []byte, name string) (pixels []uint8, fine, coarse []int, err error) {
	if len(data) == 0 || len(data)%cifarRecord != 0 {
		return nil, nil, nil, fmt.Errorf("%s: %d bytes, expected a positive multiple of %d (CIFAR-100 binary records)", name, len(data), cifarRecord)
	}
	n := len(data) / cifarRecord
	pixels = make([]uint8, n*cifarImageBytes)
	fine, coarse = make([]int, n), make([]int, n)
	for i := 0; i < n; i++ {
		rec := data[i*cifarRecord : (i+1)*cifarRecord]
		coarse[i], fine[i] = int(rec[0]), int(rec[1])
		if coarse[i] >= cifarCoarse || fine[i] >= cifarFine {
			return nil, nil, nil, fmt.Errorf("%s: record %d has coarse label %d and fine label %d, expected 0..%d and 0..%d", name, i, coarse[i], fine[i], cifarCoarse-1, cifarFine-1)
		}
		copy(pixels[i*cifarImageBytes:], rec[2:])
	}
	return pixels, fine, coarse, nil
}

// LoadCIFAR100 reads CIFAR-100 from dir, which may be the extracted binary archive
// (cifar-100-binary/: train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt), the
// python archive (cifar-100-python/: train, test, meta) or a folder holding either.
func LoadCIFAR100(dir string) (train, test *Images, err error) {
	switch {
	case exists(filepath.Join(dir, "train.bin")):
		return loadCIFARBinary(dir)
	case exists(filepath.Join(dir, "meta")):
		return loadCIFARPython(dir)
	case exists(filepath.Join(dir, "cifar-100-binary", "train.bin")):
		return loadCIFARBinary(filepath.Join(dir, "cifar-100-binary"))
	case exists(filepath.Join(dir, "cifar-100-python", "meta")):
		return loadCIFARPython(filepath.Join(dir, "cifar-100-python"))
	}
	return nil, nil, fmt.Errorf("%s: no CIFAR-100 found: expected train.bin (binary version) or meta (python version), there or in cifar-100-binary/ or cifar-100-python/", dir)
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func loadCIFARBinary(dir string) (train, test *Images, err error) {
	fineNames, err := readNames(filepath.Join(dir, "fine_label_names.txt"), cifarFine)
	if err != nil {
		return nil, nil, err
	}
	coarseNames, err := readNames(filepath.Join(dir, "coarse_label_names.txt"), cifarCoarse)
	if err != nil {
		return nil, nil, err
	}
	var sets [2]*Images
	for k, split := range []string{"train", "test"} {
		path := filepath.Join(dir, split+".bin")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		pixels, fine, coarse, err := ParseCIFAR100Binary(data, path)
		if err != nil {
			return nil, nil, err
		}
		sets[k] = &Images{Name: "cifar100/" + split, C: 3, H: 32, W: 32, Pixels: pixels, Labels: fine, Coarse: coarse, ClassNames: fineNames, CoarseNames: coarseNames}
	}
	return sets[0], sets[1], nil
}

// readNames reads one class name per line (blank lines ignored) and checks there are want of them.
func readNames(path string, want int) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) != want {
		return nil, fmt.Errorf("%s: %d class names, expected %d", path, len(names), want)
	}
	return names, nil
}

func loadCIFARPython(dir string) (train, test *Images, err error) {
	metaPath := filepath.Join(dir, "meta")
	meta, err := readPickleDict(metaPath)
	if err != nil {
		return nil, nil, err
	}
	fineNames, err := dictStrings(meta, "fine_label_names", metaPath, cifarFine)
	if err != nil {
		return nil, nil, err
	}
	coarseNames, err := dictStrings(meta, "coarse_label_names", metaPath, cifarCoarse)
	if err != nil {
		return nil, nil, err
	}
	var sets [2]*Images
	for k, split := range []string{"train", "test"} {
		path := filepath.Join(dir, split)
		if sets[k], err = readCIFARPythonSplit(path); err != nil {
			return nil, nil, err
		}
		sets[k].Name = "cifar100/" + split
		sets[k].ClassNames, sets[k].CoarseNames = fineNames, coarseNames
	}
	return sets[0], sets[1], nil
}

// ParseCIFAR100Pickle decodes one split of the CIFAR-100 python version (a pickled dict with
// data, fine_labels and coarse_labels); name labels errors.
func ParseCIFAR100Pickle(data []byte, name string) (*Images, error) {
	v, err := unpickle(data, name)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%s: the pickle holds a %s, expected a dict", name, typeName(v))
	}
	raw, ok := d.lookup("data")
	if !ok {
		return nil, fmt.Errorf("%s: no \"data\" entry in the pickled dict", name)
	}
	arr, ok := raw.(*npArray)
	if !ok {
		return nil, fmt.Errorf("%s: \"data\" is a %s, expected a uint8 numpy array", name, typeName(raw))
	}
	if arr.dtype == nil {
		return nil, fmt.Errorf("%s: \"data\" is a numpy array that was never filled", name)
	}
	if arr.dtype.kind != 'u' || arr.dtype.size != 1 {
		return nil, fmt.Errorf("%s: \"data\" has %c%d items, expected uint8", name, arr.dtype.kind, arr.dtype.size)
	}
	if len(arr.shape) == 0 || len(arr.data)%cifarImageBytes != 0 || (len(arr.shape) > 1 && prod(arr.shape[1:]) != cifarImageBytes) {
		return nil, fmt.Errorf("%s: \"data\" has shape %v, expected (N, %d)", name, arr.shape, cifarImageBytes)
	}
	if arr.fortran && len(arr.shape) > 1 {
		return nil, fmt.Errorf("%s: \"data\" is a Fortran-ordered array, expected C order", name)
	}
	n := len(arr.data) / cifarImageBytes
	fine, err := dictInts(d, "fine_labels", name, n, cifarFine)
	if err != nil {
		return nil, err
	}
	coarse, err := dictInts(d, "coarse_labels", name, n, cifarCoarse)
	if err != nil {
		return nil, err
	}
	return &Images{C: 3, H: 32, W: 32, Pixels: arr.data, Labels: fine, Coarse: coarse}, nil
}

func prod(v []int) int {
	p := 1
	for _, x := range v {
		p *= x
	}
	return p
}

func readCIFARPythonSplit(path string) (*Images, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCIFAR100Pickle(data, path)
}

func readPickleDict(path string) (*pyDict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := unpickle(data, path)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%s: the pickle holds a %s, expected a dict", path, typeName(v))
	}
	return d, nil
}

func dictInts(d *pyDict, key, name string, n, classes int) ([]int, error) {
	v, ok := d.lookup(key)
	if !ok {
		return nil, fmt.Errorf("%s: no %q entry in the pickled dict", name, key)
	}
	out, err := pyInts(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is %v", name, key, err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("%s: %d images but %d %s", name, n, len(out), key)
	}
	for i, y := range out {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("%s: %s[%d] is %d, expected 0..%d", name, key, i, y, classes-1)
		}
	}
	return out, nil
}

func dictStrings(d *pyDict, key, name string, want int) ([]string, error) {
	v, ok := d.lookup(key)
	if !ok {
		return nil, fmt.Errorf("%s: no %q entry in the pickled dict", name, key)
	}
	out, err := pyStrings(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is %v", name, key, err)
	}
	if len(out) != want {
		return nil, fmt.Errorf("%s: %d %s, expected %d", name, len(out), key, want)
	}
	return out, nil
}
