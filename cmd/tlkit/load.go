package main

import (
	"fmt"
	"os"
	"strings"

	"tlkit/importer"
	"tlkit/models"
	"tlkit/nn"
	"tlkit/train"
)

// loadModel resolves a MODEL argument: a built-in name (built for shape and classes), an ONNX
// file, or a tlkit checkpoint.
func loadModel(arg, shape string, classes int) (*nn.Model, error) {
	if models.IsBuiltin(arg) {
		s, err := parseShape(shape)
		if err != nil {
			return nil, err
		}
		return models.Build(arg, 0, classes, s)
	}
	if _, err := os.Stat(arg); err != nil {
		return nil, fmt.Errorf("%s is neither a built-in model (%s) nor a file: %v", arg, strings.Join(models.Names(), ", "), err)
	}
	if strings.HasSuffix(arg, ".safetensors") {
		l, err := train.Load(arg)
		if err != nil {
			return nil, err
		}
		return l.Model, nil
	}
	return importer.ReadFile(arg)
}
