package datasets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a minimal unpickler: enough of Python's pickle protocols 0-5 to read the
// CIFAR-100 python archive (written by Python 2's cPickle) and re-pickled variants of it,
// including numpy arrays and scalars, the way pickle.load(f, encoding="latin1") reads them.
// Nothing is executed: the few callables it knows are interpreted, others become opaque objects.

type (
	pyBytes  []byte // bytes or bytearray
	pyStr8   []byte // a Python 2 str: raw bytes, read as latin-1 text
	pyTuple  []any
	pyList   struct{ items []any }
	pyDict   struct{ keys, vals []any }
	pySet    struct{ items []any }
	pyGlobal struct{ module, name string }
	// pyObject is the result of calling a callable this unpickler does not know.
	pyObject struct {
		callable any
		args     any
		state    any
	}
	pyMark struct{}
)

// npDtype is a numpy dtype: kind 'u', 'i', 'b' (bool) or 'f', item size in bytes, byte order.
type npDtype struct {
	kind      byte
	size      int
	bigEndian bool
}

// npArray is a numpy ndarray of a plain numeric dtype.
type npArray struct {
	shape   []int
	dtype   *npDtype
	fortran bool
	data    []byte
}

// unpickler is the pickle virtual machine over an in-memory file.
type unpickler struct {
	name  string // file name for errors
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[int]any
}

func unpickle(data []byte, name string) (any, error) {
	u := &unpickler{name: name, data: data, memo: map[int]any{}}
	return u.run()
}

