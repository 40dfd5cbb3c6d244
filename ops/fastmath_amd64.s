#include "textflag.h"

// tanhF32x8 is tanh32 (fastmath.go) eight lanes at a time with AVX2: both of tanh32's branches
// are computed for every lane and blended, each with exactly the Go code's float32 operations in
// the same order (no fused multiply-adds), so the results are bitwise the same. c is
// tanhConsts; n is a multiple of 8.
//
// func tanhF32x8(x, y *float32, n int, c *float32)
TEXT ·tanhF32x8(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), R8
	VBROADCASTSS 0(R8), Y11  // |x| mask
	VBROADCASTSS 4(R8), Y12  // sign mask
	VBROADCASTSS 8(R8), Y13  // 0.625: the branch point
	VBROADCASTSS 12(R8), Y9  // 9: tanh rounds to ±1 from here
	VBROADCASTSS 16(R8), Y10 // 1

loop:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y0
	VANDPS  Y11, Y0, Y1      // a = |x|

	// |x| < 0.625: ((((s0·z+s1)·z+s2)·z+s3)·z+s4)·z·x + x with z = x·x
	VMULPS       Y0, Y0, Y2
	VBROADCASTSS 40(R8), Y4
	VMULPS       Y2, Y4, Y4
	VBROADCASTSS 44(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y2, Y4, Y4
	VBROADCASTSS 48(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y2, Y4, Y4
	VBROADCASTSS 52(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y2, Y4, Y4
	VBROADCASTSS 56(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y2, Y4, Y4
	VMULPS       Y0, Y4, Y4
	VADDPS       Y0, Y4, Y2

	// otherwise: 1 - 2/(exp32(2a)+1), a clamped to 9 so that exp32 stays in range
	VMINPS       Y9, Y1, Y5
	VADDPS       Y5, Y5, Y5  // t = 2a
	VBROADCASTSS 24(R8), Y8  // log2e
	VMULPS       Y8, Y5, Y6
	VBROADCASTSS 28(R8), Y8  // 0.5
	VADDPS       Y8, Y6, Y6
	VROUNDPS     $9, Y6, Y6  // n = floor(t·log2e + 0.5)
	VBROADCASTSS 32(R8), Y8  // ln2Hi
	VMULPS       Y8, Y6, Y7
	VSUBPS       Y7, Y5, Y7
	VBROADCASTSS 36(R8), Y8  // ln2Lo
	VMULPS       Y8, Y6, Y4
	VSUBPS       Y4, Y7, Y7  // z = t - n·ln2Hi - n·ln2Lo
	VBROADCASTSS 60(R8), Y4
	VMULPS       Y7, Y4, Y4
	VBROADCASTSS 64(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y7, Y4, Y4
	VBROADCASTSS 68(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y7, Y4, Y4
	VBROADCASTSS 72(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y7, Y4, Y4
	VBROADCASTSS 76(R8), Y8
	VADDPS       Y8, Y4, Y4
	VMULPS       Y7, Y4, Y4
	VBROADCASTSS 80(R8), Y8
	VADDPS       Y8, Y4, Y4  // y
	VMULPS       Y7, Y4, Y4
	VMULPS       Y7, Y4, Y4
	VADDPS       Y7, Y4, Y4
	VADDPS       Y10, Y4, Y4 // y·z·z + z + 1
	VCVTTPS2DQ   Y6, Y6
	VPBROADCASTD 84(R8), Y8  // 127
	VPADDD       Y8, Y6, Y6
	VPSLLD       $23, Y6, Y6 // 2^n
	VMULPS       Y6, Y4, Y4  // e^t
	VADDPS       Y10, Y4, Y4
	VBROADCASTSS 20(R8), Y8  // 2
	VDIVPS       Y4, Y8, Y4
	VSUBPS       Y4, Y10, Y3 // 1 - 2/(e^t+1)
	VCMPPS       $0x0d, Y9, Y1, Y4
	VBLENDVPS    Y4, Y10, Y3, Y3 // 1 where a >= 9
	VANDPS       Y12, Y0, Y4
	VORPS        Y4, Y3, Y3  // the sign of x

	VCMPPS    $0x0d, Y13, Y1, Y4
	VBLENDVPS Y4, Y3, Y2, Y2 // a >= 0.625 takes the second branch (NaN the first, as in Go)
	VMOVUPS   Y2, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop

done:
	VZEROUPPER
	RET

// maxF32x8 sets dst[i] = max(dst[i], src[i]) eight lanes at a time with AVX2, bitwise as Go's
// max: NaN if either is NaN, +0 for the pair ±0 (VMAXPS alone returns its second operand in
// both cases, so the two operand orders are ANDed and NaN lanes blended in). n is a multiple of 8.
//
// func maxF32x8(dst, src *float32, n int)
TEXT ·maxF32x8(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

mloop:
	CMPQ      CX, $8
	JLT       mdone
	VMOVUPS   (DI), Y0
	VMOVUPS   (SI), Y1
	VMAXPS    Y1, Y0, Y2      // a > b ? a : b
	VMAXPS    Y0, Y1, Y3      // b > a ? b : a
	VANDPS    Y3, Y2, Y2      // equal but for ±0, where the AND gives +0
	VCMPPS    $3, Y1, Y0, Y4  // unordered: a or b is NaN
	VADDPS    Y1, Y0, Y5      // NaN there
	VBLENDVPS Y4, Y5, Y2, Y2
	VMOVUPS   Y2, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       mloop

mdone:
	VZEROUPPER
	RET

// reluGradF32x8 sets dx[i] = dy[i] where the bits of x[i], read as a signed integer, are
// positive (x > 0, and NaNs with the sign bit clear) and 0 elsewhere, eight lanes at a time with
// AVX2: bitwise reluGrad's Go loop. n is a multiple of 8.
//
// func reluGradF32x8(x, dy, dx *float32, n int)
TEXT ·reluGradF32x8(SB), NOSPLIT, $0-32
	MOVQ   x+0(FP), SI
	MOVQ   dy+8(FP), DX
	MOVQ   dx+16(FP), DI
	MOVQ   n+24(FP), CX
	VPXOR  Y15, Y15, Y15

gloop:
	CMPQ     CX, $8
	JLT      gdone
	VMOVDQU  (SI), Y0
	VPCMPGTD Y15, Y0, Y1  // x > 0 as int32
	VPAND    (DX), Y1, Y1
	VMOVDQU  Y1, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DX
	ADDQ     $32, DI
	SUBQ     $8, CX
	JMP      gloop

gdone:
	VZEROUPPER
	RET

// evenF32x8 sets dst[k] = src[2k] for k < n, eight at a time with AVX2 (the rows of a stride-2
// im2col): two loads of eight, the even lanes of each 128-bit half picked and the halves put in
// order. n is a multiple of 8 and src holds at least 2n values.
//
// func evenF32x8(dst, src *float32, n int)
TEXT ·evenF32x8(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

eloop:
	CMPQ    CX, $8
	JLT     edone
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2  // a0 a2 b0 b2 | a4 a6 b4 b6
	VPERMPD $0xd8, Y2, Y2      // a0 a2 a4 a6 b0 b2 b4 b6
	VMOVUPS Y2, (DI)
	ADDQ    $64, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     eloop

edone:
	VZEROUPPER
	RET

// sumF32x8 returns Σ x[i] over n values (a multiple of 8) in float64: eight lanes at a time
// converted to double and added into four running sums of four, added up at the end (the order
// differs from a scalar loop's, so the last bits may too).
//
// func sumF32x8(x *float32, n int) float64
TEXT ·sumF32x8(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1

sloop:
	CMPQ      CX, $8
	JLT       sdone
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	SUBQ      $8, CX
	JMP       sloop

sdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, ret+16(FP)
	VZEROUPPER
	RET

// sqDevF32x8 returns Σ (x[i]-m)² over n values (a multiple of 8) in float64, as sumF32x8 sums.
//
// func sqDevF32x8(x *float32, n int, m float64) float64
TEXT ·sqDevF32x8(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD m+16(FP), Y4
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1

qloop:
	CMPQ      CX, $8
	JLT       qdone
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VSUBPD    Y4, Y2, Y2
	VSUBPD    Y4, Y3, Y3
	VMULPD    Y2, Y2, Y2
	VMULPD    Y3, Y3, Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	SUBQ      $8, CX
	JMP       qloop

qdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, ret+24(FP)
	VZEROUPPER
	RET

// dotDevF32x8 returns Σ dy[i]·(x[i]-m) over n values (a multiple of 8) in float64, as sumF32x8
// sums.
//
// func dotDevF32x8(dy, x *float32, n int, m float64) float64
TEXT ·dotDevF32x8(SB), NOSPLIT, $0-40
	MOVQ         dy+0(FP), DX
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSD m+24(FP), Y4
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1

dloop:
	CMPQ      CX, $8
	JLT       ddone
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VSUBPD    Y4, Y2, Y2
	VSUBPD    Y4, Y3, Y3
	VCVTPS2PD (DX), Y5
	VCVTPS2PD 16(DX), Y6
	VMULPD    Y5, Y2, Y2
	VMULPD    Y6, Y3, Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	ADDQ      $32, DX
	SUBQ      $8, CX
	JMP       dloop

ddone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VMOVSD       X0, ret+32(FP)
	VZEROUPPER
	RET

// affineF32x8 sets y[i] = x[i]·a + b, then with relu max(·, 0), eight lanes at a time with
// AVX2, bitwise as the Go loop (a multiply, then an add: no fused multiply-add; and Go's max:
// NaN stays NaN, -0 becomes +0, where VMAXPS alone would give 0 for NaN, so NaN lanes are
// blended back). n is a multiple of 8.
//
// func affineF32x8(x, y *float32, n int, a, b float32, relu bool)
TEXT ·affineF32x8(SB), NOSPLIT, $0-33
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y13
	VBROADCASTSS b+28(FP), Y14
	MOVBLZX      relu+32(FP), AX
	VXORPS       Y15, Y15, Y15

aloop:
	CMPQ   CX, $8
	JLT    adone
	VMULPS (SI), Y13, Y0
	VADDPS Y14, Y0, Y0
	TESTQ  AX, AX
	JZ     astore
	VMAXPS    Y15, Y0, Y1
	VCMPPS    $3, Y0, Y0, Y2
	VBLENDVPS Y2, Y0, Y1, Y0

astore:
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     aloop

adone:
	VZEROUPPER
	RET

// bnGradF32x8 sets dx[i] = ((dy[i]·k) + c0) + c1·x[i], BatchNorm's input gradient, eight lanes at
// a time with AVX2, bitwise as the Go loop. n is a multiple of 8.
//
// func bnGradF32x8(dy, x, dx *float32, n int, k, c0, c1 float32)
TEXT ·bnGradF32x8(SB), NOSPLIT, $0-44
	MOVQ         dy+0(FP), DX
	MOVQ         x+8(FP), SI
	MOVQ         dx+16(FP), DI
	MOVQ         n+24(FP), CX
	VBROADCASTSS k+32(FP), Y13
	VBROADCASTSS c0+36(FP), Y14
	VBROADCASTSS c1+40(FP), Y15

bloop:
	CMPQ   CX, $8
	JLT    bdone
	VMULPS (DX), Y13, Y0
	VADDPS Y14, Y0, Y0
	VMULPS (SI), Y15, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ   $32, DX
	ADDQ   $32, SI
	ADDQ   $32, DI
	SUBQ   $8, CX
	JMP    bloop

bdone:
	VZEROUPPER
	RET

// addF32x8 sets y[i] = a[i] + b[i], then with relu max(·, 0) as affineF32x8 does, eight lanes
// at a time with AVX2, bitwise as the Go loop. n is a multiple of 8.
//
// func addF32x8(a, b, y *float32, n int, relu bool)
TEXT ·addF32x8(SB), NOSPLIT, $0-33
	MOVQ    a+0(FP), SI
	MOVQ    b+8(FP), DX
	MOVQ    y+16(FP), DI
	MOVQ    n+24(FP), CX
	MOVBLZX relu+32(FP), AX
	VXORPS  Y15, Y15, Y15

ploop:
	CMPQ    CX, $8
	JLT     pdone
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	TESTQ   AX, AX
	JZ      pstore
	VMAXPS    Y15, Y0, Y1
	VCMPPS    $3, Y0, Y0, Y2
	VBLENDVPS Y2, Y0, Y1, Y0

pstore:
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     ploop

pdone:
	VZEROUPPER
	RET
