package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tlkit/datasets"
	"tlkit/train"
)

var bin string

// TestMain builds the tlkit binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tlkit-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "tlkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tlkit: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := result{o.String(), e.String(), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	// No input may crash tlkit: a Go panic prints goroutine stacks.
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("tlkit %v panicked:\n%s", args, r.stderr)
	}
	return r
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, s)
	}
	return v
}

func TestHelpTeaches(t *testing.T) {
	for _, cmd := range []string{"train", "summary", "validate", "transfer", "finetune", "eval", "export", "demo"} {
		r := run(t, nil, cmd, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Example") && !strings.Contains(r.stdout, "tlkit ") {
			t.Errorf("tlkit %s --help (exit %d) shows no examples:\n%s", cmd, r.code, r.stdout)
		}
	}
}

func TestSummary(t *testing.T) {
	r := run(t, nil, "summary", "lenet5", "--json")
	v := decode(t, r.stdout)
	if v["total"] != 44426.0 || v["trainable"] != 44426.0 || v["non_trainable"] != 0.0 {
		t.Errorf("lenet5 summary: %v", v)
	}
	r = run(t, nil, "summary", "../../testdata/onnx/resnet_bn.onnx", "--classes", "100", "--freeze", "backbone", "--json")
	v = decode(t, r.stdout)
	if v["trainable"] != 6500.0 {
		t.Errorf("frozen backbone with a 100-class head: %v trainable, want 6,500", v["trainable"])
	}
	r = run(t, nil, "summary", "cnn")
	if !strings.Contains(r.stdout, "Total params: 222,058") {
		t.Errorf("cnn table:\n%s", r.stdout)
	}
}

func TestValidate(t *testing.T) {
	r := run(t, nil, "validate", "../../testdata/onnx/resnet_folded.onnx", "--batch", "3", "--json")
	v := decode(t, r.stdout)
	if r.code != 0 || v["ok"] != true || v["rel_l2"].(float64) > 1e-5 || len(v["outputs"].([]any)) != 1 {
		t.Errorf("validate: exit %d, %v", r.code, v)
	}
	// A tolerance nothing meets fails with exit status 1.
	r = run(t, nil, "validate", "../../testdata/onnx/resnet_folded.onnx", "--tol", "1e-30")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL") {
		t.Errorf("impossible tolerance: exit %d\n%s", r.code, r.stdout)
	}
	// --input: the batch make_models.py saved with numpy (x.npy inside lenet5.npz).
	zr, err := zip.OpenReader("../../testdata/onnx/lenet5.npz")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open("x.npy")
	if err != nil {
		t.Fatal(err)
	}
	npy, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	xPath := filepath.Join(t.TempDir(), "x.npy")
	if err := os.WriteFile(xPath, npy, 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "validate", "../../testdata/onnx/lenet5.onnx", "--input", xPath, "--json")
	v = decode(t, r.stdout)
	if r.code != 0 || v["ok"] != true || v["input"] != xPath || v["rel_l2"].(float64) > 1e-5 {
		t.Errorf("validate --input x.npy: exit %d, %v %s", r.code, v, r.stderr)
	}
	// Missing ONNX Runtime: the message says how to install it.
	r = run(t, []string{"ONNXRUNTIME_LIB=/nonexistent/libonnxruntime.so"}, "validate", "../../testdata/onnx/mlp.onnx")
	if r.code == 0 || !strings.Contains(r.stderr, "install") {
		t.Errorf("without ONNX Runtime: exit %d, %s", r.code, r.stderr)
	}
}

func TestBadModels(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../testdata/onnx/lenet5.onnx")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"truncated.onnx": good[:len(good)/3],
		"image.onnx":     []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
		"empty.onnx":     {},
	}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		for _, cmd := range [][]string{{"validate", p}, {"summary", p}, {"transfer", p, "--data", "mnist"}} {
			r := run(t, nil, cmd...)
			if r.code == 0 || !strings.Contains(r.stderr, "ONNX") || !strings.Contains(r.stderr, name) {
				t.Errorf("tlkit %v: exit %d, stderr %q", cmd, r.code, r.stderr)
			}
		}
	}
	r := run(t, nil, "eval", filepath.Join(dir, "missing.safetensors"))
	if r.code == 0 || !strings.Contains(r.stderr, "missing.safetensors") {
		t.Errorf("missing checkpoint: exit %d, %q", r.code, r.stderr)
	}
	// With --json the failure is a JSON object on standard output as well.
	r = run(t, nil, "summary", filepath.Join(dir, "truncated.onnx"), "--json")
	v := decode(t, r.stdout)
	if msg, _ := v["error"].(string); r.code != 1 || v["exit_code"] != 1.0 || !strings.Contains(msg, "truncated.onnx") {
		t.Errorf("--json failure: exit %d, %v", r.code, v)
	}
}