func (u *unpickler) errf(format string, args ...any) error {
	return fmt.Errorf("%s: pickle: %s (at byte %d)", u.name, fmt.Sprintf(format, args...), u.pos)
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errf("truncated: expected %d more bytes, file has %d", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// length reads an n-byte little-endian length that must fit in what remains of the file.
func (u *unpickler) length(n int) (int, error) {
	v, err := u.uint(n)
	if err != nil {
		return 0, err
	}
	if v > uint64(len(u.data)-u.pos) {
		return 0, u.errf("truncated: an item of %d bytes, file has %d left", v, len(u.data)-u.pos)
	}
	return int(v), nil
}

func (u *unpickler) line() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", u.errf("truncated: expected a newline-terminated argument")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark removes and returns the items pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoGet(i int) error {
	v, ok := u.memo[i]
	if !ok {
		return u.errf("memo entry %d was never stored", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) memoPut(i int) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) run() (any, error) {
	for {
		op, err := u.take(1)
		if err != nil {
			return nil, u.errf("truncated: no STOP opcode")
		}
		switch op[0] {
		case 0x80: // PROTO
			v, err := u.uint(1)
			if err != nil {
				return nil, err
			}
			if v > 5 {
				return nil, u.errf("unsupported protocol %d, expected 0..5", v)
			}
		case 0x95: // FRAME: a length; the content follows inline
			if _, err := u.uint(8); err != nil {
				return nil, err
			}
		case '.': // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case '(':
			u.marks = append(u.marks, len(u.stack))
		case '0': // POP
			if _, err := u.pop(); err != nil {
				return nil, err
			}
		case '1': // POP_MARK
			if _, err := u.popMark(); err != nil {
				return nil, err
			}
		case '2': // DUP
			v, err := u.top()
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 'N':
			u.push(nil)
		case 0x88:
			u.push(true)
		case 0x89:
			u.push(false)
		case 'J': // BININT
			v, err := u.uint(4)
			if err != nil {
				return nil, err
			}
			u.push(int64(int32(uint32(v))))
		case 'K': // BININT1
			v, err := u.uint(1)
			if err != nil {
				return nil, err
			}
			u.push(int64(v))
		case 'M': // BININT2
			v, err := u.uint(2)
			if err != nil {
				return nil, err
			}
			u.push(int64(v))
		case 0x8a, 0x8b: // LONG1, LONG4
			n, err := u.length(map[byte]int{0x8a: 1, 0x8b: 4}[op[0]])
			if err != nil {
				return nil, err
			}
			b, _ := u.take(n)
			v, err := u.longBytes(b)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 'I', 'L': // INT, LONG as text
			s, err := u.line()
			if err != nil {
				return nil, err
			}
			s = strings.TrimSuffix(s, "L")
			switch {
			case op[0] == 'I' && s == "00":
				u.push(false)
			case op[0] == 'I' && s == "01":
				u.push(true)
			default:
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return nil, u.errf("bad integer %q", s)
				}
				u.push(v)
			}
		case 'F': // FLOAT as text
			s, err := u.line()
			if err != nil {
				return nil, err
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, u.errf("bad float %q", s)
			}
			u.push(v)
		case 'G': // BINFLOAT
			b, err := u.take(8)
			if err != nil {
				return nil, err
			}
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case 'S': // STRING: a quoted Python 2 str literal
			s, err := u.line()
			if err != nil {
				return nil, err
			}
			v, err := unquotePy(s)
			if err != nil {
				return nil, u.errf("bad string literal: %v", err)
			}
			u.push(pyStr8(v))
		case 'T', 'U': // BINSTRING, SHORT_BINSTRING: Python 2 str
			n, err := u.length(map[byte]int{'T': 4, 'U': 1}[op[0]])
			if err != nil {
				return nil, err
			}
			b, _ := u.take(n)
			u.push(pyStr8(b))
		case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
			n, err := u.length(map[byte]int{'B': 4, 'C': 1, 0x8e: 8, 0x96: 8}[op[0]])
			if err != nil {
				return nil, err
			}
			b, _ := u.take(n)
			u.push(pyBytes(b))
		case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
			n, err := u.length(map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8}[op[0]])
			if err != nil {
				return nil, err
			}
			b, _ := u.take(n)
			if !utf8.Valid(b) {
				return nil, u.errf("text is not valid UTF-8")
			}
			u.push(string(b))
		case 'V': // UNICODE, raw-unicode-escape text
			s, err := u.line()
			if err != nil {
				return nil, err
			}
			v, err := rawUnicodeEscape(s)
			if err != nil {
				return nil, u.errf("bad unicode literal: %v", err)
			}
			u.push(v)
		case ')':
			u.push(pyTuple{})
		case 't':
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(pyTuple(items))
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op[0] - 0x84)
			if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
				return nil, u.errf("stack underflow")
			}
			t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
			u.stack = u.stack[:len(u.stack)-n]
			u.push(t)
		case ']':
			u.push(&pyList{})
		case 'l':
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&pyList{items: items})
		case 'a', 'e': // APPEND, APPENDS
			var items []any
			if op[0] == 'a' {
				v, err := u.pop()
				if err != nil {
					return nil, err
				}
				items = []any{v}
			} else if items, err = u.popMark(); err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			l, ok := t.(*pyList)
			if !ok {
				return nil, u.errf("APPEND to a %s, expected a list", typeName(t))
			}
			l.items = append(l.items, items...)
		case '}':
			u.push(&pyDict{})
		case 'd':
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			d := &pyDict{}
			if err := u.setItems(d, items); err != nil {
				return nil, err
			}
			u.push(d)
		case 's', 'u': // SETITEM, SETITEMS
			var items []any
			if op[0] == 's' {
				v, err := u.pop()
				if err != nil {
					return nil, err
				}
				k, err := u.pop()
				if err != nil {
					return nil, err
				}
				items = []any{k, v}
			} else if items, err = u.popMark(); err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			d, ok := t.(*pyDict)
			if !ok {
				return nil, u.errf("SETITEM on a %s, expected a dict", typeName(t))
			}
			if err := u.setItems(d, items); err != nil {
				return nil, err
			}
		case 0x8f: // EMPTY_SET
			u.push(&pySet{})
		case 0x90: // ADDITEMS
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			t, err := u.top()
			if err != nil {
				return nil, err
			}
			s, ok := t.(*pySet)
			if !ok {
				return nil, u.errf("ADDITEMS to a %s, expected a set", typeName(t))
			}
			s.items = append(s.items, items...)
		case 0x91: // FROZENSET
			items, err := u.popMark()
			if err != nil {
				return nil, err
			}
			u.push(&pySet{items: items})
		case 'g', 'p': // GET, PUT with a decimal argument
			s, err := u.line()
			if err != nil {
				return nil, err
			}
			i, err := strconv.Atoi(s)
			if err != nil {
				return nil, u.errf("bad memo index %q", s)
			}
			if op[0] == 'g' {
				err = u.memoGet(i)
			} else {
				err = u.memoPut(i)
			}
			if err != nil {
				return nil, err
			}
		case 'h', 'j', 'q', 'r': // BINGET, LONG_BINGET, BINPUT, LONG_BINPUT
			n := 1
			if op[0] == 'j' || op[0] == 'r' {
				n = 4
			}
			i, err := u.uint(n)
			if err != nil {
				return nil, err
			}
			if op[0] == 'h' || op[0] == 'j' {
				err = u.memoGet(int(i))
			} else {
				err = u.memoPut(int(i))
			}
			if err != nil {
				return nil, err
			}
		case 0x94: // MEMOIZE
			if err := u.memoPut(len(u.memo)); err != nil {
				return nil, err
			}
		case 'c': // GLOBAL
			mod, err := u.line()
			if err != nil {
				return nil, err
			}
			name, err := u.line()
			if err != nil {
				return nil, err
			}
			u.push(pyGlobal{mod, name})
		case 0x93: // STACK_GLOBAL
			name, err := u.pop()
			if err != nil {
				return nil, err
			}
			mod, err := u.pop()
			if err != nil {
				return nil, err
			}
			ms, ok1 := mod.(string)
			ns, ok2 := name.(string)
			if !ok1 || !ok2 {
				return nil, u.errf("STACK_GLOBAL needs two strings, found %s and %s", typeName(mod), typeName(name))
			}
			u.push(pyGlobal{ms, ns})
		case 'R': // REDUCE
			args, err := u.pop()
			if err != nil {
				return nil, err
			}
			f, err := u.pop()
			if err != nil {
				return nil, err
			}
			t, ok := args.(pyTuple)
			if !ok {
				return nil, u.errf("REDUCE arguments are a %s, expected a tuple", typeName(args))
			}
			v, err := u.call(f, t)
			if err != nil {
				return nil, err
			}
			u.push(v)
		case 0x81: // NEWOBJ
			args, err := u.pop()
			if err != nil {
				return nil, err
			}
			cls, err := u.pop()
			if err != nil {
				return nil, err
			}
			u.push(&pyObject{callable: cls, args: args})
		case 0x92: // NEWOBJ_EX
			kw, err := u.pop()
			if err != nil {
				return nil, err
			}
			args, err := u.pop()
			if err != nil {
				return nil, err
			}
			cls, err := u.pop()
			if err != nil {
				return nil, err
			}
			u.push(&pyObject{callable: cls, args: pyTuple{args, kw}})
		case 'b': // BUILD
			state, err := u.pop()
			if err != nil {
				return nil, err
			}
			obj, err := u.top()
			if err != nil {
				return nil, err
			}
			if err := u.build(obj, state); err != nil {
				return nil, err
			}
		case 0x98: // READONLY_BUFFER: no effect on in-band data
			if _, err := u.top(); err != nil {
				return nil, err
			}
		default:
			u.pos--
			return nil, u.errf("unsupported opcode 0x%02x", op[0])
		}
	}
}

