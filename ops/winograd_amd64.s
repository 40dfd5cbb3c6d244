#include "textflag.h"

// Vectorised float32 Winograd transforms; see winograd_amd64.go for their contracts. Each kernel
// does, lane by lane, exactly the additions of its Go counterpart in the same order, so the
// results are bitwise the same. Transformed blocks hold 16 planes 1024 bytes (winoKB floats)
// apart.

// Lane selections for VPERMT2PS / VPERMPS over two 16-lane tables (lanes 16–31 the second).
DATA wino512Even<>+0(SB)/4, $0
DATA wino512Even<>+4(SB)/4, $2
DATA wino512Even<>+8(SB)/4, $4
DATA wino512Even<>+12(SB)/4, $6
DATA wino512Even<>+16(SB)/4, $8
DATA wino512Even<>+20(SB)/4, $10
DATA wino512Even<>+24(SB)/4, $12
DATA wino512Even<>+28(SB)/4, $14
DATA wino512Even<>+32(SB)/4, $16
DATA wino512Even<>+36(SB)/4, $18
DATA wino512Even<>+40(SB)/4, $20
DATA wino512Even<>+44(SB)/4, $22
DATA wino512Even<>+48(SB)/4, $24
DATA wino512Even<>+52(SB)/4, $26
DATA wino512Even<>+56(SB)/4, $28
DATA wino512Even<>+60(SB)/4, $30
GLOBL wino512Even<>(SB), RODATA|NOPTR, $64

DATA wino512Odd<>+0(SB)/4, $1
DATA wino512Odd<>+4(SB)/4, $3
DATA wino512Odd<>+8(SB)/4, $5
DATA wino512Odd<>+12(SB)/4, $7
DATA wino512Odd<>+16(SB)/4, $9
DATA wino512Odd<>+20(SB)/4, $11
DATA wino512Odd<>+24(SB)/4, $13
DATA wino512Odd<>+28(SB)/4, $15
DATA wino512Odd<>+32(SB)/4, $17
DATA wino512Odd<>+36(SB)/4, $19
DATA wino512Odd<>+40(SB)/4, $21
DATA wino512Odd<>+44(SB)/4, $23
DATA wino512Odd<>+48(SB)/4, $25
DATA wino512Odd<>+52(SB)/4, $27
DATA wino512Odd<>+56(SB)/4, $29
DATA wino512Odd<>+60(SB)/4, $31
GLOBL wino512Odd<>(SB), RODATA|NOPTR, $64

// Interleaving: lanes 0..7 of both tables, then lanes 8..15.
DATA wino512Lo<>+0(SB)/4, $0
DATA wino512Lo<>+4(SB)/4, $16
DATA wino512Lo<>+8(SB)/4, $1
DATA wino512Lo<>+12(SB)/4, $17
DATA wino512Lo<>+16(SB)/4, $2
DATA wino512Lo<>+20(SB)/4, $18
DATA wino512Lo<>+24(SB)/4, $3
DATA wino512Lo<>+28(SB)/4, $19
DATA wino512Lo<>+32(SB)/4, $4
DATA wino512Lo<>+36(SB)/4, $20
DATA wino512Lo<>+40(SB)/4, $5
DATA wino512Lo<>+44(SB)/4, $21
DATA wino512Lo<>+48(SB)/4, $6
DATA wino512Lo<>+52(SB)/4, $22
DATA wino512Lo<>+56(SB)/4, $7
DATA wino512Lo<>+60(SB)/4, $23
GLOBL wino512Lo<>(SB), RODATA|NOPTR, $64

DATA wino512Hi<>+0(SB)/4, $8
DATA wino512Hi<>+4(SB)/4, $24
DATA wino512Hi<>+8(SB)/4, $9
DATA wino512Hi<>+12(SB)/4, $25
DATA wino512Hi<>+16(SB)/4, $10
DATA wino512Hi<>+20(SB)/4, $26
DATA wino512Hi<>+24(SB)/4, $11
DATA wino512Hi<>+28(SB)/4, $27
DATA wino512Hi<>+32(SB)/4, $12
DATA wino512Hi<>+36(SB)/4, $28
DATA wino512Hi<>+40(SB)/4, $13
DATA wino512Hi<>+44(SB)/4, $29
DATA wino512Hi<>+48(SB)/4, $14
DATA wino512Hi<>+52(SB)/4, $30
DATA wino512Hi<>+56(SB)/4, $15
DATA wino512Hi<>+60(SB)/4, $31
GLOBL wino512Hi<>(SB), RODATA|NOPTR, $64

