package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tlkit/train"
)

// fakeClock advances by step at every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", 999 * time.Millisecond: "0:00", 65 * time.Second: "1:05", 59*time.Minute + 59900*time.Millisecond: "59:59",
		time.Hour: "1:00:00", 3*time.Hour + 25*time.Minute + 7*time.Second: "3:25:07", 100 * time.Hour: "100:00:00",
	} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestEpochLineMatchesSpec checks the line against the example in the design brief.
func TestEpochLineMatchesSpec(t *testing.T) {
	s := train.EpochStats{Epoch: 3, Epochs: 10, TrainLoss: 0.4321, TrainAcc: 0.9123, TestAcc: 0.9210, LR: 1e-4,
		Elapsed: 65*time.Second + 400*time.Millisecond, TestSamples: 10000}
	if got, want := EpochLine(s), "epoch  3/10  loss 0.4321  train 91.23%  test 92.10%  lr 1.0e-04  elapsed 1:05"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s.TestSamples, s.Epoch, s.Epochs, s.Elapsed = 0, 7, 7, 2*time.Hour+3*time.Second
	if got, want := EpochLine(s), "epoch 7/7  loss 0.4321  train 91.23%  lr 1.0e-04  elapsed 2:00:03"; got != want {
		t.Errorf("without a test set: got %q, want %q", got, want)
	}
}

var runInfo = train.RunInfo{Model: "lenet5", Dataset: "mnist", Epochs: 10, StartEpoch: 1, StepsPerEpoch: 469,
	TrainSamples: 60000, TestSamples: 10000, Params: 61706, Trainable: 61706}