func (u *unpickler) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return u.errf("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		d.keys = append(d.keys, items[i])
		d.vals = append(d.vals, items[i+1])
	}
	return nil
}

// longBytes decodes a two's-complement little-endian integer of at most 8 bytes.
func (u *unpickler) longBytes(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 8 {
		return 0, u.errf("integer of %d bytes is too large", len(b))
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if b[len(b)-1]&0x80 != 0 && len(b) < 8 { // sign-extend
		v |= ^uint64(0) << (8 * len(b))
	}
	return int64(v), nil
}

func isGlobal(f any, names ...string) bool {
	g, ok := f.(pyGlobal)
	if !ok {
		return false
	}
	for _, n := range names {
		if g.module+"."+g.name == n {
			return true
		}
	}
	return false
}

// call interprets the callables that numpy and Python's byte handling put in pickles.
func (u *unpickler) call(f any, args pyTuple) (any, error) {
	switch {
	case isGlobal(f, "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"):
		return &npArray{}, nil // filled by BUILD
	case isGlobal(f, "numpy.dtype"):
		if len(args) < 1 {
			return nil, u.errf("numpy.dtype without arguments")
		}
		s, ok := textOf(args[0])
		if !ok {
			return nil, u.errf("numpy.dtype of a %s, expected a string", typeName(args[0]))
		}
		return u.parseDtype(s)
	case isGlobal(f, "_codecs.encode"):
		if len(args) < 1 {
			return nil, u.errf("_codecs.encode without arguments")
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, u.errf("_codecs.encode of a %s, expected a str", typeName(args[0]))
		}
		if len(args) > 1 {
			if enc, _ := args[1].(string); enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1" {
				return nil, u.errf("_codecs.encode with encoding %v, expected latin1", args[1])
			}
		}
		b, err := latin1Bytes(s)
		if err != nil {
			return nil, u.errf("%v", err)
		}
		return pyBytes(b), nil
	case isGlobal(f, "builtins.bytearray", "__builtin__.bytearray", "builtins.bytes", "__builtin__.bytes"):
		if len(args) == 0 {
			return pyBytes{}, nil
		}
		switch a := args[0].(type) {
		case pyBytes:
			return a, nil
		case pyStr8:
			return pyBytes(a), nil
		case string:
			b, err := latin1Bytes(a)
			if err != nil {
				return nil, u.errf("%v", err)
			}
			return pyBytes(b), nil
		}
		return nil, u.errf("bytearray of a %s", typeName(args[0]))
	case isGlobal(f, "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"):
		if len(args) != 2 {
			return nil, u.errf("numpy scalar with %d arguments, expected 2", len(args))
		}
		dt, ok := args[0].(*npDtype)
		raw, ok2 := rawBytes(args[1])
		if !ok || !ok2 || len(raw) != dt.size {
			return nil, u.errf("malformed numpy scalar")
		}
		return dt.value(raw, 0)
	case isGlobal(f, "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer"):
		if len(args) != 4 {
			return nil, u.errf("numpy _frombuffer with %d arguments, expected 4", len(args))
		}
		a := &npArray{}
		order, _ := textOf(args[3])
		if err := u.fillArray(a, args[1], args[2], order == "F", args[0]); err != nil {
			return nil, err
		}
		return a, nil
	}
	return &pyObject{callable: f, args: args}, nil
}

