package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"tlkit/engine"
	"tlkit/gpu"
	"tlkit/models"
	"tlkit/optim"
)

// RunGPU measures tlkit's CUDA backend against PyTorch eager on the same GPU, in the same run:
// a ResNet-34 fine-tuning step (forward, backward, Adam) and frozen-backbone inference, at batch
// batch and 224×224, with TF32 off (exact float32 products) and on. PyTorch runs through
// scripts/gpu/torch_peer.py with the system python3.
func RunGPU(ctx context.Context, o Options, dev *gpu.Device, batch int) ([]Row, error) {
	if o.Repeats == 0 {
		o.Repeats = 10
	}
	var rows []Row
	peer := map[string]float64{}
	if o.Peers {
		script := ""
		for _, base := range candidates() {
			if p := filepath.Join(base, "scripts", "gpu", "torch_peer.py"); fileExists(p) {
				script = p
				break
			}
		}
		py := o.Python
		if py == "/usr/bin/python3" {
			py = "python3" // on GPU machines PyTorch with CUDA is usually the environment's python
		}
		out := filepath.Join(os.TempDir(), "tlkit-torch-gpu.json")
		cmd := exec.CommandContext(ctx, py, script, "--out", out, "--batch", strconv.Itoa(batch), "--iters", strconv.Itoa(o.Repeats))
		if b, err := cmd.CombinedOutput(); err != nil || script == "" {
			o.logf("note: the PyTorch GPU peer did not run (%v): %s", err, lastLines(string(b), 3))
		} else if raw, err := os.ReadFile(out); err == nil {
			var r map[string]any
			if json.Unmarshal(raw, &r) == nil {
				for _, k := range []string{"train_tf32_off", "train_tf32_on", "features_tf32_off", "features_tf32_on"} {
					if m, ok := r[k].(map[string]any); ok {
						if v, ok := m["images_per_second"].(float64); ok {
							peer[k] = v
						}
					}
				}
			}
		}
	}
	for _, tf32 := range []bool{false, true} {
		suffix := "tf32_off"
		if tf32 {
			suffix = "tf32_on"
		}
		o.logf("running gpu resnet34 step, batch %d, %s", batch, suffix)
		v, err := gpuStep(dev, batch, tf32, o.Repeats)
		if err != nil {
			return rows, err
		}
		rows = append(rows, gpuRow(fmt.Sprintf("cuda/resnet34-step/b%d/224/%s", batch, suffix), v, peer["train_"+suffix]))
		o.logf("running gpu resnet34 inference, batch %d, %s", batch, suffix)
		v, err = gpuForward(dev, batch, tf32, o.Repeats)
		if err != nil {
			return rows, err
		}
		rows = append(rows, gpuRow(fmt.Sprintf("cuda/resnet34-forward/b%d/224/%s", batch, suffix), v, peer["features_"+suffix]))
	}
	return rows, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func gpuRow(name string, tl []float64, peer float64) Row {
	r := Row{Name: name, Unit: "img/s", PeerName: "pytorch (cuda)", TLKitRuns: tl, TLKit: Median(tl), Peer: peer}
	if peer == 0 {
		r.Peer = nan()
	}
	r.Ratio = ratio(r.Unit, r.TLKit, r.Peer)
	return r
}

// gpuResNet34 compiles ResNet-34 (100 classes, 224×224) for the device at batch, for training
// or inference, with a random batch set.
func gpuResNet34(dev *gpu.Device, batch int, train, tf32 bool) (*gpu.Program, error) {
	m, err := models.ResNet(34, 64, 1, 100, []int{3, 224, 224})
	if err != nil {
		return nil, err
	}
	ep, err := engine.Compile(m, engine.Options{Batch: batch, Train: train})
	if err != nil {
		return nil, err
	}
	p, err := dev.Compile(ep, gpu.Options{TF32: tf32})
	if err != nil {
		return nil, err
	}
	if err := p.SetInput(randomInput(batch * 3 * 224 * 224)); err != nil {
		p.Close()
		return nil, err
	}
	if train {
		if err := p.SetLabels(randomLabels(batch, 100)); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

func gpuStep(dev *gpu.Device, batch int, tf32 bool, repeats int) ([]float64, error) {
	p, err := gpuResNet34(dev, batch, true, tf32)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	opt := optim.NewAdam(1e-4)
	t, err := timeIt(repeats, func() error {
		if err := p.Run(); err != nil {
			return err
		}
		if err := p.Step(opt); err != nil {
			return err
		}
		_, err := p.Loss() // waits for the device
		return err
	})
	return throughput(batch, t), err
}

func gpuForward(dev *gpu.Device, batch int, tf32 bool, repeats int) ([]float64, error) {
	p, err := gpuResNet34(dev, batch, false, tf32)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	t, err := timeIt(repeats, func() error {
		if err := p.Run(); err != nil {
			return err
		}
		_, err := p.Output(0) // copies to the host: what feature extraction needs
		return err
	})
	return throughput(batch, t), err
}
