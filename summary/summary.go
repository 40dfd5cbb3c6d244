// Package summary describes a model the way torchsummary does: one row per layer with its output
// shape and parameter count, then total, trainable and non-trainable parameters and their memory.
package summary

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"tlkit/engine"
	"tlkit/nn"
)

// Row is one layer.
type Row struct {
	Name   string `json:"name"`
	Op     string `json:"op"`
	Output []int  `json:"output_shape"` // -1 is the batch axis
	Params int64  `json:"params"`
	Frozen bool   `json:"frozen,omitempty"` // every parameter of the layer is frozen
}

// Summary is a model's complexity.
type Summary struct {
	Model        string `json:"model"`
	Input        []int  `json:"input_shape"`
	Rows         []Row  `json:"layers"`
	Total        int64  `json:"total"`
	Trainable    int64  `json:"trainable"`
	NonTrainable int64  `json:"non_trainable"`
	ParamBytes   int64  `json:"param_bytes"`  // float32 parameters
	BufferBytes  int64  `json:"buffer_bytes"` // BatchNorm running statistics and other buffers
}

// layerless are operators that only move data around; they get no row of their own.
var layerless = map[string]bool{"Shape": true, "Gather": true, "Unsqueeze": true, "Concat": false, "Cast": true,
	"ConstantOfShape": true, "Slice": false, "Constant": true, "Identity": true}

// Of summarises m. Shapes come from building the model's graph at batch 1; the batch axis is
// reported as -1.
func Of(m *nn.Model) (*Summary, error) {
	p, err := engine.Compile(m, engine.Options{Batch: 1})
	if err != nil {
		return nil, err
	}
	s := &Summary{Model: m.Name}
	if len(m.Inputs) > 0 {
		s.Input = append([]int{-1}, m.Inputs[0].Shape[1:]...)
	}
	seen := map[string]bool{}
	for _, n := range m.Nodes {
		var params int64
		frozen, any := true, false
		for _, in := range n.Inputs {
			t := m.Tensor(in)
			if t == nil || t.Role != nn.Param || seen[in] {
				continue
			}
			seen[in] = true
			params += int64(t.Size())
			any = true
			frozen = frozen && t.Frozen
		}
		sh, computed := p.ValueShape(n.Outputs[0])
		if params == 0 && (layerless[n.Op] || !computed) {
			// Data movement, or a computation the engine folded at build time (the pads or
			// target shapes an exporter computes from the input's shape): no layer.
			continue
		}
		row := Row{Name: n.Name, Op: n.Op, Params: params, Frozen: any && frozen}
		if computed {
			row.Output = append([]int{-1}, sh[1:]...)
		}
		s.Rows = append(s.Rows, row)
	}
	s.Total, s.Trainable = m.Count()
	s.NonTrainable = s.Total - s.Trainable
	for _, t := range m.Tensors() {
		switch t.Role {
		case nn.Param:
			s.ParamBytes += int64(4 * t.Size())
		case nn.Buffer:
			s.BufferBytes += int64(4 * t.Size())
		}
	}
	return s, nil
}

// WriteText prints the table.
func (s *Summary) WriteText(w io.Writer) error {
	line := strings.Repeat("-", 78)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%-40s %-22s %14s\n%s\n", line, "Layer (type)", "Output Shape", "Param #", strings.Repeat("=", 78))
	for _, r := range s.Rows {
		name := fmt.Sprintf("%s (%s)", r.Name, r.Op)
		if len(name) > 40 {
			name = name[:37] + "..."
		}
		mark := ""
		if r.Frozen {
			mark = " (frozen)"
		}
		fmt.Fprintf(&b, "%-40s %-22s %14s%s\n", name, shapeString(r.Output), commas(r.Params), mark)
	}
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", 78))
	fmt.Fprintf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", commas(s.Total), commas(s.Trainable), commas(s.NonTrainable))
	fmt.Fprintf(&b, "%s\nParams size (MB): %.2f\nBuffers size (MB): %.2f\n%s\n", line, mb(s.ParamBytes), mb(s.BufferBytes), line)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the summary as one JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(s)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func shapeString(s []int) string {
	if s == nil {
		return "-"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// commas formats n with thousands separators, as torchsummary does.
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
