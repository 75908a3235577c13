//! The AVX2 + FMA path (x86_64): ggml's `maddubs` sign trick for `i8 × i8` dot products,
//! with each decoded weight block held in a register for a tile of up to four batch rows.

use std::arch::x86_64::*;

use super::{
	acts::QActs,
	cpu::has_avx2_fma,
	out::OutView,
	scalar::min_term,
	weights::{BlockKind, QWeights, QK},
};

/// Whether this CPU runs the AVX2 path.
pub(crate) fn available() -> bool {
	has_avx2_fma()
}

/// Computes weight rows `row0 .. row0 + out.rows` into `out`, as
/// [`super::scalar::rows`] does. Panics if the CPU lacks AVX2 or FMA (callers check first).
pub(crate) fn rows(w: &QWeights, a: &QActs, row0: usize, out: &mut OutView<'_>) {
	assert!(available(), "AVX2 kernel called on a CPU without AVX2 + FMA");
	// SAFETY: the CPU supports AVX2 and FMA, checked just above.
	unsafe { rows_avx2(w, a, row0, out) }
}

// SAFETY (target_feature): reached only through `rows`, after `available()` confirmed the
// features, or from functions compiled with the same features.
#[target_feature(enable = "avx2,fma")]
fn rows_avx2(w: &QWeights, a: &QActs, row0: usize, out: &mut OutView<'_>) {
	let (cols, nb, batch) = (w.cols(), w.blocks_per_row(), a.batch);
	let mut buf = vec![0i8; cols];
	let mut o = vec![0f32; batch];
	let signed = w.kind != BlockKind::Q4_1;
	for i in 0..out.rows {
		let n = row0 + i;
		decode_row(w, n, &mut buf);
		let ws = &w.scales[n * nb..(n + 1) * nb];
		let mut b = 0;
		while b + 4 <= batch {
			tile::<4>(&buf, ws, a, b, signed, &mut o[b..b + 4]);
			b += 4;
		}
		match batch - b {
			3 => tile::<3>(&buf, ws, a, b, signed, &mut o[b..]),
			2 => tile::<2>(&buf, ws, a, b, signed, &mut o[b..]),
			1 => tile::<1>(&buf, ws, a, b, signed, &mut o[b..]),
			_ => {},
		}
		if w.kind == BlockKind::Q4_1 {
			for (b, ob) in o.iter_mut().enumerate() {
				*ob += min_term(w, a, n, b);
			}
		}
		for (b, &v) in o.iter().enumerate() {
			out.set(i, b, v);
		}
	}
}

// SAFETY (target_feature): reached only through `rows`, after `available()` confirmed the
// features, or from functions compiled with the same features.
/// Unpacks weight row `n` into `buf` (`cols` quants), as [`QWeights::decode_row`] does.
#[target_feature(enable = "avx2,fma")]
fn decode_row(w: &QWeights, n: usize, buf: &mut [i8]) {
	let kind = w.kind;
	let (bb, off) = (kind.block_bytes(), kind.qs_offset());
	let row = w.row_bytes(n);
	assert_eq!(row.len() / bb * QK, buf.len());
	let low = _mm_set1_epi8(0x0f);
	let eight = _mm256_set1_epi8(8);
	for j in 0..buf.len() / QK {
		// SAFETY: block j spans row[j*bb .. (j+1)*bb] and its quants start at `off`: 32 bytes
		// for Q8_0 (off 2 + 32 = bb), 16 for Q4_0/Q4_1 (off + 16 = bb), all inside `row`;
		// buf[j*32 .. (j+1)*32] is inside `buf` (asserted above). Loads/stores are unaligned.
		unsafe {
			let src = row.as_ptr().add(j * bb + off);
			let dst = buf.as_mut_ptr().add(j * QK) as *mut __m256i;
			let v = match kind {
				BlockKind::Q8_0 => _mm256_loadu_si256(src as *const __m256i),
				BlockKind::Q4_0 | BlockKind::Q4_1 => {
					let packed = _mm_loadu_si128(src as *const __m128i);
					let lo = _mm_and_si128(packed, low);
					let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low);
					let v = _mm256_set_m128i(hi, lo);
					if kind == BlockKind::Q4_0 {
						_mm256_sub_epi8(v, eight)
					} else {
						v
					}
				},
			};
			_mm256_storeu_si256(dst, v);
		}
	}
}

// SAFETY (target_feature): reached only through `rows`, after `available()` confirmed the
// features, or from functions compiled with the same features.
/// Dot products of one decoded weight row with activation rows `b0 .. b0 + T`, into
/// `out[..T]`. `signed`: weight quants are `i8` (Q8_0, Q4_0: sign trick); otherwise they are
/// `0..=15` (Q4_1) and go straight into `maddubs` as unsigned bytes.
#[target_feature(enable = "avx2,fma")]
fn tile<const T: usize>(
	wq: &[i8],
	ws: &[f32],
	a: &QActs,
	b0: usize,
	signed: bool,
	out: &mut [f32],
) {
	let (cols, nb) = (a.cols, a.blocks_per_row());
	assert!(wq.len() == cols && ws.len() == nb && out.len() >= T && b0 + T <= a.batch);
	let xq: [&[i8]; T] = std::array::from_fn(|t| &a.qs[(b0 + t) * cols..(b0 + t + 1) * cols]);
	let xd: [&[f32]; T] = std::array::from_fn(|t| &a.d[(b0 + t) * nb..(b0 + t + 1) * nb]);
	let ones = _mm256_set1_epi16(1);
	let mut acc = [_mm256_setzero_ps(); T];
	for j in 0..nb {
		// SAFETY: j < nb = cols / 32, so wq[j*32 .. (j+1)*32] is inside `wq` (len cols,
		// asserted); unaligned load.
		let wv = unsafe { _mm256_loadu_si256(wq.as_ptr().add(j * QK) as *const __m256i) };
		let uw = if signed { _mm256_sign_epi8(wv, wv) } else { wv };
		for t in 0..T {
			// SAFETY: each xq[t] has `cols` elements and j*32 + 32 <= cols; unaligned load.
			let xv = unsafe { _mm256_loadu_si256(xq[t].as_ptr().add(j * QK) as *const __m256i) };
			let xs = if signed { _mm256_sign_epi8(xv, wv) } else { xv };
			// |w| ≤ 128 and |x| ≤ 127: each i16 pair sum ≤ 2·128·127 < 2^15, no saturation.
			let p32 = _mm256_madd_epi16(_mm256_maddubs_epi16(uw, xs), ones);
			let scale = _mm256_set1_ps(ws[j] * xd[t][j]);
			acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), scale, acc[t]);
		}
	}
	for t in 0..T {
		out[t] = hsum(acc[t]);
	}
}

// SAFETY (target_feature): reached only through `rows`, after `available()` confirmed the
// features, or from functions compiled with the same features.
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
	let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	_mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}