// Lane i's offset, in floats, of weight i's 3×3 kernel: 9i.
DATA wino512Nine<>+0(SB)/4, $0
DATA wino512Nine<>+4(SB)/4, $9
DATA wino512Nine<>+8(SB)/4, $18
DATA wino512Nine<>+12(SB)/4, $27
DATA wino512Nine<>+16(SB)/4, $36
DATA wino512Nine<>+20(SB)/4, $45
DATA wino512Nine<>+24(SB)/4, $54
DATA wino512Nine<>+28(SB)/4, $63
DATA wino512Nine<>+32(SB)/4, $72
DATA wino512Nine<>+36(SB)/4, $81
DATA wino512Nine<>+40(SB)/4, $90
DATA wino512Nine<>+44(SB)/4, $99
DATA wino512Nine<>+48(SB)/4, $108
DATA wino512Nine<>+52(SB)/4, $117
DATA wino512Nine<>+56(SB)/4, $126
DATA wino512Nine<>+60(SB)/4, $135
GLOBL wino512Nine<>(SB), RODATA|NOPTR, $64

// func cpuidex(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuidex(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv0() (eax, edx uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// WINO_MASKS sets, for min(SI, 16) = cnt tiles this pass, K3 to cnt lanes and K1, K2 to the
// low and high halves of 2·cnt lanes. Clobbers CX, DX.
#define WINO_MASKS \
	MOVQ SI, CX \
	MOVQ $16, DX \
	CMPQ CX, DX \
	CMOVQGT DX, CX \
	MOVQ $1, DX \
	SHLQ CX, DX \
	DECQ DX \
	KMOVW DX, K3 \
	MOVQ $1, DX \
	SHLQ CX, DX \
	SHLQ CX, DX \
	DECQ DX \
	KMOVW DX, K1 \
	SHRQ $16, DX \
	KMOVW DX, K2

// DEINT splits the 32 columns in L, H into even columns (to E) and odd ones (to L).
#define DEINT(L, H, E) \
	VMOVAPS L, E \
	VPERMT2PS H, Z30, E \
	VPERMT2PS H, Z31, L

// func winoInputRows512(r0, r1, r2, r3 *float32, n int, out *float32)
TEXT ·winoInputRows512(SB), NOSPLIT, $0-48
	MOVQ r0+0(FP), AX
	MOVQ r1+8(FP), BX
	MOVQ r2+16(FP), R8
	MOVQ r3+24(FP), R9
	MOVQ n+32(FP), SI
	MOVQ out+40(FP), DI
	VMOVUPS wino512Even<>(SB), Z30
	VMOVUPS wino512Odd<>(SB), Z31

inLoop:
	TESTQ SI, SI
	JLE   inDone
	WINO_MASKS

	// Columns 0..31 of each row (patch columns 2j and 2j+1) and 2..33 (2j+2 and 2j+3).
	VMOVUPS.Z (AX), K1, Z0
	VMOVUPS.Z 64(AX), K2, Z1
	VMOVUPS.Z (BX), K1, Z2
	VMOVUPS.Z 64(BX), K2, Z3
	VMOVUPS.Z (R8), K1, Z4
	VMOVUPS.Z 64(R8), K2, Z5
	VMOVUPS.Z (R9), K1, Z6
	VMOVUPS.Z 64(R9), K2, Z7
	VMOVUPS.Z 8(AX), K1, Z8
	VMOVUPS.Z 72(AX), K2, Z9
	VMOVUPS.Z 8(BX), K1, Z10
	VMOVUPS.Z 72(BX), K2, Z11
	VMOVUPS.Z 8(R8), K1, Z12
	VMOVUPS.Z 72(R8), K2, Z13
	VMOVUPS.Z 8(R9), K1, Z14
	VMOVUPS.Z 72(R9), K2, Z15

	// Row r: column 2j in Z(16+r), 2j+1 in Z(2r), 2j+2 in Z(20+r), 2j+3 in Z(8+2r).
	DEINT(Z0, Z1, Z16)
	DEINT(Z2, Z3, Z17)
	DEINT(Z4, Z5, Z18)
	DEINT(Z6, Z7, Z19)
	DEINT(Z8, Z9, Z20)
	DEINT(Z10, Z11, Z21)
	DEINT(Z12, Z13, Z22)
	DEINT(Z14, Z15, Z23)

	// Vertical transforms Bᵀ·d (rows r0-r2, r1+r2, r2-r1, r1-r3) of the four columns:
	// column 2j to Z24..Z27, 2j+1 to Z16..Z19, 2j+2 to Z0..Z3, 2j+3 to Z4..Z7.
	VSUBPS Z18, Z16, Z24
	VADDPS Z18, Z17, Z25
	VSUBPS Z17, Z18, Z26
	VSUBPS Z19, Z17, Z27
	VSUBPS Z4, Z0, Z16
	VADDPS Z4, Z2, Z17
	VSUBPS Z2, Z4, Z18
	VSUBPS Z6, Z2, Z19
	VSUBPS Z22, Z20, Z0
	VADDPS Z22, Z21, Z1
	VSUBPS Z21, Z22, Z2
	VSUBPS Z23, Z21, Z3
	VSUBPS Z12, Z8, Z4
	VADDPS Z12, Z10, Z5
	VSUBPS Z10, Z12, Z6
	VSUBPS Z14, Z10, Z7

	// Horizontal: ξ = 4k+0..3 is a-c, b+c, c-b, b-d of the columns' row k.
	VSUBPS Z0, Z24, Z8
	VADDPS Z0, Z16, Z9
	VSUBPS Z16, Z0, Z10
	VSUBPS Z4, Z16, Z11
	VMOVUPS Z8, K3, (DI)
	VMOVUPS Z9, K3, 1024(DI)
	VMOVUPS Z10, K3, 2048(DI)
	VMOVUPS Z11, K3, 3072(DI)
	VSUBPS Z1, Z25, Z8
	VADDPS Z1, Z17, Z9
	VSUBPS Z17, Z1, Z10
	VSUBPS Z5, Z17, Z11
	VMOVUPS Z8, K3, 4096(DI)
	VMOVUPS Z9, K3, 5120(DI)
	VMOVUPS Z10, K3, 6144(DI)
	VMOVUPS Z11, K3, 7168(DI)
	VSUBPS Z2, Z26, Z8
	VADDPS Z2, Z18, Z9
	VSUBPS Z18, Z2, Z10
	VSUBPS Z6, Z18, Z11
	VMOVUPS Z8, K3, 8192(DI)
	VMOVUPS Z9, K3, 9216(DI)
	VMOVUPS Z10, K3, 10240(DI)
	VMOVUPS Z11, K3, 11264(DI)
	VSUBPS Z3, Z27, Z8
	VADDPS Z3, Z19, Z9
	VSUBPS Z19, Z3, Z10
	VSUBPS Z7, Z19, Z11
	VMOVUPS Z8, K3, 12288(DI)
	VMOVUPS Z9, K3, 13312(DI)
	VMOVUPS Z10, K3, 14336(DI)
	VMOVUPS Z11, K3, 15360(DI)

	ADDQ $128, AX
	ADDQ $128, BX
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $64, DI
	SUBQ $16, SI
	JMP  inLoop

