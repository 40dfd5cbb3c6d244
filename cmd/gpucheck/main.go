// Command gpucheck checks tlkit's CUDA backend (package gpu) on a GPU machine: it compares the
// device's results with the CPU engine (forward, a fine-tuning step with Adam, the MNIST models,
// a model using every device kernel) and times ResNet-34 fine-tuning and feature extraction.
// scripts/gpu/check.sh runs it beside a PyTorch peer. Each check runs on its own: a failure is
// recorded with its message and the next check runs. Results go to -out as JSON, rewritten after
// every check.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"tlkit/bench"
	"tlkit/blas"
	"tlkit/compare"
	"tlkit/engine"
	"tlkit/gpu"
	"tlkit/head"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/optim"
)

type check struct {
	Name    string         `json:"name"`
	OK      bool           `json:"ok"`
	Error   string         `json:"error,omitempty"`
	Seconds float64        `json:"seconds"`
	Data    map[string]any `json:"data"`
}

type report struct {
	Started string            `json:"started"`
	Host    map[string]string `json:"host"`
	Device  *gpu.Info         `json:"device,omitempty"`
	Checks  []*check          `json:"checks"`
}

var (
	outPath = flag.String("out", "gpucheck_tlkit.json", "where to write the JSON results")
	batch   = flag.Int("batch", 64, "batch size of the throughput checks")
	warmup  = flag.Int("warmup", 3, "untimed steps before timing")
	iters   = flag.Int("iters", 10, "timed steps (the median is reported)")
	only    = flag.String("only", "", "comma-separated check names to run (default: all)")
	rep     = &report{Host: map[string]string{}}
)

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	rep.Started = time.Now().Format(time.RFC3339)
	rep.Host["go"] = runtime.Version()
	rep.Host["cpus"] = fmt.Sprint(runtime.NumCPU())
	rep.Host["blas"] = blas.Backend()
	for _, e := range []string{gpu.EnvLibs, gpu.EnvDevice, "CUDA_VISIBLE_DEVICES", "NVIDIA_TF32_OVERRIDE", "LD_LIBRARY_PATH"} {
		rep.Host[e] = os.Getenv(e)
	}
	log.Printf("gpucheck: %s, %d CPUs, CPU BLAS %s", runtime.Version(), runtime.NumCPU(), blas.Backend())

	var dev *gpu.Device
	run("open", func(c *check) error {
		d, err := gpu.Open()
		if err != nil {
			// Tell apart a kernel-source problem from the rest: NVRTC alone needs no GPU.
			n, v, clog, kerr := gpu.CompileKernels(9, 0)
			c.Data["nvrtc_only_compile"] = map[string]any{"cubin_bytes": n, "nvrtc": v, "error": errString(kerr), "log": clog}
			return err
		}
		dev = d
		info := d.Info()
		rep.Device = &info
		d.Log = func(s string) { log.Print("    ", s) }
		free, total, _ := d.MemInfo()
		c.Data["info"] = info
		c.Data["free_bytes"], c.Data["total_bytes"] = free, total
		b, _ := json.MarshalIndent(info, "    ", "  ")
		log.Printf("device:\n    %s", b)
		return nil
	})
	if dev == nil {
		log.Print("no device: the remaining checks are skipped")
		finish()
		return
	}
	// Correctness checks wait for each step (gpu.Options.SyncEachStep), so that a kernel fault is
	// reported with its step. A fault leaves the CUDA context unusable, so the checks run in
	// order of importance: the ResNet-34 checks and timings first, the exotic kernels last.
	run("forward_b8", func(c *check) error { return forwardCheck(dev, c) })
	run("finetune_step_b4", func(c *check) error {
		return stepCheck(dev, c, resnet34, 4, []int{3, 224, 224}, 100, false)
	})
	run("throughput_train", func(c *check) error { return trainThroughput(dev, c) })
	run("throughput_features", func(c *check) error { return featureThroughput(dev, c) })
	run("finetune_step_b4_frozen_bn", func(c *check) error {
		return stepCheck(dev, c, resnet34, 4, []int{3, 224, 224}, 100, true)
	})
	for _, name := range []string{"mlp", "cnn", "lenet5"} {
		name := name
		build := func() (*nn.Model, error) { return models.Build(name, 1, 10, []int{1, 28, 28}) }
		run("mnist_"+name, func(c *check) error { return stepCheck(dev, c, build, 16, []int{1, 28, 28}, 10, false) })
	}
	zb := func() (*nn.Model, error) { return models.OpZoo(5) }
	run("zoo_train", func(c *check) error { return stepCheck(dev, c, zb, 16, []int{3, 12, 12}, 5, false) })
	run("zoo_train_frozen_bn", func(c *check) error { return stepCheck(dev, c, zb, 16, []int{3, 12, 12}, 5, true) })
	if err := dev.Close(); err != nil {
		log.Printf("closing the device: %v", err)
	}
	finish()
}

