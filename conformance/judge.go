package conformance

import (
	"errors"
	"fmt"
	"strings"

	"tlkit/engine"
	"tlkit/importer"
)

// Verdict judges a test's Result against the table of known deviations.
type Verdict struct {
	Test      Test
	Result    Result
	Deviation *Deviation // the table's entry for the test, or nil
	// OK is true for a pass, for a listed test refused as its deviation says, and for a test of
	// unclaimed operators refused as unsupported.
	OK bool
	// Note says what happened in one line: "pass", the deviation's reason, or the failure.
	Note string
}

// Judge decides whether r is what tlkit should do on t.
func Judge(t Test, r Result) Verdict {
	v := Verdict{Test: t, Result: r, Deviation: deviation(t.Name)}
	fail := func(format string, args ...any) Verdict {
		v.Note = fmt.Sprintf(format, args...)
		return v
	}
	switch r.Status {
	case Panic:
		return fail("panic: %s", oneLine(r.Detail))
	case Wrong:
		return fail("wrong result: %s", r.Detail)
	case Pass:
		if !t.InScope() {
			return fail("passes, although it uses unclaimed operators %s", strings.Join(t.Unclaimed, ", "))
		}
		if v.Deviation != nil {
			return fail("passes, but is listed as a known deviation (%s): remove it from the table in deviations.go", v.Deviation.Reason)
		}
		v.OK, v.Note = true, "pass"
		return v
	}
	// Refused.
	msg := oneLine(r.Err.Error())
	if !Unsupported(r.Err) {
		var fe *importer.FormatError
		switch {
		case errors.As(r.Err, &fe) && v.Deviation != nil:
			return fail("refused as an invalid model (%s), but it is valid ONNX; its known deviation needs an "+
				"unsupported-feature error: %s", r.Stage, msg)
		case errors.As(r.Err, &fe):
			return fail("refused as an invalid model (%s), but it is valid ONNX: %s", r.Stage, msg)
		case r.Stage == "data":
			return fail("the test's files could not be read: %s", msg)
		}
		return fail("refused (%s) with an error that is not an unsupported-feature error: %s", r.Stage, msg)
	}
	switch {
	case !t.InScope():
		v.OK, v.Note = true, "refused: uses "+strings.Join(t.Unclaimed, ", ")
	case v.Deviation == nil:
		return fail("refused (%s), and no known deviation explains it: %s", r.Stage, msg)
	case !strings.Contains(r.Err.Error(), v.Deviation.Error):
		return fail("refused for another reason than its known deviation (the error should contain %q): %s", v.Deviation.Error, msg)
	default:
		v.OK, v.Note = true, v.Deviation.Reason
	}
	return v
}

// Unsupported reports whether err says that a valid model uses what tlkit does not implement.
func Unsupported(err error) bool {
	var ie *importer.UnsupportedError
	var ee *engine.UnsupportedError
	return errors.As(err, &ie) || errors.As(err, &ee) || errors.Is(err, engine.ErrNotSupported)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
