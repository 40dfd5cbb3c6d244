package gpu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSearchPathOrder(t *testing.T) {
	dirs := map[string]bool{"/env/a": true, "/env/b": true, "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib": true,
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib": true, "/usr/local/cuda/lib64": true}
	glob := func(p string) ([]string, error) {
		if p == wheelGlobs[0] {
			return []string{"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib",
				"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib"}, nil
		}
		return nil, nil
	}
	sp := newSearchPath("/env/a::/env/missing:/env/b:/env/a", glob, func(d string) bool { return dirs[d] })
	want := []string{"/env/a", "/env/b", "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib",
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib", "/usr/local/cuda/lib64"}
	if strings.Join(sp.dirs, ",") != strings.Join(want, ",") {
		t.Fatalf("dirs %v, want %v", sp.dirs, want)
	}
	files := map[string]bool{
		"/env/b/libcublas.so.12": true,
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13": true,
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9":  true,
		"/usr/local/cuda/lib64/libcudnn.so.9":                                           true,
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13":  true,
		"/env/a/libnvrtc.so.12": true,
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublasLt.so.13": true,
	}
	exists := func(p string) bool { return files[p] }
	spec := func(key string) libSpec {
		for _, s := range libSpecs {
			if s.key == key {
				return s
			}
		}
		t.Fatalf("no spec %s", key)
		return libSpec{}
	}
	// A newer soname anywhere beats an older one earlier in the path; the first directory wins
	// between equal names; the driver is left to the default loader path.
	for key, want := range map[string]string{
		"cublas": "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
		"nvrtc":  "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
		"cudnn":  "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9",
		"cuda":   "",
	} {
		if got := sp.locate(spec(key), exists); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	d := sp.describe()
	for _, s := range []string{"$TLKIT_CUDA_LIBS=/env/a::/env/missing:/env/b:/env/a", "/env/b", "nvidia/*/lib", "/usr/local/cuda/lib64"} {
		if !strings.Contains(d, s) {
			t.Errorf("description lacks %q: %s", s, d)
		}
	}
	if d := newSearchPath("", glob, func(string) bool { return false }).describe(); !strings.Contains(d, "(unset)") || !strings.Contains(d, "none of these directories exists") {
		t.Errorf("empty search path: %s", d)
	}
}

func TestPreloads(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"libcudnn.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_graph.so.9", "libcudnn_adv.so.9.1.0", "libnvrtc-builtins.so.13.0"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := preloads(libSpecs[3], dir, filepath.Glob)
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	if strings.Join(names, ",") != "libcudnn_graph.so.9,libcudnn_ops.so.9,libcudnn_cnn.so.9" {
		t.Errorf("cuDNN preloads %v", names)
	}
	if got := preloads(libSpecs[1], dir, filepath.Glob); len(got) != 1 || filepath.Base(got[0]) != "libnvrtc-builtins.so.13.0" {
		t.Errorf("NVRTC preloads %v", got)
	}
}

// TestOpenMissingDriver checks the error of a machine without the driver: it names the library,
// where tlkit looked and the loader's message, and Open does not crash.
func TestOpenMissingDriver(t *testing.T) {
	dir := t.TempDir()
	sp := newSearchPath(dir, func(string) ([]string, error) { return nil, nil }, func(d string) bool { return d == dir })
	_, err := open(sp, false, 0)
	var le *LibError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a LibError", err)
	}
	for _, s := range []string{"NVIDIA driver", "libcuda.so.1", "$TLKIT_CUDA_LIBS=" + dir, "default loader path not searched"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message lacks %q: %v", s, err)
		}
	}
	// A file that is not a library: the loader's own message comes through.
	bad := filepath.Join(dir, "libcuda.so.1")
	if err := os.WriteFile(bad, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = open(sp, false, 0)
	if err == nil || !strings.Contains(err.Error(), "dlopen "+bad) {
		t.Errorf("bad library: %v", err)
	}
}
