package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainInterval is the least time between two progress lines on a writer that is not a
// terminal (a log file, a pipe), where an animated bar would be a storm of carriage returns.
const plainInterval = 10 * time.Second

// isTerminal reports whether w is a terminal, where a bar can redraw itself in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows how far one long pass has got: an animated progressbar on a terminal and,
// on anything else, a plain line at most every plainInterval (none for a pass shorter than that).
type progress struct {
	w      io.Writer
	bar    *progressbar.ProgressBar // nil when w is not a terminal
	label  string
	detail string // live figures shown after the label, such as the running loss
	total  int64  // 0 or less: unknown
	done   int64
	bytes  bool

	now       func() time.Time
	start     time.Time
	lastLine  time.Time // when the last plain line was written
	lines     int       // plain lines written
	finalLine bool      // on a plain writer, end with a summary line if any line was written
	finished  bool
}

// newProgress starts a pass on w. keep leaves the finished bar on a terminal (followed by a
// newline) rather than erasing it, and on other writers adds a closing line to long passes.
func newProgress(w io.Writer, total int64, label string, bytes, keep bool, terminal bool, now func() time.Time) *progress {
	p := &progress{w: w, label: label, total: total, bytes: bytes, now: now, finalLine: keep}
	p.start = now()
	p.lastLine = p.start
	if terminal {
		max := total
		if max <= 0 {
			max = -1 // progressbar's spinner for an unknown length
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionShowBytes(bytes),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionSpinnerType(14),
		}
		if !bytes {
			opts = append(opts, progressbar.OptionShowCount())
		}
		if keep {
			opts = append(opts, progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
		} else {
			opts = append(opts, progressbar.OptionClearOnFinish())
		}
		p.bar = progressbar.NewOptions64(max, opts...)
	}
	return p
}

// setDetail changes the live figures shown with the label.
func (p *progress) setDetail(detail string) {
	if p.detail == detail {
		return
	}
	p.detail = detail
	if p.bar != nil {
		p.bar.Describe(p.description())
	}
}

func (p *progress) description() string {
	if p.detail == "" {
		return p.label
	}
	return p.label + "  " + p.detail
}

// set records that done units of the pass are complete.
func (p *progress) set(done int64) {
	if p.finished {
		return
	}
	p.done = done
	if p.bar != nil {
		if p.total <= 0 { // a spinner shows no count of its own
			p.bar.Describe(p.description() + "  " + p.amount())
		}
		p.bar.Set64(done)
		return
	}
	if t := p.now(); t.Sub(p.lastLine) >= plainInterval {
		p.lastLine = t
		p.lines++
		fmt.Fprintln(p.w, p.plainLine(t))
	}
}

// plainLine is one progress line for a non-terminal writer at time t.
func (p *progress) plainLine(t time.Time) string {
	var b strings.Builder
	b.WriteString(p.description())
	b.WriteString("  ")
	switch {
	case p.bytes && p.total > 0:
		fmt.Fprintf(&b, "%s / %s (%d%%)", humanBytes(p.done), humanBytes(p.total), 100*p.done/p.total)
	case p.bytes:
		b.WriteString(humanBytes(p.done))
	case p.total > 0:
		fmt.Fprintf(&b, "%d/%d (%d%%)", p.done, p.total, 100*p.done/p.total)
	default:
		fmt.Fprintf(&b, "%d", p.done)
	}
	fmt.Fprintf(&b, "  elapsed %s", clock(t.Sub(p.start)))
	return b.String()
}

// finish ends the pass: a terminal bar fills up and then stays or vanishes; a plain writer
// gets a closing line when the pass was long enough to have shown progress lines.
func (p *progress) finish() {
	if p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		if p.total > 0 {
			p.bar.Set64(p.total)
		}
		p.bar.Finish() // draws the full bar, then erases it or ends its line
		return
	}
	if p.finalLine && p.lines > 0 {
		fmt.Fprintf(p.w, "%s  done %s in %s\n", p.label, p.amount(), clock(p.now().Sub(p.start)))
	}
}

// abandon removes an unfinished bar from a terminal without completing it.
func (p *progress) abandon() {
	if p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		p.bar.Clear()
		p.bar.Exit()
	}
}

func (p *progress) amount() string {
	if p.bytes {
		return humanBytes(p.done)
	}
	return fmt.Sprint(p.done)
}

// Bar is a progress bar for long work outside training, such as feature extraction or a
// download: animated on a terminal, an occasional plain line elsewhere.
type Bar struct {
	p *progress
}

// NewBar starts a bar on w for total units (bytes when bytes is set; 0 or less when the total
// is unknown) labelled with description.
func NewBar(w io.Writer, total int64, description string, bytes bool) *Bar {
	return newBar(w, total, description, bytes, isTerminal(w), time.Now)
}

func newBar(w io.Writer, total int64, description string, bytes, terminal bool, now func() time.Time) *Bar {
	return &Bar{p: newProgress(w, total, description, bytes, true, terminal, now)}
}

// Add records n more units done.
func (b *Bar) Add(n int64) { b.p.set(b.p.done + n) }

// Write counts len(p) bytes as done, so that a Bar can sit in an io.TeeReader or io.MultiWriter.
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(int64(len(p)))
	return len(p), nil
}

// Finish marks the work complete.
func (b *Bar) Finish() { b.p.finish() }

// humanBytes writes a byte count with a decimal unit, as in "12.3 MB".
func humanBytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1000, 0
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %cB", v, units[i])
}

// clock writes a duration as m:ss, or h:mm:ss from an hour on, truncated to whole seconds.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