func (u *unpickler) parseDtype(s string) (*npDtype, error) {
	dt := &npDtype{}
	if s != "" && strings.ContainsRune("<>|=", rune(s[0])) {
		dt.bigEndian = s[0] == '>'
		s = s[1:]
	}
	if len(s) < 2 || !strings.ContainsRune("uibf", rune(s[0])) {
		return nil, u.errf("unsupported numpy dtype %q, expected a number type such as u1 or i8", s)
	}
	dt.kind = s[0]
	n, err := strconv.Atoi(s[1:])
	if err != nil || (n != 1 && n != 2 && n != 4 && n != 8) || (dt.kind == 'f' && n < 4) || (dt.kind == 'b' && n != 1) {
		return nil, u.errf("unsupported numpy dtype %q", s)
	}
	dt.size = n
	return dt, nil
}

// value decodes element i of raw as an int64 (or float64 for float dtypes).
func (dt *npDtype) value(raw []byte, i int) (any, error) {
	b := raw[i*dt.size : (i+1)*dt.size]
	var v uint64
	for k := 0; k < dt.size; k++ {
		if dt.bigEndian {
			v = v<<8 | uint64(b[k])
		} else {
			v |= uint64(b[k]) << (8 * k)
		}
	}
	switch dt.kind {
	case 'u', 'b':
		if v > math.MaxInt64 {
			return nil, fmt.Errorf("unsigned value %d does not fit an int64", v)
		}
		return int64(v), nil
	case 'i':
		shift := 64 - 8*dt.size
		return int64(v<<shift) >> shift, nil
	case 'f':
		if dt.size == 4 {
			return float64(math.Float32frombits(uint32(v))), nil
		}
		return math.Float64frombits(v), nil
	}
	return nil, fmt.Errorf("dtype kind %q", dt.kind)
}