func resnet34() (*nn.Model, error) { return models.ResNet(34, 64, 1, 100, []int{3, 224, 224}) }

func selected(name string) bool {
	if *only == "" || name == "open" {
		return true
	}
	for _, s := range strings.Split(*only, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// run executes one check, recovering from panics, and rewrites the report.
func run(name string, f func(c *check) error) {
	if !selected(name) {
		return
	}
	c := &check{Name: name, Data: map[string]any{}}
	rep.Checks = append(rep.Checks, c)
	log.Printf("=== %s", name)
	t0 := time.Now()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		return f(c)
	}()
	c.Seconds = time.Since(t0).Seconds()
	c.OK = err == nil
	if err != nil {
		c.Error = err.Error()
		log.Printf("--- %s FAILED after %.1fs: %v", name, c.Seconds, err)
	} else {
		log.Printf("--- %s ok (%.1fs)", name, c.Seconds)
	}
	for _, k := range sortedKeys(c.Data) {
		if k == "info" || k == "nvrtc_only_compile" {
			continue
		}
		log.Printf("    %s: %s", k, short(c.Data[k]))
	}
	write()
	runtime.GC()
}

func write() {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		log.Printf("encoding the report: %v", err)
		return
	}
	if err := os.WriteFile(*outPath, b, 0o644); err != nil {
		log.Printf("writing %s: %v", *outPath, err)
	}
}

