package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// IDX is the content of an IDX file (the format of MNIST and Fashion-MNIST) of unsigned bytes.
type IDX struct {
	Dims []int  // size of each dimension, outermost first
	Data []byte // prod(Dims) values, row-major
}

// ReadIDX reads an IDX file of unsigned bytes, raw or gzip-compressed (recognised by its magic bytes).
func ReadIDX(path string) (*IDX, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseIDX(data, path)
}

// ParseIDX decodes an IDX file held in data (raw or gzip); name labels the errors.
func ParseIDX(data []byte, name string) (*IDX, error) {
	var r io.Reader = bytes.NewReader(data)
	gz := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: not a valid gzip file: %v", name, err)
		}
		zr.Multistream(false)
		r = zr
	}
	what := "file has"
	if gz {
		what = "its uncompressed content has"
	}
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, idxReadError(name, err, fmt.Sprintf("a 4-byte IDX magic number, %s %d bytes", what, n))
	}
	if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
		return nil, fmt.Errorf("%s: not an IDX file: magic number %02x %02x %02x %02x, expected 00 00 08 0N", name, magic[0], magic[1], magic[2], magic[3])
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("%s: IDX element type 0x%02x, expected 0x08 (unsigned byte)", name, magic[2])
	}
	nd := int(magic[3])
	hdr := make([]byte, 4*nd)
	if n, err := io.ReadFull(r, hdr); err != nil {
		return nil, idxReadError(name, err, fmt.Sprintf("a header of %d bytes for %d dimensions, %s %d", 4+len(hdr), nd, what, 4+n))
	}
	dims := make([]int, nd)
	total := 1
	const maxElems = 1 << 40
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(hdr[4*i:]))
		if dims[i] != 0 && total > maxElems/dims[i] {
			return nil, fmt.Errorf("%s: IDX dimensions %v describe more than 2^40 values", name, dims[:i+1])
		}
		total *= dims[i]
	}
	head := 4 + len(hdr)
	expected := int64(head) + int64(total)
	var body []byte
	if gz {
		var buf bytes.Buffer
		buf.Grow(int(min(int64(total), 64*int64(len(data)))) + 1)
		if _, err := io.Copy(&buf, io.LimitReader(r, int64(total)+1)); err != nil {
			return nil, fmt.Errorf("%s: corrupt or truncated gzip data after %d uncompressed bytes (expected %d): %v", name, head+buf.Len(), expected, err)
		}
		body = buf.Bytes()
	} else {
		body = data[head:]
	}
	if len(body) < total {
		return nil, fmt.Errorf("%s: truncated: dimensions %v need %d bytes, %s %d", name, dims, expected, what, head+len(body))
	}
	if len(body) > total {
		return nil, fmt.Errorf("%s: dimensions %v need %d bytes, %s more", name, dims, expected, what)
	}
	if gz { // read to the end so the gzip checksum is verified
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, fmt.Errorf("%s: corrupt gzip data: %v", name, err)
		}
	}
	return &IDX{Dims: dims, Data: body}, nil
}

func idxReadError(name string, err error, expected string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: truncated: expected %s", name, expected)
	}
	return fmt.Errorf("%s: %v", name, err)
}

// ReadIDXImages reads an IDX file of n images of h×w unsigned bytes (3 dimensions), raw or gzip.
func ReadIDXImages(path string) (n, h, w int, pixels []uint8, err error) {
	x, err := ReadIDX(path)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if len(x.Dims) != 3 {
		return 0, 0, 0, nil, fmt.Errorf("%s: IDX file has %d dimensions %v, expected 3 (images, rows, columns)", path, len(x.Dims), x.Dims)
	}
	return x.Dims[0], x.Dims[1], x.Dims[2], x.Data, nil
}

// ReadIDXLabels reads an IDX file of unsigned-byte labels (1 dimension), raw or gzip.
func ReadIDXLabels(path string) ([]int, error) {
	x, err := ReadIDX(path)
	if err != nil {
		return nil, err
	}
	if len(x.Dims) != 1 {
		return nil, fmt.Errorf("%s: IDX file has %d dimensions %v, expected 1 (labels)", path, len(x.Dims), x.Dims)
	}
	labels := make([]int, len(x.Data))
	for i, b := range x.Data {
		labels[i] = int(b)
	}
	return labels, nil
}

// FashionMNISTClasses are Fashion-MNIST's class names, in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// digitClasses are MNIST's class names "0".."9".
func digitClasses() []string {
	names := make([]string, 10)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// idxFiles are the four file names of an MNIST-style set (each may also carry ".gz").
var idxFiles = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// LoadMNIST reads MNIST's four IDX files (raw or .gz) from dir.
func LoadMNIST(dir string) (train, test *Images, err error) {
	return loadIDXSet(dir, "mnist", digitClasses())
}

// LoadFashionMNIST reads Fashion-MNIST's four IDX files (raw or .gz) from dir.
func LoadFashionMNIST(dir string) (train, test *Images, err error) {
	return loadIDXSet(dir, "fashion-mnist", FashionMNISTClasses)
}

// findIDX returns the path of file name in dir, raw or with ".gz" (raw preferred), or an error
// naming both.
func findIDX(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, name+".gz")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: neither %s nor %s.gz found", dir, name, name)
}

// hasIDXSet reports whether dir holds all four files of an MNIST-style set.
func hasIDXSet(dir string) bool {
	for _, f := range idxFiles {
		if _, err := findIDX(dir, f); err != nil {
			return false
		}
	}
	return true
}

func loadIDXSet(dir, set string, classes []string) (train, test *Images, err error) {
	var paths [4]string
	for i, f := range idxFiles {
		if paths[i], err = findIDX(dir, f); err != nil {
			return nil, nil, err
		}
	}
	var parts [2]*Images
	var errs [2]error
	var wg sync.WaitGroup
	for k, split := range []string{"train", "test"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[k], errs[k] = loadIDXPair(paths[2*k], paths[2*k+1], set+"/"+split, classes)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return nil, nil, err
	}
	return parts[0], parts[1], nil
}

func loadIDXPair(imagesPath, labelsPath, name string, classes []string) (*Images, error) {
	n, h, w, pixels, err := ReadIDXImages(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadIDXLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", imagesPath, n, labelsPath, len(labels))
	}
	for i, y := range labels {
		if y >= len(classes) {
			return nil, fmt.Errorf("%s: label %d of item %d is out of range, expected 0..%d", labelsPath, y, i, len(classes)-1)
		}
	}
	return &Images{Name: name, C: 1, H: h, W: w, Pixels: pixels, Labels: labels, ClassNames: append([]string(nil), classes...)}, nil
}
