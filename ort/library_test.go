package ort

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// loadRuntime finds the installed ONNX Runtime library the way tlkit does and loads it; without the
// library the test fails with LibraryPath's installation hint.
func loadRuntime(t *testing.T) string {
	t.Helper()
	lib, err := LibraryPath("")
	if err != nil {
		t.Fatalf("these tests need the ONNX Runtime library: %v", err)
	}
	if err := Init(lib); err != nil {
		t.Fatal(err)
	}
	return lib
}

// writeFile makes a file (and its directories) with the given content and returns its path.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantErrorContaining(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestLibraryPathSearchOrder(t *testing.T) {
	dir := t.TempDir()
	flagLib := writeFile(t, filepath.Join(dir, "flag", "libonnxruntime.so"), "flag")
	envLib := writeFile(t, filepath.Join(dir, "env", "libonnxruntime.so"), "env")
	xdgLib := writeFile(t, filepath.Join(dir, "xdg", "tlkit", "onnxruntime", "libonnxruntime.so.1.30.0"), "xdg")
	homeLib := writeFile(t, filepath.Join(dir, "home", ".local", "share", "tlkit", "onnxruntime", "libonnxruntime.so.1.30.0"), "home")
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdg"))
	t.Setenv(LibraryEnv, envLib)

	steps := []struct {
		what, flag string
		setup      func()
		want       string
	}{
		{"the flag beats $ONNXRUNTIME_LIB", flagLib, func() {}, flagLib},
		{"$ONNXRUNTIME_LIB beats the default place", "", func() {}, envLib},
		{"the default place under $XDG_DATA_HOME", "", func() { t.Setenv(LibraryEnv, "") }, xdgLib},
		{"the default place under $HOME when $XDG_DATA_HOME is empty", "", func() { t.Setenv("XDG_DATA_HOME", "") }, homeLib},
	}
	for _, s := range steps {
		s.setup()
		got, err := LibraryPath(s.flag)
		if err != nil || got != s.want {
			t.Errorf("%s: LibraryPath(%q) = %q, %v; want %q", s.what, s.flag, got, err, s.want)
		}
	}
}

func TestLibraryPathErrors(t *testing.T) {
	dir := t.TempDir()
	envLib := writeFile(t, filepath.Join(dir, "env", "libonnxruntime.so"), "env")
	missing := filepath.Join(dir, "nowhere", "libonnxruntime.so")
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdg"))
	t.Setenv(LibraryEnv, envLib)
	hint := "scripts/install-onnxruntime.sh"

	// A flag naming a missing file is an error, not a reason to fall back to $ONNXRUNTIME_LIB.
	_, err := LibraryPath(missing)
	wantErrorContaining(t, err, "--ort-lib names "+missing+", which does not exist", hint)

	_, err = LibraryPath(dir)
	wantErrorContaining(t, err, "--ort-lib names "+dir+", which is a directory", hint)

	t.Setenv(LibraryEnv, missing)
	_, err = LibraryPath("")
	wantErrorContaining(t, err, "$ONNXRUNTIME_LIB names "+missing+", which does not exist", hint)

	t.Setenv(LibraryEnv, "")
	_, err = LibraryPath("")
	defaultPlace := filepath.Join(dir, "xdg", "tlkit", "onnxruntime", "libonnxruntime.so.1.30.0")
	wantErrorContaining(t, err, "--ort-lib and $ONNXRUNTIME_LIB are not set",
		"the default place "+defaultPlace+" does not exist", hint, "scripts/setup.sh")

	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "")
	_, err = LibraryPath("")
	wantErrorContaining(t, err, "neither $XDG_DATA_HOME nor $HOME is set", hint)
}

// TestDefaultLibraryPathMatchesInstaller checks that LibraryPath's default place is where
// scripts/install-onnxruntime.sh installs, and that the installer leaves a good library alone.
func TestDefaultLibraryPathMatchesInstaller(t *testing.T) {
	lib := loadRuntime(t)
	xdg := t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	want, err := DefaultLibraryPath()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(lib, want); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "install-onnxruntime.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--print-path"}, {}} {
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+xdg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, stderr.String())
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s %v printed %q; LibraryPath's default place is %q", script, args, got, want)
		}
		if len(args) == 0 && !strings.Contains(stderr.String(), "already installed") {
			t.Errorf("the installer did not recognise the installed library: %s", stderr.String())
		}
	}
	if got, err := LibraryPath(""); err != nil || got != want {
		t.Errorf("LibraryPath(\"\") = %q, %v; want %q", got, err, want)
	}
}

func TestInitOncePerProcess(t *testing.T) {
	lib := loadRuntime(t)
	if err := Init(lib); err != nil {
		t.Errorf("a second Init with the same path: %v", err)
	}
	link := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.Symlink(lib, link); err != nil {
		t.Fatal(err)
	}
	if err := Init(link); err != nil {
		t.Errorf("Init through a symbolic link to the loaded library: %v", err)
	}
	other := writeFile(t, filepath.Join(t.TempDir(), "libonnxruntime.so"), "another library")
	wantErrorContaining(t, Init(other), "already loaded from", other)
	if v := Version(); v != RuntimeVersion {
		t.Errorf("Version() = %q; want %q (the release scripts/install-onnxruntime.sh installs)", v, RuntimeVersion)
	}
}

// TestInitRejectsBadLibrary runs in a child process, since a successful Init cannot be undone.
func TestInitRejectsBadLibrary(t *testing.T) {
	if os.Getenv("TLKIT_ORT_FRESH_PROCESS") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInitRejectsBadLibrary$", "-test.v")
		cmd.Env = append(os.Environ(), "TLKIT_ORT_FRESH_PROCESS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestInitRejectsBadLibrary") {
			t.Fatalf("the check in a fresh process failed (%v):\n%s", err, out)
		}
		return
	}

	if v := Version(); v != "" {
		t.Errorf("Version() before Init = %q; want \"\"", v)
	}
	_, err := NewSession([]byte("model"), Options{Name: "early.onnx"})
	wantErrorContaining(t, err, "early.onnx", "ONNX Runtime is not loaded", "ort.Init")

	dir := t.TempDir()
	missing := filepath.Join(dir, "libonnxruntime.so")
	wantErrorContaining(t, Init(missing), missing, "does not exist", "scripts/install-onnxruntime.sh")
	wantErrorContaining(t, Init(""), "no library path")

	garbage := writeFile(t, filepath.Join(dir, "garbage.so"), "this is not a shared library")
	wantErrorContaining(t, Init(garbage), "loading ONNX Runtime from "+garbage+" failed", "scripts/install-onnxruntime.sh")

	// A failed Init leaves the process free to load the right library.
	lib := loadRuntime(t)
	if v := Version(); v != RuntimeVersion {
		t.Errorf("Version() after Init(%s) = %q; want %q", lib, v, RuntimeVersion)
	}
}
