package checkpoint

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// file assembles a safetensors file from a header and data, without padding.
func file(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestDecodeRejectsCorruptFiles(t *testing.T) {
	f32x2 := make([]byte, 8)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "0 bytes, fewer than the 8-byte header length"},
		{"short", []byte{1, 2, 3}, "3 bytes, fewer than the 8-byte header length"},
		{"length past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "says 100 bytes but only 2 follow"},
		{"huge length", binary.LittleEndian.AppendUint64(nil, 1<<63), "says 9223372036854775808 bytes"},
		{"zero length", file("", nil), "does not start with '{'"},
		{"not an object", file("[1,2]", nil), "does not start with '{'"},
		{"bad json", file(`{"x":`, nil), `bad JSON in "x": the JSON ends early`},
		{"bad json token", file(`{"x" 1}`, nil), "near byte"},
		{"entry not object", file(`{"x":1}`, nil), `tensor "x": the entry must be an object with dtype, shape and data_offsets, not 1`},
		{"dtype not string", file(`{"x":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, nil), `dtype must be a string, not 4`},
		{"trailing json", file(`{} {}`, nil), "after the header object"},
		{"invalid utf-8", file("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"unknown dtype", file(`{"x":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, f32x2), `tensor "x": dtype "F33" is not a safetensors dtype`},
		{"missing field", file(`{"x":{"dtype":"F32","shape":[2]}}`, f32x2), `tensor "x": dtype, shape and data_offsets are all required`},
		{"wrong type", file(`{"x":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}`, f32x2), `tensor "x": shape must be a list of integers, not "2"`},
		{"fractional dim", file(`{"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, f32x2), `tensor "x": shape must be a list of integers, not [2.5]`},
		{"negative dim", file(`{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, f32x2), "negative dimension"},
		{"three offsets", file(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, f32x2), "data_offsets must be [begin, end] with 0 <= begin <= end"},
		{"reversed offsets", file(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, f32x2), "data_offsets must be [begin, end] with 0 <= begin <= end"},
		{"size mismatch", file(`{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32x2), "has 3 elements of F32 (4 bytes each) but data_offsets [0, 8] hold 8 bytes"},
		{"overflowing shape", file(`{"x":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}`, f32x2), "has too many elements"},
		{"offsets past data", file(`{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32x2), "cover 16 bytes of data but the file has 8"},
		{"gap", file(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), "leave a gap after byte 0"},
		{"overlap", file(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), "overlap the previous tensor"},
		{"trailing data", file(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2), "cover 4 bytes of data but the file has 8"},
		{"empty name", file(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32x2[:4]), "a tensor has an empty name"},
		{"duplicate tensor", file(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), `"x" appears twice`},
		{"metadata not strings", file(`{"__metadata__":{"epoch":3}}`, nil), `__metadata__ value of "epoch" must be a string, not 3`},
		{"metadata array", file(`{"__metadata__":["a"]}`, nil), `__metadata__ must be an object of strings, not ["a"]`},
		{"u64 overflow", file(`{"x":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}`, []byte{0, 0, 0, 0, 0, 0, 0, 0x80}), "does not fit in int64"},
		{"bool byte", file(`{"x":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, []byte{2}), "neither 0 nor 1"},
		{"fp8", file(`{"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, []byte{2}), "dtype F8_E4M3 is not supported"},
	}
	for _, c := range cases {
		f, err := Decode(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, %v; want an error saying %q", c.name, f, err, c.want)
		}
	}
}

func TestDecodeAcceptsSpecCornerCases(t *testing.T) {
	cases := map[string][]byte{
		"no tensors":             file(`{}`, nil),
		"padded header":          file(`{"__metadata__":{"k":"v"}}      `, nil),
		"null metadata":          file(`{"__metadata__":null}`, nil),
		"zero-size in the midst": file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"unknown extra field":    file(`{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"note":"x"}}`, []byte{0xff}),
	}
	for name, data := range cases {
		f, err := Decode(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.Meta == nil {
			t.Errorf("%s: nil Meta map", name)
		}
		if name == "unknown extra field" && f.Get("a").I64[0] != -1 {
			t.Errorf("I8 0xff read as %d, want -1", f.Get("a").I64[0])
		}
	}
}

// TestTruncatedFilesAreRejected cuts a valid file at every length: each prefix must give an
// error, never a panic or a shorter checkpoint.
func TestTruncatedFilesAreRejected(t *testing.T) {
	data, err := os.ReadFile("testdata/python.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		if _, err := Decode(data[:n]); err == nil {
			t.Fatalf("a file cut to %d of %d bytes was accepted", n, len(data))
		}
	}
	if _, err := Decode(append(data, 0)); err == nil {
		t.Fatalf("a file with a byte appended was accepted")
	}
}

func TestReadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte("PK\x03\x04 this is a zip file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+": not a safetensors file") {
		t.Errorf("Read of a zip file: %v", err)
	}
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := Read(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Read of a missing file: %v", err)
	}
}

func TestHalfToFloat32(t *testing.T) {
	// Reference bit patterns from IEEE 754 binary16 tables.
	cases := map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0400: 1.0 / 16384, // smallest normal 2^-14
		0x0001: 1.0 / 16777216, 0x03ff: 1023.0 / 16777216, 0x3555: 0.333251953125, 0x8001: -1.0 / 16777216,
	}
	for h, want := range cases {
		if got := halfToFloat32(h); got != want {
			t.Errorf("half %#04x = %v, want %v", h, got, want)
		}
	}
	if v := halfToFloat32(0x7e00); v == v {
		t.Errorf("half NaN gave %v", v)
	}
	if v := halfToFloat32(0xfc00); v > -3.4e38 {
		t.Errorf("half -Inf gave %v", v)
	}
	if v := halfToFloat32(0x8000); v != 0 || 1/v > 0 {
		t.Errorf("half -0 gave %v", v)
	}
}
