package checkpoint

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the parser. It must never panic, and whatever it accepts
// must survive a round trip: encoding the decoded tensors and decoding again gives them back.
// Seeds: testdata/fuzz/FuzzDecode and the Python fixtures.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"testdata/python.safetensors", "testdata/python_dtypes.safetensors"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil {
			if file != nil {
				t.Fatalf("Decode returned both a file and the error %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, file.Tensors, file.Meta); err != nil {
			t.Fatalf("decoded tensors do not encode: %v", err)
		}
		again, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if !sameContent(file, again) {
			t.Fatalf("round trip changed the content")
		}
	})
}

// sameContent compares files bit for bit (reflect.DeepEqual would call NaN unequal to itself).
func sameContent(a, b *File) bool {
	if len(a.Meta) != len(b.Meta) || len(a.Tensors) != len(b.Tensors) {
		return false
	}
	for k, v := range a.Meta {
		if b.Meta[k] != v {
			return false
		}
	}
	for i := range a.Tensors {
		x, y := &a.Tensors[i], &b.Tensors[i]
		if x.Name != y.Name || len(x.Shape) != len(y.Shape) || (len(x.Shape) > 0 && !reflect.DeepEqual(x.Shape, y.Shape)) {
			return false
		}
		var bx, by bytes.Buffer
		Encode(&bx, []Tensor{*x}, nil)
		Encode(&by, []Tensor{*y}, nil)
		if !bytes.Equal(bx.Bytes(), by.Bytes()) {
			return false
		}
	}
	return true
}