func (u *unpickler) build(obj, state any) error {
	switch o := obj.(type) {
	case *npDtype:
		t, ok := state.(pyTuple)
		if !ok || len(t) < 2 {
			return u.errf("numpy dtype state is a %s, expected a tuple", typeName(state))
		}
		if e, ok := textOf(t[1]); ok && (e == ">" || e == "<" || e == "|" || e == "=") {
			o.bigEndian = e == ">"
		}
		return nil
	case *npArray:
		t, ok := state.(pyTuple)
		if !ok || (len(t) != 5 && len(t) != 4) {
			return u.errf("numpy array state is a %s, expected a tuple of 4 or 5 items", typeName(state))
		}
		if len(t) == 5 {
			t = t[1:]
		}
		fortran, _ := t[2].(bool)
		if fi, ok := t[2].(int64); ok {
			fortran = fi != 0
		}
		return u.fillArray(o, t[1], t[0], fortran, t[3])
	case *pyObject:
		o.state = state
		return nil
	}
	return u.errf("BUILD on a %s", typeName(obj))
}

// fillArray sets a's dtype, shape and data after checking that the data has the right size.
func (u *unpickler) fillArray(a *npArray, dtype, shape any, fortran bool, data any) error {
	dt, ok := dtype.(*npDtype)
	if !ok {
		return u.errf("numpy array dtype is a %s", typeName(dtype))
	}
	st, ok := shape.(pyTuple)
	if !ok {
		return u.errf("numpy array shape is a %s, expected a tuple", typeName(shape))
	}
	n := 1
	dims := make([]int, len(st))
	for i, d := range st {
		v, ok := d.(int64)
		if !ok || v < 0 || v > 1<<40 || (v > 0 && int64(n) > (1<<40)/v) {
			return u.errf("bad numpy array shape %v", st)
		}
		dims[i] = int(v)
		n *= int(v)
	}
	raw, ok := rawBytes(data)
	if !ok {
		return u.errf("numpy array data is a %s, expected bytes", typeName(data))
	}
	if len(raw) != n*dt.size {
		return u.errf("numpy array of shape %v and %d-byte items needs %d bytes, has %d", dims, dt.size, n*dt.size, len(raw))
	}
	a.dtype, a.shape, a.fortran, a.data = dt, dims, fortran, raw
	return nil
}

func rawBytes(v any) ([]byte, bool) {
	switch b := v.(type) {
	case pyBytes:
		return b, true
	case pyStr8:
		return b, true
	case string: // a Python 2 str that reached us decoded: never for this unpickler's own strings
		return nil, false
	}
	return nil, false
}

