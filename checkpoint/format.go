package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"
)

// metadataKey is the header entry that holds string metadata instead of a tensor.
const metadataKey = "__metadata__"

// maxHeader is the largest JSON header accepted, the limit of the reference implementation;
// it keeps a corrupt length field from making Decode look for gigabytes of JSON.
const maxHeader = 100_000_000

// dtypeSize gives the bytes per element of every safetensors dtype.
var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// tensorInfo is one tensor's header entry. Its fields are in sorted order so that the header
// reads like json.dumps(..., sort_keys=True).
type tensorInfo struct {
	DataOffsets [2]int64 `json:"data_offsets"`
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
}

// encoding is a validated set of tensors ready to be written: the header and the data order.
type encoding struct {
	header []byte   // JSON, padded with spaces to a multiple of 8 bytes
	order  []Tensor // data order: 8-byte types first (keeps them aligned), then by name
}

// dtype names the safetensors type of the one slice t holds and its length.
func (t *Tensor) dtype() (string, int, error) {
	set, dt, n := 0, "", 0
	if t.F32 != nil {
		set, dt, n = set+1, "F32", len(t.F32)
	}
	if t.F64 != nil {
		set, dt, n = set+1, "F64", len(t.F64)
	}
	if t.I64 != nil {
		set, dt, n = set+1, "I64", len(t.I64)
	}
	if set != 1 {
		return "", 0, fmt.Errorf("tensor %q has %d of F32, F64 and I64 set; exactly one must be", t.Name, set)
	}
	return dt, n, nil
}

func newEncoding(tensors []Tensor, meta map[string]string) (*encoding, error) {
	header := make(map[string]any, len(tensors)+1)
	order := append([]Tensor(nil), tensors...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := elemSize(&order[i]), elemSize(&order[j])
		if a != b {
			return a > b
		}
		return order[i].Name < order[j].Name
	})
	var offset int64
	for i := range order {
		t := &order[i]
		if t.Name == "" || t.Name == metadataKey {
			return nil, fmt.Errorf("tensor name %q is not allowed", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		dt, n, err := t.dtype()
		if err != nil {
			return nil, err
		}
		count := 1
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q has a negative dimension in shape %v", t.Name, t.Shape)
			}
			count *= d
		}
		if count != n {
			return nil, fmt.Errorf("tensor %q has shape %v (%d elements) but %d values", t.Name, t.Shape, count, n)
		}
		size := int64(n) * int64(dtypeSize[dt])
		header[t.Name] = tensorInfo{DataOffsets: [2]int64{offset, offset + size}, Dtype: dt, Shape: append(make([]int, 0, len(t.Shape)), t.Shape...)}
		offset += size
	}
	if len(meta) > 0 {
		header[metadataKey] = meta
	}
	var buf bytes.Buffer
	je := json.NewEncoder(&buf)
	je.SetEscapeHTML(false)
	if err := je.Encode(header); err != nil {
		return nil, err
	}
	h := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	return &encoding{header: h, order: order}, nil
}

// elemSize is the bytes per element of t, judged by which slice is set.
func elemSize(t *Tensor) int {
	if t.F64 != nil || t.I64 != nil {
		return 8
	}
	return 4
}

// writeTo writes the length field, the header and the data.
func (e *encoding) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var b8 [8]byte
	binary.LittleEndian.PutUint64(b8[:], uint64(len(e.header)))
	bw.Write(b8[:])
	bw.Write(e.header)
	for i := range e.order {
		t := &e.order[i]
		switch {
		case t.F32 != nil:
			for _, v := range t.F32 {
				binary.LittleEndian.PutUint32(b8[:4], math.Float32bits(v))
				bw.Write(b8[:4])
			}
		case t.F64 != nil:
			for _, v := range t.F64 {
				binary.LittleEndian.PutUint64(b8[:], math.Float64bits(v))
				bw.Write(b8[:])
			}
		default:
			for _, v := range t.I64 {
				binary.LittleEndian.PutUint64(b8[:], uint64(v))
				bw.Write(b8[:])
			}
		}
	}
	return bw.Flush() // bufio keeps the first write error and returns it here
}

// Encode writes tensors and meta to w in the safetensors format, exactly as Write would
// store them (but not atomically).
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	e, err := newEncoding(tensors, meta)
	if err != nil {
		return err
	}
	return e.writeTo(w)
}

