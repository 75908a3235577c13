//! IEEE half-precision conversions, as ggml stores block scales (the engine has no `half`).

/// Widens the bits of an IEEE binary16 value to `f32` (exact).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
	let sign = ((h & 0x8000) as u32) << 16;
	let exp = ((h >> 10) & 0x1f) as u32;
	let man = (h & 0x3ff) as u32;
	let bits = match exp {
		0 if man == 0 => sign,
		0 => {
			// Subnormal: man × 2^-24, exact in f32.
			let v = man as f32 * f32::from_bits(0x3380_0000);
			return if sign != 0 { -v } else { v };
		},
		0x1f => sign | 0x7f80_0000 | (man << 13),
		_ => sign | ((exp + 112) << 23) | (man << 13),
	};
	f32::from_bits(bits)
}

/// Rounds an `f32` to the nearest binary16 (ties to even) and returns its bits.
pub(crate) fn f32_to_f16(x: f32) -> u16 {
	let b = x.to_bits();
	let sign = ((b >> 16) & 0x8000) as u16;
	let exp = ((b >> 23) & 0xff) as i32;
	let man = b & 0x7f_ffff;
	if exp == 0xff {
		return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
	}
	let e = exp - 127 + 15;
	if e >= 0x1f {
		return sign | 0x7c00;
	}
	if e <= 0 {
		if e < -10 {
			return sign;
		}
		let m = man | 0x80_0000;
		let shift = (14 - e) as u32;
		let half = 1u32 << (shift - 1);
		let rem = m & ((1u32 << shift) - 1);
		let mut h = m >> shift;
		if rem > half || (rem == half && h & 1 == 1) {
			h += 1;
		}
		return sign | h as u16;
	}
	let mut h = ((e as u32) << 10) | (man >> 13);
	let rem = man & 0x1fff;
	if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) {
		// A carry into the exponent is the correct rounding (up to infinity).
		h += 1;
	}
	sign | h as u16
}

/// `x` rounded to binary16 precision, as an `f32`.
pub(crate) fn round_f16(x: f32) -> f32 {
	f16_to_f32(f32_to_f16(x))
}
