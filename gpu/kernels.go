package gpu

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// kernelSpecs lists every kernel of kernelSource with its parameter types, one letter each:
// p a device pointer, i an int, f a float. launch checks its arguments against them and a test
// checks them against the source.
var kernelSpecs = map[string]string{
	"tl_unary_fwd":    "ppiiffff",
	"tl_unary_bwd":    "ppppiiffff",
	"tl_binary_same":  "pppii",
	"tl_binary_bcast": "pppiiip",
	"tl_binary_grad":  "ppppiiip",
	"tl_reduce_to":    "ppifip",
	"tl_scale":        "ppif",
	"tl_bcast2":       "ppiiiif",
	"tl_bn_invstd":    "ppif",
	"tl_bn_dscale":    "pppppiii",
	"tl_bn_frozen_dx": "ppppiii",
	"tl_maxpool_fwd":  "ppiiiiiiiiiiiii",
	"tl_maxpool_bwd":  "pppiiiiiiiiiiiii",
	"tl_avgpool_fwd":  "ppiiiiiiiiiiiiii",
	"tl_avgpool_bwd":  "ppiiiiiiiiiiiiii",
	"tl_gap_fwd":      "ppii",
	"tl_gap_bwd":      "ppii",
	"tl_xent_fwd":     "pppiii",
	"tl_xent_bwd":     "ppppiii",
	"tl_softmax_fwd":  "ppiiii",
	"tl_softmax_bwd":  "pppiiii",
	"tl_adam":         "ppppifffffffi",
}

// Unary kinds, equal to ops.UnaryKind values (checked by a test). The later kinds (Elu, Selu,
// Softplus, Softsign, Abs) have no CUDA kernel yet: the plan refuses them by name.
const (
	kRelu = iota
	kLeakyRelu
	kSigmoid
	kTanh
	kClip
	kHardSigmoid
	kHardSwish
)

