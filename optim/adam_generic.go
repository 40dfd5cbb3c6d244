//go:build !amd64

package optim

var adamVecOK = false

// adamVec has no vector path here: the Go loop does every element.
func adamVec(w, g, m, v []float32, c *adamConsts) int { return 0 }
