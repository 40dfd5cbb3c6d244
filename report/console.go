// Package report shows and records training runs: a Console with per-epoch lines and
// progress bars, metrics.csv (CSV), loss and accuracy curves (Plot), confusion matrices and
// a general progress Bar. Console, CSV and Plot are train.Recorders; Multi combines them.
package report

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"tlkit/train"
)

// Console shows a run on the terminal: a header, one line per epoch and a summary on out
// (stdout), and a progress bar for each training and test pass on bars (stderr).
type Console struct {
	out, bars io.Writer
	quiet     bool
	terminal  bool             // bars is a terminal: animate
	now       func() time.Time // the clock of the plain progress lines

	info  train.RunInfo
	pass  *progress
	phase string // the phase and epoch of pass
	epoch int
}

// NewConsole reports to out and shows progress on bars. quiet (for --json, whose output
// must be the only thing on stdout) silences out; the bars still run. A nil writer shows nothing.
func NewConsole(out, bars io.Writer, quiet bool) *Console {
	if out == nil {
		out = io.Discard
	}
	if bars == nil {
		bars = io.Discard
	}
	return &Console{out: out, bars: bars, quiet: quiet, terminal: isTerminal(bars), now: time.Now}
}

func (c *Console) printf(format string, args ...any) {
	if !c.quiet {
		fmt.Fprintf(c.out, format, args...)
	}
}

// Start prints the run's header.
func (c *Console) Start(info train.RunInfo) error {
	c.info = info
	params := "all trainable"
	if info.Trainable != info.Params {
		params = "trainable " + thousands(info.Trainable)
	}
	c.printf("model %s  dataset %s  params %s (%s)\n", info.Model, info.Dataset, thousands(info.Params), params)
	c.printf("train %s samples (%s batches/epoch)", thousands(int64(info.TrainSamples)), thousands(int64(info.StepsPerEpoch)))
	if info.TestSamples > 0 {
		c.printf("  test %s samples", thousands(int64(info.TestSamples)))
	}
	c.printf("  epochs %d", info.Epochs)
	if info.StartEpoch > 1 {
		c.printf("  resuming at epoch %d", info.StartEpoch)
	}
	c.printf("\n")
	return nil
}

// Step advances the bar of the current pass, starting a new bar when the phase or epoch changes.
func (c *Console) Step(s train.StepInfo) error {
	if c.pass == nil || s.Phase != c.phase || s.Epoch != c.epoch || int64(s.Step) < c.pass.done {
		c.endPass()
		label := s.Phase
		if s.Epoch > 0 {
			label = fmt.Sprintf("epoch %*d/%d %s", digits(s.Epochs), s.Epoch, s.Epochs, s.Phase)
		}
		c.pass = newProgress(c.bars, int64(s.Steps), label, false, false, c.terminal, c.now)
		c.phase, c.epoch = s.Phase, s.Epoch
	}
	c.pass.setDetail(fmt.Sprintf("loss %.4f  acc %6.2f%%", s.Loss, 100*s.Acc))
	c.pass.set(int64(s.Step))
	if s.Steps > 0 && s.Step >= s.Steps {
		c.endPass()
	}
	return nil
}

// endPass takes the current bar off the screen, finished or not.
func (c *Console) endPass() {
	if c.pass == nil {
		return
	}
	if c.pass.total > 0 && c.pass.done >= c.pass.total {
		c.pass.finish()
	} else {
		c.pass.abandon()
	}
	c.pass = nil
}

// Epoch prints the epoch's line, e.g.
// "epoch  3/10  loss 0.4321  train 91.23%  test 92.10%  lr 1.0e-04  elapsed 1:05".
func (c *Console) Epoch(s train.EpochStats) error {
	c.endPass()
	c.printf("%s\n", EpochLine(s))
	return nil
}

// EpochLine formats one epoch's results as Console prints them; the test accuracy is left out
// when there was no test pass.
func EpochLine(s train.EpochStats) string {
	line := fmt.Sprintf("epoch %*d/%d  loss %.4f  train %5.2f%%", digits(s.Epochs), s.Epoch, s.Epochs, s.TrainLoss, 100*s.TrainAcc)
	if s.TestSamples > 0 {
		line += fmt.Sprintf("  test %5.2f%%", 100*s.TestAcc)
	}
	return line + fmt.Sprintf("  lr %.1e  elapsed %s", s.LR, clock(s.Elapsed))
}

// Finish prints a summary: the time taken and the final and best test accuracy.
func (c *Console) Finish(history []train.EpochStats) error {
	c.endPass()
	if len(history) == 0 {
		c.printf("done: no epochs were run\n")
		return nil
	}
	last := history[len(history)-1]
	epochs := "epochs"
	if len(history) == 1 {
		epochs = "epoch"
	}
	c.printf("done: %d %s in %s", len(history), epochs, clock(last.Elapsed))
	if last.TestSamples > 0 {
		best := last
		for _, h := range history {
			if h.TestSamples > 0 && h.TestAcc > best.TestAcc {
				best = h
			}
		}
		c.printf("  final test %.2f%%  best test %.2f%% (epoch %d)", 100*last.TestAcc, 100*best.TestAcc, best.Epoch)
	} else {
		c.printf("  final train %.2f%%", 100*last.TrainAcc)
	}
	c.printf("\n")
	return nil
}

// digits is the number of decimal digits of n, which keeps epoch numbers aligned.
func digits(n int) int { return len(strconv.Itoa(n)) }

// thousands writes n with commas between groups of three digits, as in 61,706.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
