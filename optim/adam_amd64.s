#include "textflag.h"

// adamF32x8 is Adam.Update's per-element loop eight lanes at a time with AVX2: the same float32
// operations in the same order (no fused multiply-adds; VSQRTPS rounds as float32(math.Sqrt)
// does), so the weights and moments are bitwise the Go loop's. c is an adamConsts; n is a
// multiple of 8.
//
// func adamF32x8(w, grad, m, v *float32, n int, c *adamConsts)
TEXT ·adamF32x8(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R9
	MOVQ v+24(FP), R10
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), R8
	VBROADCASTSS 0(R8), Y15  // |x| mask
	VBROADCASTSS 4(R8), Y14  // 1e-30
	VBROADCASTSS 8(R8), Y13  // 1e-15
	VBROADCASTSS 12(R8), Y12 // b1
	VBROADCASTSS 16(R8), Y11 // 1-b1
	VBROADCASTSS 20(R8), Y10 // b2
	VBROADCASTSS 24(R8), Y9  // 1-b2
	VBROADCASTSS 28(R8), Y8  // 1/sqrt(bias correction 2)
	VBROADCASTSS 32(R8), Y7  // eps
	VBROADCASTSS 36(R8), Y6  // step size
	VBROADCASTSS 40(R8), Y5  // wd
	VBROADCASTSS 44(R8), Y4  // decay
	MOVL         48(R8), DX  // mode: 0 no weight decay, 1 decoupled, 2 added to the gradient

loop:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y0         // g
	VANDPS  Y15, Y0, Y1
	VCMPPS  $1, Y14, Y1, Y1  // |g| < 1e-30
	VANDNPS Y0, Y1, Y0       // flushed to 0
	VMOVUPS (DI), Y2         // w
	CMPL    DX, $1
	JNE     coupled
	VMULPS  Y4, Y2, Y2       // w *= decay
	JMP     moments

coupled:
	CMPL   DX, $2
	JNE    moments
	VMULPS Y2, Y5, Y3
	VADDPS Y3, Y0, Y0        // g += wd·w

moments:
	VANDPS  Y15, Y0, Y1
	VCMPPS  $0x0e, Y13, Y1, Y1 // |g| > 1e-15
	VANDPS  Y1, Y0, Y3       // zero the other lanes before squaring: their squares may be subnormal, ~60× slower
	VMULPS  Y3, Y3, Y3       // g2
	VMULPS  (R9), Y12, Y1    // b1·m
	VMULPS  Y0, Y11, Y0      // (1-b1)·g
	VADDPS  Y0, Y1, Y1       // m'
	VANDPS  Y15, Y1, Y0
	VCMPPS  $1, Y14, Y0, Y0  // |m'| < 1e-30
	VANDNPS Y1, Y0, Y1
	VMOVUPS Y1, (R9)
	VMULPS  (R10), Y10, Y0   // b2·v
	VMULPS  Y3, Y9, Y3       // (1-b2)·g2
	VADDPS  Y3, Y0, Y0       // v'
	VCMPPS  $1, Y14, Y0, Y3  // v' < 1e-30
	VANDNPS Y0, Y3, Y0
	VMOVUPS Y0, (R10)
	VSQRTPS Y0, Y0
	VMULPS  Y8, Y0, Y0
	VADDPS  Y7, Y0, Y0       // denominator
	VMULPS  Y6, Y1, Y1
	VDIVPS  Y0, Y1, Y1
	VSUBPS  Y1, Y2, Y2       // w - step·m'/denominator
	VMOVUPS Y2, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R9
	ADDQ $32, R10
	SUBQ $8, CX
	JMP  loop

done:
	VZEROUPPER
	RET