inDone:
	VZEROUPPER
	RET

// func winoOutputRows512(in *float32, n int, bv float32, row0, row1 *float32)
TEXT ·winoOutputRows512(SB), NOSPLIT, $0-40
	MOVQ in+0(FP), AX
	MOVQ n+8(FP), SI
	VBROADCASTSS bv+16(FP), Z29
	MOVQ row0+24(FP), BX
	MOVQ row1+32(FP), R8
	VMOVUPS wino512Lo<>(SB), Z30
	VMOVUPS wino512Hi<>(SB), Z31

outLoop:
	TESTQ SI, SI
	JLE   outDone
	WINO_MASKS

	VMOVUPS.Z (AX), K3, Z0
	VMOVUPS.Z 1024(AX), K3, Z1
	VMOVUPS.Z 2048(AX), K3, Z2
	VMOVUPS.Z 3072(AX), K3, Z3
	VMOVUPS.Z 4096(AX), K3, Z4
	VMOVUPS.Z 5120(AX), K3, Z5
	VMOVUPS.Z 6144(AX), K3, Z6
	VMOVUPS.Z 7168(AX), K3, Z7
	VMOVUPS.Z 8192(AX), K3, Z8
	VMOVUPS.Z 9216(AX), K3, Z9
	VMOVUPS.Z 10240(AX), K3, Z10
	VMOVUPS.Z 11264(AX), K3, Z11
	VMOVUPS.Z 12288(AX), K3, Z12
	VMOVUPS.Z 13312(AX), K3, Z13
	VMOVUPS.Z 14336(AX), K3, Z14
	VMOVUPS.Z 15360(AX), K3, Z15

	// s = rows 0+1+2 of M (Z16..Z19), t = rows 1-2-3 (Z20..Z23).
	VADDPS Z4, Z0, Z16
	VADDPS Z8, Z16, Z16
	VADDPS Z5, Z1, Z17
	VADDPS Z9, Z17, Z17
	VADDPS Z6, Z2, Z18
	VADDPS Z10, Z18, Z18
	VADDPS Z7, Z3, Z19
	VADDPS Z11, Z19, Z19
	VSUBPS Z8, Z4, Z20
	VSUBPS Z12, Z20, Z20
	VSUBPS Z9, Z5, Z21
	VSUBPS Z13, Z21, Z21
	VSUBPS Z10, Z6, Z22
	VSUBPS Z14, Z22, Z22
	VSUBPS Z11, Z7, Z23
	VSUBPS Z15, Z23, Z23

	// Columns: y0 = s0+s1+s2+bv, y1 = s1-s2-s3+bv (and likewise from t).
	VADDPS Z17, Z16, Z0
	VADDPS Z18, Z0, Z0
	VADDPS Z29, Z0, Z0
	VSUBPS Z18, Z17, Z1
	VSUBPS Z19, Z1, Z1
	VADDPS Z29, Z1, Z1
	VADDPS Z21, Z20, Z2
	VADDPS Z22, Z2, Z2
	VADDPS Z29, Z2, Z2
	VSUBPS Z22, Z21, Z3
	VSUBPS Z23, Z3, Z3
	VADDPS Z29, Z3, Z3

	VMOVAPS Z0, Z4
	VPERMT2PS Z1, Z30, Z4
	VPERMT2PS Z1, Z31, Z0
	VMOVAPS Z2, Z5
	VPERMT2PS Z3, Z30, Z5
	VPERMT2PS Z3, Z31, Z2
	VMOVUPS Z4, K1, (BX)
	VMOVUPS Z0, K2, 64(BX)
	VMOVUPS Z5, K1, (R8)
	VMOVUPS Z2, K2, 64(R8)

	ADDQ $64, AX
	ADDQ $128, BX
	ADDQ $128, R8
	SUBQ $16, SI
	JMP  outLoop