func TestTrainJSON(t *testing.T) {
	out := t.TempDir()
	r := run(t, nil, "train", "--model", "mlp", "--data", "mnist", "--epochs", "1", "--json", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	v := decode(t, r.stdout)
	for _, k := range []string{"model", "dataset", "epochs", "train_accuracy", "test_accuracy", "test_samples", "seconds", "params"} {
		if _, ok := v[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	if v["test_samples"] != 10000.0 || v["params"] != 203530.0 || v["test_accuracy"].(float64) < 0.8 {
		t.Errorf("json: %v", v)
	}
	for _, f := range []string{"metrics.csv", "curves.png", "model.safetensors"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("--out lacks %s", f)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "metrics.csv"))
	if lines := strings.Count(string(csv), "\n"); lines != 2 {
		t.Errorf("metrics.csv has %d lines:\n%s", lines, csv)
	}
}

func TestTransferEvalExportCLI(t *testing.T) {
	dir := t.TempDir()
	data := "../../datasets/testdata/cifar/binary"
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	r := run(t, env, "transfer", "../../testdata/onnx/resnet_bn.onnx", "--data", "cifar100", "--data-dir", data, "--epochs", "2",
		"--batch-size", "2", "--out", filepath.Join(dir, "tr"), "--json")
	if r.code != 0 {
		t.Fatalf("transfer: exit %d\n%s", r.code, r.stderr)
	}
	v := decode(t, r.stdout)
	if v["trainable"] != 6500.0 || v["test_samples"] != 3.0 || v["job"] != "transfer" {
		t.Errorf("transfer json: %v", v)
	}
	ckpt := filepath.Join(dir, "tr", "checkpoint.safetensors")
	r = run(t, env, "eval", ckpt, "--data-dir", data, "--json", "--out", filepath.Join(dir, "ev"))
	v = decode(t, r.stdout)
	if r.code != 0 || v["samples"] != 3.0 || v["dataset"] != "cifar100" {
		t.Errorf("eval: exit %d %v %s", r.code, v, r.stderr)
	}
	for _, f := range []string{"confusion.csv", "confusion.png", "per_class.csv", "predictions.csv"} {
		if _, err := os.Stat(filepath.Join(dir, "ev", f)); err != nil {
			t.Errorf("eval --out lacks %s", f)
		}
	}
	// predictions.csv pairs each test image's true class (torchvision's targets of the fixture)
	// with the predicted one.
	var exp map[string]struct{ Test struct{ Targets []int } }
	if b, err := os.ReadFile("../../datasets/testdata/cifar/expected.json"); err != nil || json.Unmarshal(b, &exp) != nil {
		t.Fatalf("expected.json: %v", err)
	}
	preds, _ := os.ReadFile(filepath.Join(dir, "ev", "predictions.csv"))
	lines := strings.Split(strings.TrimSpace(string(preds)), "\n")
	if len(lines) != 4 || lines[0] != "index,label,predicted" {
		t.Fatalf("predictions.csv:\n%s", preds)
	}
	for i, want := range exp["py2"].Test.Targets {
		if f := strings.Split(lines[i+1], ","); len(f) != 3 || f[1] != strconv.Itoa(want) {
			t.Errorf("predictions.csv row %d: %q, true class %d", i, lines[i+1], want)
		}
	}
	r = run(t, env, "export", ckpt, "-o", filepath.Join(dir, "m.onnx"), "--json")
	v = decode(t, r.stdout)
	if r.code != 0 || v["ok"] != true || v["checked"] != true {
		t.Errorf("export: exit %d %v %s", r.code, v, r.stderr)
	}
	// The exported model imports again and validates against ONNX Runtime.
	r = run(t, env, "validate", filepath.Join(dir, "m.onnx"), "--json")
	if r.code != 0 || decode(t, r.stdout)["ok"] != true {
		t.Errorf("validate exported model: exit %d %s", r.code, r.stderr)
	}
}

// tlkit data fetch downloads from a mirror (here a local server holding MNIST's original files),
// checks the published MD5s and lays the files out where Open finds them.
func TestDataFetch(t *testing.T) {
	src, err := datasets.GoMNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	dir := t.TempDir()
	r := run(t, nil, "data", "fetch", "mnist", "--base-url", srv.URL, "--data-dir", dir)
	if r.code != 0 {
		t.Fatalf("fetch: exit %d\n%s", r.code, r.stderr)
	}
	tr, te, err := datasets.LoadMNIST(filepath.Join(dir, "mnist"))
	if err != nil || tr.Len() != 60000 || te.Len() != 10000 {
		t.Fatalf("fetched MNIST: %v", err)
	}
}

// Ctrl-C finishes the batch, saves the state and exits; --resume continues from there.
func TestInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ft")
	cmd := exec.Command(bin, "finetune", "../../testdata/onnx/resnet_bn.onnx", "--data", "mnist", "--train-subset", "640",
		"--batch-size", "64", "--epochs", "200", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(out, "checkpoint.safetensors")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(ckpt); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint after 2 minutes:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // somewhere inside a later epoch
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "--resume "+ckpt) {
		t.Fatalf("after Ctrl-C: %v\n%s", err, stderr.String())
	}
	l, err := train.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	var pos train.Position
	json.Unmarshal([]byte(l.Meta["tlkit.position"]), &pos)
	r := run(t, nil, "finetune", "--resume", ckpt, "--epochs", strconv.Itoa(pos.Epoch+1), "--json")
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	v := decode(t, r.stdout)
	if v["epochs"] != float64(pos.Epoch+1) || v["test_samples"] != 10000.0 {
		t.Errorf("resumed run: %v (interrupted at %+v)", v, pos)
	}
}

// --device cuda without a GPU or its libraries fails at once with what is missing.
func TestDeviceCudaWithoutGPU(t *testing.T) {
	for _, cmd := range [][]string{
		{"transfer", "../../testdata/onnx/resnet_bn.onnx", "--data", "cifar100", "--data-dir", "../../datasets/testdata/cifar/binary", "--device", "cuda"},
		{"eval", "../../testdata/onnx/resnet_bn.onnx", "--data", "cifar100", "--data-dir", "../../datasets/testdata/cifar/binary", "--device", "cuda"},
		{"validate", "../../testdata/onnx/mlp.onnx", "--device", "cuda"},
		{"bench", "--device", "cuda"},
	} {
		r := run(t, []string{"TLKIT_CUDA_LIBS=/nonexistent"}, cmd...)
		if r.code == 0 || !strings.Contains(r.stderr, "--device cuda") || !strings.Contains(r.stderr, "libcuda") {
			t.Errorf("tlkit %v: exit %d, %q", cmd, r.code, r.stderr)
		}
	}
}