// textOf returns v as Go text if it is a str (Python 3) or a Python 2 str (latin-1).
func textOf(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case pyStr8:
		return latin1String(s), true
	case pyBytes:
		return latin1String(s), true
	}
	return "", false
}

func latin1String(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func latin1Bytes(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, fmt.Errorf("character %U is not latin-1", r)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// unquotePy decodes a Python 2 str literal as protocol 0 writes it: 'text' or "text" with
// backslash escapes.
func unquotePy(s string) ([]byte, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return nil, fmt.Errorf("%q is not quoted", s)
	}
	s = s[1 : len(s)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, fmt.Errorf("trailing backslash")
		}
		switch e := s[i]; e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '\\', '\'', '"':
			out = append(out, e)
		case 'x':
			if i+3 > len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unsupported escape \\%c", e)
		}
	}
	return out, nil
}

// rawUnicodeEscape decodes protocol 0's raw-unicode-escape text (\uXXXX and \UXXXXXXXX escapes).
func rawUnicodeEscape(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", fmt.Errorf("short \\%c escape", s[i+1])
			}
			v, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", fmt.Errorf("bad \\%c escape", s[i+1])
			}
			sb.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		sb.WriteRune(rune(s[i])) // the text is latin-1
	}
	return sb.String(), nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyStr8:
		return "str (Python 2)"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pySet:
		return "set"
	case pyGlobal:
		return "global " + v.(pyGlobal).module + "." + v.(pyGlobal).name
	case *npArray:
		return "numpy array"
	case *npDtype:
		return "numpy dtype"
	case *pyObject:
		if g, ok := v.(*pyObject).callable.(pyGlobal); ok {
			return "object of " + g.module + "." + g.name
		}
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// lookup returns the value of the dict entry whose key is the text key.
func (d *pyDict) lookup(key string) (any, bool) {
	for i := len(d.keys) - 1; i >= 0; i-- {
		if s, ok := textOf(d.keys[i]); ok && s == key {
			return d.vals[i], true
		}
	}
	return nil, false
}

// pyInts converts a list of integers or an integer numpy array (any shape, read in C order) to ints.
func pyInts(v any) ([]int, error) {
	switch x := v.(type) {
	case *pyList:
		out := make([]int, len(x.items))
		for i, it := range x.items {
			switch n := it.(type) {
			case int64:
				if n != int64(int(n)) {
					return nil, fmt.Errorf("item %d (%d) does not fit an int", i, n)
				}
				out[i] = int(n)
			case bool:
				if n {
					out[i] = 1
				}
			default:
				return nil, fmt.Errorf("item %d is a %s, expected an int", i, typeName(it))
			}
		}
		return out, nil
	case *npArray:
		if x.dtype == nil {
			return nil, fmt.Errorf("a numpy array that was never filled")
		}
		if x.dtype.kind == 'f' {
			return nil, fmt.Errorf("a float numpy array, expected integers")
		}
		if x.fortran && len(x.shape) > 1 {
			return nil, fmt.Errorf("a Fortran-ordered numpy array of shape %v, expected C order", x.shape)
		}
		n := len(x.data) / x.dtype.size
		out := make([]int, n)
		for i := range out {
			v, err := x.dtype.value(x.data, i)
			if err != nil {
				return nil, fmt.Errorf("item %d: %v", i, err)
			}
			out[i] = int(v.(int64))
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s, expected a list of ints or a numpy array", typeName(v))
}

// pyStrings converts a list of str (Python 2 or 3) to Go strings.
func pyStrings(v any) ([]string, error) {
	l, ok := v.(*pyList)
	if !ok {
		return nil, fmt.Errorf("a %s, expected a list of str", typeName(v))
	}
	out := make([]string, len(l.items))
	for i, it := range l.items {
		s, ok := textOf(it)
		if !ok {
			return nil, fmt.Errorf("item %d is a %s, expected a str", i, typeName(it))
		}
		out[i] = s
	}
	return out, nil
}
