package nn

import "fmt"

// AttrKind is the type of an attribute value, as in ONNX.
type AttrKind uint8

const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
	AttrTensor
)

// Attr is one operator attribute.
type Attr struct {
	Kind    AttrKind
	Int     int64
	Float   float32
	String  string
	Ints    []int64
	Floats  []float32
	Strings []string
	Tensor  *Tensor
}

func (a Attr) clone() Attr {
	c := a
	c.Ints = append([]int64(nil), a.Ints...)
	c.Floats = append([]float32(nil), a.Floats...)
	c.Strings = append([]string(nil), a.Strings...)
	if a.Tensor != nil {
		t := *a.Tensor
		t.Shape = append([]int(nil), a.Tensor.Shape...)
		t.Data = append([]float32(nil), a.Tensor.Data...)
		t.Ints = append([]int64(nil), a.Tensor.Ints...)
		c.Tensor = &t
	}
	return c
}

// Int, Ints, ... build attributes.
func Int(v int64) Attr          { return Attr{Kind: AttrInt, Int: v} }
func Float(v float32) Attr      { return Attr{Kind: AttrFloat, Float: v} }
func String(v string) Attr      { return Attr{Kind: AttrString, String: v} }
func Ints(v ...int64) Attr      { return Attr{Kind: AttrInts, Ints: v} }
func Floats(v ...float32) Attr  { return Attr{Kind: AttrFloats, Floats: v} }
func TensorAttr(t *Tensor) Attr { return Attr{Kind: AttrTensor, Tensor: t} }

// AttrError reports an attribute of the wrong kind or value.
type AttrError struct {
	Node, Op, Attr, Msg string
}

func (e *AttrError) Error() string {
	return fmt.Sprintf("node %q (%s): attribute %s: %s", e.Node, e.Op, e.Attr, e.Msg)
}

func (n *Node) attr(name string, kind AttrKind) (Attr, bool, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return a, false, nil
	}
	if a.Kind != kind {
		return a, false, &AttrError{n.Name, n.Op, name, fmt.Sprintf("has kind %d, want %d", a.Kind, kind)}
	}
	return a, true, nil
}

// IntAttr returns the integer attribute or def when absent.
func (n *Node) IntAttr(name string, def int64) (int64, error) {
	a, ok, err := n.attr(name, AttrInt)
	if err != nil || !ok {
		return def, err
	}
	return a.Int, nil
}

// FloatAttr returns the float attribute or def when absent.
func (n *Node) FloatAttr(name string, def float32) (float32, error) {
	a, ok, err := n.attr(name, AttrFloat)
	if err != nil || !ok {
		return def, err
	}
	return a.Float, nil
}

// StringAttr returns the string attribute or def when absent.
func (n *Node) StringAttr(name string, def string) (string, error) {
	a, ok, err := n.attr(name, AttrString)
	if err != nil || !ok {
		return def, err
	}
	return a.String, nil
}

// IntsAttr returns the integer-list attribute or def when absent.
func (n *Node) IntsAttr(name string, def []int64) ([]int64, error) {
	a, ok, err := n.attr(name, AttrInts)
	if err != nil || !ok {
		return def, err
	}
	return a.Ints, nil
}

// FloatsAttr returns the float-list attribute or def when absent.
func (n *Node) FloatsAttr(name string, def []float32) ([]float32, error) {
	a, ok, err := n.attr(name, AttrFloats)
	if err != nil || !ok {
		return def, err
	}
	return a.Floats, nil
}

// HasAttr reports whether the attribute is set.
func (n *Node) HasAttr(name string) bool { _, ok := n.Attrs[name]; return ok }
