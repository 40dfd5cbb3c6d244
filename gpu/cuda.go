package gpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>

// No CUDA header is used: handles are opaque pointers, enums are ints with their documented
// values, and every entry point is called through a pointer obtained with dlsym.
typedef int CUresult;
typedef unsigned long long CUdeviceptr;

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t share this layout.
typedef struct {
	int algo;
	int status;
	float time;
	size_t memory;
	int determinism;
	int mathType;
	int reserved[3];
} tl_perf;

static void* tl_dlopen(const char* path, int global) {
	return dlopen(path, RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL));
}
static const char* tl_dlerror(void) { return dlerror(); }
static void* tl_dlsym(void* h, const char* name) { return dlsym(h, name); }

#define DP(p) ((void*)(uintptr_t)(p))

// cuDNN enum values: CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, CUDNN_CROSS_CORRELATION,
// CUDNN_BATCHNORM_SPATIAL.
#define TL_NCHW 0
#define TL_FLOAT 0
#define TL_CROSS_CORRELATION 1
#define TL_BN_SPATIAL 1

// ---- driver API ----
static CUresult tl_cuInit(void* f, unsigned flags) { return ((CUresult(*)(unsigned))f)(flags); }
static CUresult tl_cuDriverGetVersion(void* f, int* v) { return ((CUresult(*)(int*))f)(v); }
static CUresult tl_cuDeviceGetCount(void* f, int* n) { return ((CUresult(*)(int*))f)(n); }
static CUresult tl_cuDeviceGet(void* f, int* dev, int ordinal) { return ((CUresult(*)(int*, int))f)(dev, ordinal); }
static CUresult tl_cuDeviceGetName(void* f, char* name, int len, int dev) { return ((CUresult(*)(char*, int, int))f)(name, len, dev); }
static CUresult tl_cuDeviceGetAttribute(void* f, int* v, int attr, int dev) { return ((CUresult(*)(int*, int, int))f)(v, attr, dev); }
static CUresult tl_cuDeviceTotalMem(void* f, size_t* b, int dev) { return ((CUresult(*)(size_t*, int))f)(b, dev); }
static void* tl_cuDevicePrimaryCtxRetain(void* f, int dev, CUresult* r) {
	void* ctx = 0;
	*r = ((CUresult(*)(void**, int))f)(&ctx, dev);
	return ctx;
}
static CUresult tl_cuDevicePrimaryCtxRelease(void* f, int dev) { return ((CUresult(*)(int))f)(dev); }
static CUresult tl_cuCtxSetCurrent(void* f, void* ctx) { return ((CUresult(*)(void*))f)(ctx); }
static CUresult tl_cuCtxSynchronize(void* f) { return ((CUresult(*)(void))f)(); }
static CUresult tl_cuMemAlloc(void* f, CUdeviceptr* p, size_t bytes) { return ((CUresult(*)(CUdeviceptr*, size_t))f)(p, bytes); }
static CUresult tl_cuMemFree(void* f, CUdeviceptr p) { return ((CUresult(*)(CUdeviceptr))f)(p); }
static CUresult tl_cuMemcpyHtoD(void* f, CUdeviceptr dst, const void* src, size_t bytes) {
	return ((CUresult(*)(CUdeviceptr, const void*, size_t))f)(dst, src, bytes);
}
static CUresult tl_cuMemcpyDtoH(void* f, void* dst, CUdeviceptr src, size_t bytes) {
	return ((CUresult(*)(void*, CUdeviceptr, size_t))f)(dst, src, bytes);
}
static CUresult tl_cuMemsetD32(void* f, CUdeviceptr p, unsigned v, size_t n) {
	return ((CUresult(*)(CUdeviceptr, unsigned, size_t))f)(p, v, n);
}
static CUresult tl_cuMemGetInfo(void* f, size_t* fr, size_t* total) { return ((CUresult(*)(size_t*, size_t*))f)(fr, total); }
static void* tl_cuModuleLoadData(void* f, const void* image, CUresult* r) {
	void* m = 0;
	*r = ((CUresult(*)(void**, const void*))f)(&m, image);
	return m;
}
static void* tl_cuModuleGetFunction(void* f, void* mod, const char* name, CUresult* r) {
	void* fn = 0;
	*r = ((CUresult(*)(void**, void*, const char*))f)(&fn, mod, name);
	return fn;
}
static CUresult tl_cuModuleUnload(void* f, void* mod) { return ((CUresult(*)(void*))f)(mod); }
// Launches on the legacy default stream (0). Each kernel argument is read from its own 8-byte
// slot: pointers use all 8 bytes, int and float the low 4 (little-endian).
static CUresult tl_cuLaunchKernel(void* f, void* fn, unsigned gx, unsigned gy, unsigned gz,
	unsigned bx, unsigned by, unsigned bz, unsigned shmem, int nargs, unsigned long long* slots) {
	void* params[32];
	if (nargs > 32) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = &slots[i];
	return ((CUresult(*)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**))f)(
		fn, gx, gy, gz, bx, by, bz, shmem, (void*)0, params, (void**)0);
}
static const char* tl_cuErrorName(void* f, CUresult r) {
	const char* s = 0;
	if (f == 0 || ((CUresult(*)(CUresult, const char**))f)(r, &s) != 0) return 0;
	return s;
}

// ---- NVRTC ----
static int tl_nvrtcVersion(void* f, int* major, int* minor) { return ((int(*)(int*, int*))f)(major, minor); }
static void* tl_nvrtcCreateProgram(void* f, const char* src, const char* name, int* r) {
	void* p = 0;
	*r = ((int(*)(void**, const char*, const char*, int, const char* const*, const char* const*))f)(&p, src, name, 0, 0, 0);
	return p;
}
static int tl_nvrtcCompileProgram(void* f, void* prog, int n, char** opts) {
	return ((int(*)(void*, int, const char* const*))f)(prog, n, (const char* const*)opts);
}
static int tl_nvrtcGetSize(void* f, void* prog, size_t* n) { return ((int(*)(void*, size_t*))f)(prog, n); }
static int tl_nvrtcGetBytes(void* f, void* prog, char* out) { return ((int(*)(void*, char*))f)(prog, out); }
static int tl_nvrtcDestroyProgram(void* f, void* prog) {
	void* p = prog;
	return ((int(*)(void**))f)(&p);
}
static const char* tl_nvrtcErrorString(void* f, int r) { return f ? ((const char*(*)(int))f)(r) : 0; }