outDone:
	VZEROUPPER
	RET

// func wgDyRows512(row0, row1 *float32, n int, out *float32)
TEXT ·wgDyRows512(SB), NOSPLIT, $0-32
	MOVQ row0+0(FP), AX
	MOVQ row1+8(FP), BX
	MOVQ n+16(FP), SI
	MOVQ out+24(FP), DI
	VMOVUPS wino512Even<>(SB), Z30
	VMOVUPS wino512Odd<>(SB), Z31

dyLoop:
	TESTQ SI, SI
	JLE   dyDone
	WINO_MASKS

	VMOVUPS.Z (AX), K1, Z0
	VMOVUPS.Z 64(AX), K2, Z1
	VMOVUPS.Z (BX), K1, Z2
	VMOVUPS.Z 64(BX), K2, Z3
	DEINT(Z0, Z1, Z4) // row 0: column 2j in Z4, 2j+1 in Z0
	DEINT(Z2, Z3, Z5) // row 1: column 2j in Z5, 2j+1 in Z2

	// Vertical: p = (a, a+b, a-b, b) for column 2j (Z4, Z6, Z7, Z5), q likewise for 2j+1
	// (Z0, Z8, Z9, Z2); then ξ = 4k+0..3 is p, p+q, p-q, q of row k.
	VADDPS Z5, Z4, Z6
	VSUBPS Z5, Z4, Z7
	VADDPS Z2, Z0, Z8
	VSUBPS Z2, Z0, Z9

	VADDPS Z0, Z4, Z10
	VSUBPS Z0, Z4, Z11
	VMOVUPS Z4, K3, (DI)
	VMOVUPS Z10, K3, 1024(DI)
	VMOVUPS Z11, K3, 2048(DI)
	VMOVUPS Z0, K3, 3072(DI)
	VADDPS Z8, Z6, Z10
	VSUBPS Z8, Z6, Z11
	VMOVUPS Z6, K3, 4096(DI)
	VMOVUPS Z10, K3, 5120(DI)
	VMOVUPS Z11, K3, 6144(DI)
	VMOVUPS Z8, K3, 7168(DI)
	VADDPS Z9, Z7, Z10
	VSUBPS Z9, Z7, Z11
	VMOVUPS Z7, K3, 8192(DI)
	VMOVUPS Z10, K3, 9216(DI)
	VMOVUPS Z11, K3, 10240(DI)
	VMOVUPS Z9, K3, 11264(DI)
	VADDPS Z2, Z5, Z10
	VSUBPS Z2, Z5, Z11
	VMOVUPS Z5, K3, 12288(DI)
	VMOVUPS Z10, K3, 13312(DI)
	VMOVUPS Z11, K3, 14336(DI)
	VMOVUPS Z2, K3, 15360(DI)

	ADDQ $128, AX
	ADDQ $128, BX
	ADDQ $64, DI
	SUBQ $16, SI
	JMP  dyLoop

dyDone:
	VZEROUPPER
	RET

// AVX2 versions: 8 tiles a pass, whole passes only (the caller does the rest in Go).

// DEINT256(mem, L, E) splits columns [0,16) (the first 8 in L, the next 8 at mem) into even
// columns (to E) and odd ones (to L).
#define DEINT256(mem, L, E) \
	VSHUFPS $0x88, mem, L, E \
	VSHUFPS $0xDD, mem, L, L \
	VPERMPD $0xD8, E, E \
	VPERMPD $0xD8, L, L

