// Package bench measures tlkit against its peers on the same machine in the same run: PyTorch
// (through /usr/bin/python3 and bench/peers/torch_peer.py, when Debian's python3-torch is
// installed) and ONNX Runtime (through the Go bridge). Each figure is the median of several
// repeats, and results are ratios, because these machines are noisy.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Row is one comparison.
type Row struct {
	Name     string  `json:"name"`
	Unit     string  `json:"unit"` // "s" (lower is better), "img/s" (higher is better) or "MiB"
	TLKit    float64 `json:"tlkit"`
	Peer     float64 `json:"peer"`
	PeerName string  `json:"peer_name"`
	// Ratio is tlkit's time over the peer's, or the peer's throughput over tlkit's, or tlkit's
	// memory over the peer's: below 1 means tlkit is better. NaN when there is no peer.
	Ratio     float64   `json:"ratio"`
	TLKitRuns []float64 `json:"tlkit_runs"`
	PeerRuns  []float64 `json:"peer_runs,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// MarshalJSON writes a missing ratio or peer as null.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	type out struct {
		plain
		Peer  *float64 `json:"peer"`
		Ratio *float64 `json:"ratio"`
	}
	o := out{plain: plain(r)}
	if !math.IsNaN(r.Peer) {
		o.Peer = &r.Peer
	}
	if !math.IsNaN(r.Ratio) {
		o.Ratio = &r.Ratio
	}
	return json.Marshal(o)
}

// Options configures a run.
type Options struct {
	Repeats int      // timed repeats per workload (median reported); default 3
	Only    []string // run the workloads whose names start with one of these; all when empty
	Python  string   // the PyTorch interpreter; default /usr/bin/python3
	Peers   bool     // measure the peers too
	Self    string   // this executable, to run memory workloads in child processes
	Log     io.Writer
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (o *Options) wants(name string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, p := range o.Only {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Median of a sample (NaN for none): every figure tlkit bench and the GPU checks report is one.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(unit string, tl, peer float64) float64 {
	switch unit {
	case "img/s":
		return peer / tl
	default:
		return tl / peer
	}
}

// peerResult is one line of torch_peer.py's output.
type peerResult struct {
	Name    string    `json:"name"`
	Unit    string    `json:"unit"`
	Values  []float64 `json:"values"`
	MaxRSS  float64   `json:"maxrss_mib"`
	Workers string    `json:"-"`
}

// torch runs a PyTorch peer workload.
func torch(ctx context.Context, o *Options, args ...string) (*peerResult, error) {
	script, err := peerScript()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.Python, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("PyTorch peer %v: %v\n%s", args, err, lastLines(string(ee.Stderr), 5))
		}
		return nil, err
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var r peerResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
			return &r, nil
		}
	}
	return nil, fmt.Errorf("PyTorch peer %v printed no result", args)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// peerScript finds bench/peers/torch_peer.py next to the source tree or the binary.
func peerScript() (string, error) {
	var tried []string
	for _, base := range candidates() {
		p := filepath.Join(base, "bench", "peers", "torch_peer.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("the PyTorch peer script was not found (tried %s)", strings.Join(tried, ", "))
}

func candidates() []string {
	var c []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			c = append(c, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		c = append(c, filepath.Dir(filepath.Dir(exe)))
	}
	return c
}

// PeerAvailable says whether PyTorch can be run, and why not.
func PeerAvailable(python string) error {
	out, err := exec.Command(python, "-c", "import torch, torchvision; print(torch.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("PyTorch is not available through %s (install Debian's python3-torch and python3-torchvision, or run scripts/setup.sh --bench): %s",
			python, lastLines(string(out), 1))
	}
	return nil
}

// child runs `tlkit bench --worker NAME` and returns what it printed and its peak RSS in MiB.
func child(ctx context.Context, o *Options, name string) (float64, float64, error) {
	cmd := exec.CommandContext(ctx, o.Self, "bench", "--worker", name)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = lastLines(string(ee.Stderr), 5)
		}
		return 0, 0, fmt.Errorf("worker %s: %v %s", name, err, msg)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(lastLines(string(out), 1)), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("worker %s printed %q", name, out)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return v, math.NaN(), nil
	}
	return v, float64(ru.Maxrss) / 1024, nil
}

// timeIt runs fn once to warm up, then repeats times, and returns the durations in seconds.
func timeIt(repeats int, fn func() error) ([]float64, error) {
	if err := fn(); err != nil {
		return nil, err
	}
	var v []float64
	for i := 0; i < repeats; i++ {
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		v = append(v, time.Since(t0).Seconds())
	}
	return v, nil
}

func nan() float64 { return math.NaN() }

// throughput turns step times of a batch into images per second.
func throughput(batch int, t []float64) []float64 {
	var v []float64
	for _, s := range t {
		v = append(v, float64(batch)/s)
	}
	return v
}