// ---- cuBLAS ----
static void* tl_cublasCreate(void* f, int* r) {
	void* h = 0;
	*r = ((int(*)(void**))f)(&h);
	return h;
}
static int tl_cublasDestroy(void* f, void* h) { return ((int(*)(void*))f)(h); }
static int tl_cublasGetVersion(void* f, void* h, int* v) { return ((int(*)(void*, int*))f)(h, v); }
static int tl_cublasSetMathMode(void* f, void* h, int mode) { return ((int(*)(void*, int))f)(h, mode); }
static int tl_cublasSgemm(void* f, void* h, int ta, int tb, int m, int n, int k, float alpha,
	CUdeviceptr a, int lda, CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
	return ((int(*)(void*, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*, float*, int))f)(
		h, ta, tb, m, n, k, &alpha, (const float*)DP(a), lda, (const float*)DP(b), ldb, &beta, (float*)DP(c), ldc);
}
static const char* tl_cublasStatusString(void* f, int r) { return f ? ((const char*(*)(int))f)(r) : 0; }

// ---- cuDNN ----
static size_t tl_cudnnGetVersion(void* f) { return ((size_t(*)(void))f)(); }
static const char* tl_cudnnErrorString(void* f, int r) { return f ? ((const char*(*)(int))f)(r) : 0; }
static void* tl_cudnnCreateHandle(void* f, int* r) {
	void* h = 0;
	*r = ((int(*)(void**))f)(&h);
	return h;
}
static int tl_cudnnDestroy(void* f, void* h) { return ((int(*)(void*))f)(h); }
static int tl_cudnnSetTensor4d(void* f, void* d, int n, int c, int h, int w) {
	return ((int(*)(void*, int, int, int, int, int, int))f)(d, TL_NCHW, TL_FLOAT, n, c, h, w);
}
static int tl_cudnnSetFilter4d(void* f, void* d, int k, int c, int h, int w) {
	return ((int(*)(void*, int, int, int, int, int, int))f)(d, TL_FLOAT, TL_NCHW, k, c, h, w);
}
static int tl_cudnnSetConv2d(void* f, void* d, int ph, int pw, int sh, int sw, int dh, int dw) {
	return ((int(*)(void*, int, int, int, int, int, int, int, int))f)(d, ph, pw, sh, sw, dh, dw, TL_CROSS_CORRELATION, TL_FLOAT);
}
static int tl_cudnnSetInt(void* f, void* d, int v) { return ((int(*)(void*, int))f)(d, v); }
static int tl_cudnnDestroyDesc(void* f, void* d) { return ((int(*)(void*))f)(d); }
static int tl_cudnnConvOutDim(void* f, void* conv, void* x, void* w, int* n, int* c, int* h, int* ww) {
	return ((int(*)(void*, void*, void*, int*, int*, int*, int*))f)(conv, x, w, n, c, h, ww);
}
// Find and Get_v7 share one signature for the three directions: (handle, d1, d2, conv, d3,
// requested, returned*, perf*).
static int tl_cudnnAlgoSearch(void* f, void* h, void* d1, void* d2, void* conv, void* d3, int req, int* ret, tl_perf* perf) {
	return ((int(*)(void*, void*, void*, void*, void*, int, int*, tl_perf*))f)(h, d1, d2, conv, d3, req, ret, perf);
}
// The three workspace-size queries: (handle, d1, d2, conv, d3, algo, size*).
static int tl_cudnnWorkspace(void* f, void* h, void* d1, void* d2, void* conv, void* d3, int algo, size_t* size) {
	return ((int(*)(void*, void*, void*, void*, void*, int, size_t*))f)(h, d1, d2, conv, d3, algo, size);
}
// The three convolutions: (handle, alpha*, d1, p1, d2, p2, conv, algo, ws, wsSize, beta*, d3, p3).
static int tl_cudnnConv(void* f, void* h, void* d1, CUdeviceptr p1, void* d2, CUdeviceptr p2, void* conv, int algo,
	CUdeviceptr ws, size_t wsSize, float beta, void* d3, CUdeviceptr p3) {
	float alpha = 1.0f;
	return ((int(*)(void*, const void*, void*, const void*, void*, const void*, void*, int, void*, size_t, const void*, void*, void*))f)(
		h, &alpha, d1, DP(p1), d2, DP(p2), conv, algo, DP(ws), wsSize, &beta, d3, DP(p3));
}
static int tl_cudnnAddTensor(void* f, void* h, void* ad, CUdeviceptr a, void* cd, CUdeviceptr c) {
	float one = 1.0f;
	return ((int(*)(void*, const void*, void*, const void*, const void*, void*, void*))f)(h, &one, ad, DP(a), &one, cd, DP(c));
}
static int tl_cudnnBNTrain(void* f, void* h, void* xd, CUdeviceptr x, CUdeviceptr y, void* bd, CUdeviceptr scale, CUdeviceptr bias,
	double factor, CUdeviceptr rmean, CUdeviceptr rvar, double eps, CUdeviceptr smean, CUdeviceptr sinv) {
	float one = 1.0f, zero = 0.0f;
	return ((int(*)(void*, int, const void*, const void*, void*, const void*, void*, void*, void*, const void*, const void*,
		double, void*, void*, double, void*, void*))f)(h, TL_BN_SPATIAL, &one, &zero, xd, DP(x), xd, DP(y), bd, DP(scale), DP(bias),
		factor, DP(rmean), DP(rvar), eps, DP(smean), DP(sinv));
}
static int tl_cudnnBNInfer(void* f, void* h, void* xd, CUdeviceptr x, CUdeviceptr y, void* bd, CUdeviceptr scale, CUdeviceptr bias,
	CUdeviceptr mean, CUdeviceptr var, double eps) {
	float one = 1.0f, zero = 0.0f;
	return ((int(*)(void*, int, const void*, const void*, void*, const void*, void*, void*, void*, const void*, const void*,
		const void*, const void*, double))f)(h, TL_BN_SPATIAL, &one, &zero, xd, DP(x), xd, DP(y), bd, DP(scale), DP(bias), DP(mean), DP(var), eps);
}
static int tl_cudnnBNBackward(void* f, void* h, void* xd, CUdeviceptr x, CUdeviceptr dy, CUdeviceptr dx, void* bd,
	CUdeviceptr scale, CUdeviceptr dscale, CUdeviceptr dbias, double eps, CUdeviceptr smean, CUdeviceptr sinv) {
	float one = 1.0f, zero = 0.0f;
	return ((int(*)(void*, int, const void*, const void*, const void*, const void*, void*, const void*, void*, const void*,
		void*, void*, void*, const void*, void*, void*, double, const void*, const void*))f)(h, TL_BN_SPATIAL, &one, &zero, &one, &zero,
		xd, DP(x), xd, DP(dy), xd, DP(dx), bd, DP(scale), DP(dscale), DP(dbias), eps, DP(smean), DP(sinv));
}
static void* tl_cudnnCreateDesc(void* f, int* r) {
	void* d = 0;
	*r = ((int(*)(void**))f)(&d);
	return d;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// api holds the entry points of the loaded libraries.
type api struct {
	paths map[string]string // library key -> path or soname that was loaded
	notes []string          // preload failures and other loader remarks

	// driver
	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
	cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent, cuCtxSynchronize,
	cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH, cuMemsetD32, cuMemGetInfo, cuModuleLoadData,
	cuModuleGetFunction, cuModuleUnload, cuLaunchKernel, cuGetErrorName unsafe.Pointer
	// NVRTC
	nvrtcVersion, nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetProgramLogSize, nvrtcGetProgramLog,
	nvrtcGetCUBINSize, nvrtcGetCUBIN, nvrtcDestroyProgram, nvrtcGetErrorString unsafe.Pointer
	// cuBLAS
	cublasCreate, cublasDestroy, cublasGetVersion, cublasSetMathMode, cublasSgemm, cublasGetStatusString unsafe.Pointer
	// cuDNN
	cudnnGetVersion, cudnnGetErrorString, cudnnCreate, cudnnDestroy,
	cudnnCreateTensorDescriptor, cudnnSetTensor4dDescriptor, cudnnDestroyTensorDescriptor,
	cudnnCreateFilterDescriptor, cudnnSetFilter4dDescriptor, cudnnDestroyFilterDescriptor,
	cudnnCreateConvolutionDescriptor, cudnnSetConvolution2dDescriptor, cudnnSetConvolutionGroupCount,
	cudnnSetConvolutionMathType, cudnnDestroyConvolutionDescriptor, cudnnGetConvolution2dForwardOutputDim,
	cudnnFindFwd, cudnnFindBwdData, cudnnFindBwdFilter, cudnnGetFwdV7, cudnnGetBwdDataV7, cudnnGetBwdFilterV7,
	cudnnWsFwd, cudnnWsBwdData, cudnnWsBwdFilter, cudnnConvFwd, cudnnConvBwdData, cudnnConvBwdFilter,
	cudnnAddTensor, cudnnBNTrain, cudnnBNInfer, cudnnBNBackward unsafe.Pointer
}

// symbols maps each library key to its entry points: exported name -> field; a name starting
// with '?' is optional.
func (a *api) symbols() map[string][]symRef {
	return map[string][]symRef{
		"cuda": {
			{"cuInit", &a.cuInit}, {"cuDriverGetVersion", &a.cuDriverGetVersion}, {"cuDeviceGetCount", &a.cuDeviceGetCount},
			{"cuDeviceGet", &a.cuDeviceGet}, {"cuDeviceGetName", &a.cuDeviceGetName}, {"cuDeviceGetAttribute", &a.cuDeviceGetAttribute},
			{"cuDeviceTotalMem_v2", &a.cuDeviceTotalMem}, {"cuDevicePrimaryCtxRetain", &a.cuDevicePrimaryCtxRetain},
			{"cuDevicePrimaryCtxRelease_v2", &a.cuDevicePrimaryCtxRelease}, {"cuCtxSetCurrent", &a.cuCtxSetCurrent},
			{"cuCtxSynchronize", &a.cuCtxSynchronize}, {"cuMemAlloc_v2", &a.cuMemAlloc}, {"cuMemFree_v2", &a.cuMemFree},
			{"cuMemcpyHtoD_v2", &a.cuMemcpyHtoD}, {"cuMemcpyDtoH_v2", &a.cuMemcpyDtoH}, {"cuMemsetD32_v2", &a.cuMemsetD32},
			{"cuMemGetInfo_v2", &a.cuMemGetInfo}, {"cuModuleLoadData", &a.cuModuleLoadData},
			{"cuModuleGetFunction", &a.cuModuleGetFunction}, {"cuModuleUnload", &a.cuModuleUnload},
			{"cuLaunchKernel", &a.cuLaunchKernel}, {"?cuGetErrorName", &a.cuGetErrorName},
		},
		"nvrtc": {
			{"nvrtcVersion", &a.nvrtcVersion}, {"nvrtcCreateProgram", &a.nvrtcCreateProgram},
			{"nvrtcCompileProgram", &a.nvrtcCompileProgram}, {"nvrtcGetProgramLogSize", &a.nvrtcGetProgramLogSize},
			{"nvrtcGetProgramLog", &a.nvrtcGetProgramLog}, {"nvrtcGetCUBINSize", &a.nvrtcGetCUBINSize},
			{"nvrtcGetCUBIN", &a.nvrtcGetCUBIN}, {"nvrtcDestroyProgram", &a.nvrtcDestroyProgram},
			{"?nvrtcGetErrorString", &a.nvrtcGetErrorString},
		},
		"cublas": {
			{"cublasCreate_v2", &a.cublasCreate}, {"cublasDestroy_v2", &a.cublasDestroy}, {"cublasGetVersion_v2", &a.cublasGetVersion},
			{"cublasSetMathMode", &a.cublasSetMathMode}, {"cublasSgemm_v2", &a.cublasSgemm},
			{"?cublasGetStatusString", &a.cublasGetStatusString},
		},
		"cudnn": {
			{"cudnnGetVersion", &a.cudnnGetVersion}, {"?cudnnGetErrorString", &a.cudnnGetErrorString},
			{"cudnnCreate", &a.cudnnCreate}, {"cudnnDestroy", &a.cudnnDestroy},
			{"cudnnCreateTensorDescriptor", &a.cudnnCreateTensorDescriptor}, {"cudnnSetTensor4dDescriptor", &a.cudnnSetTensor4dDescriptor},
			{"cudnnDestroyTensorDescriptor", &a.cudnnDestroyTensorDescriptor}, {"cudnnCreateFilterDescriptor", &a.cudnnCreateFilterDescriptor},
			{"cudnnSetFilter4dDescriptor", &a.cudnnSetFilter4dDescriptor}, {"cudnnDestroyFilterDescriptor", &a.cudnnDestroyFilterDescriptor},
			{"cudnnCreateConvolutionDescriptor", &a.cudnnCreateConvolutionDescriptor},
			{"cudnnSetConvolution2dDescriptor", &a.cudnnSetConvolution2dDescriptor},
			{"cudnnSetConvolutionGroupCount", &a.cudnnSetConvolutionGroupCount},
			{"cudnnSetConvolutionMathType", &a.cudnnSetConvolutionMathType},
			{"cudnnDestroyConvolutionDescriptor", &a.cudnnDestroyConvolutionDescriptor},
			{"cudnnGetConvolution2dForwardOutputDim", &a.cudnnGetConvolution2dForwardOutputDim},
			{"cudnnFindConvolutionForwardAlgorithm", &a.cudnnFindFwd},
			{"cudnnFindConvolutionBackwardDataAlgorithm", &a.cudnnFindBwdData},
			{"cudnnFindConvolutionBackwardFilterAlgorithm", &a.cudnnFindBwdFilter},
			{"cudnnGetConvolutionForwardAlgorithm_v7", &a.cudnnGetFwdV7},
			{"cudnnGetConvolutionBackwardDataAlgorithm_v7", &a.cudnnGetBwdDataV7},
			{"cudnnGetConvolutionBackwardFilterAlgorithm_v7", &a.cudnnGetBwdFilterV7},
			{"cudnnGetConvolutionForwardWorkspaceSize", &a.cudnnWsFwd},
			{"cudnnGetConvolutionBackwardDataWorkspaceSize", &a.cudnnWsBwdData},
			{"cudnnGetConvolutionBackwardFilterWorkspaceSize", &a.cudnnWsBwdFilter},
			{"cudnnConvolutionForward", &a.cudnnConvFwd}, {"cudnnConvolutionBackwardData", &a.cudnnConvBwdData},
			{"cudnnConvolutionBackwardFilter", &a.cudnnConvBwdFilter}, {"cudnnAddTensor", &a.cudnnAddTensor},
			{"cudnnBatchNormalizationForwardTraining", &a.cudnnBNTrain},
			{"cudnnBatchNormalizationForwardInference", &a.cudnnBNInfer},
			{"cudnnBatchNormalizationBackward", &a.cudnnBNBackward},
		},
	}
}

type symRef struct {
	name string
	p    *unsafe.Pointer
}

var (
	loadMu sync.Mutex
	loaded = map[string]*api{} // by the set of libraries requested
)

func dlerr() string {
	if s := C.tl_dlerror(); s != nil {
		return C.GoString(s)
	}
	return "unknown dlopen error"
}

func dlopen(path string, global bool) (unsafe.Pointer, error) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	g := C.int(0)
	if global {
		g = 1
	}
	h := C.tl_dlopen(cs, g)
	if h == nil {
		return nil, errors.New(dlerr())
	}
	return h, nil
}