// EVEN256(mem, L) leaves the even columns of [0,16) in L.
#define EVEN256(mem, L) \
	VSHUFPS $0x88, mem, L, L \
	VPERMPD $0xD8, L, L

// ODD256(mem, L) leaves the odd columns of [0,16) in L.
#define ODD256(mem, L) \
	VSHUFPS $0xDD, mem, L, L \
	VPERMPD $0xD8, L, L

// func winoInputRows256(r0, r1, r2, r3 *float32, n int, out *float32)
TEXT ·winoInputRows256(SB), NOSPLIT, $0-48
	MOVQ r0+0(FP), AX
	MOVQ r1+8(FP), BX
	MOVQ r2+16(FP), R8
	MOVQ r3+24(FP), R9
	MOVQ n+32(FP), SI
	MOVQ out+40(FP), DI

in256Loop:
	CMPQ SI, $8
	JL   in256Done

	// Columns 2j (Y0..Y3 by row) and 2j+1 (Y4..Y7).
	VMOVUPS (AX), Y4
	VMOVUPS (BX), Y5
	VMOVUPS (R8), Y6
	VMOVUPS (R9), Y7
	DEINT256(32(AX), Y4, Y0)
	DEINT256(32(BX), Y5, Y1)
	DEINT256(32(R8), Y6, Y2)
	DEINT256(32(R9), Y7, Y3)
	// Their vertical transforms: column 2j to Y8..Y11, 2j+1 to Y12..Y15.
	VSUBPS Y2, Y0, Y8
	VADDPS Y2, Y1, Y9
	VSUBPS Y1, Y2, Y10
	VSUBPS Y3, Y1, Y11
	VSUBPS Y6, Y4, Y12
	VADDPS Y6, Y5, Y13
	VSUBPS Y5, Y6, Y14
	VSUBPS Y7, Y5, Y15

	// Column 2j+2 (Y0..Y3), its vertical transform (Y4..Y7), and ξ = 4k+0..2:
	// a-c, b+c, c-b.
	VMOVUPS 8(AX), Y0
	VMOVUPS 8(BX), Y1
	VMOVUPS 8(R8), Y2
	VMOVUPS 8(R9), Y3
	EVEN256(40(AX), Y0)
	EVEN256(40(BX), Y1)
	EVEN256(40(R8), Y2)
	EVEN256(40(R9), Y3)
	VSUBPS Y2, Y0, Y4
	VADDPS Y2, Y1, Y5
	VSUBPS Y1, Y2, Y6
	VSUBPS Y3, Y1, Y7

	VSUBPS Y4, Y8, Y0
	VADDPS Y4, Y12, Y1
	VSUBPS Y12, Y4, Y2
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 1024(DI)
	VMOVUPS Y2, 2048(DI)
	VSUBPS Y5, Y9, Y0
	VADDPS Y5, Y13, Y1
	VSUBPS Y13, Y5, Y2
	VMOVUPS Y0, 4096(DI)
	VMOVUPS Y1, 5120(DI)
	VMOVUPS Y2, 6144(DI)
	VSUBPS Y6, Y10, Y0
	VADDPS Y6, Y14, Y1
	VSUBPS Y14, Y6, Y2
	VMOVUPS Y0, 8192(DI)
	VMOVUPS Y1, 9216(DI)
	VMOVUPS Y2, 10240(DI)
	VSUBPS Y7, Y11, Y0
	VADDPS Y7, Y15, Y1
	VSUBPS Y15, Y7, Y2
	VMOVUPS Y0, 12288(DI)
	VMOVUPS Y1, 13312(DI)
	VMOVUPS Y2, 14336(DI)

	// Column 2j+3 (Y0..Y3), its vertical transform (Y4..Y7), and ξ = 4k+3: b-d.
	VMOVUPS 8(AX), Y0
	VMOVUPS 8(BX), Y1
	VMOVUPS 8(R8), Y2
	VMOVUPS 8(R9), Y3
	ODD256(40(AX), Y0)
	ODD256(40(BX), Y1)
	ODD256(40(R8), Y2)
	ODD256(40(R9), Y3)
	VSUBPS Y2, Y0, Y4
	VADDPS Y2, Y1, Y5
	VSUBPS Y1, Y2, Y6
	VSUBPS Y3, Y1, Y7
	VSUBPS Y4, Y12, Y0
	VSUBPS Y5, Y13, Y1
	VSUBPS Y6, Y14, Y2
	VSUBPS Y7, Y15, Y3
	VMOVUPS Y0, 3072(DI)
	VMOVUPS Y1, 7168(DI)
	VMOVUPS Y2, 11264(DI)
	VMOVUPS Y3, 15360(DI)

	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $32, DI
	SUBQ $8, SI
	JMP  in256Loop

in256Done:
	VZEROUPPER
	RET

