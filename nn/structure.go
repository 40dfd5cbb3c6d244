package nn

import (
	"encoding/json"
	"fmt"
)

// structure is a model's graph without its float data, as JSON: what a checkpoint stores beside
// the tensors so it can be loaded, evaluated and exported without the file it came from.
type structure struct {
	Name    string            `json:"name"`
	Opset   int               `json:"opset"`
	Inputs  []Value           `json:"inputs"`
	Outputs []Value           `json:"outputs"`
	Nodes   []*Node           `json:"nodes"`
	Tensors []tensorInfo      `json:"tensors"`
	Meta    map[string]string `json:"meta,omitempty"`
}

type tensorInfo struct {
	Name   string  `json:"name"`
	Shape  []int   `json:"shape"`
	Role   Role    `json:"role"`
	Frozen bool    `json:"frozen,omitempty"`
	Ints   []int64 `json:"ints,omitempty"` // integer constants are small and kept here
	Float  bool    `json:"float"`
}

// MarshalStructure encodes m's graph and tensor list (not the float data) as JSON.
func MarshalStructure(m *Model) ([]byte, error) {
	s := structure{Name: m.Name, Opset: m.Opset, Inputs: m.Inputs, Outputs: m.Outputs, Nodes: m.Nodes, Meta: m.Meta}
	for _, t := range m.tensors {
		s.Tensors = append(s.Tensors, tensorInfo{Name: t.Name, Shape: t.Shape, Role: t.Role, Frozen: t.Frozen, Ints: t.Ints, Float: t.Data != nil})
	}
	return json.Marshal(s)
}

// UnmarshalStructure rebuilds a model from MarshalStructure's JSON; data(name, size) must supply
// each float tensor's values.
func UnmarshalStructure(b []byte, data func(name string, size int) ([]float32, error)) (*Model, error) {
	var s structure
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("model structure: %w", err)
	}
	m := &Model{Name: s.Name, Opset: s.Opset, Inputs: s.Inputs, Outputs: s.Outputs, Nodes: s.Nodes, Meta: s.Meta}
	for _, ti := range s.Tensors {
		t := &Tensor{Name: ti.Name, Shape: ti.Shape, Role: ti.Role, Frozen: ti.Frozen, Ints: ti.Ints}
		if ti.Float {
			d, err := data(ti.Name, Numel(ti.Shape))
			if err != nil {
				return nil, err
			}
			t.Data = d
		} else if t.Ints == nil {
			t.Ints = []int64{}
		}
		if err := m.AddTensor(t); err != nil {
			return nil, err
		}
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// MarshalJSON writes the role as its name.
func (r Role) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads a role name.
func (r *Role) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, c := range []Role{Param, Buffer, Const} {
		if c.String() == s {
			*r = c
			return nil
		}
	}
	return fmt.Errorf("unknown tensor role %q", s)
}
