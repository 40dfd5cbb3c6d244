package checkpoint

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writerEnv, when set to a path, turns the test binary into a child that rewrites that
// checkpoint forever, alternating two versions, until it is killed.
const writerEnv = "TLKIT_CHECKPOINT_TEST_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		rewriteForever(path)
		return
	}
	os.Exit(m.Run())
}

// versions are two checkpoints of different sizes and layouts, so that any mixture or
// truncation of them would be recognisable.
func versions() [2]*File {
	a := make([]float32, 300_000)
	for i := range a {
		a[i] = float32(i) * 0.5
	}
	b := make([]float32, 100_000)
	for i := range b {
		b[i] = -float32(i)
	}
	c := make([]float64, 60_000)
	for i := range c {
		c[i] = float64(i) / 3
	}
	return [2]*File{
		{Meta: map[string]string{"version": "A"}, Tensors: []Tensor{
			{Name: "step", Shape: []int{}, I64: []int64{1}},
			{Name: "w", Shape: []int{300, 1000}, F32: a},
		}},
		{Meta: map[string]string{"version": "B", "extra": strings.Repeat("x", 1000)}, Tensors: []Tensor{
			{Name: "c", Shape: []int{60_000}, F64: c},
			{Name: "step", Shape: []int{}, I64: []int64{2}},
			{Name: "w", Shape: []int{100, 1000}, F32: b},
		}},
	}
}

func rewriteForever(path string) {
	vs := versions()
	fmt.Println("ready")
	deadline := time.Now().Add(60 * time.Second) // never outlive a parent that forgot us
	for i := 0; time.Now().Before(deadline); i++ {
		v := vs[i%2]
		if err := Write(path, v.Tensors, v.Meta); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	os.Exit(0)
}

// TestKillDuringWrite SIGKILLs writers at random moments: the checkpoint must always load as
// one complete version, and a later Write removes the temporary files the killed ones left.
func TestKillDuringWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.safetensors")
	vs := versions()
	if err := Write(path, vs[0].Tensors, vs[0].Meta); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	const kills = 40
	leftovers := 0
	seen := map[string]int{}
	for k := 0; k < kills; k++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), writerEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("writer child did not start: %q %v", line, err)
		}
		time.Sleep(time.Duration(rng.Intn(40_000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("writer child ended by itself (%v), not by the kill", err)
		}

		f, err := Read(path)
		if err != nil {
			t.Fatalf("after kill %d the checkpoint does not load: %v", k, err)
		}
		if !reflect.DeepEqual(f, vs[0]) && !reflect.DeepEqual(f, vs[1]) {
			t.Fatalf("after kill %d the checkpoint is neither complete version (meta %v)", k, f.Meta)
		}
		seen[f.Meta["version"]]++
		if temps, _ := filepath.Glob(filepath.Join(dir, ".run.safetensors.tmp-*")); len(temps) > 0 {
			leftovers++
		}
	}
	t.Logf("%d kills: versions found %v; %d kills left a temporary file", kills, seen, leftovers)
	if leftovers == 0 {
		t.Errorf("no kill landed during a write, so the test proved nothing; writes are too fast for the delays")
	}
	if err := Write(path, vs[1].Tensors, vs[1].Meta); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "run.safetensors" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after a fresh Write the directory holds %v, want only run.safetensors", names)
	}
}

// TestLiveWritersTempFilesAreKept: a temporary file of a running process (this one) may be a
// write in progress and must survive another Write's clean-up.
func TestLiveWritersTempFilesAreKept(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, fmt.Sprintf(".x.tmp-%d-123", os.Getpid()))
	other := filepath.Join(dir, ".y.tmp-1-123") // another checkpoint's, whatever its process
	for _, p := range []string{live, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(filepath.Join(dir, "x"), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