// func winoOutputRows256(in *float32, n int, bv float32, row0, row1 *float32)
TEXT ·winoOutputRows256(SB), NOSPLIT, $0-40
	MOVQ in+0(FP), AX
	MOVQ n+8(FP), SI
	VBROADCASTSS bv+16(FP), Y15
	MOVQ row0+24(FP), BX
	MOVQ row1+32(FP), R8

out256Loop:
	CMPQ SI, $8
	JL   out256Done

	// s = rows 0+1+2 of M (Y0..Y3), t = rows 1-2-3 (Y4..Y7).
	VMOVUPS (AX), Y0
	VADDPS 4096(AX), Y0, Y0
	VADDPS 8192(AX), Y0, Y0
	VMOVUPS 1024(AX), Y1
	VADDPS 5120(AX), Y1, Y1
	VADDPS 9216(AX), Y1, Y1
	VMOVUPS 2048(AX), Y2
	VADDPS 6144(AX), Y2, Y2
	VADDPS 10240(AX), Y2, Y2
	VMOVUPS 3072(AX), Y3
	VADDPS 7168(AX), Y3, Y3
	VADDPS 11264(AX), Y3, Y3
	VMOVUPS 4096(AX), Y4
	VSUBPS 8192(AX), Y4, Y4
	VSUBPS 12288(AX), Y4, Y4
	VMOVUPS 5120(AX), Y5
	VSUBPS 9216(AX), Y5, Y5
	VSUBPS 13312(AX), Y5, Y5
	VMOVUPS 6144(AX), Y6
	VSUBPS 10240(AX), Y6, Y6
	VSUBPS 14336(AX), Y6, Y6
	VMOVUPS 7168(AX), Y7
	VSUBPS 11264(AX), Y7, Y7
	VSUBPS 15360(AX), Y7, Y7

	// Columns: s0+s1+s2+bv and s1-s2-s3+bv (Y8, Y9), likewise from t (Y10, Y11).
	VADDPS Y1, Y0, Y8
	VADDPS Y2, Y8, Y8
	VADDPS Y15, Y8, Y8
	VSUBPS Y2, Y1, Y9
	VSUBPS Y3, Y9, Y9
	VADDPS Y15, Y9, Y9
	VADDPS Y5, Y4, Y10
	VADDPS Y6, Y10, Y10
	VADDPS Y15, Y10, Y10
	VSUBPS Y6, Y5, Y11
	VSUBPS Y7, Y11, Y11
	VADDPS Y15, Y11, Y11

	// Interleave the even and odd output columns.
	VUNPCKLPS Y9, Y8, Y12
	VUNPCKHPS Y9, Y8, Y13
	VPERM2F128 $0x20, Y13, Y12, Y0
	VPERM2F128 $0x31, Y13, Y12, Y1
	VUNPCKLPS Y11, Y10, Y12
	VUNPCKHPS Y11, Y10, Y13
	VPERM2F128 $0x20, Y13, Y12, Y2
	VPERM2F128 $0x31, Y13, Y12, Y3
	VMOVUPS Y0, (BX)
	VMOVUPS Y1, 32(BX)
	VMOVUPS Y2, (R8)
	VMOVUPS Y3, 32(R8)

	ADDQ $32, AX
	ADDQ $64, BX
	ADDQ $64, R8
	SUBQ $8, SI
	JMP  out256Loop

out256Done:
	VZEROUPPER
	RET

// func wgDyRows256(row0, row1 *float32, n int, out *float32)
TEXT ·wgDyRows256(SB), NOSPLIT, $0-32
	MOVQ row0+0(FP), AX
	MOVQ row1+8(FP), BX
	MOVQ n+16(FP), SI
	MOVQ out+24(FP), DI

dy256Loop:
	CMPQ SI, $8
	JL   dy256Done

	VMOVUPS (AX), Y0
	VMOVUPS (BX), Y2
	DEINT256(32(AX), Y0, Y4) // row 0: column 2j in Y4, 2j+1 in Y0
	DEINT256(32(BX), Y2, Y5) // row 1: column 2j in Y5, 2j+1 in Y2
	VADDPS Y5, Y4, Y6
	VSUBPS Y5, Y4, Y7
	VADDPS Y2, Y0, Y8
	VSUBPS Y2, Y0, Y9

	VADDPS Y0, Y4, Y10
	VSUBPS Y0, Y4, Y11
	VMOVUPS Y4, (DI)
	VMOVUPS Y10, 1024(DI)
	VMOVUPS Y11, 2048(DI)
	VMOVUPS Y0, 3072(DI)
	VADDPS Y8, Y6, Y10
	VSUBPS Y8, Y6, Y11
	VMOVUPS Y6, 4096(DI)
	VMOVUPS Y10, 5120(DI)
	VMOVUPS Y11, 6144(DI)
	VMOVUPS Y8, 7168(DI)
	VADDPS Y9, Y7, Y10
	VSUBPS Y9, Y7, Y11
	VMOVUPS Y7, 8192(DI)
	VMOVUPS Y10, 9216(DI)
	VMOVUPS Y11, 10240(DI)
	VMOVUPS Y9, 11264(DI)
	VADDPS Y2, Y5, Y10
	VSUBPS Y2, Y5, Y11
	VMOVUPS Y5, 12288(DI)
	VMOVUPS Y10, 13312(DI)
	VMOVUPS Y11, 14336(DI)
	VMOVUPS Y2, 15360(DI)

	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $32, DI
	SUBQ $8, SI
	JMP  dy256Loop

