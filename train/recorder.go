package train

import (
	"encoding/json"
	"time"
)

// RunInfo describes a training run to a Recorder before the first batch.
type RunInfo struct {
	Model, Dataset string
	Epochs         int // total epochs of the run
	StartEpoch     int // 1 for a fresh run; later when resuming
	StepsPerEpoch  int // training batches per epoch, the last partial one included
	TrainSamples   int
	TestSamples    int
	Params         int64 // all parameters
	Trainable      int64 // parameters the optimizer updates
}

// StepInfo reports progress inside an epoch. Loss and Acc are running means over the
// batches of this phase seen so far, weighted by batch size.
type StepInfo struct {
	Phase   string // "train", "test" or another long pass such as "features"
	Epoch   int
	Epochs  int
	Step    int // batches done in this phase, 1-based
	Steps   int // batches in this phase
	Samples int // samples done in this phase
	Loss    float64
	Acc     float64
}

// EpochStats is what the loop knows at the end of an epoch. Accuracies are fractions in [0,1];
// TrainAcc is the running accuracy of the epoch's own batches (no second pass over the data).
type EpochStats struct {
	Epoch, Epochs int
	TrainLoss     float64
	TrainAcc      float64
	TestLoss      float64
	TestAcc       float64
	LR            float64       // learning rate at the end of the epoch
	EpochTime     time.Duration // wall time of this epoch (training and test pass)
	Elapsed       time.Duration // wall time since the run started
	TrainSamples  int
	TestSamples   int
}

// Recorder receives a run's progress without the training loop knowing how it is shown,
// in the manner of gonum/optimize's Recorder. A non-nil error stops the run.
type Recorder interface {
	Start(RunInfo) error
	Step(StepInfo) error
	Epoch(EpochStats) error
	Finish(history []EpochStats) error
}

// epochJSON is EpochStats as --json output and checkpoints spell it.
type epochJSON struct {
	Epoch          int     `json:"epoch"`
	Epochs         int     `json:"epochs"`
	TrainLoss      float64 `json:"train_loss"`
	TrainAcc       float64 `json:"train_accuracy"`
	TestLoss       float64 `json:"test_loss"`
	TestAcc        float64 `json:"test_accuracy"`
	LR             float64 `json:"lr"`
	EpochSeconds   float64 `json:"epoch_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	TrainSamples   int     `json:"train_samples"`
	TestSamples    int     `json:"test_samples"`
}

// MarshalJSON writes snake_case fields and durations in seconds.
func (s EpochStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(epochJSON{s.Epoch, s.Epochs, s.TrainLoss, s.TrainAcc, s.TestLoss, s.TestAcc, s.LR,
		s.EpochTime.Seconds(), s.Elapsed.Seconds(), s.TrainSamples, s.TestSamples})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *EpochStats) UnmarshalJSON(b []byte) error {
	var j epochJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = EpochStats{Epoch: j.Epoch, Epochs: j.Epochs, TrainLoss: j.TrainLoss, TrainAcc: j.TrainAcc, TestLoss: j.TestLoss, TestAcc: j.TestAcc,
		LR: j.LR, EpochTime: time.Duration(j.EpochSeconds * float64(time.Second)), Elapsed: time.Duration(j.ElapsedSeconds * float64(time.Second)),
		TrainSamples: j.TrainSamples, TestSamples: j.TestSamples}
	return nil
}