func dlsym(h unsafe.Pointer, name string) unsafe.Pointer {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.tl_dlsym(h, cs)
}

// loadLibs loads the libraries named by keys (a subset of libSpecs, in libSpecs order) from sp,
// once per process and set, and binds their entry points.
func loadLibs(sp searchPath, keys []string, useDefault bool) (*api, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	id := strings.Join(keys, ",") + fmt.Sprint(useDefault)
	if a, ok := loaded[id]; ok {
		return a, nil
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	a := &api{paths: map[string]string{}}
	syms := a.symbols()
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for _, spec := range libSpecs {
		if !want[spec.key] {
			continue
		}
		h, where, err := openLib(sp, spec, exists, useDefault, &a.notes)
		if err != nil {
			return nil, err
		}
		a.paths[spec.key] = where
		var missing []string
		for _, s := range syms[spec.key] {
			name, optional := s.name, false
			if strings.HasPrefix(name, "?") {
				name, optional = name[1:], true
			}
			*s.p = dlsym(h, name)
			if *s.p == nil && !optional {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("gpu: %s (%s) lacks %s", spec.what, where, strings.Join(missing, ", "))
		}
	}
	loaded[id] = a
	return a, nil
}

// openLib loads one library: from the first search directory that has it (its companion
// libraries of the same directory first, with RTLD_GLOBAL), else by soname from the default
// loader path.
func openLib(sp searchPath, spec libSpec, exists func(string) bool, useDefault bool, notes *[]string) (unsafe.Pointer, string, error) {
	var causes []string
	if p := sp.locate(spec, exists); p != "" {
		dir := filepath.Dir(p)
		// Companions may depend on each other: retry the failures while each round loads more.
		pending := preloads(spec, dir, filepath.Glob)
		var fails map[string]string
		for len(pending) > 0 {
			fails = map[string]string{}
			var next []string
			for _, f := range pending {
				if _, err := dlopen(f, true); err != nil {
					fails[f] = err.Error()
					next = append(next, f)
				}
			}
			if len(next) == len(pending) {
				break
			}
			pending = next
		}
		for f, e := range fails {
			*notes = append(*notes, fmt.Sprintf("preloading %s failed: %s", f, e))
		}
		h, err := dlopen(p, true)
		if err == nil {
			return h, p, nil
		}
		causes = append(causes, fmt.Sprintf("dlopen %s: %v", p, err))
		for f, e := range fails {
			causes = append(causes, fmt.Sprintf("(preloading %s: %s)", f, e))
		}
	}
	if useDefault {
		for _, name := range spec.names {
			h, err := dlopen(name, true)
			if err == nil {
				return h, name, nil
			}
			causes = append(causes, fmt.Sprintf("dlopen %s: %v", name, err))
		}
	} else {
		causes = append(causes, "default loader path not searched")
	}
	return nil, "", &LibError{Lib: spec.what, Names: spec.names, Where: sp.describe(), Cause: strings.Join(causes, "; ")}
}

// ---- error helpers ----

func (a *api) cuErr(call string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	name := ""
	if s := C.tl_cuErrorName(a.cuGetErrorName, r); s != nil {
		name = C.GoString(s)
	}
	return &CUDAError{Lib: "CUDA", Call: call, Code: int(r), Name: name}
}

func (a *api) nvrtcErr(call string, r C.int) error {
	if r == 0 {
		return nil
	}
	name := ""
	if s := C.tl_nvrtcErrorString(a.nvrtcGetErrorString, r); s != nil {
		name = C.GoString(s)
	}
	return &CUDAError{Lib: "NVRTC", Call: call, Code: int(r), Name: name}
}

func (a *api) cublasErr(call string, r C.int) error {
	if r == 0 {
		return nil
	}
	name := ""
	if s := C.tl_cublasStatusString(a.cublasGetStatusString, r); s != nil {
		name = C.GoString(s)
	}
	return &CUDAError{Lib: "cuBLAS", Call: call, Code: int(r), Name: name}
}

func (a *api) cudnnErr(call string, r C.int) error {
	if r == 0 {
		return nil
	}
	name := ""
	if s := C.tl_cudnnErrorString(a.cudnnGetErrorString, r); s != nil {
		name = C.GoString(s)
	}
	return &CUDAError{Lib: "cuDNN", Call: call, Code: int(r), Name: name}
}

// CUDAError is a failed call into a CUDA library.
type CUDAError struct {
	Lib, Call string
	Code      int
	Name      string
}

func (e *CUDAError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("%s: %s failed: %s (%d)", e.Lib, e.Call, e.Name, e.Code)
	}
	return fmt.Sprintf("%s: %s failed with status %d", e.Lib, e.Call, e.Code)
}

// ---- thin typed wrappers (callers hold the device lock with the context current) ----

func (a *api) memAlloc(bytes int64) (uint64, error) {
	if bytes <= 0 {
		bytes = 4
	}
	var p C.CUdeviceptr
	if err := a.cuErr(fmt.Sprintf("cuMemAlloc(%d bytes)", bytes), C.tl_cuMemAlloc(a.cuMemAlloc, &p, C.size_t(bytes))); err != nil {
		return 0, err
	}
	return uint64(p), nil
}

func (a *api) memFree(p uint64) error {
	if p == 0 {
		return nil
	}
	return a.cuErr("cuMemFree", C.tl_cuMemFree(a.cuMemFree, C.CUdeviceptr(p)))
}

func (a *api) htod(dst uint64, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return a.cuErr("cuMemcpyHtoD", C.tl_cuMemcpyHtoD(a.cuMemcpyHtoD, C.CUdeviceptr(dst), unsafe.Pointer(&src[0]), C.size_t(4*len(src))))
}

func (a *api) htodBytes(dst uint64, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return a.cuErr("cuMemcpyHtoD", C.tl_cuMemcpyHtoD(a.cuMemcpyHtoD, C.CUdeviceptr(dst), unsafe.Pointer(&src[0]), C.size_t(len(src))))
}

func (a *api) dtoh(dst []float32, src uint64) error {
	if len(dst) == 0 {
		return nil
	}
	return a.cuErr("cuMemcpyDtoH", C.tl_cuMemcpyDtoH(a.cuMemcpyDtoH, unsafe.Pointer(&dst[0]), C.CUdeviceptr(src), C.size_t(4*len(dst))))
}

func (a *api) memsetD32(p uint64, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	return a.cuErr("cuMemsetD32", C.tl_cuMemsetD32(a.cuMemsetD32, C.CUdeviceptr(p), C.uint(v), C.size_t(n)))
}

func (a *api) sync() error {
	return a.cuErr("cuCtxSynchronize", C.tl_cuCtxSynchronize(a.cuCtxSynchronize))
}

func (a *api) setCurrent(ctx unsafe.Pointer) error {
	return a.cuErr("cuCtxSetCurrent", C.tl_cuCtxSetCurrent(a.cuCtxSetCurrent, ctx))
}

func (a *api) memInfo() (free, total uint64, err error) {
	var f, t C.size_t
	err = a.cuErr("cuMemGetInfo", C.tl_cuMemGetInfo(a.cuMemGetInfo, &f, &t))
	return uint64(f), uint64(t), err
}

// launch starts fn with grid×block threads; slots holds one 8-byte slot per argument.
func (a *api) launch(fn unsafe.Pointer, grid, block [3]uint32, shmem uint32, slots []uint64) C.CUresult {
	var p *C.ulonglong
	if len(slots) > 0 {
		p = (*C.ulonglong)(unsafe.Pointer(&slots[0]))
	}
	return C.tl_cuLaunchKernel(a.cuLaunchKernel, fn, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), C.uint(shmem), C.int(len(slots)), p)
}