dy256Done:
	VZEROUPPER
	RET

// AVX-512 weight transforms, 16 kernels a pass; the 3×3 kernels are gathered and scattered
// with a stride of 9 floats (wino512Nine).

DATA wino512Half<>+0(SB)/4, $0.5
GLOBL wino512Half<>(SB), RODATA|NOPTR, $4
DATA wino512Quarter<>+0(SB)/4, $0.25
GLOBL wino512Quarter<>(SB), RODATA|NOPTR, $4

// GATHER9(off, dst) loads tap off/4 of the pass's 16 kernels; K2 holds the pass's lanes.
#define GATHER9(off, dst) \
	KMOVW K2, K1 \
	VGATHERDPS off(AX)(Z31*4), K1, dst

// STOREPLANE(src) stores src to the current plane (R9) and moves R9 to the next one.
#define STOREPLANE(src) \
	VMOVUPS src, K2, (R9) \
	ADDQ    R10, R9

// func winoKernel512(w *float32, n int, u *float32, us int)
TEXT ·winoKernel512(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), AX
	MOVQ n+8(FP), SI
	MOVQ u+16(FP), DI
	MOVQ us+24(FP), R10
	SHLQ $2, R10
	VMOVDQU32 wino512Nine<>(SB), Z31
	VBROADCASTSS wino512Half<>(SB), Z30
	VBROADCASTSS wino512Quarter<>(SB), Z29

kerLoop:
	TESTQ SI, SI
	JLE   kerDone
	MOVQ SI, CX
	MOVQ $16, DX
	CMPQ CX, DX
	CMOVQGT DX, CX
	MOVQ $1, DX
	SHLQ CX, DX
	DECQ DX
	KMOVW DX, K2

	GATHER9(0, Z0)
	GATHER9(4, Z1)
	GATHER9(8, Z2)
	GATHER9(12, Z3)
	GATHER9(16, Z4)
	GATHER9(20, Z5)
	GATHER9(24, Z6)
	GATHER9(28, Z7)
	GATHER9(32, Z8)

	// e = rows 0+2 (Z9..Z11); q1 = e + row 1 (Z12..Z14), q2 = e - row 1 (Z15..Z17).
	VADDPS Z6, Z0, Z9
	VADDPS Z7, Z1, Z10
	VADDPS Z8, Z2, Z11
	VADDPS Z3, Z9, Z12
	VADDPS Z4, Z10, Z13
	VADDPS Z5, Z11, Z14
	VSUBPS Z3, Z9, Z15
	VSUBPS Z4, Z10, Z16
	VSUBPS Z5, Z11, Z17

	MOVQ DI, R9
	// Row 0 of G·k·Gᵀ from kernel row 0: k0, (k0+k2+k1)/2, (k0+k2-k1)/2, k2.
	VADDPS Z2, Z0, Z18
	VADDPS Z1, Z18, Z19
	VSUBPS Z1, Z18, Z20
	VMULPS Z30, Z19, Z19
	VMULPS Z30, Z20, Z20
	STOREPLANE(Z0)
	STOREPLANE(Z19)
	STOREPLANE(Z20)
	STOREPLANE(Z2)
	// Rows 1 and 2 from q1 and q2: q0/2, (q0+q2+q1)/4, (q0+q2-q1)/4, q2/2.
	VADDPS Z14, Z12, Z18
	VMULPS Z30, Z12, Z19
	VADDPS Z13, Z18, Z20
	VSUBPS Z13, Z18, Z21
	VMULPS Z29, Z20, Z20
	VMULPS Z29, Z21, Z21
	VMULPS Z30, Z14, Z22
	STOREPLANE(Z19)
	STOREPLANE(Z20)
	STOREPLANE(Z21)
	STOREPLANE(Z22)
	VADDPS Z17, Z15, Z18
	VMULPS Z30, Z15, Z19
	VADDPS Z16, Z18, Z20
	VSUBPS Z16, Z18, Z21
	VMULPS Z29, Z20, Z20
	VMULPS Z29, Z21, Z21
	VMULPS Z30, Z17, Z22
	STOREPLANE(Z19)
	STOREPLANE(Z20)
	STOREPLANE(Z21)
	STOREPLANE(Z22)
	// Row 3 from kernel row 2.
	VADDPS Z8, Z6, Z18
	VADDPS Z7, Z18, Z19
	VSUBPS Z7, Z18, Z20
	VMULPS Z30, Z19, Z19
	VMULPS Z30, Z20, Z20
	STOREPLANE(Z6)
	STOREPLANE(Z19)
	STOREPLANE(Z20)
	STOREPLANE(Z8)

	ADDQ $576, AX
	ADDQ $64, DI
	SUBQ $16, SI
	JMP  kerLoop

