package onnxfile

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// python is Debian's interpreter with onnx, numpy and torch; scripts/setup.sh installs them.
const python = "/usr/bin/python3"

// conformanceDir holds Debian's libonnx-testdata, the ONNX project's own test models and data.
const conformanceDir = "/usr/share/libonnx-testdata/data"

func testdata(name string) string { return filepath.Join("testdata", name) }

// runPython runs testdata/pycheck.py with args, feeding it stdin, and returns what it prints.
func runPython(t *testing.T, stdin string, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing (%v); scripts/setup.sh installs it with python3-onnx and python3-numpy", python, err)
	}
	cmd := exec.Command(python, append([]string{testdata("pycheck.py")}, args...)...)
	cmd.Stdin = bytes.NewBufferString(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s testdata/pycheck.py %v: %v\n%s(is python3-onnx installed? scripts/setup.sh installs it)",
			python, args, err, stderr.String())
	}
	return out
}

// requireConformanceData fails the test when Debian's libonnx-testdata is not installed.
func requireConformanceData(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(conformanceDir); err != nil {
		t.Fatalf("the ONNX conformance data is missing (%v); scripts/setup.sh installs Debian's libonnx-testdata", err)
	}
}

// diff describes the first difference between a and b, or returns "" if they are equal. Floats
// compare by their bits (so NaNs compare equal to themselves), and a nil slice equals an empty one.
func diff(a, b any) string {
	return diffValues(reflect.ValueOf(a), reflect.ValueOf(b), "")
}

func diffValues(a, b reflect.Value, path string) string {
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: types %s and %s", path, a.Type(), b.Type())
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil and non-nil", path)
			}
			return ""
		}
		return diffValues(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			if d := diffValues(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: lengths %d and %d", path, a.Len(), b.Len())
		}
		if fa, ok := a.Interface().([]float32); ok {
			fb := b.Interface().([]float32)
			for i := range fa {
				if math.Float32bits(fa[i]) != math.Float32bits(fb[i]) {
					return fmt.Sprintf("%s[%d]: %v (%#08x) and %v (%#08x)", path, i, fa[i],
						math.Float32bits(fa[i]), fb[i], math.Float32bits(fb[i]))
				}
			}
			return ""
		}
		for i := range a.Len() {
			if d := diffValues(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Float32:
		x, y := math.Float32bits(float32(a.Float())), math.Float32bits(float32(b.Float()))
		if a.Type() == reflect.TypeFor[float32]() {
			x, y = math.Float32bits(a.Interface().(float32)), math.Float32bits(b.Interface().(float32))
		}
		if x != y {
			return fmt.Sprintf("%s: %#08x and %#08x", path, x, y)
		}
		return ""
	case reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return fmt.Sprintf("%s: %v and %v", path, a.Float(), b.Float())
		}
		return ""
	}
	if !a.Equal(b) {
		return fmt.Sprintf("%s: %v and %v", path, a, b)
	}
	return ""
}
