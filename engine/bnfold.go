package engine

import (
	"math"

	"tlkit/nn"
)

// foldBatchNorm returns m with every inference-mode BatchNormalization that reads only a
// convolution's output folded into that convolution, as ONNX Runtime and PyTorch's eval-mode
// export do: with s = scale/√(var+ε), the weights of output channel k become W[k]·s[k] and its
// bias (b[k]−mean[k])·s[k]+B[k]. It saves the BatchNorm's pass over the activations and lets
// the ReLU after it fuse with the convolution. The caller vouches that the tensors are
// constants (Options.ConstantWeights); the folded weights are new tensors of the returned model
// (computed in float64, rounded once), so m and its tensors are left untouched and later changes
// to them do not reach the result. m is returned as is when nothing folds.
func foldBatchNorm(m *nn.Model) *nn.Model {
	prod, cons := m.Producers(), m.Consumers()
	outputs := map[string]bool{}
	for _, v := range m.Outputs {
		outputs[v.Name] = true
	}
	folded := map[*nn.Node]*nn.Node{} // conv → its BatchNorm
	for _, bn := range m.Nodes {
		if conv := foldableConv(m, bn, prod, cons, outputs); conv != nil {
			folded[conv] = bn
		}
	}
	if len(folded) == 0 {
		return m
	}
	f := &nn.Model{Name: m.Name, Opset: m.Opset, Inputs: m.Inputs, Outputs: m.Outputs, Meta: m.Meta}
	skip := map[*nn.Node]bool{}
	for _, bn := range folded {
		skip[bn] = true
	}
	var add []*nn.Tensor
	for _, n := range m.Nodes {
		if skip[n] {
			continue
		}
		bn := folded[n]
		if bn == nil {
			f.Nodes = append(f.Nodes, n)
			continue
		}
		w, b := foldWeights(m, n, bn)
		c := n.Clone()
		c.Inputs = []string{n.Inputs[0], w.Name, b.Name}
		c.Outputs = []string{bn.Outputs[0]}
		f.Nodes = append(f.Nodes, c)
		add = append(add, w, b)
	}
	used := map[string]bool{}
	for _, n := range f.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for _, t := range m.Tensors() {
		if used[t.Name] {
			_ = f.AddTensor(t) // shared, not copied: the program only reads them
		}
	}
	for _, t := range add {
		_ = f.AddTensor(t)
	}
	return f
}

// foldableConv returns the convolution that bn can be folded into, or nil.
func foldableConv(m *nn.Model, bn *nn.Node, prod map[string]*nn.Node, cons map[string][]*nn.Node, outputs map[string]bool) *nn.Node {
	if bn.Op != "BatchNormalization" || len(bn.Inputs) < 5 {
		return nil
	}
	for _, o := range bn.Outputs[1:] {
		if o != "" {
			return nil
		}
	}
	if mode, err := bn.IntAttr("training_mode", 0); err != nil || mode != 0 {
		return nil
	}
	conv := prod[bn.Inputs[0]]
	if conv == nil || conv.Op != "Conv" || len(conv.Inputs) < 2 || outputs[bn.Inputs[0]] || len(cons[bn.Inputs[0]]) != 1 {
		return nil
	}
	w := m.Tensor(conv.Inputs[1])
	if !isFloat(w) || len(w.Shape) < 1 {
		return nil
	}
	ch := w.Shape[0]
	if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
		if b := m.Tensor(conv.Inputs[2]); !isFloat(b) || len(b.Data) != ch {
			return nil
		}
	}
	for _, in := range bn.Inputs[1:5] {
		if t := m.Tensor(in); !isFloat(t) || len(t.Data) != ch {
			return nil
		}
	}
	return conv
}

// isFloat reports whether t is a float tensor of the model (not a computed value).
func isFloat(t *nn.Tensor) bool { return t != nil && t.Data != nil }

// foldWeights computes the folded weights and bias of conv followed by bn.
func foldWeights(m *nn.Model, conv, bn *nn.Node) (w, b *nn.Tensor) {
	w0 := m.Tensor(conv.Inputs[1])
	ch := w0.Shape[0]
	per := len(w0.Data) / ch
	var b0 []float32
	if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
		b0 = m.Tensor(conv.Inputs[2]).Data
	}
	scale, shift := m.Tensor(bn.Inputs[1]).Data, m.Tensor(bn.Inputs[2]).Data
	mean, vari := m.Tensor(bn.Inputs[3]).Data, m.Tensor(bn.Inputs[4]).Data
	eps, _ := bn.FloatAttr("epsilon", 1e-5)
	w = &nn.Tensor{Name: w0.Name + "·" + bn.Name, Shape: append([]int(nil), w0.Shape...), Data: make([]float32, len(w0.Data)), Frozen: true}
	b = &nn.Tensor{Name: conv.Name + ".bias·" + bn.Name, Shape: []int{ch}, Data: make([]float32, ch), Frozen: true}
	for k := 0; k < ch; k++ {
		s := float64(scale[k]) / math.Sqrt(float64(vari[k])+float64(eps))
		for i := k * per; i < (k+1)*per; i++ {
			w.Data[i] = float32(float64(w0.Data[i]) * s)
		}
		bk := 0.0
		if b0 != nil {
			bk = float64(b0[k])
		}
		b.Data[k] = float32((bk-float64(mean[k]))*s + float64(shift[k]))
	}
	return w, b
}
