package onnxfile

import "math"

// HalfToFloat32 widens an IEEE 754 half-precision value, given by its bits, to float32; every
// half value, NaN payloads included, has an exact float32 equivalent.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise the mantissa
		e := uint32(127 - 14)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToHalf rounds f to the nearest half-precision value (ties to even), giving its bits.
// Values beyond the half range become infinities; NaNs keep their sign and the top bits of their
// payload, as NumPy's conversion does.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		h := 0x7c00 | uint16(mant>>13)
		if h == 0x7c00 { // the payload's top bits are zero: keep it a NaN
			h++
		}
		return sign | h
	}
	e := exp - 127 + 15 // the half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // a half subnormal, or zero
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is right, up to infinity
	}
	return sign | uint16(h)
}

// BFloat16ToFloat32 widens a bfloat16 value, given by its bits, to float32 (exactly).
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 rounds f to the nearest bfloat16 value (ties to even), giving its bits, as
// onnx.helper.float32_to_bfloat16 does, except that NaNs keep their sign and payload top bits
// where onnx.helper writes 0x7FC0.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		h := uint16(b >> 16)
		if h&0x7f == 0 {
			h |= 0x40 // the payload's top bits are zero: keep it a NaN
		}
		return h
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}
