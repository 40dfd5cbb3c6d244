// Package finetune holds tlkit's transfer-learning jobs: transfer (a new head trained on a frozen
// backbone whose features are computed once), fine-tuning (the whole network), evaluation and
// export. The command line is a thin layer over it.
package finetune

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"tlkit/datasets"
	"tlkit/engine"
	"tlkit/nn"
)

// DataOptions says which data a job uses and how its images become samples.
type DataOptions struct {
	Name string // cifar100, cifar100-coarse (its 20 superclasses), mnist or fashion-mnist
	Dir  string // data directory (see datasets.DataDir)
	// ImageSize is the side the images are resized to. 0 means the size the model fixes, or a
	// checkpoint recorded, else 224 (as ImageNet models and the seed tutorial use); another size
	// than the model's refixes its input, which fully convolutional networks allow (a ResNet
	// exported at 224×224 trains on 32×32 CIFAR images, as torchvision's would).
	ImageSize int
	// TrainSubset > 0 trains on a seeded random subset of that many training images (the seed
	// uses 10,000 of CIFAR-100's 50,000); a smaller dataset is used whole.
	TrainSubset int
	Seed        int64
	// Augment applies random crops (padding 4 at the stored resolution) and horizontal flips to
	// training images.
	Augment bool
}

// Data is a job's train and test sets, transformed for its model.
type Data struct {
	Train, Test datasets.Dataset
	Classes     int
	ClassNames  []string
	Transform   datasets.Transform // of the test set (no augmentation)
	Subset      []int              // training images used (nil: all)
	Notes       []string           // what the user should know (a subset larger than the data)
	// Identity describes the data for cache keys.
	Identity map[string]string
}

// Preprocessing metadata kept in a model so evaluation sees the images its training saw.
const (
	MetaImageSize  = "tlkit.image_size"
	MetaMean       = "tlkit.mean"
	MetaStd        = "tlkit.std"
	MetaDataset    = "tlkit.dataset"
	MetaClassNames = "tlkit.class_names"
	MetaDataOpts   = "tlkit.data_options"
)

// LoadData opens the dataset and builds the transforms for model m: the model's channels and,
// when it fixes them, its spatial size; ImageNet normalisation for 3-channel models unless the
// model's metadata records other statistics.
func LoadData(o DataOptions, m *nn.Model) (*Data, error) {
	trainImgs, testImgs, err := datasets.Open(o.Name, datasets.DataDir(o.Dir))
	if err != nil {
		return nil, err
	}
	in := m.Inputs[0].Shape
	if len(in) != 4 {
		return nil, fmt.Errorf("the model's input %q has shape %v; image data needs N×C×H×W", m.Inputs[0].Name, in)
	}
	t := datasets.Transform{Channels: in[1]}
	size := o.ImageSize
	if v, err := strconv.Atoi(m.Meta[MetaImageSize]); err == nil && size == 0 {
		size = v
	}
	if size == 0 {
		size = 224
	}
	h, w := size, size
	if in[2] > 0 && in[3] > 0 && o.ImageSize == 0 {
		h, w = in[2], in[3] // the size the model fixes, unless --image-size asks for another
	}
	if in[2] != h || in[3] != w {
		if err := setImageSize(m, h, w); err != nil {
			return nil, err
		}
	}
	if h != trainImgs.H || w != trainImgs.W {
		t.Resize = datasets.Size{H: h, W: w}
	}
	mean, std := parseFloats(m.Meta[MetaMean]), parseFloats(m.Meta[MetaStd])
	switch {
	case mean != nil && std != nil:
		t.Mean, t.Std = mean, std
	case in[1] == 3:
		t.Mean, t.Std = datasets.ImageNetMean, datasets.ImageNetStd
	}
	if err := t.Check(trainImgs.C); err != nil {
		return nil, err
	}
	d := &Data{Classes: len(trainImgs.ClassNames), ClassNames: trainImgs.ClassNames, Transform: t}
	if d.Classes == 0 {
		d.Classes = maxLabel(trainImgs.Labels) + 1
	}
	aug := t
	if o.Augment {
		aug.RandomCropPadding, aug.HFlip = 4, true
	}
	d.Train = datasets.Transformed(trainImgs, aug)
	d.Test = datasets.Transformed(testImgs, t)
	if o.TrainSubset > 0 {
		if o.TrainSubset >= trainImgs.Len() {
			d.Notes = append(d.Notes, fmt.Sprintf("--train-subset %d: the training set has only %d images; using all of them", o.TrainSubset, trainImgs.Len()))
		} else {
			d.Subset = datasets.RandomSubset(trainImgs.Len(), o.TrainSubset, o.Seed)
			d.Train = datasets.Subset(d.Train, d.Subset)
		}
	}
	tj, _ := json.Marshal(t)
	d.Identity = map[string]string{"dataset": o.Name, "transform": string(tj), "train": fmt.Sprint(trainImgs.Len()), "test": fmt.Sprint(testImgs.Len()),
		"subset": fmt.Sprintf("%d/%d/torch-random-split", o.TrainSubset, o.Seed)} // the selection's rule is part of the key: caches of the older rule are not reused
	return d, nil
}

// setImageSize fixes m's input at h×w images. A fully convolutional network (global pooling
// before its head, as ResNets) runs at any size, whatever size its file was exported at; a
// model whose layers depend on the size does not build, and says so.
func setImageSize(m *nn.Model, h, w int) error {
	in := m.Inputs[0].Shape
	oh, ow := in[2], in[3]
	in[2], in[3] = h, w
	if _, err := engine.Compile(m, engine.Options{Batch: 1}); err != nil {
		in[2], in[3] = oh, ow
		return fmt.Errorf("--image-size %d: the model (input %v) does not build for %d×%d images: %w", h, in, h, w, err)
	}
	return nil
}

// Record writes the preprocessing and data options into m's metadata, so a checkpoint evaluates
// as it trained and resumes on the same images.
func (d *Data) Record(m *nn.Model, o DataOptions) {
	dataset := o.Name
	o.Dir = "" // machine-specific: a resumed run finds the data again
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	if d.Transform.Resize.H > 0 {
		m.Meta[MetaImageSize] = strconv.Itoa(d.Transform.Resize.H)
	}
	if d.Transform.Mean != nil {
		m.Meta[MetaMean], m.Meta[MetaStd] = formatFloats(d.Transform.Mean), formatFloats(d.Transform.Std)
	}
	m.Meta[MetaDataset] = dataset
	if b, err := json.Marshal(d.ClassNames); err == nil {
		m.Meta[MetaClassNames] = string(b)
	}
	if b, err := json.Marshal(o); err == nil {
		m.Meta[MetaDataOpts] = string(b)
	}
}

// RecordedData returns the data options a checkpoint's model was trained with (ok=false if none).
func RecordedData(m *nn.Model) (DataOptions, bool) {
	var o DataOptions
	if s := m.Meta[MetaDataOpts]; s == "" || json.Unmarshal([]byte(s), &o) != nil {
		return o, false
	}
	return o, true
}

func maxLabel(ls []int) int {
	m := 0
	for _, l := range ls {
		m = max(m, l)
	}
	return m
}

func parseFloats(s string) []float32 {
	if s == "" {
		return nil
	}
	var out []float32
	for _, p := range strings.Split(s, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil
		}
		out = append(out, float32(f))
	}
	return out
}

func formatFloats(v []float32) string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}