// Decode parses and validates a safetensors file held in memory.
//
// F32, F64 and I64 tensors come back as stored. So that files exported from PyTorch open too,
// F16 and BF16 are widened (exactly) to F32, and the integer and BOOL types to I64; U64 values
// above the int64 range and the 8-bit float types are rejected.
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("not a safetensors file: %d bytes, fewer than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("not a safetensors file: the header length field says %d bytes but only %d follow it", n, len(data)-8)
	}
	if n > maxHeader {
		return nil, fmt.Errorf("not a safetensors file: header of %d bytes is over the %d-byte limit", n, maxHeader)
	}
	header, buf := data[8:8+n], data[8+n:]
	if len(header) == 0 || header[0] != '{' {
		return nil, errors.New("not a safetensors file: the header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, errors.New("invalid safetensors header: not valid UTF-8")
	}
	infos, meta, err := parseHeader(header)
	if err != nil {
		return nil, fmt.Errorf("invalid safetensors header: %w", err)
	}

	// The data must be covered exactly, tensor after tensor, with no gap or overlap.
	names := make([]string, 0, len(infos))
	for name := range infos {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := infos[names[i]].DataOffsets, infos[names[j]].DataOffsets
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return names[i] < names[j]
	})
	var next int64
	for _, name := range names {
		off := infos[name].DataOffsets
		if off[0] != next {
			if off[0] < next {
				return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", name, off[0], off[1], next)
			}
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", name, off[0], off[1], next)
		}
		next = off[1]
	}
	if next != int64(len(buf)) {
		return nil, fmt.Errorf("the tensors cover %d bytes of data but the file has %d after the header", next, len(buf))
	}

	f := &File{Meta: meta, Tensors: make([]Tensor, 0, len(names))}
	if f.Meta == nil {
		f.Meta = map[string]string{}
	}
	for _, name := range names {
		info := infos[name]
		t, err := decodeTensor(name, info, buf[info.DataOffsets[0]:info.DataOffsets[1]])
		if err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, t)
	}
	sort.Slice(f.Tensors, func(i, j int) bool { return f.Tensors[i].Name < f.Tensors[j].Name })
	return f, nil
}

// rawInfo is a header entry's fields as found; absent ones are nil.
type rawInfo struct {
	Dtype, Shape, DataOffsets json.RawMessage
}

// parseHeader reads the header object key by key, which lets it reject duplicate names that
// decoding into a map would silently merge, and checks each entry for self-consistency.
func parseHeader(header []byte) (map[string]tensorInfo, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object: %s", syntaxErr(dec, err, tok))
	}
	infos := map[string]tensorInfo{}
	meta := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("bad JSON: %s", syntaxErr(dec, err, nil))
		}
		name := tok.(string) // object keys are always strings
		if name == "" {
			return nil, nil, errors.New("a tensor has an empty name")
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("%q appears twice", name)
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, nil, fmt.Errorf("bad JSON in %q: %s", name, syntaxErr(dec, err, nil))
		}
		if name == metadataKey {
			if err := parseMeta(value, meta); err != nil {
				return nil, nil, err
			}
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(value, &fields); err != nil || fields == nil {
			return nil, nil, fmt.Errorf("tensor %q: the entry must be an object with dtype, shape and data_offsets, not %s", name, clip(value))
		}
		info, err := checkInfo(name, rawInfo{fields["dtype"], fields["shape"], fields["data_offsets"]})
		if err != nil {
			return nil, nil, err
		}
		infos[name] = info
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, nil, fmt.Errorf("unterminated object: %s", syntaxErr(dec, err, tok))
	}
	if tok, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("unexpected %s after the header object", syntaxErr(dec, err, tok))
	}
	return infos, meta, nil
}

// parseMeta adds the __metadata__ object's entries to meta; JSON null means none.
func parseMeta(value json.RawMessage, meta map[string]string) error {
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(value, &entries); err != nil {
		return fmt.Errorf("%s must be an object of strings, not %s", metadataKey, clip(value))
	}
	for k, v := range entries {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("%s value of %q must be a string, not %s", metadataKey, k, clip(v))
		}
		meta[k] = s
	}
	return nil
}

// syntaxErr describes why the header's JSON could not be read, with the byte offset.
func syntaxErr(dec *json.Decoder, err error, tok json.Token) string {
	switch {
	case err == nil:
		return fmt.Sprintf("%v", tok)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	default:
		return fmt.Sprintf("%v (near byte %d of the header)", err, dec.InputOffset())
	}
}

