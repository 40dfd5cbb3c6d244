// Package ort runs ONNX models in ONNX Runtime (through github.com/yalue/onnxruntime_go): it is tlkit's
// reference implementation in `tlkit validate`, its fast path for frozen-backbone feature extraction, and
// its check of exported models.
//
// The runtime is a shared library loaded at run time: find it with LibraryPath, load it once with Init,
// then open Sessions. scripts/install-onnxruntime.sh installs the library (ONNX Runtime 1.30.0, from the
// npm package onnxruntime-node) where LibraryPath looks by default.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// RuntimeVersion is the ONNX Runtime release that scripts/install-onnxruntime.sh installs and tlkit is tested with.
const RuntimeVersion = "1.30.0"

// LibraryEnv is the environment variable that names the ONNX Runtime library when --ort-lib is not given.
const LibraryEnv = "ONNXRUNTIME_LIB"

// installHint tells a user how to get the library; LibraryPath and Init end their "not found" errors with it.
const installHint = "Install ONNX Runtime " + RuntimeVersion + " with scripts/install-onnxruntime.sh " +
	"(scripts/setup.sh, the README's set-up command, runs it), or give the path of an installed " +
	"libonnxruntime.so with --ort-lib or $" + LibraryEnv + "."

// DefaultLibraryPath is where scripts/install-onnxruntime.sh puts the library when given no DEST:
// ${XDG_DATA_HOME:-$HOME/.local/share}/tlkit/onnxruntime/libonnxruntime.so.1.30.0.
func DefaultLibraryPath() (string, error) {
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" {
		home := os.Getenv("HOME")
		if home == "" {
			return "", errors.New("neither $XDG_DATA_HOME nor $HOME is set")
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dataHome, "tlkit", "onnxruntime", "libonnxruntime.so."+RuntimeVersion), nil
}

// LibraryPath finds the ONNX Runtime shared library: the flag value (--ort-lib), else $ONNXRUNTIME_LIB,
// else the installer's default place (DefaultLibraryPath). Its error says where it looked and how to
// install the library, in words meant to be printed to the user as they are.
func LibraryPath(flag string) (string, error) {
	if flag != "" {
		return existingLibrary(flag, "--ort-lib")
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		return existingLibrary(env, "$"+LibraryEnv)
	}
	def, err := DefaultLibraryPath()
	if err != nil {
		return "", fmt.Errorf("ONNX Runtime library not found: --ort-lib and $%s are not set, and the default "+
			"place is unknown (%v). %s", LibraryEnv, err, installHint)
	}
	info, err := os.Stat(def)
	if err == nil && info.Mode().IsRegular() {
		return def, nil
	}
	return "", fmt.Errorf("ONNX Runtime library not found: --ort-lib and $%s are not set, and the default "+
		"place %s %s. %s", LibraryEnv, def, describeMissing(info, err), installHint)
}

// existingLibrary returns path if it names a regular file; source ("--ort-lib" or "$ONNXRUNTIME_LIB") says
// where the path came from, for the error.
func existingLibrary(path, source string) (string, error) {
	info, err := os.Stat(path)
	if err == nil && info.Mode().IsRegular() {
		return path, nil
	}
	return "", fmt.Errorf("ONNX Runtime library not found: %s names %s, which %s. %s",
		source, path, describeMissing(info, err), installHint)
}

// describeMissing says why a library candidate is unusable, given its os.Stat result.
func describeMissing(info os.FileInfo, statErr error) string {
	switch {
	case errors.Is(statErr, os.ErrNotExist):
		return "does not exist"
	case statErr != nil:
		return fmt.Sprintf("cannot be read (%v)", statErr)
	case info.IsDir():
		return "is a directory, not the library file"
	default:
		return "is not a regular file"
	}
}

var (
	initMu sync.Mutex
	// loadedLibrary is the absolute path of the library Init loaded into this process; "" before then.
	loadedLibrary string
)

// Load finds the library as LibraryPath does (flag first) and initialises it with Init; when it is
// missing, the error says how to install it.
func Load(flag string) error {
	lib, err := LibraryPath(flag)
	if err != nil {
		return err
	}
	return Init(lib)
}

// Init loads the ONNX Runtime library at libPath and sets up its environment. ONNX Runtime allows one
// library and one environment per process, so Init succeeds once; later calls with the same file are
// no-ops, and calls naming another file fail.
func Init(libPath string) error {
	if libPath == "" {
		return errors.New("ort.Init: no library path given (ort.LibraryPath finds it)")
	}
	abs, err := filepath.Abs(libPath)
	if err != nil {
		return fmt.Errorf("ort.Init: %s: %w", libPath, err)
	}
	initMu.Lock()
	defer initMu.Unlock()
	if loadedLibrary != "" {
		if sameFile(loadedLibrary, abs) {
			return nil
		}
		return fmt.Errorf("ONNX Runtime is already loaded from %s; cannot load %s too (one library per process)",
			loadedLibrary, libPath)
	}
	if onnxruntime.IsInitialized() {
		return errors.New("ONNX Runtime was initialized outside package ort; cannot load " + libPath)
	}
	if _, err := existingLibrary(abs, "the path given to ort.Init"); err != nil {
		return err
	}
	onnxruntime.SetSharedLibraryPath(abs)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading ONNX Runtime from %s failed (%s); expected the libonnxruntime.so of ONNX Runtime "+
			"%s (or a compatible release) for this platform, which scripts/install-onnxruntime.sh installs",
			libPath, rootCause(err), RuntimeVersion)
	}
	loadedLibrary = abs
	return nil
}

// sameFile reports whether two paths name the same file, following symbolic links.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}

// Version is the version string of the loaded ONNX Runtime library, such as "1.30.0"; "" before Init.
func Version() string {
	initMu.Lock()
	defer initMu.Unlock()
	if loadedLibrary == "" {
		return ""
	}
	return onnxruntime.GetVersion()
}

// initialized reports whether Init has succeeded, so sessions fail with a clear error instead of crashing.
func initialized() bool {
	initMu.Lock()
	defer initMu.Unlock()
	return loadedLibrary != ""
}