// playRun drives r through a short run the way train.Fit does: for each epoch, steps train
// batches, then test batches, then Epoch; then Finish.
func playRun(t *testing.T, r train.Recorder, info train.RunInfo, steps, testSteps int, stats []train.EpochStats) {
	t.Helper()
	if err := r.Start(info); err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		for b := 1; b <= steps; b++ {
			if err := r.Step(train.StepInfo{Phase: "train", Epoch: s.Epoch, Epochs: s.Epochs, Step: b, Steps: steps, Samples: 128 * b, Loss: 1 / float64(b), Acc: 0.5}); err != nil {
				t.Fatal(err)
			}
		}
		for b := 1; b <= testSteps; b++ {
			if err := r.Step(train.StepInfo{Phase: "test", Epoch: s.Epoch, Epochs: s.Epochs, Step: b, Steps: testSteps, Samples: 100 * b, Loss: 0.3, Acc: 0.9}); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Epoch(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Finish(stats); err != nil {
		t.Fatal(err)
	}
}

var twoEpochs = []train.EpochStats{
	{Epoch: 1, Epochs: 10, TrainLoss: 0.9, TrainAcc: 0.75, TestLoss: 0.5, TestAcc: 0.8812, LR: 1e-4, EpochTime: 61 * time.Second, Elapsed: 61 * time.Second, TrainSamples: 60000, TestSamples: 10000},
	{Epoch: 2, Epochs: 10, TrainLoss: 0.4321, TrainAcc: 0.9123, TestLoss: 0.31, TestAcc: 0.921, LR: 5e-5, EpochTime: 69500 * time.Millisecond, Elapsed: 130500 * time.Millisecond, TrainSamples: 60000, TestSamples: 10000},
}

func TestConsoleOutput(t *testing.T) {
	var out, bars bytes.Buffer
	c := NewConsole(&out, &bars, false)
	if c.terminal {
		t.Fatal("a bytes.Buffer was taken for a terminal")
	}
	c.now = (&fakeClock{step: time.Millisecond}).now
	playRun(t, c, runInfo, 469, 79, twoEpochs)
	want := "model lenet5  dataset mnist  params 61,706 (all trainable)\n" +
		"train 60,000 samples (469 batches/epoch)  test 10,000 samples  epochs 10\n" +
		"epoch  1/10  loss 0.9000  train 75.00%  test 88.12%  lr 1.0e-04  elapsed 1:01\n" +
		"epoch  2/10  loss 0.4321  train 91.23%  test 92.10%  lr 5.0e-05  elapsed 2:10\n" +
		"done: 2 epochs in 2:10  final test 92.10%  best test 92.10% (epoch 2)\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if bars.Len() != 0 { // every pass took well under plainInterval on the fake clock
		t.Errorf("short passes wrote progress to a non-terminal: %q", bars.String())
	}

	out.Reset()
	resumed := runInfo
	resumed.StartEpoch, resumed.Trainable = 4, 850
	c = NewConsole(&out, &bars, false)
	c.Start(resumed)
	if want := "model lenet5  dataset mnist  params 61,706 (trainable 850)\n" +
		"train 60,000 samples (469 batches/epoch)  test 10,000 samples  epochs 10  resuming at epoch 4\n"; out.String() != want {
		t.Errorf("resumed header:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestConsoleQuiet(t *testing.T) {
	var out, bars bytes.Buffer
	c := NewConsole(&out, &bars, true)
	playRun(t, c, runInfo, 5, 2, twoEpochs)
	if out.Len() != 0 {
		t.Errorf("quiet console wrote %q to stdout", out.String())
	}
}

// TestConsoleNonTerminalProgress: a long pass on a non-terminal gets a plain line every
// plainInterval and never a carriage return.
func TestConsoleNonTerminalProgress(t *testing.T) {
	var out, bars bytes.Buffer
	c := NewConsole(&out, &bars, false)
	c.now = (&fakeClock{step: 100 * time.Millisecond}).now // 469 steps ≈ 47 s per train pass
	playRun(t, c, runInfo, 469, 10, twoEpochs[:1])
	s := bars.String()
	if strings.ContainsAny(s, "\r\x1b") {
		t.Fatalf("carriage returns or escapes on a non-terminal: %q", s)
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != 4 { // at 10 s, 20 s, 30 s and 40 s of a 47 s pass
		t.Fatalf("%d progress lines, want 4:\n%s", len(lines), s)
	}
	if want := "epoch  1/10 train  loss 0.0100  acc  50.00%  100/469 (21%)  elapsed 0:10"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
}

// TestBarNonTerminal checks the plain lines of a byte-counting bar and its closing line.
func TestBarNonTerminal(t *testing.T) {
	var w bytes.Buffer
	b := newBar(&w, 48_000_000, "downloading cifar-10", true, false, (&fakeClock{step: time.Second}).now)
	for i := 0; i < 40; i++ {
		b.Add(1_200_000)
	}
	b.Finish()
	b.Finish() // twice is harmless
	want := "downloading cifar-10  12.0 MB / 48.0 MB (25%)  elapsed 0:10\n" +
		"downloading cifar-10  24.0 MB / 48.0 MB (50%)  elapsed 0:20\n" +
		"downloading cifar-10  36.0 MB / 48.0 MB (75%)  elapsed 0:30\n" +
		"downloading cifar-10  48.0 MB / 48.0 MB (100%)  elapsed 0:40\n" +
		"downloading cifar-10  done 48.0 MB in 0:41\n"
	if w.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", w.String(), want)
	}

	// Fast work on a non-terminal: nothing at all, however many updates.
	w.Reset()
	b = NewBar(&w, 100_000, "features", false)
	for i := 0; i < 100_000; i++ {
		b.Add(1)
	}
	b.Finish()
	if w.Len() != 0 {
		t.Errorf("a fast bar on a bytes.Buffer wrote %q", w.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 170_498_071: "170.5 MB", 999_960: "1.0 MB", 5e12: "5.0 TB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// openPTY returns both ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal to test terminal output: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pseudo-terminal's slave: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestBarOnTerminal runs a Bar on a real pseudo-terminal: it must be detected and animated.
func TestBarOnTerminal(t *testing.T) {
	master, slave := openPTY(t)
	if !isTerminal(slave) {
		t.Fatal("a pseudo-terminal was not recognised as a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) {
		t.Fatal("a file or buffer was taken for a terminal")
	}
	got := make(chan string)
	go func() {
		var all []byte
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil || bytes.Contains(all, []byte("\n")) {
				got <- string(all)
				return
			}
		}
	}()
	b := NewBar(slave, 50, "extracting", false)
	for i := 0; i < 50; i++ {
		b.Add(1)
		time.Sleep(3 * time.Millisecond)
	}
	b.Finish()
	var s string
	select {
	case s = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived on the terminal")
	}
	if strings.Count(s, "\r") < 2 || !strings.Contains(s, "extracting") || !strings.Contains(s, "100%") || !strings.Contains(s, "50/50") {
		t.Errorf("terminal output is not an animated bar that reached 50/50: %q", s)
	}
}

// TestConsoleBarsOnTerminal: on a terminal each pass's bar is drawn and then erased, so the
// epoch lines are not interleaved with bar remnants.
func TestConsoleBarsOnTerminal(t *testing.T) {
	var out, bars bytes.Buffer
	c := NewConsole(&out, &bars, false)
	c.terminal = true
	playRun(t, c, runInfo, 20, 5, twoEpochs[:1])
	s := bars.String()
	if !strings.Contains(s, "epoch  1/10 train") || !strings.Contains(s, "epoch  1/10 test") || !strings.Contains(s, "\r") {
		t.Errorf("no animated train and test bars: %q", s)
	}
	if !strings.HasSuffix(s, "\r") { // erased: the last thing written is a carriage return after blanks
		t.Errorf("the last bar was not erased: %q", s[max(0, len(s)-80):])
	}
}

type recorded struct {
	calls []string
	fail  bool
}

func (r *recorded) note(s string) error {
	r.calls = append(r.calls, s)
	if r.fail {
		return errors.New("failed " + s)
	}
	return nil
}
func (r *recorded) Start(train.RunInfo) error    { return r.note("start") }
func (r *recorded) Step(train.StepInfo) error    { return r.note("step") }
func (r *recorded) Epoch(train.EpochStats) error { return r.note("epoch") }
func (r *recorded) Finish(h []train.EpochStats) error {
	return r.note(fmt.Sprintf("finish %d", len(h)))
}

func TestMulti(t *testing.T) {
	a, b := &recorded{fail: true}, &recorded{}
	m := Multi(a, nil, b)
	err := m.Start(train.RunInfo{})
	if err == nil || err.Error() != "failed start" {
		t.Errorf("Start error %v, want the first recorder's", err)
	}
	m.Step(train.StepInfo{})
	m.Epoch(train.EpochStats{})
	m.Finish(make([]train.EpochStats, 3))
	want := []string{"start", "step", "epoch", "finish 3"}
	if fmt.Sprint(b.calls) != fmt.Sprint(want) || fmt.Sprint(a.calls) != fmt.Sprint(want) {
		t.Errorf("calls %v and %v, want %v for both", a.calls, b.calls, want)
	}
}

// TestBarUnknownTotal: without a total a terminal gets a spinner and a log gets plain counts.
func TestBarUnknownTotal(t *testing.T) {
	var w bytes.Buffer
	b := newBar(&w, 0, "scanning", false, false, (&fakeClock{step: 4 * time.Second}).now)
	for i := 0; i < 5; i++ {
		b.Add(1000)
	}
	b.Finish()
	if want := "scanning  3000  elapsed 0:12\nscanning  done 5000 in 0:24\n"; w.String() != want {
		t.Errorf("got %q, want %q", w.String(), want)
	}
	var term bytes.Buffer
	b = newBar(&term, -1, "scanning", true, true, time.Now)
	b.Add(5000)
	time.Sleep(250 * time.Millisecond) // the spinner turns on its own
	b.Finish()
	if s := term.String(); !strings.Contains(s, "scanning") || !strings.Contains(s, "5.0 kB") || !strings.HasSuffix(s, "\n") {
		t.Errorf("terminal spinner output %q", s)
	}
}

func TestConsoleSummaryOfOneEpoch(t *testing.T) {
	var out, bars bytes.Buffer
	c := NewConsole(&out, &bars, false)
	c.Finish(twoEpochs[:1])
	if want := "done: 1 epoch in 1:01  final test 88.12%  best test 88.12% (epoch 1)\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
