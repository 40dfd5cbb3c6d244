package gpu

import (
	"fmt"
	"strings"
	"unsafe"
)

// AlgoPolicy says how convolution algorithms are chosen.
type AlgoPolicy int

const (
	// AlgoFind benchmarks cuDNN's algorithms once per convolution shape (cudnnFind*) and takes
	// the fastest, like torch.backends.cudnn.benchmark = True.
	AlgoFind AlgoPolicy = iota
	// AlgoHeuristic takes cuDNN's heuristic choice (cudnnGet*_v7) without benchmarking, like
	// PyTorch's default.
	AlgoHeuristic
	// AlgoAccurate benchmarks like AlgoFind but leaves out the FFT and Winograd algorithms,
	// whose float32 rounding errors are larger.
	AlgoAccurate
)

func (p AlgoPolicy) String() string {
	switch p {
	case AlgoHeuristic:
		return "heuristic"
	case AlgoAccurate:
		return "accurate"
	}
	return "find"
}

// cuDNN's math types.
const (
	mathDefault   = 0
	mathTensorOp  = 1
	mathAllowConv = 2
	mathFMA       = 3
)

func mathName(m int) string {
	switch m {
	case mathDefault:
		return "DEFAULT_MATH"
	case mathTensorOp:
		return "TENSOR_OP_MATH"
	case mathAllowConv:
		return "TENSOR_OP_MATH_ALLOW_CONVERSION"
	case mathFMA:
		return "FMA_MATH"
	}
	return fmt.Sprintf("math(%d)", m)
}

type convDir int

const (
	dirFwd convDir = iota
	dirBwdData
	dirBwdFilter
)

func (d convDir) String() string { return [...]string{"fwd", "bwd-data", "bwd-filter"}[d] }

// algoNames are cuDNN's algorithm enums per direction.
var algoNames = [3][]string{
	{"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"},
	{"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"},
	{"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"},
}

func algoName(d convDir, a int) string {
	if a >= 0 && a < len(algoNames[d]) {
		return algoNames[d][a]
	}
	return fmt.Sprintf("algo(%d)", a)
}

// inexactAlgo reports the FFT and Winograd algorithms, which AlgoAccurate leaves out.
func inexactAlgo(d convDir, a int) bool {
	n := algoName(d, a)
	return strings.Contains(n, "FFT") || strings.Contains(n, "WINOGRAD")
}

// algoChoice is a chosen algorithm with its math type and workspace.
type algoChoice struct {
	Algo, Math int
	Workspace  uint64
	Time       float32
	How        string
}

// pickAlgo chooses from search results (sorted fastest first by cuDNN): a successful entry
// within the workspace limit, never a tensor-core math type when TF32 is off, and no FFT or
// Winograd algorithm for AlgoAccurate.
func pickAlgo(d convDir, res []perf, tf32 bool, policy AlgoPolicy, limit uint64) (perf, bool) {
	for _, r := range res {
		if r.Status != 0 || r.Memory > limit {
			continue
		}
		if !tf32 && (r.Math == mathTensorOp || r.Math == mathAllowConv) {
			continue
		}
		if policy == AlgoAccurate && inexactAlgo(d, r.Algo) {
			continue
		}
		return r, true
	}
	return perf{}, false
}

func describePerf(d convDir, res []perf) string {
	var b []string
	for _, r := range res {
		b = append(b, fmt.Sprintf("%s/%s status %d %.3fms %dB", algoName(d, r.Algo), mathName(r.Math), r.Status, r.Time, r.Memory))
	}
	return strings.Join(b, "; ")
}

// convDescs are the cuDNN descriptors of one convolution step.
type convDescs struct {
	x, y, w, conv, bias unsafe.Pointer
}

func (c *convDescs) destroy(a *api) {
	a.destroyTensor(c.x)
	a.destroyTensor(c.y)
	a.destroyFilter(c.w)
	a.destroyConv(c.conv)
	a.destroyTensor(c.bias)
	*c = convDescs{}
}

// newConvDescs creates the descriptors of a convolution and checks cuDNN's output size.
func (d *Device) newConvDescs(cp convParams, bias bool) (cd *convDescs, err error) {
	a := d.a
	cd = &convDescs{}
	defer func() {
		if err != nil {
			cd.destroy(a)
			cd = nil
		}
	}()
	if cd.x, err = a.tensorDesc(cp.N, cp.C, cp.H, cp.W); err != nil {
		return
	}
	if cd.y, err = a.tensorDesc(cp.N, cp.M, cp.OH, cp.OW); err != nil {
		return
	}
	if cd.w, err = a.filterDesc(cp.M, cp.Cg, cp.KH, cp.KW); err != nil {
		return
	}
	if cd.conv, err = a.convDesc(cp); err != nil {
		return
	}
	out, err := a.convOutDim(cd.conv, cd.x, cd.w)
	if err != nil {
		return cd, err
	}
	if out != [4]int{cp.N, cp.M, cp.OH, cp.OW} {
		return cd, fmt.Errorf("gpu: cuDNN computes the convolution's output as %v, tlkit as %v", out, [4]int{cp.N, cp.M, cp.OH, cp.OW})
	}
	if bias {
		cd.bias, err = a.tensorDesc(1, cp.M, 1, 1)
	}
	return cd, err
}