func finish() {
	write()
	log.Print("summary:")
	for _, c := range rep.Checks {
		status := "ok"
		if !c.OK {
			status = "FAILED: " + firstLine(c.Error)
		}
		log.Printf("  %-28s %6.1fs  %s", c.Name, c.Seconds, status)
	}
	log.Printf("results in %s", *outPath)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func randn(n int, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func randLabels(n, classes int, seed int64) []int {
	r := rand.New(rand.NewSource(seed))
	y := make([]int, n)
	for i := range y {
		y[i] = r.Intn(classes)
	}
	return y
}

func finite(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Sprint(x)
	}
	return x
}

// forwardCheck: ResNet-34 inference at batch 8 on the device vs the CPU engine, TF32 off (the
// target is a relative L2 error ≤ 1e-5) and on, and with other algorithm policies.
func forwardCheck(dev *gpu.Device, c *check) error {
	m, err := resnet34()
	if err != nil {
		return err
	}
	const n = 8
	ep, err := engine.Compile(m, engine.Options{Batch: n})
	if err != nil {
		return err
	}
	x := randn(n*3*224*224, 42)
	if err := ep.SetInput(x); err != nil {
		return err
	}
	t0 := time.Now()
	if err := ep.Run(); err != nil {
		return err
	}
	c.Data["cpu_seconds"] = time.Since(t0).Seconds()
	want := append([]float32(nil), ep.Output(0).Data().([]float32)...)
	var failures []string
	for _, v := range []struct {
		name string
		o    gpu.Options
	}{
		{"tf32_off", gpu.Options{SyncEachStep: true}},
		{"tf32_on", gpu.Options{TF32: true, SyncEachStep: true}},
		{"tf32_off_accurate_algos", gpu.Options{Algo: gpu.AlgoAccurate, SyncEachStep: true}},
		{"tf32_off_heuristic_algos", gpu.Options{Algo: gpu.AlgoHeuristic, SyncEachStep: true}},
	} {
		r, err := func() (map[string]any, error) {
			t0 := time.Now()
			gp, err := dev.Compile(ep, v.o)
			if err != nil {
				return nil, err
			}
			defer gp.Close()
			r := map[string]any{"compile_seconds": time.Since(t0).Seconds(), "arena_bytes": gp.MemoryBytes(), "steps": gp.Steps()}
			if err := gp.SetInput(x); err != nil {
				return r, err
			}
			if err := gp.Run(); err != nil {
				return r, err
			}
			got, err := gp.Output(0)
			if err != nil {
				return r, err
			}
			r["rel_l2"] = finite(compare.RelL2(got, want))
			r["max_abs"] = finite(compare.MaxAbsDiff(got, want))
			rows := len(want) / 100
			r["top1_agree"] = fmt.Sprintf("%.0f/%d", compare.Top1Agreement(got, want, rows)*float64(rows), rows)
			// Repeatability: a second run gives the same values.
			if err := gp.Run(); err != nil {
				return r, err
			}
			again, err := gp.Output(0)
			if err != nil {
				return r, err
			}
			r["rerun_max_abs"] = finite(compare.MaxAbsDiff(again, got))
			return r, nil
		}()
		if err != nil {
			failures = append(failures, v.name+": "+err.Error())
			if r == nil {
				r = map[string]any{}
			}
			r["error"] = err.Error()
		}
		c.Data[v.name] = r
		log.Printf("  forward %s: %s", v.name, short(r))
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	if e, ok := c.Data["tf32_off"].(map[string]any)["rel_l2"].(float64); !ok || e > 1e-5 {
		return fmt.Errorf("TF32-off relative L2 error %v exceeds the 1e-5 target", c.Data["tf32_off"].(map[string]any)["rel_l2"])
	}
	return nil
}

func snapshot(m *nn.Model) map[string][]float32 {
	s := map[string][]float32{}
	for _, t := range m.Tensors() {
		if t.Data != nil {
			s[t.Name] = append([]float32(nil), t.Data...)
		}
	}
	return s
}

type named struct {
	Name string  `json:"name"`
	Err  float64 `json:"rel_l2"`
}

func worst(v []named, k int) []named {
	sort.Slice(v, func(a, b int) bool {
		if math.IsNaN(v[a].Err) {
			return true
		}
		return v[a].Err > v[b].Err
	})
	if len(v) > k {
		v = v[:k]
	}
	return v
}

func maxOf(v []named) float64 {
	m := 0.0
	for _, x := range v {
		if math.IsNaN(x.Err) {
			return math.NaN()
		}
		m = math.Max(m, x.Err)
	}
	return m
}

// stepCheck runs one training step (forward, backward, Adam lr 1e-3) of the model build makes at
// batch n on the GPU and on tlkit's CPU engine, both in float32, and judges them against the same
// step computed in float64 on the CPU (the reference neither float32 run can be expected to match
// exactly):
//   - loss and logits: each within 1e-4 (relative) of the float64 values;
//   - gradients: per tensor, the GPU's error against float64 at most 4× the CPU's own float32 error
//     (or 1e-5), measured as ‖g − g64‖ / max(‖g64‖, 1e-3·largest tensor norm) so that tensors whose
//     true gradient is ~0 (a bias before training-mode BatchNorm) do not divide by noise;
//   - the Adam update: the GPU's updated weights equal optim.Adam applied on the host to the GPU's
//     own gradients (relative L2 ≤ 1e-6), which checks the device optimizer independently of
//     gradient rounding (Adam's first step turns any rounding-level gradient into ±lr);
//   - running statistics: GPU vs CPU within 1e-4.
func stepCheck(dev *gpu.Device, c *check, build func() (*nn.Model, error), n int, sample []int, classes int, freezeBN bool) error {
	mc, err := build()
	if err != nil {
		return err
	}
	mg, err := build()
	if err != nil {
		return err
	}
	m64, err := build()
	if err != nil {
		return err
	}
	init := snapshot(mc)
	o := engine.Options{Batch: n, Train: true, FreezeBN: freezeBN}
	pc, err := engine.Compile(mc, o)
	if err != nil {
		return err
	}
	pe, err := engine.Compile(mg, o)
	if err != nil {
		return err
	}
	o64 := o
	o64.Float64 = true
	p64, err := engine.Compile(m64, o64)
	if err != nil {
		return err
	}
	t0 := time.Now()
	gp, err := dev.Compile(pe, gpu.Options{SyncEachStep: true})
	if err != nil {
		return err
	}
	defer gp.Close()
	c.Data["gpu_compile_seconds"] = time.Since(t0).Seconds()
	c.Data["arena_bytes"] = gp.MemoryBytes()
	x := randn(n*nn.Numel(sample), 7)
	y := randLabels(n, classes, 8)

	// float64 reference
	if err := p64.SetInput(x); err != nil {
		return err
	}
	if err := p64.SetLabels(y); err != nil {
		return err
	}
	if err := p64.Run(); err != nil {
		return err
	}
	loss64 := p64.Loss()
	logits64 := toF32(p64.Output(0).Data().([]float64))
	grads64 := map[string][]float64{}
	var maxNorm float64
	for _, g := range p64.Grads() {
		v := append([]float64(nil), g.Value.Data().([]float64)...)
		grads64[g.Param.Name] = v
		maxNorm = math.Max(maxNorm, norm64(v))
	}

	t0 = time.Now()
	if err := pc.SetInput(x); err != nil {
		return err
	}
	if err := pc.SetLabels(y); err != nil {
		return err
	}
	if err := pc.Run(); err != nil {
		return err
	}
	lossC := pc.Loss()
	logitsC := append([]float32(nil), pc.Output(0).Data().([]float32)...)
	gradsC := map[string][]float32{}
	for _, g := range pc.Grads() {
		gradsC[g.Param.Name] = append([]float32(nil), g.Value.Data().([]float32)...)
	}
	c.Data["cpu_seconds"] = time.Since(t0).Seconds()

	t0 = time.Now()
	if err := gp.SetInput(x); err != nil {
		return err
	}
	if err := gp.SetLabels(y); err != nil {
		return err
	}
	if err := gp.Run(); err != nil {
		return err
	}
	lossG, err := gp.Loss()
	if err != nil {
		return err
	}
	logitsG, err := gp.Output(0)
	if err != nil {
		return err
	}
	gradsG := map[string][]float32{}
	var ps []optim.Param // the GPU's gradients applied on the host, for the Adam check
	for k := 0; k < gp.NumGrads(); k++ {
		g, err := gp.Grad(k)
		if err != nil {
			return err
		}
		name := pe.GradParam(k).Name
		gradsG[name] = g
		ps = append(ps, optim.Param{Name: name, W: append([]float32(nil), init[name]...), G: append([]float32(nil), g...)})
	}
	if err := gp.Step(optim.NewAdam(1e-3)); err != nil {
		return err
	}
	if err := gp.SyncToHost(); err != nil {
		return err
	}
	c.Data["gpu_seconds"] = time.Since(t0).Seconds()
	if err := optim.NewAdam(1e-3).Update(ps); err != nil {
		return err
	}

	var bad []string
	var gpuErr, cpuErr, adamErr, sErr []named
	for name, g64 := range grads64 {
		scale := math.Max(norm64(g64), 1e-3*maxNorm)
		eg, ec := diff64(gradsG[name], g64)/scale, diff64(gradsC[name], g64)/scale
		gpuErr, cpuErr = append(gpuErr, named{name, eg}), append(cpuErr, named{name, ec})
		if !(eg <= math.Max(4*ec, 1e-5)) {
			bad = append(bad, fmt.Sprintf("gradient of %s: GPU error %.3g vs the CPU's %.3g (against float64)", name, eg, ec))
		}
	}
	for _, p := range ps {
		e := compare.RelL2(mg.Tensor(p.Name).Data, p.W)
		adamErr = append(adamErr, named{p.Name, e})
		if !(e <= 1e-6) {
			bad = append(bad, fmt.Sprintf("Adam update of %s differs from optim.Adam on the same gradients by %.3g", p.Name, e))
		}
	}
	for _, t := range mc.Tensors() {
		if t.Role == nn.Buffer {
			sErr = append(sErr, named{t.Name, compare.RelL2(mg.Tensor(t.Name).Data, t.Data)})
		}
	}
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-12) }
	c.Data["loss_float64"], c.Data["loss_cpu"], c.Data["loss_gpu"] = finite(loss64), finite(lossC), finite(lossG)
	c.Data["loss_gpu_rel_err"], c.Data["loss_cpu_rel_err"] = finite(rel(lossG, loss64)), finite(rel(lossC, loss64))
	c.Data["logits_gpu_rel_l2"], c.Data["logits_cpu_rel_l2"] = finite(compare.RelL2(logitsG, logits64)), finite(compare.RelL2(logitsC, logits64))
	c.Data["grad_gpu_err_max"], c.Data["grad_gpu_worst"] = finite(maxOf(gpuErr)), worst(gpuErr, 5)
	c.Data["grad_cpu_err_max"], c.Data["grad_cpu_worst"] = finite(maxOf(cpuErr)), worst(cpuErr, 5)
	c.Data["adam_rel_l2_max"] = finite(maxOf(adamErr))
	if len(sErr) > 0 {
		c.Data["bn_stats_rel_l2_max"], c.Data["bn_stats_worst"] = finite(maxOf(sErr)), worst(sErr, 5)
		if e := maxOf(sErr); !(e <= 1e-4) {
			bad = append(bad, fmt.Sprintf("running statistics differ by up to %.3g (relative L2)", e))
		}
	}
	if e := rel(lossG, loss64); !(e <= 1e-4) {
		bad = append(bad, fmt.Sprintf("loss differs from float64 by %.3g (relative)", e))
	}
	if e := compare.RelL2(logitsG, logits64); !(e <= 1e-4) {
		bad = append(bad, fmt.Sprintf("logits differ from float64 by %.3g (relative L2)", e))
	}
	sort.Strings(bad)
	if len(bad) > 6 {
		bad = append(bad[:6], fmt.Sprintf("... (%d more)", len(bad)-6))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

func toF32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

func norm64(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

// diff64 is ‖a − b‖ for float32 a against float64 b.
func diff64(a []float32, b []float64) float64 {
	var s float64
	for i, x := range a {
		d := float64(x) - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

func sumSquares(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// trainThroughput times ResNet-34 fine-tuning steps (forward, backward, Adam) at -batch,
// 224×224, TF32 off and on: the median of -iters steps after -warmup, each synchronised.
func trainThroughput(dev *gpu.Device, c *check) error {
	m, err := resnet34()
	if err != nil {
		return err
	}
	n := *batch
	t0 := time.Now()
	ep, err := engine.Compile(m, engine.Options{Batch: n, Train: true})
	if err != nil {
		return err
	}
	c.Data["engine_compile_seconds"] = time.Since(t0).Seconds()
	x := randn(n*3*224*224, 3)
	y := randLabels(n, 100, 4)
	var failures []string
	for _, tf32 := range []bool{false, true} {
		key := map[bool]string{false: "tf32_off", true: "tf32_on"}[tf32]
		r := map[string]any{}
		c.Data[key] = r
		err := func() error {
			t0 := time.Now()
			gp, err := dev.Compile(ep, gpu.Options{TF32: tf32})
			if err != nil {
				return err
			}
			defer gp.Close()
			r["compile_seconds"] = time.Since(t0).Seconds()
			r["arena_bytes"] = gp.MemoryBytes()
			if err := gp.SetInput(x); err != nil {
				return err
			}
			if err := gp.SetLabels(y); err != nil {
				return err
			}
			adam := optim.NewAdam(1e-3)
			for i := 0; i < *warmup; i++ {
				if err := gp.Run(); err != nil {
					return err
				}
				if err := gp.Step(adam); err != nil {
					return err
				}
			}
			if err := dev.Sync(); err != nil {
				return err
			}
			var times []float64
			for i := 0; i < *iters; i++ {
				t := time.Now()
				if err := gp.Run(); err != nil {
					return err
				}
				if err := gp.Step(adam); err != nil {
					return err
				}
				if err := dev.Sync(); err != nil {
					return err
				}
				times = append(times, time.Since(t).Seconds())
			}
			loss, err := gp.Loss()
			if err != nil {
				return err
			}
			free, total, _ := dev.MemInfo()
			med := bench.Median(times)
			r["step_seconds_median"], r["step_seconds_min"] = med, minOf(times)
			r["images_per_second"] = float64(n) / med
			r["step_seconds"] = times
			r["last_loss"] = finite(loss)
			r["device_memory_used_bytes"] = total - free
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("loss %v after %d steps", loss, *warmup+*iters)
			}
			return nil
		}()
		if err != nil {
			r["error"] = err.Error()
			failures = append(failures, key+": "+err.Error())
		}
		log.Printf("  train b%d %s: %s", n, key, short(r))
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	return nil
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// featureThroughput times frozen-backbone feature extraction: ResNet-34 inference up to the
// head's input (N×512), batch -batch, features copied to the host, TF32 off and on.
func featureThroughput(dev *gpu.Device, c *check) error {
	m, err := resnet34()
	if err != nil {
		return err
	}
	h, err := head.Find(m)
	if err != nil {
		return err
	}
	n := *batch
	ep, err := engine.Compile(m, engine.Options{Batch: n, Outputs: []string{h.Features}})
	if err != nil {
		return err
	}
	c.Data["features"] = fmt.Sprintf("%s %v", h.Features, ep.OutputShape(0))
	x := randn(n*3*224*224, 5)
	var failures []string
	for _, tf32 := range []bool{false, true} {
		key := map[bool]string{false: "tf32_off", true: "tf32_on"}[tf32]
		r := map[string]any{}
		c.Data[key] = r
		err := func() error {
			gp, err := dev.Compile(ep, gpu.Options{TF32: tf32})
			if err != nil {
				return err
			}
			defer gp.Close()
			r["arena_bytes"] = gp.MemoryBytes()
			if err := gp.SetInput(x); err != nil {
				return err
			}
			for i := 0; i < *warmup; i++ {
				if err := gp.Run(); err != nil {
					return err
				}
				if _, err := gp.Output(0); err != nil {
					return err
				}
			}
			var times []float64
			for i := 0; i < *iters; i++ {
				t := time.Now()
				if err := gp.Run(); err != nil {
					return err
				}
				if _, err := gp.Output(0); err != nil {
					return err
				}
				times = append(times, time.Since(t).Seconds())
			}
			med := bench.Median(times)
			r["batch_seconds_median"], r["batch_seconds_min"] = med, minOf(times)
			r["images_per_second"] = float64(n) / med
			return nil
		}()
		if err != nil {
			r["error"] = err.Error()
			failures = append(failures, key+": "+err.Error())
		}
		log.Printf("  features b%d %s: %s", n, key, short(r))
	}
	if len(failures) > 0 {
		return fmt.Errorf("%s", strings.Join(failures, "; "))
	}
	return nil
}
