// Package train is tlkit's reusable training toolkit: the epoch loop (Trainer.Fit), the test
// pass (Evaluate), the scoring (Metrics) and progress reporting through a Recorder. Every command
// that trains, from the MNIST models to ResNet-34 fine-tuning, goes through this one loop.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"tlkit/compare"
	"tlkit/datasets"
	"tlkit/gpu"
	"tlkit/nn"
	"tlkit/optim"
)

// Config is a training recipe. The zero value of each field means the default given.
type Config struct {
	Epochs      int     // 10
	BatchSize   int     // 128
	LR          float64 // 1e-4 (Adam; PyTorch's Adam default is 1e-3, the seed uses 1e-4)
	WeightDecay float64 // 0
	DecoupledWD bool    // AdamW-style decay instead of PyTorch Adam's L2 term
	Schedule    optim.Schedule
	ClipNorm    float64 // 0: no clipping
	FreezeBN    bool    // keep BatchNorm in inference mode while training
	Augment     bool    // random augmentation of training samples
	Seed        int64
	// Shuffler orders each epoch's samples; default: the loader's permutation seeded by Seed.
	// tlkit train passes torchrand's, which repeats PyTorch's DataLoader(shuffle=True).
	Shuffler datasets.Shuffler
}

func (c *Config) defaults() {
	if c.Epochs == 0 {
		c.Epochs = 10
	}
	if c.BatchSize == 0 {
		c.BatchSize = 128
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	if c.Schedule == nil {
		c.Schedule = optim.Constant{Base: c.LR}
	}
}

// Position is where a run stands: epochs completed, and inside the current epoch the batches
// done and their running sums, so a run interrupted mid-epoch resumes exactly there.
type Position struct {
	Epoch   int // epochs completed
	Batch   int // batches of epoch Epoch+1 already trained
	LossSum float64
	Correct int
	Seen    int
	Elapsed time.Duration // wall time of the run before this process
	// EpochElapsed is the wall time already spent on epoch Epoch+1 (its batches before an
	// interruption), so that a resumed epoch's EpochTime counts both parts.
	EpochElapsed time.Duration
}

// Trainer trains a model with Adam.
type Trainer struct {
	Model   *nn.Model
	Cfg     Config
	Opt     *optim.Adam
	Pos     Position
	History []EpochStats
	// Checkpoint, when set, is called after every epoch and when the run is interrupted; the
	// trainer's state is consistent at those points.
	Checkpoint func(t *Trainer) error
	// Name and Dataset label the run for the Recorder.
	Name, Dataset string
	// Saved, when set, is the model that checkpoints store instead of Model: the whole network
	// when only its head trains on cached features. It must share the trained tensors with Model.
	Saved *nn.Model

	// Device, when set, trains on that CUDA GPU (TF32 allows its tensor cores in float32 products);
	// nil trains on the CPU.
	Device *gpu.Device
	TF32   bool

	steps *steps
}

// NewTrainer prepares to train m with cfg.
func NewTrainer(m *nn.Model, cfg Config) *Trainer {
	cfg.defaults()
	opt := optim.NewAdam(cfg.LR)
	opt.WeightDecay, opt.Decoupled = cfg.WeightDecay, cfg.DecoupledWD
	return &Trainer{Model: m, Cfg: cfg, Opt: opt}
}

// ErrInterrupted is returned by Fit when its context is cancelled; the state was checkpointed at
// a batch boundary first.
var ErrInterrupted = errors.New("training interrupted")

// NonFiniteError reports a loss that became NaN or infinite; training stops and the last
// checkpoint (written at the end of the previous epoch) is left as it was.
type NonFiniteError struct {
	Epoch, Batch int
	Loss         float64
	// Checkpointed says whether a checkpoint of this run exists (one is written at the end of
	// each epoch, so not when the first epoch fails).
	Checkpointed bool
}

func (e *NonFiniteError) Error() string {
	kept := "the last checkpoint was kept"
	if !e.Checkpointed {
		kept = "no checkpoint had been written yet"
	}
	return fmt.Sprintf("loss became %v at epoch %d, batch %d; training stopped and %s (try a lower --lr)", e.Loss, e.Epoch, e.Batch, kept)
}

// Fit trains on train for the configured epochs, scoring test after each epoch.
func (t *Trainer) Fit(ctx context.Context, train, test datasets.Dataset, rec Recorder) error {
	cfg := t.Cfg
	loader := datasets.NewLoader(train, datasets.LoaderOptions{BatchSize: cfg.BatchSize, Shuffle: true, Seed: cfg.Seed, Shuffler: cfg.Shuffler, Augment: cfg.Augment})
	counted := t.Model
	if t.Saved != nil {
		counted = t.Saved
	}
	total, trainable := counted.Count()
	classes := train.Classes()
	info := RunInfo{Model: t.Name, Dataset: t.Dataset, Epochs: cfg.Epochs, StartEpoch: t.Pos.Epoch + 1, StepsPerEpoch: loader.NumBatches(),
		TrainSamples: train.Len(), Params: total, Trainable: trainable}
	if test != nil {
		info.TestSamples = test.Len()
	}
	if err := rec.Start(info); err != nil {
		return err
	}
	if t.steps == nil {
		t.steps = newSteps(t)
	}
	if t.Device != nil && cfg.ClipNorm > 0 {
		return errors.New("gradient clipping is not implemented on the GPU backend; drop --clip-grad or use --device cpu")
	}
	// Build the full-batch and last-batch programs now, so a model that cannot train at those
	// sizes (BatchNorm on a batch of one) fails before any work is done.
	for _, n := range []int{min(cfg.BatchSize, train.Len()), train.Len() % cfg.BatchSize} {
		if n > 0 {
			if _, err := t.steps.get(n); err != nil {
				return fmt.Errorf("building the training step for a batch of %d: %w", n, err)
			}
		}
	}
	start := time.Now().Add(-t.Pos.Elapsed)
	steps := loader.NumBatches()
	// whether a checkpoint of this run exists: a resumed run started from one
	saved := t.Checkpoint != nil && (t.Pos.Epoch > 0 || t.Pos.Batch > 0)
	for t.Pos.Epoch < cfg.Epochs {
		epoch := t.Pos.Epoch + 1
		epochStart := time.Now().Add(-t.Pos.EpochElapsed)
		it := loader.Epoch(epoch)
		b := 0
		for it.Next() {
			b++
			if b <= t.Pos.Batch { // trained before an interruption
				continue
			}
			batch := it.Batch()
			loss, correct, err := t.step(batch, (epoch-1)*steps+b-1, cfg.Epochs*steps)
			if err != nil {
				it.Close()
				return err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				it.Close()
				return &NonFiniteError{Epoch: epoch, Batch: b, Loss: loss, Checkpointed: saved}
			}
			t.Pos.Batch = b
			t.Pos.LossSum += loss * float64(batch.N)
			t.Pos.Correct += correct
			t.Pos.Seen += batch.N
			if err := rec.Step(StepInfo{Phase: "train", Epoch: epoch, Epochs: cfg.Epochs, Step: b, Steps: steps, Samples: t.Pos.Seen,
				Loss: t.Pos.LossSum / float64(t.Pos.Seen), Acc: float64(t.Pos.Correct) / float64(t.Pos.Seen)}); err != nil {
				it.Close()
				return err
			}
			if ctx.Err() != nil {
				it.Close()
				t.Pos.Elapsed, t.Pos.EpochElapsed = time.Since(start), time.Since(epochStart)
				if t.Checkpoint != nil {
					if err := t.steps.sync(t.Opt); err != nil {
						return err
					}
					if err := t.Checkpoint(t); err != nil {
						return fmt.Errorf("%w; saving the checkpoint failed: %v", ErrInterrupted, err)
					}
				}
				return ErrInterrupted
			}
		}
		it.Close()
		if err := it.Err(); err != nil {
			return err
		}
		st := EpochStats{Epoch: epoch, Epochs: cfg.Epochs, TrainSamples: t.Pos.Seen,
			TrainLoss: t.Pos.LossSum / math.Max(float64(t.Pos.Seen), 1), TrainAcc: float64(t.Pos.Correct) / math.Max(float64(t.Pos.Seen), 1),
			LR: cfg.Schedule.LR(epoch*steps-1, cfg.Epochs*steps)}
		if test != nil {
			r, err := Evaluate(t.steps.eval(t), test, EvalOptions{BatchSize: cfg.BatchSize, Classes: classes, Epoch: epoch, Epochs: cfg.Epochs}, rec)
			if err != nil {
				return err
			}
			st.TestLoss, st.TestAcc, st.TestSamples = r.Loss(), r.Acc(), r.Samples
		}
		st.EpochTime = time.Since(epochStart)
		st.Elapsed = time.Since(start)
		t.History = append(t.History, st)
		t.Pos = Position{Epoch: epoch, Elapsed: st.Elapsed}
		if err := rec.Epoch(st); err != nil {
			return err
		}
		if t.Checkpoint != nil {
			if err := t.steps.sync(t.Opt); err != nil {
				return err
			}
			if err := t.Checkpoint(t); err != nil {
				return fmt.Errorf("saving the checkpoint after epoch %d: %w", epoch, err)
			}
			saved = true
		}
		if ctx.Err() != nil {
			return ErrInterrupted
		}
	}
	if err := t.steps.sync(t.Opt); err != nil {
		return err
	}
	return rec.Finish(t.History)
}

// step trains on one batch and returns its mean loss and correct predictions.
func (t *Trainer) step(b *datasets.Batch, step, total int) (float64, int, error) {
	s, err := t.steps.get(b.N)
	if err != nil {
		return 0, 0, err
	}
	if err := s.setBatch(b.X, b.Y[:b.N]); err != nil {
		return 0, 0, err
	}
	loss, logits, err := s.run()
	if err != nil {
		return 0, 0, err
	}
	k := len(logits) / b.N
	correct := 0
	for i := 0; i < b.N; i++ {
		if compare.Argmax(logits[i*k:(i+1)*k]) == b.Y[i] {
			correct++
		}
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, correct, nil
	}
	t.Opt.LR = t.Cfg.Schedule.LR(step, total)
	return loss, correct, s.update(t.Opt, t.Cfg.ClipNorm)
}