// clip quotes a JSON value for an error message, shortened when long.
func clip(v json.RawMessage) string {
	if len(v) > 40 {
		return string(v[:37]) + "..."
	}
	return string(v)
}

func checkInfo(name string, raw rawInfo) (tensorInfo, error) {
	if raw.Dtype == nil || raw.Shape == nil || raw.DataOffsets == nil {
		return tensorInfo{}, fmt.Errorf("tensor %q: dtype, shape and data_offsets are all required", name)
	}
	var dtype string
	if err := json.Unmarshal(raw.Dtype, &dtype); err != nil {
		return tensorInfo{}, fmt.Errorf("tensor %q: dtype must be a string, not %s", name, clip(raw.Dtype))
	}
	size, ok := dtypeSize[dtype]
	if !ok {
		return tensorInfo{}, fmt.Errorf("tensor %q: dtype %q is not a safetensors dtype", name, dtype)
	}
	var dims, off []int64
	if err := json.Unmarshal(raw.Shape, &dims); err != nil || dims == nil {
		return tensorInfo{}, fmt.Errorf("tensor %q: shape must be a list of integers, not %s", name, clip(raw.Shape))
	}
	if err := json.Unmarshal(raw.DataOffsets, &off); err != nil || len(off) != 2 || off[0] < 0 || off[1] < off[0] {
		return tensorInfo{}, fmt.Errorf("tensor %q: data_offsets must be [begin, end] with 0 <= begin <= end, not %s", name, clip(raw.DataOffsets))
	}
	// Element count, guarding against overflow: no valid count exceeds the data length.
	limit := off[1] - off[0]
	zero, over := false, false
	for _, d := range dims {
		if d < 0 {
			return tensorInfo{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, dims)
		}
		zero = zero || d == 0
	}
	count := int64(1)
	shape := make([]int, len(dims))
	for i, d := range dims {
		shape[i] = int(d)
		if zero || over {
			continue
		}
		if count > limit/d {
			over = true
			continue
		}
		count *= d
	}
	if zero {
		count = 0
	}
	if over || count*int64(size) != limit {
		elems := "too many"
		if !over {
			elems = fmt.Sprint(count)
		}
		return tensorInfo{}, fmt.Errorf("tensor %q: shape %v has %s elements of %s (%d bytes each) but data_offsets [%d, %d] hold %d bytes",
			name, dims, elems, dtype, size, off[0], off[1], limit)
	}
	return tensorInfo{DataOffsets: [2]int64{off[0], off[1]}, Dtype: dtype, Shape: shape}, nil
}

func decodeTensor(name string, info tensorInfo, b []byte) (Tensor, error) {
	t := Tensor{Name: name, Shape: info.Shape}
	le := binary.LittleEndian
	n := len(b) / dtypeSize[info.Dtype]
	switch info.Dtype {
	case "F32":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case "F16":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = halfToFloat32(le.Uint16(b[2*i:]))
		}
	case "BF16":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	case "F64":
		t.F64 = make([]float64, n)
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
	case "I64":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint64(b[8*i:]))
		}
	case "U64":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			v := le.Uint64(b[8*i:])
			if v > math.MaxInt64 {
				return Tensor{}, fmt.Errorf("tensor %q: U64 value %d at index %d does not fit in int64", name, v, i)
			}
			t.I64[i] = int64(v)
		}
	case "I32":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case "U32":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint32(b[4*i:]))
		}
	case "I16":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case "U16":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint16(b[2*i:]))
		}
	case "I8":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(int8(b[i]))
		}
	case "U8":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			t.I64[i] = int64(b[i])
		}
	case "BOOL":
		t.I64 = make([]int64, n)
		for i := range t.I64 {
			if b[i] > 1 {
				return Tensor{}, fmt.Errorf("tensor %q: BOOL byte %d at index %d is neither 0 nor 1", name, b[i], i)
			}
			t.I64[i] = int64(b[i])
		}
	default:
		return Tensor{}, fmt.Errorf("tensor %q: dtype %s is not supported (tlkit reads F32, F64, F16, BF16, BOOL and the integer types)", name, info.Dtype)
	}
	return t, nil
}

// halfToFloat32 converts IEEE 754 binary16 bits to the float32 of the same value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN, payload kept
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal: frac × 2^-24, exact in float32
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
}
