package gpu

import "testing"

func TestPickAlgo(t *testing.T) {
	res := []perf{
		{Algo: 4, Status: 0, Memory: 10, Math: mathDefault},    // FFT
		{Algo: 1, Status: 3000, Memory: 0, Math: mathFMA},      // failed
		{Algo: 1, Status: 0, Memory: 1 << 40, Math: mathFMA},   // too much workspace
		{Algo: 6, Status: 0, Memory: 0, Math: mathTensorOp},    // Winograd on tensor cores
		{Algo: 0, Status: 0, Memory: 0, Math: mathTensorOp},    // implicit GEMM, tensor cores
		{Algo: 2, Status: 0, Memory: 100, Math: mathAllowConv}, // GEMM, conversion
		{Algo: 1, Status: 0, Memory: 100, Math: mathFMA},       // precomputed implicit GEMM, FMA
	}
	const limit = 1 << 30
	for _, c := range []struct {
		tf32   bool
		policy AlgoPolicy
		want   int // index into res
	}{
		{false, AlgoFind, 0},
		{true, AlgoFind, 0},
		{false, AlgoAccurate, 6},
		{true, AlgoAccurate, 4},
	} {
		got, ok := pickAlgo(dirFwd, res, c.tf32, c.policy, limit)
		if !ok || got != res[c.want] {
			t.Errorf("tf32=%v %v: picked %+v, want %+v", c.tf32, c.policy, got, res[c.want])
		}
	}
	if _, ok := pickAlgo(dirFwd, res[1:3], false, AlgoFind, limit); ok {
		t.Error("picked a failed or oversized algorithm")
	}
	if !inexactAlgo(dirBwdFilter, 6) || !inexactAlgo(dirBwdData, 5) || inexactAlgo(dirBwdFilter, 3) || inexactAlgo(dirFwd, 1) {
		t.Error("inexactAlgo")
	}
	if algoName(dirBwdFilter, 6) != "FFT_TILING" || algoName(dirFwd, 9) != "algo(9)" || mathName(mathFMA) != "FMA_MATH" {
		t.Error("names")
	}
	if (Options{}).workspaceLimit() != 1<<30 || (Options{WorkspaceLimit: 5}).workspaceLimit() != 5 {
		t.Error("workspace limit")
	}
}
