package conformance

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tlkit/engine"
	"tlkit/importer"
	"tlkit/onnxfile"
)

var update = flag.Bool("update", false, "rewrite "+DocPath+" from this run (as TLKIT_UPDATE_CONFORMANCE=1 does)")

var (
	once    sync.Once
	report  *Report
	loadErr error
)

// load runs every node test once per test binary; the tests below judge parts of the result.
func load(t *testing.T) *Report {
	t.Helper()
	if _, err := os.Stat(DataDir); err != nil {
		t.Fatalf("the ONNX conformance data is missing (%v); scripts/setup.sh installs Debian's libonnx-testdata", err)
	}
	once.Do(func() { report, loadErr = RunAll(DataDir) })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if len(report.InScope) < 100 {
		t.Fatalf("only %d node tests in %s use claimed operators; libonnx-testdata 1.12 has over 200", len(report.InScope), DataDir)
	}
	return report
}

// TestConformance runs every node test whose operators the engine claims and compares its
// outputs with ONNX Runtime's tolerance. A test fails on wrong values, a panic, an error that
// no known deviation explains, a valid model refused as invalid, or a known deviation that
// passes.
func TestConformance(t *testing.T) {
	for _, v := range load(t).InScope {
		t.Run(v.Test.Name, func(t *testing.T) {
			if v.OK {
				return
			}
			t.Error(v.Note)
			if v.Result.Status == Panic {
				t.Log(v.Result.Detail)
			}
		})
	}
}

// TestUnclaimedOperatorsRefused checks that every other node test (which uses an operator the
// engine does not claim) is refused with an unsupported-feature error: never a panic, never
// "invalid model", never a result.
func TestUnclaimedOperatorsRefused(t *testing.T) {
	for _, v := range load(t).OutOfScope {
		t.Run(v.Test.Name, func(t *testing.T) {
			if !v.OK {
				t.Error(v.Note)
			}
		})
	}
}

// TestDeviationTable checks the table itself: every entry has a reason, and names node tests
// that exist, use only claimed operators, and appear once.
func TestDeviationTable(t *testing.T) {
	r := load(t)
	inScope := map[string]bool{}
	for _, v := range r.InScope {
		inScope[v.Test.Name] = true
	}
	seen := map[string]bool{}
	for _, d := range Deviations {
		if d.Reason == "" || len(d.Tests) == 0 {
			t.Errorf("deviation %+v: needs a reason and tests", d)
		}
		for _, name := range d.Tests {
			if seen[name] {
				t.Errorf("%s is listed twice", name)
			}
			seen[name] = true
			if !inScope[name] {
				t.Errorf("%s is listed as a deviation but is not a node test that uses only claimed operators", name)
			}
		}
	}
}

