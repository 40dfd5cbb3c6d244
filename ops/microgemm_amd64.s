#include "textflag.h"

// AVX-512 micro-kernels of microgemm.go: an 8×32 block of C = A·B (or C += A·B) in 16
// accumulators, B's 32 columns masked by K1 (columns 0–15) and K2 (16–31) so that partial blocks
// neither read nor write past the matrices. Each k adds A[r][k]·B[k][j] to C[r][j] with one FMA
// per element (the order of a dot product, k ascending).

// FMA2 adds A's element (already broadcast into A) times B's row (Z16, Z17) to C's row (LO, HI).
#define FMA2(A, LO, HI) \
	VFMADD231PS Z16, A, LO \
	VFMADD231PS Z17, A, HI

// BROW loads row k of B's block from (BX), prefetches the row R13 bytes ahead and advances BX by
// DX bytes.
#define BROW \
	VMOVUPS.Z (BX), K1, Z16 \
	VMOVUPS.Z 64(BX), K2, Z17 \
	PREFETCHT0 (BX)(R13*1) \
	PREFETCHT0 64(BX)(R13*1) \
	ADDQ DX, BX

// RSTEP does one k for A stored by rows (A[r][k] at off + AX + r·R9, R10 = AX + 3·R9,
// R11 = AX + 6·R9).
#define RSTEP(off) \
	BROW \
	VBROADCASTSS off(AX), Z18 \
	VBROADCASTSS off(AX)(R9*1), Z19 \
	FMA2(Z18, Z0, Z1) \
	FMA2(Z19, Z2, Z3) \
	VBROADCASTSS off(AX)(R9*2), Z20 \
	VBROADCASTSS off(R10), Z21 \
	FMA2(Z20, Z4, Z5) \
	FMA2(Z21, Z6, Z7) \
	VBROADCASTSS off(AX)(R9*4), Z22 \
	VBROADCASTSS off(R10)(R9*2), Z23 \
	FMA2(Z22, Z8, Z9) \
	FMA2(Z23, Z10, Z11) \
	VBROADCASTSS off(R11), Z24 \
	VBROADCASTSS off(R11)(R9*1), Z25 \
	FMA2(Z24, Z12, Z13) \
	FMA2(Z25, Z14, Z15)

// CSTEP does one k for A stored by columns (A[r][k] at AX + 4r, AX advancing R9 bytes a k).
#define CSTEP \
	BROW \
	VBROADCASTSS 0(AX), Z18 \
	VBROADCASTSS 4(AX), Z19 \
	FMA2(Z18, Z0, Z1) \
	FMA2(Z19, Z2, Z3) \
	VBROADCASTSS 8(AX), Z20 \
	VBROADCASTSS 12(AX), Z21 \
	FMA2(Z20, Z4, Z5) \
	FMA2(Z21, Z6, Z7) \
	VBROADCASTSS 16(AX), Z22 \
	VBROADCASTSS 20(AX), Z23 \
	FMA2(Z22, Z8, Z9) \
	FMA2(Z23, Z10, Z11) \
	VBROADCASTSS 24(AX), Z24 \
	VBROADCASTSS 28(AX), Z25 \
	FMA2(Z24, Z12, Z13) \
	FMA2(Z25, Z14, Z15) \
	ADDQ R9, AX

#define ZERO16 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3 \
	VXORPS Z4, Z4, Z4 \
	VXORPS Z5, Z5, Z5 \
	VXORPS Z6, Z6, Z6 \
	VXORPS Z7, Z7, Z7 \
	VXORPS Z8, Z8, Z8 \
	VXORPS Z9, Z9, Z9 \
	VXORPS Z10, Z10, Z10 \
	VXORPS Z11, Z11, Z11 \
	VXORPS Z12, Z12, Z12 \
	VXORPS Z13, Z13, Z13 \
	VXORPS Z14, Z14, Z14 \
	VXORPS Z15, Z15, Z15

// STORE writes row r of C at (DI) (adding what is there when R8 is not zero), advances DI by
// SI bytes and jumps to DONE after the last of CX rows.
#define STORE(LO, HI, DONE) \
	TESTQ R8, R8 \
	JZ    3(PC) \
	VADDPS.Z (DI), LO, K1, LO \
	VADDPS.Z 64(DI), HI, K2, HI \
	VMOVUPS LO, K1, (DI) \
	VMOVUPS HI, K2, 64(DI) \
	ADDQ SI, DI \
	DECQ CX \
	JZ   DONE

// STORE16 writes the first rows (1–8) rows of the block to C.
#define STORE16(DONE) \
	MOVQ rows+80(FP), CX \
	STORE(Z0, Z1, DONE) \
	STORE(Z2, Z3, DONE) \
	STORE(Z4, Z5, DONE) \
	STORE(Z6, Z7, DONE) \
	STORE(Z8, Z9, DONE) \
	STORE(Z10, Z11, DONE) \
	STORE(Z12, Z13, DONE) \
	STORE(Z14, Z15, DONE)

// ARGS loads the arguments of both kernels, sets K1, K2 to the first cols (1–32) columns and
// R13 to the prefetch distance in bytes.
#define ARGS \
	MOVQ k+0(FP), CX \
	MOVQ a+8(FP), AX \
	MOVQ lda+16(FP), R9 \
	SHLQ $2, R9 \
	MOVQ b+24(FP), BX \
	MOVQ ldb+32(FP), DX \
	SHLQ $2, DX \
	MOVQ c+40(FP), DI \
	MOVQ ldc+48(FP), SI \
	SHLQ $2, SI \
	MOVQ cols+56(FP), R8 \
	MOVQ $-1, R12 \
	SHLXQ R8, R12, R12 \
	NOTQ R12 \
	KMOVW R12, K1 \
	SHRQ $16, R12 \
	KMOVW R12, K2 \
	MOVBQZX acc+64(FP), R8 \
	MOVQ pf+72(FP), R13 \
	IMULQ DX, R13

// func microKernelRows(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cols int, acc bool, pf int, rows int)
TEXT ·microKernelRows(SB), NOSPLIT, $0-88
	ARGS
	LEAQ (AX)(R9*2), R10
	ADDQ R9, R10
	LEAQ (R10)(R9*2), R11
	ADDQ R9, R11
	ZERO16

rloop4:
	CMPQ CX, $4
	JLT  rtail
	RSTEP(0)
	RSTEP(4)
	RSTEP(8)
	RSTEP(12)
	ADDQ $16, AX
	ADDQ $16, R10
	ADDQ $16, R11
	SUBQ $4, CX
	JMP  rloop4

rtail:
	TESTQ CX, CX
	JZ    rstore
	RSTEP(0)
	ADDQ $4, AX
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ CX
	JMP  rtail

rstore:
	STORE16(rdone)

rdone:
	VZEROUPPER
	RET

// func microKernelCols(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cols int, acc bool, pf int, rows int)
TEXT ·microKernelCols(SB), NOSPLIT, $0-88
	ARGS
	ZERO16

cloop4:
	CMPQ CX, $4
	JLT  ctail
	CSTEP
	CSTEP
	CSTEP
	CSTEP
	SUBQ $4, CX
	JMP  cloop4

ctail:
	TESTQ CX, CX
	JZ    cstore
	CSTEP
	DECQ CX
	JMP  ctail

cstore:
	STORE16(cdone)

cdone:
	VZEROUPPER
	RET