// chooseAlgo picks the algorithm of one direction of a convolution (cached per shape and
// options) and sets its math type on the descriptor.
func (d *Device) chooseAlgo(dir convDir, cp convParams, cd *convDescs, o Options) (algoChoice, error) {
	a := d.a
	limit := uint64(o.workspaceLimit())
	key := fmt.Sprintf("%v %+v tf32=%v %v %d", dir, cp, o.TF32, o.Algo, limit)
	baseMath := mathFMA
	if o.TF32 {
		baseMath = mathDefault
	}
	if err := a.setConvMath(cd.conv, baseMath); err != nil {
		return algoChoice{}, err
	}
	ch, cached := d.algos[key]
	if !cached {
		var find, get unsafe.Pointer
		var d1, d2, d3 unsafe.Pointer
		switch dir {
		case dirFwd:
			find, get, d1, d2, d3 = a.cudnnFindFwd, a.cudnnGetFwdV7, cd.x, cd.w, cd.y
		case dirBwdData:
			find, get, d1, d2, d3 = a.cudnnFindBwdData, a.cudnnGetBwdDataV7, cd.w, cd.y, cd.x
		default:
			find, get, d1, d2, d3 = a.cudnnFindBwdFilter, a.cudnnGetBwdFilterV7, cd.x, cd.y, cd.w
		}
		var tried []string
		var found bool
		var best perf
		if o.Algo != AlgoHeuristic {
			res, err := a.algoSearch("cudnnFindConvolution("+dir.String()+")", find, d.dnn, d1, d2, cd.conv, d3)
			if err != nil {
				tried = append(tried, err.Error())
			} else {
				best, found = pickAlgo(dir, res, o.TF32, o.Algo, limit)
				tried = append(tried, "find: "+describePerf(dir, res))
				ch.How = "find"
			}
		}
		if !found {
			res, err := a.algoSearch("cudnnGetConvolution_v7("+dir.String()+")", get, d.dnn, d1, d2, cd.conv, d3)
			if err != nil {
				tried = append(tried, err.Error())
			} else {
				best, found = pickAlgo(dir, res, o.TF32, o.Algo, limit)
				tried = append(tried, "heuristic: "+describePerf(dir, res))
				ch.How = "heuristic"
			}
		}
		if !found {
			return algoChoice{}, fmt.Errorf("gpu: no usable cuDNN %s algorithm for %+v (tf32=%v, workspace limit %d bytes): %s",
				dir, cp, o.TF32, limit, strings.Join(tried, " | "))
		}
		ch.Algo, ch.Time = best.Algo, best.Time
		// PyTorch sets the math type the search reported; with TF32 off, FMA math whatever the
		// entry says (tensor-op entries were skipped above).
		ch.Math = mathFMA
		if o.TF32 {
			ch.Math = best.Math
		}
	}
	if err := a.setConvMath(cd.conv, ch.Math); err != nil {
		return algoChoice{}, err
	}
	if !cached {
		var f unsafe.Pointer
		var d1, d2, d3 unsafe.Pointer
		switch dir {
		case dirFwd:
			f, d1, d2, d3 = a.cudnnWsFwd, cd.x, cd.w, cd.y
		case dirBwdData:
			f, d1, d2, d3 = a.cudnnWsBwdData, cd.w, cd.y, cd.x
		default:
			f, d1, d2, d3 = a.cudnnWsBwdFilter, cd.x, cd.y, cd.w
		}
		ws, err := a.workspace("cudnnGetConvolutionWorkspaceSize("+dir.String()+", "+algoName(dir, ch.Algo)+")", f, d.dnn, d1, d2, cd.conv, d3, ch.Algo)
		if err != nil {
			return algoChoice{}, err
		}
		ch.Workspace = ws
		d.algos[key] = ch
		d.logf("cuDNN %s N%d C%d %dx%d -> M%d %dx%d k%dx%d s%d p%d g%d tf32=%v: %s %s ws=%dB %.3fms (%s)", dir, cp.N, cp.C, cp.H, cp.W,
			cp.M, cp.OH, cp.OW, cp.KH, cp.KW, cp.StrideH, cp.PadH, cp.Groups, o.TF32, algoName(dir, ch.Algo), mathName(ch.Math), ch.Workspace, ch.Time, ch.How)
	}
	return ch, nil
}
