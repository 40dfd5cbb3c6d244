package report

import (
	"errors"

	"tlkit/train"
)

// multi passes every call on to each of its recorders, in order.
type multi []train.Recorder

// Multi returns a Recorder that reports to each of rs (nil ones are skipped). Every recorder
// hears every call even when an earlier one fails; the errors are joined.
func Multi(rs ...train.Recorder) train.Recorder {
	var m multi
	for _, r := range rs {
		if r != nil {
			m = append(m, r)
		}
	}
	return m
}

func (m multi) Start(info train.RunInfo) error {
	var errs []error
	for _, r := range m {
		errs = append(errs, r.Start(info))
	}
	return errors.Join(errs...)
}

func (m multi) Step(s train.StepInfo) error {
	var errs []error
	for _, r := range m {
		errs = append(errs, r.Step(s))
	}
	return errors.Join(errs...)
}

func (m multi) Epoch(s train.EpochStats) error {
	var errs []error
	for _, r := range m {
		errs = append(errs, r.Epoch(s))
	}
	return errors.Join(errs...)
}

func (m multi) Finish(history []train.EpochStats) error {
	var errs []error
	for _, r := range m {
		errs = append(errs, r.Finish(history))
	}
	return errors.Join(errs...)
}

// The recorders of this package, checked at compile time.
var (
	_ train.Recorder = (*Console)(nil)
	_ train.Recorder = (*CSV)(nil)
	_ train.Recorder = (*Plot)(nil)
)