kerDone:
	VZEROUPPER
	RET

// LOADPLANE(dst) loads the current plane (R9) and moves R9 to the next one.
#define LOADPLANE(dst) \
	VMOVUPS.Z (R9), K2, dst \
	ADDQ      R10, R9

// SCATTER9(src, off) stores src to tap off/4 of the pass's 16 kernels.
#define SCATTER9(src, off) \
	KMOVW K2, K1 \
	VSCATTERDPS src, K1, off(DI)(Z31*4)

// INVROW(t0, t1, t2, t3, off) writes kernel row off/12: 2t0+h, t1-t2, h-2t3 with h = t1+t2.
#define INVROW(t0, t1, t2, t3, off) \
	VADDPS t2, t1, Z24 \
	VADDPS t0, t0, Z25 \
	VADDPS Z24, Z25, Z25 \
	VSUBPS t2, t1, Z26 \
	VADDPS t3, t3, Z27 \
	VSUBPS Z27, Z24, Z27 \
	SCATTER9(Z25, off) \
	SCATTER9(Z26, off+4) \
	SCATTER9(Z27, off+8)

// func wgInverseRow512(row *float32, cs, c int, k *float32)
TEXT ·wgInverseRow512(SB), NOSPLIT, $0-32
	MOVQ row+0(FP), AX
	MOVQ cs+8(FP), R10
	SHLQ $2, R10
	MOVQ c+16(FP), SI
	MOVQ k+24(FP), DI
	VMOVDQU32 wino512Nine<>(SB), Z31

invLoop:
	TESTQ SI, SI
	JLE   invDone
	MOVQ SI, CX
	MOVQ $16, DX
	CMPQ CX, DX
	CMOVQGT DX, CX
	MOVQ $1, DX
	SHLQ CX, DX
	DECQ DX
	KMOVW DX, K2

	MOVQ AX, R9
	LOADPLANE(Z0)
	LOADPLANE(Z1)
	LOADPLANE(Z2)
	LOADPLANE(Z3)
	LOADPLANE(Z4)
	LOADPLANE(Z5)
	LOADPLANE(Z6)
	LOADPLANE(Z7)
	LOADPLANE(Z8)
	LOADPLANE(Z9)
	LOADPLANE(Z10)
	LOADPLANE(Z11)
	LOADPLANE(Z12)
	LOADPLANE(Z13)
	LOADPLANE(Z14)
	LOADPLANE(Z15)

	// Rows: h = W1+W2 (Z16..Z19); t0 = 2W0+h (Z20..Z23), t1 = W1-W2 (Z4..Z7),
	// t2 = h-2W3 (Z12..Z15), column by column.
	VADDPS Z8, Z4, Z16
	VADDPS Z9, Z5, Z17
	VADDPS Z10, Z6, Z18
	VADDPS Z11, Z7, Z19
	VADDPS Z0, Z0, Z0
	VADDPS Z1, Z1, Z1
	VADDPS Z2, Z2, Z2
	VADDPS Z3, Z3, Z3
	VADDPS Z16, Z0, Z20
	VADDPS Z17, Z1, Z21
	VADDPS Z18, Z2, Z22
	VADDPS Z19, Z3, Z23
	VSUBPS Z8, Z4, Z4
	VSUBPS Z9, Z5, Z5
	VSUBPS Z10, Z6, Z6
	VSUBPS Z11, Z7, Z7
	VADDPS Z12, Z12, Z12
	VADDPS Z13, Z13, Z13
	VADDPS Z14, Z14, Z14
	VADDPS Z15, Z15, Z15
	VSUBPS Z12, Z16, Z12
	VSUBPS Z13, Z17, Z13
	VSUBPS Z14, Z18, Z14
	VSUBPS Z15, Z19, Z15

	INVROW(Z20, Z21, Z22, Z23, 0)
	INVROW(Z4, Z5, Z6, Z7, 12)
	INVROW(Z12, Z13, Z14, Z15, 24)

	ADDQ $64, AX
	ADDQ $576, DI
	SUBQ $16, SI
	JMP  invLoop

invDone:
	VZEROUPPER
	RET
