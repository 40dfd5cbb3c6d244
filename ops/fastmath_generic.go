//go:build !amd64

package ops

// tanhVec has no vector path here: tanh32 does every element.
func tanhVec(x, y []float32) int { return 0 }

// maxVec has no vector path here: the Go loop does every element.
func maxVec(dst, src []float32) int { return 0 }

// reluGradVec has no vector path here: the Go loop does every element.
func reluGradVec(x, dy, dx []float32) int { return 0 }

// evenVec has no vector path here: the Go loop does every element.
func evenVec(dst, src []float32) int { return 0 }

// The BatchNorm loops have no vector paths here: the Go loops do every element.
func sumVec(x []float32) (int, float64)                     { return 0, 0 }
func sqDevVec(x []float32, m float64) (int, float64)        { return 0, 0 }
func dotDevVec(g, x []float32, m float64) (int, float64)    { return 0, 0 }
func affineVec(x, y []float32, a, b float32, relu bool) int { return 0 }
func bnGradVec(g, x, dx []float32, k, c0, c1 float32) int   { return 0 }

// addVec has no vector path here: the Go loop does every element.
func addVec(a, b, y []float32, relu bool) int { return 0 }
