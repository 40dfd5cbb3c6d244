package onnxfile

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds Decode arbitrary data. Decoding must not panic and must fail only with a
// FormatError or an UnsupportedError; a model it decodes must encode, and decode again to the same
// model. The seed corpus in testdata/fuzz/FuzzDecode holds the test models and truncations of
// them (written by make_models.py) and inputs the fuzzer once found troublesome.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(model(graphWith(goodTensor()))))
	f.Add([]byte(model(graphWithNode(pb{}.str(1, "x").str(2, "y").str(4, "Op").
		bytes(5, pb{}.str(1, "k").varint(8, 3).varint(20, uint64(AttrInts)))))))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			if !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("encoding a decoded model: %v", err)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("decoding an encoded model: %v", err)
		}
		if d := diff(m, back); d != "" {
			t.Fatalf("encode and decode change %s", d)
		}
		again, err := Encode(back)
		if err != nil || !bytes.Equal(enc, again) {
			t.Fatalf("encoding is not stable: %v", err)
		}
	})
}