// compile builds CUDA C source into a cubin for arch (e.g. "sm_90") with NVRTC.
func (a *api) compile(src, name string, opts []string) (cubin []byte, log string, err error) {
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var r C.int
	prog := C.tl_nvrtcCreateProgram(a.nvrtcCreateProgram, csrc, cname, &r)
	if err := a.nvrtcErr("nvrtcCreateProgram", r); err != nil {
		return nil, "", err
	}
	defer C.tl_nvrtcDestroyProgram(a.nvrtcDestroyProgram, prog)
	copts := C.malloc(C.size_t(len(opts)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(copts)
	optv := unsafe.Slice((**C.char)(copts), len(opts)+1)
	for i, o := range opts {
		optv[i] = C.CString(o)
		defer C.free(unsafe.Pointer(optv[i]))
	}
	cerr := a.nvrtcErr("nvrtcCompileProgram("+strings.Join(opts, " ")+")",
		C.tl_nvrtcCompileProgram(a.nvrtcCompileProgram, prog, C.int(len(opts)), (**C.char)(copts)))
	var n C.size_t
	if C.tl_nvrtcGetSize(a.nvrtcGetProgramLogSize, prog, &n) == 0 && n > 1 {
		buf := C.malloc(n)
		if C.tl_nvrtcGetBytes(a.nvrtcGetProgramLog, prog, (*C.char)(buf)) == 0 {
			log = C.GoString((*C.char)(buf))
		}
		C.free(buf)
	}
	if cerr != nil {
		return nil, log, cerr
	}
	if err := a.nvrtcErr("nvrtcGetCUBINSize", C.tl_nvrtcGetSize(a.nvrtcGetCUBINSize, prog, &n)); err != nil {
		return nil, log, err
	}
	if n == 0 {
		return nil, log, errors.New("NVRTC: empty cubin")
	}
	buf := C.malloc(n)
	defer C.free(buf)
	if err := a.nvrtcErr("nvrtcGetCUBIN", C.tl_nvrtcGetBytes(a.nvrtcGetCUBIN, prog, (*C.char)(buf))); err != nil {
		return nil, log, err
	}
	return C.GoBytes(buf, C.int(n)), log, nil
}

func (a *api) nvrtcVersionOf() (int, int, error) {
	var maj, min C.int
	err := a.nvrtcErr("nvrtcVersion", C.tl_nvrtcVersion(a.nvrtcVersion, &maj, &min))
	return int(maj), int(min), err
}

// ---- cuDNN descriptors ----

func (a *api) tensorDesc(n, c, h, w int) (unsafe.Pointer, error) {
	var r C.int
	d := C.tl_cudnnCreateDesc(a.cudnnCreateTensorDescriptor, &r)
	if err := a.cudnnErr("cudnnCreateTensorDescriptor", r); err != nil {
		return nil, err
	}
	if err := a.cudnnErr(fmt.Sprintf("cudnnSetTensor4dDescriptor(%d,%d,%d,%d)", n, c, h, w),
		C.tl_cudnnSetTensor4d(a.cudnnSetTensor4dDescriptor, d, C.int(n), C.int(c), C.int(h), C.int(w))); err != nil {
		C.tl_cudnnDestroyDesc(a.cudnnDestroyTensorDescriptor, d)
		return nil, err
	}
	return d, nil
}

func (a *api) filterDesc(k, c, h, w int) (unsafe.Pointer, error) {
	var r C.int
	d := C.tl_cudnnCreateDesc(a.cudnnCreateFilterDescriptor, &r)
	if err := a.cudnnErr("cudnnCreateFilterDescriptor", r); err != nil {
		return nil, err
	}
	if err := a.cudnnErr(fmt.Sprintf("cudnnSetFilter4dDescriptor(%d,%d,%d,%d)", k, c, h, w),
		C.tl_cudnnSetFilter4d(a.cudnnSetFilter4dDescriptor, d, C.int(k), C.int(c), C.int(h), C.int(w))); err != nil {
		C.tl_cudnnDestroyDesc(a.cudnnDestroyFilterDescriptor, d)
		return nil, err
	}
	return d, nil
}

func (a *api) convDesc(c convParams) (unsafe.Pointer, error) {
	var r C.int
	d := C.tl_cudnnCreateDesc(a.cudnnCreateConvolutionDescriptor, &r)
	if err := a.cudnnErr("cudnnCreateConvolutionDescriptor", r); err != nil {
		return nil, err
	}
	err := a.cudnnErr(fmt.Sprintf("cudnnSetConvolution2dDescriptor(pad %d,%d stride %d,%d dilation %d,%d)", c.PadH, c.PadW, c.StrideH, c.StrideW, c.DilH, c.DilW),
		C.tl_cudnnSetConv2d(a.cudnnSetConvolution2dDescriptor, d, C.int(c.PadH), C.int(c.PadW), C.int(c.StrideH), C.int(c.StrideW), C.int(c.DilH), C.int(c.DilW)))
	if err == nil && c.Groups > 1 {
		err = a.cudnnErr(fmt.Sprintf("cudnnSetConvolutionGroupCount(%d)", c.Groups), C.tl_cudnnSetInt(a.cudnnSetConvolutionGroupCount, d, C.int(c.Groups)))
	}
	if err != nil {
		C.tl_cudnnDestroyDesc(a.cudnnDestroyConvolutionDescriptor, d)
		return nil, err
	}
	return d, nil
}

func (a *api) setConvMath(d unsafe.Pointer, math int) error {
	return a.cudnnErr(fmt.Sprintf("cudnnSetConvolutionMathType(%s)", mathName(math)), C.tl_cudnnSetInt(a.cudnnSetConvolutionMathType, d, C.int(math)))
}

func (a *api) convOutDim(conv, x, w unsafe.Pointer) ([4]int, error) {
	var n, c, h, ww C.int
	err := a.cudnnErr("cudnnGetConvolution2dForwardOutputDim", C.tl_cudnnConvOutDim(a.cudnnGetConvolution2dForwardOutputDim, conv, x, w, &n, &c, &h, &ww))
	return [4]int{int(n), int(c), int(h), int(ww)}, err
}

// perf is one entry of an algorithm search.
type perf struct {
	Algo, Status int
	Time         float32
	Memory       uint64
	Math         int
}

func (a *api) algoSearch(call string, f, h, d1, d2, conv, d3 unsafe.Pointer) ([]perf, error) {
	const req = 16
	var res [req]C.tl_perf
	var got C.int
	if err := a.cudnnErr(call, C.tl_cudnnAlgoSearch(f, h, d1, d2, conv, d3, req, &got, &res[0])); err != nil {
		return nil, err
	}
	out := make([]perf, 0, int(got))
	for i := 0; i < int(got) && i < req; i++ {
		p := res[i]
		out = append(out, perf{Algo: int(p.algo), Status: int(p.status), Time: float32(p.time), Memory: uint64(p.memory), Math: int(p.mathType)})
	}
	return out, nil
}

func (a *api) workspace(call string, f, h, d1, d2, conv, d3 unsafe.Pointer, algo int) (uint64, error) {
	var s C.size_t
	err := a.cudnnErr(call, C.tl_cudnnWorkspace(f, h, d1, d2, conv, d3, C.int(algo), &s))
	return uint64(s), err
}

func (a *api) destroyTensor(d unsafe.Pointer) {
	if d != nil {
		C.tl_cudnnDestroyDesc(a.cudnnDestroyTensorDescriptor, d)
	}
}

func (a *api) destroyFilter(d unsafe.Pointer) {
	if d != nil {
		C.tl_cudnnDestroyDesc(a.cudnnDestroyFilterDescriptor, d)
	}
}

func (a *api) destroyConv(d unsafe.Pointer) {
	if d != nil {
		C.tl_cudnnDestroyDesc(a.cudnnDestroyConvolutionDescriptor, d)
	}
}

// ---- cuDNN and cuBLAS calls used by steps ----

func (a *api) conv(call string, f, h, d1 unsafe.Pointer, p1 uint64, d2 unsafe.Pointer, p2 uint64, conv unsafe.Pointer, algo int,
	ws, wsSize uint64, beta float32, d3 unsafe.Pointer, p3 uint64) error {
	return a.cudnnErr(call, C.tl_cudnnConv(f, h, d1, C.CUdeviceptr(p1), d2, C.CUdeviceptr(p2), conv, C.int(algo),
		C.CUdeviceptr(ws), C.size_t(wsSize), C.float(beta), d3, C.CUdeviceptr(p3)))
}

func (a *api) addTensor(h, bd unsafe.Pointer, b uint64, yd unsafe.Pointer, y uint64) error {
	return a.cudnnErr("cudnnAddTensor", C.tl_cudnnAddTensor(a.cudnnAddTensor, h, bd, C.CUdeviceptr(b), yd, C.CUdeviceptr(y)))
}

func (a *api) bnTrain(h, xd unsafe.Pointer, x, y uint64, bd unsafe.Pointer, scale, bias uint64, factor float64, rmean, rvar uint64, eps float64, smean, sinv uint64) error {
	return a.cudnnErr("cudnnBatchNormalizationForwardTraining", C.tl_cudnnBNTrain(a.cudnnBNTrain, h, xd, C.CUdeviceptr(x), C.CUdeviceptr(y), bd,
		C.CUdeviceptr(scale), C.CUdeviceptr(bias), C.double(factor), C.CUdeviceptr(rmean), C.CUdeviceptr(rvar), C.double(eps),
		C.CUdeviceptr(smean), C.CUdeviceptr(sinv)))
}

func (a *api) bnInfer(h, xd unsafe.Pointer, x, y uint64, bd unsafe.Pointer, scale, bias, mean, variance uint64, eps float64) error {
	return a.cudnnErr("cudnnBatchNormalizationForwardInference", C.tl_cudnnBNInfer(a.cudnnBNInfer, h, xd, C.CUdeviceptr(x), C.CUdeviceptr(y), bd,
		C.CUdeviceptr(scale), C.CUdeviceptr(bias), C.CUdeviceptr(mean), C.CUdeviceptr(variance), C.double(eps)))
}

func (a *api) bnBackward(h, xd unsafe.Pointer, x, dy, dx uint64, bd unsafe.Pointer, scale, dscale, dbias uint64, eps float64, smean, sinv uint64) error {
	return a.cudnnErr("cudnnBatchNormalizationBackward", C.tl_cudnnBNBackward(a.cudnnBNBackward, h, xd, C.CUdeviceptr(x), C.CUdeviceptr(dy),
		C.CUdeviceptr(dx), bd, C.CUdeviceptr(scale), C.CUdeviceptr(dscale), C.CUdeviceptr(dbias), C.double(eps), C.CUdeviceptr(smean), C.CUdeviceptr(sinv)))
}

func (a *api) sgemm(h unsafe.Pointer, ta, tb bool, m, n, k int, alpha float32, A uint64, lda int, B uint64, ldb int, beta float32, Cp uint64, ldc int) error {
	op := func(t bool) C.int {
		if t {
			return 1 // CUBLAS_OP_T
		}
		return 0 // CUBLAS_OP_N
	}
	return a.cublasErr(fmt.Sprintf("cublasSgemm(%v,%v,m=%d,n=%d,k=%d)", ta, tb, m, n, k), C.tl_cublasSgemm(a.cublasSgemm, h, op(ta), op(tb),
		C.int(m), C.int(n), C.int(k), C.float(alpha), C.CUdeviceptr(A), C.int(lda), C.CUdeviceptr(B), C.int(ldb), C.float(beta),
		C.CUdeviceptr(Cp), C.int(ldc)))
}

func (a *api) setMathMode(h unsafe.Pointer, mode int) error {
	return a.cublasErr(fmt.Sprintf("cublasSetMathMode(%d)", mode), C.tl_cublasSetMathMode(a.cublasSetMathMode, h, C.int(mode)))
}

// ---- device setup ----

// initDriver calls cuInit; noDevice reports CUDA_ERROR_NO_DEVICE.
func (a *api) initDriver() (noDevice bool, err error) {
	r := C.tl_cuInit(a.cuInit, 0)
	return r == 100, a.cuErr("cuInit", r)
}

func (a *api) deviceCount() (int, error) {
	var n C.int
	err := a.cuErr("cuDeviceGetCount", C.tl_cuDeviceGetCount(a.cuDeviceGetCount, &n))
	return int(n), err
}

func (a *api) deviceGet(ordinal int) (int, error) {
	var dev C.int
	err := a.cuErr("cuDeviceGet", C.tl_cuDeviceGet(a.cuDeviceGet, &dev, C.int(ordinal)))
	return int(dev), err
}

func (a *api) primaryCtxRetain(dev int) (unsafe.Pointer, error) {
	var r C.CUresult
	ctx := C.tl_cuDevicePrimaryCtxRetain(a.cuDevicePrimaryCtxRetain, C.int(dev), &r)
	if err := a.cuErr("cuDevicePrimaryCtxRetain", r); err != nil {
		return nil, err
	}
	return ctx, nil
}

func (a *api) primaryCtxRelease(dev int) error {
	return a.cuErr("cuDevicePrimaryCtxRelease", C.tl_cuDevicePrimaryCtxRelease(a.cuDevicePrimaryCtxRelease, C.int(dev)))
}

func (a *api) deviceName(dev int) (string, error) {
	var name [256]C.char
	if err := a.cuErr("cuDeviceGetName", C.tl_cuDeviceGetName(a.cuDeviceGetName, &name[0], 255, C.int(dev))); err != nil {
		return "", err
	}
	name[255] = 0
	return C.GoString(&name[0]), nil
}

func (a *api) deviceAttr(dev, attr int) (int, error) {
	var v C.int
	err := a.cuErr(fmt.Sprintf("cuDeviceGetAttribute(%d)", attr), C.tl_cuDeviceGetAttribute(a.cuDeviceGetAttribute, &v, C.int(attr), C.int(dev)))
	return int(v), err
}

func (a *api) deviceTotalMem(dev int) (uint64, error) {
	var b C.size_t
	err := a.cuErr("cuDeviceTotalMem", C.tl_cuDeviceTotalMem(a.cuDeviceTotalMem, &b, C.int(dev)))
	return uint64(b), err
}

func (a *api) driverVersion() (int, error) {
	var v C.int
	err := a.cuErr("cuDriverGetVersion", C.tl_cuDriverGetVersion(a.cuDriverGetVersion, &v))
	return int(v), err
}

func (a *api) cudnnVersion() int { return int(C.tl_cudnnGetVersion(a.cudnnGetVersion)) }

func (a *api) cublasCreateHandle() (unsafe.Pointer, error) {
	var st C.int
	h := C.tl_cublasCreate(a.cublasCreate, &st)
	if err := a.cublasErr("cublasCreate", st); err != nil {
		return nil, err
	}
	return h, nil
}

func (a *api) cublasVersion(h unsafe.Pointer) (int, error) {
	var v C.int
	err := a.cublasErr("cublasGetVersion", C.tl_cublasGetVersion(a.cublasGetVersion, h, &v))
	return int(v), err
}

func (a *api) cublasDestroyHandle(h unsafe.Pointer) error {
	return a.cublasErr("cublasDestroy", C.tl_cublasDestroy(a.cublasDestroy, h))
}

func (a *api) cudnnCreateHandle() (unsafe.Pointer, error) {
	var st C.int
	h := C.tl_cudnnCreateHandle(a.cudnnCreate, &st)
	if err := a.cudnnErr("cudnnCreate", st); err != nil {
		return nil, err
	}
	return h, nil
}

func (a *api) cudnnDestroyHandle(h unsafe.Pointer) error {
	return a.cudnnErr("cudnnDestroy", C.tl_cudnnDestroy(a.cudnnDestroy, h))
}

func (a *api) moduleLoad(image []byte) (unsafe.Pointer, error) {
	if len(image) == 0 {
		return nil, errors.New("gpu: empty module image")
	}
	// The image is copied to C memory: the driver reads it during the call only, but a C copy
	// keeps the cgo pointer rules trivially satisfied.
	buf := C.CBytes(image)
	defer C.free(buf)
	var r C.CUresult
	m := C.tl_cuModuleLoadData(a.cuModuleLoadData, buf, &r)
	if err := a.cuErr("cuModuleLoadData", r); err != nil {
		return nil, err
	}
	return m, nil
}

func (a *api) moduleFunction(mod unsafe.Pointer, name string) (unsafe.Pointer, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var r C.CUresult
	fn := C.tl_cuModuleGetFunction(a.cuModuleGetFunction, mod, cs, &r)
	if err := a.cuErr("cuModuleGetFunction("+name+")", r); err != nil {
		return nil, err
	}
	return fn, nil
}

func (a *api) moduleUnload(mod unsafe.Pointer) error {
	return a.cuErr("cuModuleUnload", C.tl_cuModuleUnload(a.cuModuleUnload, mod))
}
