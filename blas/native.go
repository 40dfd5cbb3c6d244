package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*, int);
typedef void (*threads_fn)(int);

static void call_sgemm(void* f, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
	const float* b, int ldb, float beta, float* c, int ldc) {
	((sgemm_fn)f)(101, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void call_dgemm(void* f, int ta, int tb, int m, int n, int k, double alpha, const double* a, int lda,
	const double* b, int ldb, double beta, double* c, int ldc) {
	((dgemm_fn)f)(101, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void call_threads(void* f, int n) { ((threads_fn)f)(n); }
*/
import "C"

import (
	"errors"
	"unsafe"
)

// nativeLib holds the entry points of a dlopen'ed OpenBLAS.
type nativeLib struct {
	sgemmFn, dgemmFn unsafe.Pointer
}

const (
	cblasNoTrans = 111
	cblasTrans   = 112
)

func openNative(name string) (*nativeLib, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	h := C.dlopen(cname, C.RTLD_NOW|C.RTLD_LOCAL)
	if h == nil {
		return nil, errors.New("dlopen " + name + " failed")
	}
	sym := func(s string) unsafe.Pointer {
		cs := C.CString(s)
		defer C.free(unsafe.Pointer(cs))
		return C.dlsym(h, cs)
	}
	lib := &nativeLib{sgemmFn: sym("cblas_sgemm"), dgemmFn: sym("cblas_dgemm")}
	if lib.sgemmFn == nil || lib.dgemmFn == nil {
		C.dlclose(h)
		return nil, errors.New(name + " has no cblas_sgemm/cblas_dgemm")
	}
	if f := sym("openblas_set_num_threads"); f != nil {
		C.call_threads(f, 1)
	}
	return lib, nil
}

func ct(t bool) C.int {
	if t {
		return cblasTrans
	}
	return cblasNoTrans
}

func (l *nativeLib) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.call_sgemm(l.sgemmFn, ct(transA), ct(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), (*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

func (l *nativeLib) dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	C.call_dgemm(l.dgemmFn, ct(transA), ct(transB), C.int(m), C.int(n), C.int(k), C.double(alpha),
		(*C.double)(unsafe.Pointer(&a[0])), C.int(lda), (*C.double)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.double(beta), (*C.double)(unsafe.Pointer(&c[0])), C.int(ldc))
}
