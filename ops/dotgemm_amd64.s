#include "textflag.h"

// dotKernel of dotgemm.go: 24 dot products (8 rows of A by 3 rows of B) in Z0–Z23, sixteen
// k at a time, the last 1–15 k under the mask K1; then each accumulator's 16 lanes are summed
// (lanes i and i+8, then i and i+4, then neighbours, then pairs) and the 24 sums stored in row
// order.

// ROW multiplies A's row (at ADDR) by B's three rows (Z24–Z26) into ACC0–ACC2.
#define ROW(ADDR, ACC0, ACC1, ACC2) \
	VMOVUPS ADDR, Z27 \
	VFMADD231PS Z24, Z27, ACC0 \
	VFMADD231PS Z25, Z27, ACC1 \
	VFMADD231PS Z26, Z27, ACC2

// MROW is ROW with A's row loaded under K1 (zero elsewhere).
#define MROW(ADDR, ACC0, ACC1, ACC2) \
	VMOVUPS.Z ADDR, K1, Z27 \
	VFMADD231PS Z24, Z27, ACC0 \
	VFMADD231PS Z25, Z27, ACC1 \
	VFMADD231PS Z26, Z27, ACC2

// HALVE folds the 16 lanes of Z into the 4 lanes of X (lane i + lane i+8, then + lane i+4).
#define HALVE(Z, Y, X) \
	VEXTRACTF64X4 $1, Z, Y28 \
	VADDPS Y28, Y, Y \
	VEXTRACTF32X4 $1, Y, X28 \
	VADDPS X28, X, X

// SUM4 stores the sums of four HALVEd accumulators A–D at off(DI); VHADDPS has no EVEX form,
// so they must be X0–X15 (A and C are overwritten).
#define SUM4(A, B, C, D, off) \
	VHADDPS B, A, A \
	VHADDPS D, C, C \
	VHADDPS C, A, A \
	VMOVUPS A, off(DI)

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

loop16:
	CMPQ CX, $16
	JLT  tail
	VMOVUPS (BX), Z24
	VMOVUPS (BX)(DX*1), Z25
	VMOVUPS (BX)(DX*2), Z26
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

tail:
	TESTQ CX, CX
	JZ    reduce
	MOVQ  $1, R12
	SHLXQ CX, R12, R12
	DECQ  R12
	KMOVW R12, K1
	VMOVUPS.Z (BX), K1, Z24
	VMOVUPS.Z (BX)(DX*1), K1, Z25
	VMOVUPS.Z (BX)(DX*2), K1, Z26
	MROW((AX), Z0, Z1, Z2)
	MROW((AX)(R9*1), Z3, Z4, Z5)
	MROW((AX)(R9*2), Z6, Z7, Z8)
	MROW((R10), Z9, Z10, Z11)
	MROW((AX)(R9*4), Z12, Z13, Z14)
	MROW((R10)(R9*2), Z15, Z16, Z17)
	MROW((R11), Z18, Z19, Z20)
	MROW((R11)(R9*1), Z21, Z22, Z23)

reduce:
	HALVE(Z0, Y0, X0)
	HALVE(Z1, Y1, X1)
	HALVE(Z2, Y2, X2)
	HALVE(Z3, Y3, X3)
	SUM4(X0, X1, X2, X3, 0)
	HALVE(Z4, Y4, X4)
	HALVE(Z5, Y5, X5)
	HALVE(Z6, Y6, X6)
	HALVE(Z7, Y7, X7)
	SUM4(X4, X5, X6, X7, 16)
	HALVE(Z8, Y8, X8)
	HALVE(Z9, Y9, X9)
	HALVE(Z10, Y10, X10)
	HALVE(Z11, Y11, X11)
	SUM4(X8, X9, X10, X11, 32)
	HALVE(Z12, Y12, X12)
	HALVE(Z13, Y13, X13)
	HALVE(Z14, Y14, X14)
	HALVE(Z15, Y15, X15)
	SUM4(X12, X13, X14, X15, 48)
	HALVE(Z16, Y16, X16)
	HALVE(Z17, Y17, X17)
	HALVE(Z18, Y18, X18)
	HALVE(Z19, Y19, X19)
	VMOVAPS X16, X0
	VMOVAPS X17, X1
	VMOVAPS X18, X2
	VMOVAPS X19, X3
	SUM4(X0, X1, X2, X3, 64)
	HALVE(Z20, Y20, X20)
	HALVE(Z21, Y21, X21)
	HALVE(Z22, Y22, X22)
	HALVE(Z23, Y23, X23)
	VMOVAPS X20, X4
	VMOVAPS X21, X5
	VMOVAPS X22, X6
	VMOVAPS X23, X7
	SUM4(X4, X5, X6, X7, 80)
	VZEROUPPER
	RET