// kernelSource is the CUDA C of tlkit's own kernels, compiled once per device by NVRTC for the
// device's architecture with --fmad=false, so that element-wise arithmetic rounds like the Go
// reference (no fused multiply-adds). Reductions accumulate in double, like the CPU engine.
// All kernels use grid-stride loops; block-reducing kernels must be launched with 256 threads.
const kernelSource = `
#define TL_NAN __int_as_float(0x7fc00000)
#define TL_NEG_INF __int_as_float(0xff800000)
#define TL_DNAN __longlong_as_double(0x7ff8000000000000LL)
#define TL_DNEG_INF __longlong_as_double(0xfff0000000000000LL)
#define TL_LOOP(i, n) for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); i += (long long)blockDim.x * gridDim.x)

// Block-wide sum and max of one double per thread; blockDim.x must be 256.
__device__ double tl_block_sum(double v, double* sh) {
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
	double r = sh[0];
	__syncthreads();
	return r;
}

__device__ double tl_block_max(double v, double* sh) {
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] = fmax(sh[threadIdx.x], sh[threadIdx.x + w]);
		__syncthreads();
	}
	double r = sh[0];
	__syncthreads();
	return r;
}

// ---- element-wise activations (kinds as ops.UnaryKind) ----
extern "C" __global__ void tl_unary_fwd(const float* x, float* y, int n, int kind, float alpha, float beta, float lo, float hi) {
	TL_LOOP(i, n) {
		float v = x[i], r;
		switch (kind) {
		case 0: r = v > 0.0f ? v : 0.0f; break;
		case 1: r = v < 0.0f ? alpha * v : v; break;
		case 2:
			if (v >= 0.0f) { r = 1.0f / (1.0f + expf(-v)); } else { float e = expf(v); r = e / (1.0f + e); }
			break;
		case 3: r = tanhf(v); break;
		case 4: r = fminf(fmaxf(v, lo), hi); break;
		case 5: r = fmaxf(0.0f, fminf(1.0f, alpha * v + beta)); break;
		case 6: r = v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f)); break;
		default: r = TL_NAN;
		}
		y[i] = r;
	}
}

// dx = dy * f'(x); tanh and sigmoid use y = f(x).
extern "C" __global__ void tl_unary_bwd(const float* x, const float* y, const float* dy, float* dx, int n, int kind,
	float alpha, float beta, float lo, float hi) {
	TL_LOOP(i, n) {
		float v = x[i], g = dy[i], r;
		switch (kind) {
		case 0: r = v > 0.0f ? g : 0.0f; break;
		case 1: r = g * (v > 0.0f ? 1.0f : alpha); break;
		case 2: r = g * y[i] * (1.0f - y[i]); break;
		case 3: r = g * (1.0f - y[i] * y[i]); break;
		case 4: r = g * ((v > lo && v < hi) ? 1.0f : 0.0f); break;
		case 5: { float t = alpha * v + beta; r = g * ((t > 0.0f && t < 1.0f) ? alpha : 0.0f); break; }
		case 6: r = g * (v < -3.0f ? 0.0f : (v > 3.0f ? 1.0f : v / 3.0f + 0.5f)); break;
		default: r = TL_NAN;
		}
		dx[i] = r;
	}
}

// ---- arithmetic: kind 0 add, 1 sub, 2 mul, 3 div ----
__device__ __forceinline__ float tl_apply2(int k, float a, float b) {
	switch (k) {
	case 0: return a + b;
	case 1: return a - b;
	case 2: return a * b;
	}
	return a / b;
}

extern "C" __global__ void tl_binary_same(const float* a, const float* b, float* y, int n, int kind) {
	TL_LOOP(i, n) { y[i] = tl_apply2(kind, a[i], b[i]); }
}

// meta: dims[rank] of y, then a's and b's strides along y's axes (0 where broadcast).
extern "C" __global__ void tl_binary_bcast(const float* a, const float* b, float* y, int n, int kind, int rank, const int* meta) {
	TL_LOOP(i, n) {
		long long r = i, ia = 0, ib = 0;
		for (int d = rank - 1; d >= 0; d--) {
			int dim = meta[d];
			long long c = r % dim;
			r /= dim;
			ia += c * meta[rank + d];
			ib += c * meta[2 * rank + d];
		}
		y[i] = tl_apply2(kind, a[ia], b[ib]);
	}
}

// The element-wise part of Mul's and Div's gradients at the output's size (meta as above):
// mode 0: dy*b, 1: dy*a, 2: dy/b, 3: -(a/b)/b*dy.
extern "C" __global__ void tl_binary_grad(const float* a, const float* b, const float* dy, float* t, int n, int mode, int rank, const int* meta) {
	TL_LOOP(i, n) {
		long long r = i, ia = 0, ib = 0;
		for (int d = rank - 1; d >= 0; d--) {
			int dim = meta[d];
			long long c = r % dim;
			r /= dim;
			ia += c * meta[rank + d];
			ib += c * meta[2 * rank + d];
		}
		float g = dy[i], av = a[ia], bv = b[ib], v;
		switch (mode) {
		case 0: v = g * bv; break;
		case 1: v = g * av; break;
		case 2: v = g / bv; break;
		default: { float q = av / bv; q = q / bv; v = -q * g; }
		}
		t[i] = v;
	}
}

// y[j] = scale * (float)(sum of x over the reduced axes), one block of 256 threads per output.
// meta: x's dims[rank], x's row-major strides[rank], reduced[rank] (1 = summed away).
extern "C" __global__ void tl_reduce_to(const float* x, float* y, int nout, float scale, int rank, const int* meta) {
	__shared__ double sh[256];
	for (int j = blockIdx.x; j < nout; j += gridDim.x) {
		long long r = j, base = 0, rn = 1;
		for (int d = rank - 1; d >= 0; d--) {
			if (meta[2 * rank + d]) { rn *= meta[d]; continue; }
			int dim = meta[d];
			long long c = r % dim;
			r /= dim;
			base += c * meta[rank + d];
		}
		double s = 0.0;
		for (long long t = threadIdx.x; t < rn; t += blockDim.x) {
			long long q = t, off = base;
			for (int d = rank - 1; d >= 0; d--) {
				if (!meta[2 * rank + d]) continue;
				int dim = meta[d];
				long long c = q % dim;
				q /= dim;
				off += c * meta[rank + d];
			}
			s += (double)x[off];
		}
		s = tl_block_sum(s, sh);
		if (threadIdx.x == 0) y[j] = scale * (float)s;
	}
}

extern "C" __global__ void tl_scale(const float* x, float* y, int n, float s) {
	TL_LOOP(i, n) { y[i] = s * x[i]; }
}

// y (m×n) = scale * c broadcast with strides s0, s1 (Gemm's C).
extern "C" __global__ void tl_bcast2(const float* c, float* y, int m, int n, int s0, int s1, float scale) {
	TL_LOOP(i, (long long)m * n) {
		long long r = i / n, q = i % n;
		y[i] = scale * c[r * s0 + q * s1];
	}
}

// ---- batch normalisation helpers (cuDNN does the training-mode passes) ----
extern "C" __global__ void tl_bn_invstd(const float* var, float* out, int c, float eps) {
	TL_LOOP(i, c) { out[i] = (float)(1.0 / sqrt((double)var[i] + (double)eps)); }
}

// out[c] = sum over n, p of dy * (x - mean[c]) * invstd[c]; one block of 256 threads per channel.
extern "C" __global__ void tl_bn_dscale(const float* x, const float* dy, const float* mean, const float* invstd, float* out,
	int N, int C, int P) {
	__shared__ double sh[256];
	for (int c = blockIdx.x; c < C; c += gridDim.x) {
		double m = mean[c], is = invstd[c], s = 0.0;
		long long cnt = (long long)N * P;
		for (long long t = threadIdx.x; t < cnt; t += blockDim.x) {
			long long b = t / P, j = t - b * P;
			long long off = (b * C + c) * P + j;
			s += (double)dy[off] * (((double)x[off] - m) * is);
		}
		s = tl_block_sum(s, sh);
		if (threadIdx.x == 0) out[c] = (float)s;
	}
}

// Inference-mode BatchNorm's input gradient: dx = dy * scale[c] * invstd[c].
extern "C" __global__ void tl_bn_frozen_dx(const float* dy, const float* scale, const float* invstd, float* dx, int n, int C, int P) {
	TL_LOOP(i, n) {
		int c = (int)((i / P) % C);
		dx[i] = dy[i] * (scale[c] * invstd[c]);
	}
}

// ---- pooling (exact ONNX/tlkit semantics: pads, dilations, ceil-mode windows) ----
__device__ __forceinline__ int tl_argmax(const float* xp, int H, int W, int oh, int ow, int KH, int KW,
	int SH, int SW, int DH, int DW, int PT, int PL, float* best) {
	float b = TL_NEG_INF;
	int at = -1;
	for (int i = 0; i < KH; i++) {
		int ih = oh * SH - PT + i * DH;
		if (ih < 0 || ih >= H) continue;
		for (int j = 0; j < KW; j++) {
			int iw = ow * SW - PL + j * DW;
			if (iw < 0 || iw >= W) continue;
			float v = xp[ih * W + iw];
			if (v > b || at < 0) { b = v; at = ih * W + iw; }
		}
	}
	*best = b;
	return at;
}

extern "C" __global__ void tl_maxpool_fwd(const float* x, float* y, int planes, int H, int W, int OH, int OW,
	int KH, int KW, int SH, int SW, int DH, int DW, int PT, int PL) {
	TL_LOOP(idx, (long long)planes * OH * OW) {
		int ow = (int)(idx % OW);
		long long t = idx / OW;
		int oh = (int)(t % OH);
		long long p = t / OH;
		float b;
		tl_argmax(x + p * H * W, H, W, oh, ow, KH, KW, SH, SW, DH, DW, PT, PL, &b);
		y[idx] = b;
	}
}

// Each input element gathers dy from the windows whose first maximum it is, in output order.
extern "C" __global__ void tl_maxpool_bwd(const float* x, const float* dy, float* dx, int planes, int H, int W, int OH, int OW,
	int KH, int KW, int SH, int SW, int DH, int DW, int PT, int PL) {
	TL_LOOP(idx, (long long)planes * H * W) {
		int iw = (int)(idx % W);
		long long t = idx / W;
		int ih = (int)(t % H);
		long long p = t / H;
		const float* xp = x + p * H * W;
		const float* dyp = dy + p * OH * OW;
		float acc = 0.0f, b;
		for (int i = KH - 1; i >= 0; i--) {
			int th = ih + PT - i * DH;
			if (th < 0 || th % SH != 0) continue;
			int oh = th / SH;
			if (oh >= OH) continue;
			for (int j = KW - 1; j >= 0; j--) {
				int tw = iw + PL - j * DW;
				if (tw < 0 || tw % SW != 0) continue;
				int ow = tw / SW;
				if (ow >= OW) continue;
				if (tl_argmax(xp, H, W, oh, ow, KH, KW, SH, SW, DH, DW, PT, PL, &b) == ih * W + iw) acc += dyp[oh * OW + ow];
			}
		}
		dx[idx] = acc;
	}
}

// The clipped window of output (oh, ow) and its divisor, as ops.PoolGeom.avgWindow.
__device__ __forceinline__ int tl_avg_window(int oh, int ow, int H, int W, int KH, int KW, int SH, int SW,
	int PT, int PL, int PB, int PR, int inc, int* h0, int* h1, int* w0, int* w1) {
	int a0 = oh * SH - PT, b0 = ow * SW - PL;
	int a1 = min(a0 + KH, H + PB), b1 = min(b0 + KW, W + PR);
	int padded = (a1 - a0) * (b1 - b0);
	a0 = max(a0, 0); b0 = max(b0, 0);
	a1 = min(a1, H); b1 = min(b1, W);
	*h0 = a0; *h1 = a1; *w0 = b0; *w1 = b1;
	return inc ? padded : (a1 - a0) * (b1 - b0);
}

extern "C" __global__ void tl_avgpool_fwd(const float* x, float* y, int planes, int H, int W, int OH, int OW,
	int KH, int KW, int SH, int SW, int PT, int PL, int PB, int PR, int inc) {
	TL_LOOP(idx, (long long)planes * OH * OW) {
		int ow = (int)(idx % OW);
		long long t = idx / OW;
		int oh = (int)(t % OH);
		long long p = t / OH;
		int h0, h1, w0, w1;
		int div = tl_avg_window(oh, ow, H, W, KH, KW, SH, SW, PT, PL, PB, PR, inc, &h0, &h1, &w0, &w1);
		if (div == 0) { y[idx] = 0.0f; continue; }
		const float* xp = x + p * H * W;
		double s = 0.0;
		for (int i = h0; i < h1; i++)
			for (int j = w0; j < w1; j++) s += (double)xp[i * W + j];
		y[idx] = (float)(s / (double)div);
	}
}

// Each input element gathers dy/div from the windows containing it, in output order.
extern "C" __global__ void tl_avgpool_bwd(const float* dy, float* dx, int planes, int H, int W, int OH, int OW,
	int KH, int KW, int SH, int SW, int PT, int PL, int PB, int PR, int inc) {
	TL_LOOP(idx, (long long)planes * H * W) {
		int iw = (int)(idx % W);
		long long t = idx / W;
		int ih = (int)(t % H);
		long long p = t / H;
		const float* dyp = dy + p * OH * OW;
		int lo = ih + PT - KH + 1, ohLo = lo <= 0 ? 0 : (lo + SH - 1) / SH, ohHi = min((ih + PT) / SH, OH - 1);
		int lw = iw + PL - KW + 1, owLo = lw <= 0 ? 0 : (lw + SW - 1) / SW, owHi = min((iw + PL) / SW, OW - 1);
		float acc = 0.0f;
		for (int oh = ohLo; oh <= ohHi; oh++) {
			for (int ow = owLo; ow <= owHi; ow++) {
				int h0, h1, w0, w1;
				int div = tl_avg_window(oh, ow, H, W, KH, KW, SH, SW, PT, PL, PB, PR, inc, &h0, &h1, &w0, &w1);
				if (div == 0 || ih < h0 || ih >= h1 || iw < w0 || iw >= w1) continue;
				acc += dyp[oh * OW + ow] / (float)div;
			}
		}
		dx[idx] = acc;
	}
}

// Global average pool: one warp per plane.
extern "C" __global__ void tl_gap_fwd(const float* x, float* y, int planes, int P) {
	long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
	long long nw = ((long long)gridDim.x * blockDim.x) >> 5;
	int lane = threadIdx.x & 31;
	for (long long p = warp; p < planes; p += nw) {
		double s = 0.0;
		for (int j = lane; j < P; j += 32) s += (double)x[p * P + j];
		for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
		if (lane == 0) y[p] = (float)(s / (double)P);
	}
}

extern "C" __global__ void tl_gap_bwd(const float* dy, float* dx, int planes, int P) {
	TL_LOOP(i, (long long)planes * P) { dx[i] = dy[i / P] / (float)P; }
}

// ---- softmax cross-entropy (labels stored as floats) ----
__device__ __forceinline__ int tl_label(const float* lab, int i, int K) {
	float f = lab[i];
	int c = (int)f;
	if ((float)c != f || c < 0 || c >= K) return -1;
	return c;
}

// out[0] = mean (or sum) over rows of logsumexp(z) - z[label]; one block of 256 threads.
extern "C" __global__ void tl_xent_fwd(const float* z, const float* lab, float* out, int N, int K, int sum) {
	__shared__ double sh[256];
	double acc = 0.0;
	for (int i = threadIdx.x; i < N; i += blockDim.x) {
		const float* row = z + (long long)i * K;
		double mx = TL_DNEG_INF;
		for (int k = 0; k < K; k++) mx = fmax(mx, (double)row[k]);
		double s = 0.0;
		for (int k = 0; k < K; k++) s += exp((double)row[k] - mx);
		int c = tl_label(lab, i, K);
		acc += c < 0 ? TL_DNAN : mx + log(s) - (double)row[c];
	}
	acc = tl_block_sum(acc, sh);
	if (threadIdx.x == 0) out[0] = (float)(sum ? acc : acc / (double)N);
}

// dz = g * (softmax(z) - onehot(label)) [/ N]; one block of 256 threads per row.
extern "C" __global__ void tl_xent_bwd(const float* z, const float* lab, const float* g, float* dz, int N, int K, int sum) {
	__shared__ double sh[256];
	for (int i = blockIdx.x; i < N; i += gridDim.x) {
		const float* row = z + (long long)i * K;
		float* drow = dz + (long long)i * K;
		double mx = TL_DNEG_INF;
		for (int k = threadIdx.x; k < K; k += blockDim.x) mx = fmax(mx, (double)row[k]);
		mx = tl_block_max(mx, sh);
		double s = 0.0;
		for (int k = threadIdx.x; k < K; k += blockDim.x) s += exp((double)row[k] - mx);
		s = tl_block_sum(s, sh);
		double scale = (double)g[0];
		if (!sum) scale /= (double)N;
		int c = tl_label(lab, i, K);
		for (int k = threadIdx.x; k < K; k += blockDim.x) {
			double p = exp((double)row[k] - mx) / s;
			if (k == c) p -= 1.0;
			drow[k] = c < 0 ? TL_NAN : (float)(p * scale);
		}
	}
}

// Softmax or log-softmax along an axis: rows = outer*inner, n values with stride inner.
extern "C" __global__ void tl_softmax_fwd(const float* x, float* y, int outer, int n, int inner, int logm) {
	TL_LOOP(r, (long long)outer * inner) {
		long long base = (r / inner) * (long long)n * inner + r % inner;
		double mx = TL_DNEG_INF;
		for (int k = 0; k < n; k++) mx = fmax(mx, (double)x[base + (long long)k * inner]);
		double s = 0.0;
		for (int k = 0; k < n; k++) s += exp((double)x[base + (long long)k * inner] - mx);
		double ls = log(s);
		for (int k = 0; k < n; k++) {
			long long o = base + (long long)k * inner;
			double v = (double)x[o] - mx - ls;
			y[o] = logm ? (float)v : (float)exp(v);
		}
	}
}

extern "C" __global__ void tl_softmax_bwd(const float* y, const float* dy, float* dx, int outer, int n, int inner, int logm) {
	TL_LOOP(r, (long long)outer * inner) {
		long long base = (r / inner) * (long long)n * inner + r % inner;
		double s = 0.0;
		for (int k = 0; k < n; k++) {
			long long o = base + (long long)k * inner;
			s += logm ? (double)dy[o] : (double)dy[o] * (double)y[o];
		}
		for (int k = 0; k < n; k++) {
			long long o = base + (long long)k * inner;
			dx[o] = logm ? (float)((double)dy[o] - exp((double)y[o]) * s) : (float)((double)y[o] * ((double)dy[o] - s));
		}
	}
}

// ---- Adam, PyTorch's rule, exactly as optim.Adam.Update computes it in float32 ----
extern "C" __global__ void tl_adam(float* w, const float* g, float* m, float* v, int n, float stepSize, float b1, float b2,
	float eps, float inv, float wd, float decay, int decoupled) {
	TL_LOOP(i, n) {
		float gi = g[i], wi = w[i];
		if (wd != 0.0f) {
			if (decoupled) wi *= decay; else gi += wd * wi;
		}
		float g2 = (gi > 1e-15f || gi < -1e-15f) ? gi * gi : 0.0f;
		float mi = b1 * m[i] + (1.0f - b1) * gi;
		if (mi < 1e-30f && mi > -1e-30f) mi = 0.0f;
		float vi = b2 * v[i] + (1.0f - b2) * g2;
		if (vi < 1e-30f) vi = 0.0f;
		m[i] = mi;
		v[i] = vi;
		float denom = sqrtf(vi) * inv + eps;
		w[i] = wi - stepSize * mi / denom;
	}
}
`

