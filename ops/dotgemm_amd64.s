#include "textflag.h"

// dotKernel of dotgemm.go: 24 dot products (8 rows of A by 3 rows of B) in Z0–Z23, sixteen
// k at a time, the last 1–15 k under the mask K1; then each accumulator's 16 lanes are summed
// (lanes i and i+8, then i and i+4, then neighbours, then pairs) and the 24 sums stored in row
// order.

// ROW multiplies A's row (at ADDR, under the mask K1, zero elsewhere) by B's three rows
// (Z24–Z26) into ACC0–ACC2.
#define ROW(ADDR, ACC0, ACC1, ACC2) \
	VMOVUPS.Z ADDR, K1, Z27 \
	VFMADD231PS Z24, Z27, ACC0 \
	VFMADD231PS Z25, Z27, ACC1 \
	VFMADD231PS Z26, Z27, ACC2

// HALVE folds the 16 lanes of Z (Y its lower half) into the 4 lanes of XD (YD its wider
// register): lane i + lane i+8, then + lane i+4.
#define HALVE(Z, Y, YD, XD) \
	VEXTRACTF64X4 $1, Z, Y28 \
	VADDPS Y28, Y, YD \
	VEXTRACTF32X4 $1, YD, X28 \
	VADDPS X28, XD, XD

// SUM4 stores the sums of the accumulators A–D at off(DI), folded into X0–X3 (VHADDPS has no
// EVEX form for X16 and up); the groups are summed in order, so X0–X3 are free by then.
#define SUM4(ZA, YA, ZB, YB, ZC, YC, ZD, YD, off) \
	HALVE(ZA, YA, Y0, X0) \
	HALVE(ZB, YB, Y1, X1) \
	HALVE(ZC, YC, Y2, X2) \
	HALVE(ZD, YD, Y3, X3) \
	VHADDPS X1, X0, X0 \
	VHADDPS X3, X2, X2 \
	VHADDPS X2, X0, X0 \
	VMOVUPS X0, off(DI)

// func dotKernel(k int, a *float32, lda int, b *float32, ldb int, out *[24]float32)
TEXT ·dotKernel(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), BX
	MOVQ ldb+32(FP), DX
	SHLQ $2, DX
	MOVQ out+40(FP), DI
	LEAQ (AX)(R9*2), R10
	ADDQ R9, R10         // A's row 3
	LEAQ (R10)(R9*2), R11
	ADDQ R9, R11         // A's row 6
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17
	VXORPS Z18, Z18, Z18
	VXORPS Z19, Z19, Z19
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23

	MOVQ  $0xffff, R12
	KMOVW R12, K1

loop16:
	CMPQ CX, $16
	JGE  step
	TESTQ CX, CX
	JZ    reduce
	// The last 1–15 k: the same step with the first CX lanes (masked loads read nothing past
	// them).
	MOVQ  $1, R12
	SHLXQ CX, R12, R12
	DECQ  R12
	KMOVW R12, K1
	MOVQ  $16, CX

step:
	VMOVUPS.Z (BX), K1, Z24
	VMOVUPS.Z (BX)(DX*1), K1, Z25
	VMOVUPS.Z (BX)(DX*2), K1, Z26
	ROW((AX), Z0, Z1, Z2)
	ROW((AX)(R9*1), Z3, Z4, Z5)
	ROW((AX)(R9*2), Z6, Z7, Z8)
	ROW((R10), Z9, Z10, Z11)
	ROW((AX)(R9*4), Z12, Z13, Z14)
	ROW((R10)(R9*2), Z15, Z16, Z17)
	ROW((R11), Z18, Z19, Z20)
	ROW((R11)(R9*1), Z21, Z22, Z23)
	ADDQ $64, AX
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $64, BX
	SUBQ $16, CX
	JMP  loop16

reduce:
	SUM4(Z0, Y0, Z1, Y1, Z2, Y2, Z3, Y3, 0)
	SUM4(Z4, Y4, Z5, Y5, Z6, Y6, Z7, Y7, 16)
	SUM4(Z8, Y8, Z9, Y9, Z10, Y10, Z11, Y11, 32)
	SUM4(Z12, Y12, Z13, Y13, Z14, Y14, Z15, Y15, 48)
	SUM4(Z16, Y16, Z17, Y17, Z18, Y18, Z19, Y19, 64)
	SUM4(Z20, Y20, Z21, Y21, Z22, Y22, Z23, Y23, 80)
	VZEROUPPER
	RET
