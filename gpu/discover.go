package gpu

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EnvLibs names directories (colon-separated) searched first for the CUDA libraries.
const EnvLibs = "TLKIT_CUDA_LIBS"

// EnvDevice selects the CUDA device by ordinal (default 0).
const EnvDevice = "TLKIT_CUDA_DEVICE"

// libSpec describes one library tlkit loads: its sonames in order of preference and the
// libraries of the same directory to load before it (by absolute path, so that the library's
// own dlopen of them by name finds those copies rather than others on the loader path).
type libSpec struct {
	key   string
	what  string
	names []string
	// pre are glob patterns, relative to the library's directory, of libraries loaded first
	// (each optional: a failure is reported only if the library itself then fails).
	pre []string
}

// libSpecs are the libraries, in the order they are loaded: the driver, NVRTC, cuBLAS (which
// needs cuBLASLt), cuDNN 9 (whose front library loads its sub-libraries by name).
var libSpecs = []libSpec{
	{key: "cuda", what: "the NVIDIA driver API", names: []string{"libcuda.so.1"}},
	{key: "nvrtc", what: "NVRTC (runtime compilation)", names: []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"},
		pre: []string{"libnvrtc-builtins.so.*"}},
	{key: "cublas", what: "cuBLAS", names: []string{"libcublas.so.13", "libcublas.so.12"},
		pre: []string{"libcudart.so.13", "libcudart.so.12", "libcublasLt.so.13", "libcublasLt.so.12"}},
	{key: "cudnn", what: "cuDNN 9", names: []string{"libcudnn.so.9"},
		pre: []string{"libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9",
			"libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9"}},
}

// wheelGlobs are where Python's NVIDIA wheels put their libraries (CUDA 13 wheels share
// nvidia/cu13/lib; cuDNN keeps nvidia/cudnn/lib; CUDA 12 wheels use nvidia/<name>/lib).
var wheelGlobs = []string{
	"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib",
	"/opt/*/venv/lib/python3*/site-packages/nvidia/*/lib",
	"/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
	"/usr/local/lib/python3*/site-packages/nvidia/*/lib",
	"/usr/lib/python3*/site-packages/nvidia/*/lib",
	"/usr/lib/python3/dist-packages/nvidia/*/lib",
}

// toolkitDirs come after the wheels.
var toolkitDirs = []string{"/usr/local/cuda/lib64"}

// searchPath is the ordered list of directories searched before the default loader path.
type searchPath struct {
	env  string   // the value of EnvLibs
	dirs []string // existing directories, in search order, without duplicates
}

// newSearchPath lists the directories to search: $TLKIT_CUDA_LIBS, the NVIDIA wheels, the
// toolkit. glob and isDir are parameters so tests can describe a machine.
func newSearchPath(env string, glob func(string) ([]string, error), isDir func(string) bool) searchPath {
	sp := searchPath{env: env}
	seen := map[string]bool{}
	add := func(d string) {
		d = filepath.Clean(d)
		if d == "" || seen[d] || !isDir(d) {
			return
		}
		seen[d] = true
		sp.dirs = append(sp.dirs, d)
	}
	for _, d := range strings.Split(env, ":") {
		if d != "" {
			add(d)
		}
	}
	for _, g := range wheelGlobs {
		m, _ := glob(g)
		sort.Strings(m)
		for _, d := range m {
			add(d)
		}
	}
	for _, d := range toolkitDirs {
		add(d)
	}
	return sp
}

func defaultSearchPath() searchPath {
	return newSearchPath(os.Getenv(EnvLibs), filepath.Glob, func(d string) bool {
		st, err := os.Stat(d)
		return err == nil && st.IsDir()
	})
}

// locate returns the path of the first of spec's names found in the search directories
// (preferring earlier names: a newer version anywhere wins over an older one), or "" when none
// is, in which case the default loader path is tried with each name.
func (sp searchPath) locate(spec libSpec, exists func(string) bool) string {
	for _, name := range spec.names {
		for _, d := range sp.dirs {
			if p := filepath.Join(d, name); exists(p) {
				return p
			}
		}
	}
	return ""
}

// describe says where a library was looked for, for error messages.
func (sp searchPath) describe() string {
	var b strings.Builder
	if sp.env == "" {
		fmt.Fprintf(&b, "$%s (unset)", EnvLibs)
	} else {
		fmt.Fprintf(&b, "$%s=%s", EnvLibs, sp.env)
	}
	b.WriteString(", the NVIDIA Python wheels (")
	b.WriteString(strings.Join(wheelGlobs, ", "))
	b.WriteString("), ")
	b.WriteString(strings.Join(toolkitDirs, ", "))
	if len(sp.dirs) == 0 {
		b.WriteString("; none of these directories exists")
	} else {
		b.WriteString("; directories searched: ")
		b.WriteString(strings.Join(sp.dirs, ", "))
	}
	return b.String()
}

// LibError reports a CUDA library that could not be loaded.
type LibError struct {
	Lib   string   // e.g. "cuBLAS"
	Names []string // sonames tried
	Where string   // where tlkit looked
	Cause string   // the loader's message(s)
}

func (e *LibError) Error() string {
	return fmt.Sprintf("gpu: cannot load %s (%s): looked in %s, then the default loader path: %s",
		e.Lib, strings.Join(e.Names, " or "), e.Where, e.Cause)
}

// preloads lists the existing files matching spec's pre patterns in dir.
func preloads(spec libSpec, dir string, glob func(string) ([]string, error)) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range spec.pre {
		m, _ := glob(filepath.Join(dir, p))
		sort.Strings(m)
		for _, f := range m {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}
