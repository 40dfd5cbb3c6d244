package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"tlkit/atomicfile"
	"tlkit/train"
)

// csvHeader is the first line of metrics.csv.
const csvHeader = "epoch,train_loss,train_acc,test_loss,test_acc,lr,epoch_seconds,elapsed_seconds"

// CSV records one line of metrics per epoch in a CSV file, written and synced as each epoch
// ends so that a crash keeps every finished epoch. Accuracies are fractions; the test columns
// are empty when there was no test pass.
type CSV struct {
	path    string
	started bool
}

// NewCSV records to path (typically DIR/metrics.csv).
func NewCSV(path string) *CSV { return &CSV{path: path} }

// Start creates the file with its header. A resumed run (StartEpoch > 1) keeps an existing
// file's lines for the epochs before StartEpoch and appends after them; lines for later epochs,
// written after the checkpoint the run resumes from, are dropped since those epochs run again.
func (c *CSV) Start(info train.RunInfo) error {
	c.started = true
	if info.StartEpoch > 1 {
		data, err := os.ReadFile(c.path)
		if err == nil {
			kept, err := linesBefore(c.path, data, info.StartEpoch)
			if err != nil {
				return err
			}
			return replaceFile(c.path, kept)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("resuming metrics: %w", err)
		}
	}
	return replaceFile(c.path, []byte(csvHeader+"\n"))
}

// linesBefore returns the header and the lines of data for epochs before epoch.
func linesBefore(path string, data []byte, epoch int) ([]byte, error) {
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			if line != csvHeader {
				return nil, fmt.Errorf("%s: cannot resume: line 1 is %q, want the header %q", path, line, csvHeader)
			}
			kept.WriteString(line + "\n")
			continue
		}
		if line == "" {
			continue
		}
		first, _, _ := strings.Cut(line, ",")
		e, err := strconv.Atoi(first)
		if err != nil || strings.Count(line, ",") != strings.Count(csvHeader, ",") {
			return nil, fmt.Errorf("%s: cannot resume: line %d is not a metrics line: %q", path, n, line)
		}
		if e < epoch {
			kept.WriteString(line + "\n")
		}
	}
	if kept.Len() == 0 {
		return []byte(csvHeader + "\n"), nil
	}
	return kept.Bytes(), nil
}

// Step does nothing: the file has one line per epoch.
func (c *CSV) Step(train.StepInfo) error { return nil }

// Epoch appends the epoch's line and syncs the file.
func (c *CSV) Epoch(s train.EpochStats) error {
	if !c.started {
		return fmt.Errorf("%s: Epoch before Start", c.path)
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("recording metrics: %w", err)
	}
	_, err = f.WriteString(CSVLine(s) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording metrics in %s: %w", c.path, err)
	}
	return nil
}

// CSVLine formats an epoch as a metrics.csv line (without the newline).
func CSVLine(s train.EpochStats) string {
	testLoss, testAcc := "", ""
	if s.TestSamples > 0 {
		testLoss, testAcc = fmt.Sprintf("%.6f", s.TestLoss), fmt.Sprintf("%.6f", s.TestAcc)
	}
	return fmt.Sprintf("%d,%.6f,%.6f,%s,%s,%g,%.3f,%.3f", s.Epoch, s.TrainLoss, s.TrainAcc, testLoss, testAcc, s.LR,
		s.EpochTime.Seconds(), s.Elapsed.Seconds())
}

// Finish does nothing: every epoch was written when it ended.
func (c *CSV) Finish([]train.EpochStats) error { return nil }

// replaceFile writes data to path atomically: path always holds either its old or its new
// content.
func replaceFile(path string, data []byte) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFileAtomic is atomicfile.Write with the path in its errors.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, fill); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