// TestConformanceDoc checks that docs/onnx-conformance.md is what this run generates, or
// rewrites it with -update or TLKIT_UPDATE_CONFORMANCE=1.
func TestConformanceDoc(t *testing.T) {
	md := load(t).Markdown()
	path := filepath.Join("..", DocPath)
	if *update || os.Getenv("TLKIT_UPDATE_CONFORMANCE") != "" {
		if err := os.WriteFile(path, md, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", DocPath)
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; generate it with %s", err, Regenerate)
	}
	if !bytes.Equal(have, md) {
		t.Errorf("%s is out of date; regenerate it with %s", DocPath, Regenerate)
	}
}

func TestCompare(t *testing.T) {
	nan, inf := float32(0), float32(0)
	nan, inf = nan/nan, 1/inf
	want := &onnxfile.Tensor{DataType: onnxfile.Float, Dims: []int64{2, 3}, Float: []float32{1, -2, 1000, nan, inf, 0}}
	for _, c := range []struct {
		shape []int
		got   []float32
		ok    bool
	}{
		{[]int{2, 3}, []float32{1, -2, 1000, nan, inf, 0}, true},
		{[]int{2, 3}, []float32{1.001, -2.002, 1000.99, nan, inf, 9e-6}, true}, // within 1e-5 + 1e-3·|want|
		{[]int{2, 3}, []float32{1.0011, -2, 1000, nan, inf, 0}, false},
		{[]int{2, 3}, []float32{1, -2, 1000, nan, inf, 1.1e-5}, false},
		{[]int{2, 3}, []float32{1, -2, 1000, 0, inf, 0}, false},    // NaN expected
		{[]int{2, 3}, []float32{1, -2, 1000, nan, -inf, 0}, false}, // +Inf expected
		{[]int{2, 3}, []float32{1, -2, 1000, nan, inf, nan}, false},
		{[]int{3, 2}, []float32{1, -2, 1000, nan, inf, 0}, false},
		{[]int{6}, []float32{1, -2, 1000, nan, inf, 0}, false},
	} {
		d := compare(c.shape, c.got, want)
		if (d == "") != c.ok {
			t.Errorf("compare(%v, %v): %q, want ok=%v", c.shape, c.got, d, c.ok)
		}
	}
}

// TestJudge checks the rules on made-up results.
func TestJudge(t *testing.T) {
	listed := Deviations[0].Tests[0]
	claimed := Test{Name: "test_made_up", Ops: []string{"Relu"}}
	dev := Test{Name: listed, Ops: []string{"Add"}}
	unclaimed := Test{Name: "test_other", Ops: []string{"Relu", "Xyz"}, Unclaimed: []string{"Xyz"}}
	unsupported := &importer.UnsupportedError{Msg: Deviations[0].Error + " whatever"}
	for _, c := range []struct {
		name string
		t    Test
		r    Result
		ok   bool
	}{
		{"pass", claimed, Result{Status: Pass}, true},
		{"wrong values", claimed, Result{Status: Wrong, Detail: "x"}, false},
		{"panic", claimed, Result{Status: Panic, Detail: "boom"}, false},
		{"unexplained refusal", claimed, Result{Status: Refused, Stage: "import", Err: unsupported}, false},
		{"deviation refused", dev, Result{Status: Refused, Stage: "import", Err: unsupported}, true},
		{"deviation refused at compile", dev, Result{Status: Refused, Stage: "compile",
			Err: &engine.CompileError{Err: errors.Join(engine.ErrNotSupported, errors.New(Deviations[0].Error))}}, true},
		{"deviation refused for another reason", dev, Result{Status: Refused, Stage: "import",
			Err: &importer.UnsupportedError{Msg: "something else"}}, false},
		{"deviation refused as invalid", dev, Result{Status: Refused, Stage: "import",
			Err: &importer.FormatError{Msg: Deviations[0].Error}}, false},
		{"deviation passes", dev, Result{Status: Pass}, false},
		{"deviation with wrong values", dev, Result{Status: Wrong}, false},
		{"plain error", claimed, Result{Status: Refused, Stage: "run", Err: errors.New("x")}, false},
		{"unclaimed refused", unclaimed, Result{Status: Refused, Stage: "import", Err: unsupported}, true},
		{"unclaimed refused as invalid", unclaimed, Result{Status: Refused, Stage: "import", Err: &importer.FormatError{}}, false},
		{"unclaimed passes", unclaimed, Result{Status: Pass}, false},
	} {
		v := Judge(c.t, c.r)
		if v.OK != c.ok || v.Note == "" {
			t.Errorf("%s: OK=%v (%q), want %v", c.name, v.OK, v.Note, c.ok)
		}
	}
}

// TestRunPreparesInputs checks the harness on a test with several inputs: the extra inputs
// became initializers and the model passes.
func TestRunPreparesInputs(t *testing.T) {
	load(t)
	for _, name := range []string{"test_constant_pad", "test_gemm_default_vector_bias", "test_clip"} {
		v := Judge(Test{Name: name, Dir: filepath.Join(DataDir, name), Ops: []string{"x"}}, Run(Test{Dir: filepath.Join(DataDir, name)}))
		if !v.OK || v.Result.Status != Pass {
			t.Errorf("%s: %s", name, v.Note)
		}
	}
	if r := Run(Test{Dir: filepath.Join(DataDir, "test_no_such_test")}); r.Status != Refused || r.Stage != "data" ||
		!strings.Contains(r.Err.Error(), "no such file") {
		t.Errorf("a missing test: %+v", r)
	}
}

// TestOldOpsetValues runs the tests that tlkit refuses only for their operator-set version
// (the deviation whose error is "operator set version": operators whose definitions opsets 7 to
// 22 keep unchanged) with the model's default opset re-stamped to 7, so that these claimed
// operators' values are checked too. The deviation table still lists the tests as written.
func TestOldOpsetValues(t *testing.T) {
	load(t)
	restamp := func(m *onnxfile.Model) {
		for i := range m.OpsetImports {
			if d := m.OpsetImports[i].Domain; d == "" || d == "ai.onnx" {
				m.OpsetImports[i].Version = importer.MinOpset
			}
		}
	}
	var old *Deviation
	for i := range Deviations {
		if Deviations[i].Error == "operator set version" {
			old = &Deviations[i]
		}
	}
	if old == nil || len(old.Tests) == 0 {
		t.Fatal("no deviation lists tests refused for their operator set")
	}
	for _, name := range old.Tests {
		t.Run(name, func(t *testing.T) {
			if r := runEdited(Test{Name: name, Dir: filepath.Join(DataDir, name)}, restamp); r.Status != Pass {
				t.Errorf("at opset %d: %v %v %s", importer.MinOpset, r.Status, r.Err, r.Detail)
			}
		})
	}
}
