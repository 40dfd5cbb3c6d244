package onnxfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// msg is one protobuf message being decoded: its bytes, where they start in the whole input (for
// error offsets) and its place in the message tree (for error messages).
type msg struct {
	b    []byte
	base int
	path string
}

// field is one decoded key/value pair of a message.
type field struct {
	num     protowire.Number
	typ     protowire.Type
	v       uint64 // the value of a varint, fixed32 or fixed64 field
	data    []byte // the payload of a bytes field
	off     int    // input offset of the field's tag
	dataOff int    // input offset of data
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType:
		return "group"
	case protowire.EndGroupType:
		return "end-group"
	}
	return fmt.Sprintf("wire type %d", int(t))
}

func (m msg) at(name string) string {
	switch {
	case m.path == "":
		return name
	case name == "":
		return m.path
	}
	return m.path + "." + name
}

func (m msg) formatErr(off int, name, format string, args ...any) error {
	return &FormatError{Field: m.at(name), Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (m msg) unsupported(off int, name, format string, args ...any) error {
	return &UnsupportedError{Field: m.at(name), Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// child is the sub-message held in bytes field f.
func (m msg) child(f *field, name string) msg {
	return msg{b: f.data, base: f.dataOff, path: m.at(name)}
}

// fields calls fn for each field of m in order. Unknown fields reach fn too; fn ignores them.
func (m msg) fields(fn func(f *field) error) error {
	b := m.b
	pos := 0
	for pos < len(b) {
		num, typ, n := protowire.ConsumeTag(b[pos:])
		if n < 0 {
			return m.formatErr(m.base+pos, "", "bad field tag: %v", protowire.ParseError(n))
		}
		f := field{num: num, typ: typ, off: m.base + pos}
		pos += n
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b[pos:])
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b[pos:])
			f.v = uint64(v)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b[pos:])
		case protowire.BytesType:
			f.data, n = protowire.ConsumeBytes(b[pos:])
			if n >= 0 {
				f.dataOff = m.base + pos + n - len(f.data)
			}
		default:
			// Groups (deprecated, never used by ONNX) and stray end-group markers.
			n = protowire.ConsumeFieldValue(num, typ, b[pos:])
		}
		if n < 0 {
			return m.formatErr(f.off, fmt.Sprintf("field %d", num), "truncated or corrupt %s value: %v",
				wireTypeName(typ), protowire.ParseError(n))
		}
		pos += n
		if err := fn(&f); err != nil {
			return err
		}
	}
	return nil
}

func (m msg) wantType(f *field, name string, typ protowire.Type) error {
	if f.typ != typ {
		return m.formatErr(f.off, name, "has wire type %s, want %s", wireTypeName(f.typ), wireTypeName(typ))
	}
	return nil
}

func (m msg) int64Field(f *field, name string) (int64, error) {
	if err := m.wantType(f, name, protowire.VarintType); err != nil {
		return 0, err
	}
	return int64(f.v), nil
}

// int32Field decodes an int32 or enum field; like protobuf, it keeps the low 32 bits.
func (m msg) int32Field(f *field, name string) (int32, error) {
	if err := m.wantType(f, name, protowire.VarintType); err != nil {
		return 0, err
	}
	return int32(f.v), nil
}

func (m msg) stringField(f *field, name string) (string, error) {
	if err := m.wantType(f, name, protowire.BytesType); err != nil {
		return "", err
	}
	return string(f.data), nil
}

func (m msg) bytesField(f *field, name string) ([]byte, error) {
	if err := m.wantType(f, name, protowire.BytesType); err != nil {
		return nil, err
	}
	return bytes.Clone(f.data), nil
}

func (m msg) messageField(f *field, name string) (msg, error) {
	if err := m.wantType(f, name, protowire.BytesType); err != nil {
		return msg{}, err
	}
	return m.child(f, name), nil
}

// appendVarints appends the values of a repeated varint field, which may come one value per
// field or packed into a length-delimited field.
func appendVarints[T any](m msg, f *field, name string, dst []T, conv func(uint64) T) ([]T, error) {
	switch f.typ {
	case protowire.VarintType:
		return append(dst, conv(f.v)), nil
	case protowire.BytesType:
		count := 0 // every varint ends with exactly one byte below 0x80
		for _, c := range f.data {
			if c < 0x80 {
				count++
			}
		}
		dst = slices.Grow(dst, count)
		for p := 0; p < len(f.data); {
			v, n := protowire.ConsumeVarint(f.data[p:])
			if n < 0 {
				return nil, m.formatErr(f.dataOff+p, name, "corrupt packed varint: %v", protowire.ParseError(n))
			}
			dst = append(dst, conv(v))
			p += n
		}
		return dst, nil
	}
	return nil, m.formatErr(f.off, name, "has wire type %s, want varint or packed varints", wireTypeName(f.typ))
}

// appendFloats appends the values of a repeated float field, unpacked or packed.
func appendFloats(m msg, f *field, name string, dst []float32) ([]float32, error) {
	switch f.typ {
	case protowire.Fixed32Type:
		return append(dst, math.Float32frombits(uint32(f.v))), nil
	case protowire.BytesType:
		if len(f.data)%4 != 0 {
			return nil, m.formatErr(f.off, name, "packed floats take %d bytes, not a multiple of 4", len(f.data))
		}
		dst = slices.Grow(dst, len(f.data)/4)
		for p := 0; p < len(f.data); p += 4 {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(f.data[p:])))
		}
		return dst, nil
	}
	return nil, m.formatErr(f.off, name, "has wire type %s, want fixed32 or packed fixed32", wireTypeName(f.typ))
}

// appendDoubles appends the values of a repeated double field, unpacked or packed.
func appendDoubles(m msg, f *field, name string, dst []float64) ([]float64, error) {
	switch f.typ {
	case protowire.Fixed64Type:
		return append(dst, math.Float64frombits(f.v)), nil
	case protowire.BytesType:
		if len(f.data)%8 != 0 {
			return nil, m.formatErr(f.off, name, "packed doubles take %d bytes, not a multiple of 8", len(f.data))
		}
		dst = slices.Grow(dst, len(f.data)/8)
		for p := 0; p < len(f.data); p += 8 {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(f.data[p:])))
		}
		return dst, nil
	}
	return nil, m.formatErr(f.off, name, "has wire type %s, want fixed64 or packed fixed64", wireTypeName(f.typ))
}
