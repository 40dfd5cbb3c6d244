package train

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"tlkit/checkpoint"
	"tlkit/nn"
	"tlkit/optim"
)

// A tlkit checkpoint is one safetensors file holding everything a run needs to go on or to be
// used: the model's structure (metadata "tlkit.model") and its parameters and buffers by name, and,
// for a training run, Adam's moments ("adam.m/NAME", "adam.v/NAME") and the run's position,
// recipe and history. PyTorch users can open it with safetensors.torch.load_file.
const (
	metaModel    = "tlkit.model"
	metaFormat   = "tlkit.format"
	metaConfig   = "tlkit.config"
	metaPosition = "tlkit.position"
	metaHistory  = "tlkit.history"
	metaAdam     = "tlkit.adam"
	formatV1     = "1"
)

// SaveModel writes m's structure and tensors (no training state) to path, atomically.
func SaveModel(path string, m *nn.Model, meta map[string]string) error {
	ts, md, err := modelTensors(m)
	if err != nil {
		return err
	}
	for k, v := range meta {
		md[k] = v
	}
	return checkpoint.Write(path, ts, md)
}

func modelTensors(m *nn.Model) ([]checkpoint.Tensor, map[string]string, error) {
	s, err := nn.MarshalStructure(m)
	if err != nil {
		return nil, nil, err
	}
	var ts []checkpoint.Tensor
	for _, t := range m.Tensors() {
		if t.Data != nil {
			ts = append(ts, checkpoint.Tensor{Name: t.Name, Shape: append([]int{}, t.Shape...), F32: t.Data})
		}
	}
	return ts, map[string]string{metaModel: string(s), metaFormat: formatV1}, nil
}

// SaveState writes the trainer's model (or t.Saved, when set) and full training state to path,
// atomically.
func SaveState(path string, t *Trainer) error {
	m := t.Model
	if t.Saved != nil {
		m = t.Saved
	}
	ts, md, err := modelTensors(m)
	if err != nil {
		return err
	}
	for _, p := range t.Model.Params() {
		if s := t.Opt.State(p.Name); s != nil {
			ts = append(ts,
				checkpoint.Tensor{Name: "adam.m/" + p.Name, Shape: append([]int{}, p.Shape...), F32: s.M},
				checkpoint.Tensor{Name: "adam.v/" + p.Name, Shape: append([]int{}, p.Shape...), F32: s.V})
		}
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	md[metaConfig] = js(storedConfig{t.Cfg.Epochs, t.Cfg.BatchSize, t.Cfg.LR, t.Cfg.WeightDecay, t.Cfg.DecoupledWD, t.Cfg.ClipNorm, t.Cfg.FreezeBN, t.Cfg.Augment, t.Cfg.Seed})
	md[metaPosition] = js(t.Pos)
	md[metaHistory] = js(t.History)
	md[metaAdam] = js(map[string]string{"steps": strconv.FormatInt(t.Opt.Steps, 10)})
	md["tlkit.saved"] = time.Now().UTC().Format(time.RFC3339)
	return checkpoint.Write(path, ts, md)
}

// storedConfig is the part of Config a checkpoint keeps (the schedule is rebuilt by the command).
type storedConfig struct {
	Epochs      int
	BatchSize   int
	LR          float64
	WeightDecay float64
	DecoupledWD bool
	ClipNorm    float64
	FreezeBN    bool
	Augment     bool
	Seed        int64
}

// Loaded is what a checkpoint holds.
type Loaded struct {
	Model    *nn.Model
	Meta     map[string]string
	HasState bool // training state present (SaveState rather than SaveModel)
	file     *checkpoint.File
}

// Load reads a checkpoint written by SaveModel or SaveState.
func Load(path string) (*Loaded, error) {
	f, err := checkpoint.Read(path)
	if err != nil {
		return nil, err
	}
	return load(f, path)
}

// LoadBytes reads a checkpoint from memory (an embedded one); name labels errors.
func LoadBytes(data []byte, name string) (*Loaded, error) {
	f, err := checkpoint.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return load(f, name)
}

func load(f *checkpoint.File, path string) (*Loaded, error) {
	s, ok := f.Meta[metaModel]
	if !ok {
		return nil, fmt.Errorf("%s: not a tlkit checkpoint (no %q metadata)", path, metaModel)
	}
	m, err := nn.UnmarshalStructure([]byte(s), func(name string, size int) ([]float32, error) {
		t := f.Get(name)
		if t == nil || t.F32 == nil {
			return nil, fmt.Errorf("%s: tensor %q is missing or not float32", path, name)
		}
		if len(t.F32) != size {
			return nil, fmt.Errorf("%s: tensor %q has %d values, the model needs %d", path, name, len(t.F32), size)
		}
		return t.F32, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	_, hasState := f.Meta[metaPosition]
	return &Loaded{Model: m, Meta: f.Meta, HasState: hasState, file: f}, nil
}

// Restore puts a checkpoint's training state (optimizer moments and steps, position, history)
// into t, whose model must be the checkpoint's model.
func (l *Loaded) Restore(t *Trainer) error {
	if !l.HasState {
		return fmt.Errorf("the checkpoint holds weights only, no training state to resume")
	}
	if err := json.Unmarshal([]byte(l.Meta[metaPosition]), &t.Pos); err != nil {
		return fmt.Errorf("checkpoint position: %w", err)
	}
	if err := json.Unmarshal([]byte(l.Meta[metaHistory]), &t.History); err != nil {
		return fmt.Errorf("checkpoint history: %w", err)
	}
	var adam map[string]string
	if err := json.Unmarshal([]byte(l.Meta[metaAdam]), &adam); err != nil {
		return fmt.Errorf("checkpoint optimizer: %w", err)
	}
	steps, err := strconv.ParseInt(adam["steps"], 10, 64)
	if err != nil {
		return fmt.Errorf("checkpoint optimizer steps: %w", err)
	}
	t.Opt.Steps = steps
	for _, p := range t.Model.Params() {
		m, v := l.file.Get("adam.m/"+p.Name), l.file.Get("adam.v/"+p.Name)
		if m == nil || v == nil {
			continue // never updated (frozen)
		}
		if len(m.F32) != p.Size() || len(v.F32) != p.Size() {
			return fmt.Errorf("checkpoint optimizer state of %q has the wrong size", p.Name)
		}
		t.Opt.SetState(p.Name, &optim.Moments{M: m.F32, V: v.F32})
	}
	return nil
}

// Config returns the recipe stored in a training checkpoint.
func (l *Loaded) Config() (Config, error) {
	var s storedConfig
	if err := json.Unmarshal([]byte(l.Meta[metaConfig]), &s); err != nil {
		return Config{}, fmt.Errorf("checkpoint config: %w", err)
	}
	return Config{Epochs: s.Epochs, BatchSize: s.BatchSize, LR: s.LR, WeightDecay: s.WeightDecay, DecoupledWD: s.DecoupledWD,
		ClipNorm: s.ClipNorm, FreezeBN: s.FreezeBN, Augment: s.Augment, Seed: s.Seed}, nil
}