// kernelDecl matches a kernel declaration of the source.
var kernelDecl = regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)

// parseKernels returns each kernel of src with its parameter letters.
func parseKernels(src string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		var sig strings.Builder
		for _, p := range strings.Split(m[2], ",") {
			p = strings.Join(strings.Fields(p), " ")
			fs := strings.Fields(p)
			if len(fs) < 2 {
				return nil, fmt.Errorf("kernel %s: cannot parse parameter %q", m[1], p)
			}
			typ := strings.Join(fs[:len(fs)-1], " ")
			switch {
			case strings.HasSuffix(typ, "*") || strings.HasPrefix(fs[len(fs)-1], "*"):
				sig.WriteByte('p')
			case typ == "int":
				sig.WriteByte('i')
			case typ == "float":
				sig.WriteByte('f')
			default:
				return nil, fmt.Errorf("kernel %s: parameter type %q is not supported by launch", m[1], typ)
			}
		}
		if _, dup := out[m[1]]; dup {
			return nil, fmt.Errorf("kernel %s is defined twice", m[1])
		}
		out[m[1]] = sig.String()
	}
	return out, nil
}

// kernelNames lists the kernels in a stable order.
func kernelNames() []string {
	var n []string
	for k := range kernelSpecs {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// nvrtcOptions are the compile options for a device of compute capability major.minor.
func nvrtcOptions(major, minor int) []string {
	return []string{fmt.Sprintf("--gpu-architecture=sm_%d%d", major, minor), "--fmad=false"}
}
