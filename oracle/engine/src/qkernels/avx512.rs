//! The AVX-512 VNNI path (x86_64), on the row-tiled layout of [`Tiled`].
//!
//! Activations go in as unsigned bytes `q + 128` (broadcast 4 at a time), weights as signed
//! bytes, 16 rows per vector: one `vpdpbusd` adds 4 products for each of 16 rows. Per block,
//! `128 · Σq_w` is subtracted exactly in `i32`, then the 16 sums are scaled by `d_w · d_x` (and
//! Q4_1's `m_w · s_x` added) in `f32`. Each tile of weights is read once per block for a tile of
//! up to four batch rows.

use std::arch::x86_64::*;

use super::{
	acts::QActs,
	cpu::has_avx512_vnni,
	out::OutView,
	weights::{QWeights, Tiled, QK, TILE_ROWS},
};

/// Whether this CPU runs the AVX-512 VNNI path.
pub(crate) fn available() -> bool {
	has_avx512_vnni()
}

/// Computes weight rows `row0 .. row0 + out.rows` (`row0` a multiple of 16) into `out`, as [`super::scalar::rows`] does. Panics if the CPU lacks the
/// features or `w` was built without its tiled copy (callers check first).
pub(crate) fn rows(w: &QWeights, a: &QActs, row0: usize, out: &mut OutView<'_>) {
	assert!(available(), "AVX-512 VNNI kernel called on a CPU without it");
	let tiled = w.tiled.as_ref().expect("QWeights built without the tiled layout");
	assert_eq!(row0 % TILE_ROWS, 0);
	let xu: Vec<u8> = a.qs.iter().map(|&q| (q as i16 + 128) as u8).collect();
	// SAFETY: the CPU supports AVX-512F and AVX-512 VNNI, checked just above.
	unsafe { rows_vnni(w, tiled, a, &xu, row0, out) }
}

// SAFETY (target_feature): reached only through `rows`, after `available()` confirmed the
// features, or from functions compiled with the same features.
#[target_feature(enable = "avx512f,avx512vnni")]
fn rows_vnni(
	w: &QWeights,
	tiled: &Tiled,
	a: &QActs,
	xu: &[u8],
	row0: usize,
	out: &mut OutView<'_>,
) {
	let batch = a.batch;
	let nrows = out.rows;
	let (t0, t1) = (row0 / TILE_ROWS, (row0 + nrows).div_ceil(TILE_ROWS).min(tiled.tiles));
	let q41 = !tiled.m.is_empty();
	let mut t = t0;
	while t < t1 {
		// Two row tiles per pass where there are two: each activation broadcast feeds both.
		let pair = t + 1 < t1;
		let mut b = 0;
		while b < batch {
			let mut lanes = [[[0f32; TILE_ROWS]; 4]; 2];
			let take = (batch - b).min(4);
			match (take, pair) {
				(4, true) => tile::<4, 2>(tiled, a, xu, t, b, q41, &mut lanes),
				(3, true) => tile::<3, 2>(tiled, a, xu, t, b, q41, &mut lanes),
				(2, true) => tile::<2, 2>(tiled, a, xu, t, b, q41, &mut lanes),
				(_, true) => tile::<1, 2>(tiled, a, xu, t, b, q41, &mut lanes),
				(4, false) => tile::<4, 1>(tiled, a, xu, t, b, q41, &mut lanes),
				(3, false) => tile::<3, 1>(tiled, a, xu, t, b, q41, &mut lanes),
				(2, false) => tile::<2, 1>(tiled, a, xu, t, b, q41, &mut lanes),
				(_, false) => tile::<1, 1>(tiled, a, xu, t, b, q41, &mut lanes),
			}
			for (k, tile_lanes) in lanes.iter().enumerate().take(if pair { 2 } else { 1 }) {
				for r in 0..TILE_ROWS {
					let n = (t + k) * TILE_ROWS + r;
					if n < row0 + nrows && n < w.rows() {
						for (i, l) in tile_lanes.iter().take(take).enumerate() {
							out.set(n - row0, b + i, l[r]);
						}
					}
				}
			}
			b += take;
		}
		t += if pair { 2 } else { 1 };
	}
}

// SAFETY (target_feature): reached only through `rows`, after `available()` confirmed the
// features, or from functions compiled with the same features.
/// Row tiles `t .. t + R` against activation rows `b0 .. b0 + T`, into `lanes[..R][..T]`
/// (16 rows each).
#[target_feature(enable = "avx512f,avx512vnni")]
fn tile<const T: usize, const R: usize>(
	tiled: &Tiled,
	a: &QActs,
	xu: &[u8],
	t: usize,
	b0: usize,
	q41: bool,
	lanes: &mut [[[f32; TILE_ROWS]; 4]; 2],
) {
	let (cols, nb) = (a.cols, a.blocks_per_row());
	assert!(T <= 4 && R <= 2 && b0 + T <= a.batch && xu.len() == a.batch * cols);
	assert!(t + R <= tiled.tiles && tiled.qs.len() == tiled.tiles * nb * QK * TILE_ROWS);
	assert!(tiled.d.len() == tiled.tiles * nb * TILE_ROWS && tiled.qsum128.len() == tiled.d.len());
	assert!(!q41 || tiled.m.len() == tiled.d.len());
	// SAFETY: (b0 + i)·cols <= xu.len() for i < T (asserted above).
	let xr: [*const u8; T] = std::array::from_fn(|i| unsafe { xu.as_ptr().add((b0 + i) * cols) });
	let xd: [&[f32]; T] = std::array::from_fn(|i| &a.d[(b0 + i) * nb..(b0 + i + 1) * nb]);
	let xs: [&[f32]; T] = std::array::from_fn(|i| &a.s[(b0 + i) * nb..(b0 + i + 1) * nb]);
	let mut acc = [[_mm512_setzero_ps(); T]; R];
	for j in 0..nb {
		let lane0: [usize; R] = std::array::from_fn(|k| ((t + k) * nb + j) * TILE_ROWS);
		// Two accumulators per (tile, batch row), even / odd groups: 2·R·T independent
		// vpdpbusd chains of length 4, enough to hide the instruction's latency.
		let mut p0 = [[_mm512_setzero_si512(); T]; R];
		let mut p1 = [[_mm512_setzero_si512(); T]; R];
		// SAFETY: block j of tile t + k is the 512 bytes from lane0[k]·32 inside `qs` (length
		// asserted above: tiles·nb·32·16, and t + k < tiles).
		let wb: [*const u8; R] =
			std::array::from_fn(|k| unsafe { tiled.qs.as_ptr().add(lane0[k] * QK) as *const u8 });
		for h in 0..QK / 8 {
			// SAFETY: groups 2h and 2h + 1 (64 bytes each) of the blocks; unaligned loads.
			let w0: [__m512i; R] = std::array::from_fn(|k| unsafe {
				_mm512_loadu_si512(wb[k].add(2 * h * 64) as *const __m512i)
			});
			// SAFETY: as for w0.
			let w1: [__m512i; R] = std::array::from_fn(|k| unsafe {
				_mm512_loadu_si512(wb[k].add((2 * h + 1) * 64) as *const __m512i)
			});
			for i in 0..T {
				// SAFETY: xr[i] + j·32 + 8h + 8 <= (b0 + i + 1)·cols <= xu.len() (asserted
				// above); unaligned 4-byte reads.
				let (x0, x1) = unsafe {
					let xp = xr[i].add(j * QK + 8 * h) as *const i32;
					(
						_mm512_set1_epi32(xp.read_unaligned()),
						_mm512_set1_epi32(xp.add(1).read_unaligned()),
					)
				};
				for k in 0..R {
					p0[k][i] = _mm512_dpbusd_epi32(p0[k][i], x0, w0[k]);
					p1[k][i] = _mm512_dpbusd_epi32(p1[k][i], x1, w1[k]);
				}
			}
		}
		for k in 0..R {
			// SAFETY: lanes lane0[k] .. + 16 are inside d / qsum128 / m (lengths asserted
			// above); unaligned loads.
			let (dw, qsum, m) = unsafe {
				(
					_mm512_loadu_ps(tiled.d.as_ptr().add(lane0[k])),
					_mm512_loadu_si512(tiled.qsum128.as_ptr().add(lane0[k]) as *const __m512i),
					if q41 {
						_mm512_loadu_ps(tiled.m.as_ptr().add(lane0[k]))
					} else {
						_mm512_setzero_ps()
					},
				)
			};
			for i in 0..T {
				let isum = _mm512_sub_epi32(_mm512_add_epi32(p0[k][i], p1[k][i]), qsum);
				let scale = _mm512_mul_ps(dw, _mm512_set1_ps(xd[i][j]));
				acc[k][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc[k][i]);
				if q41 {
					acc[k][i] = _mm512_fmadd_ps(m, _mm512_set1_ps(xs[i][j]), acc[k][i]);
				}
			}
		}
	}
	for k in 0..R {
		for i in 0..T {
			// SAFETY: lanes[k][i] is 16 f32s; unaligned store.
			unsafe { _mm512_storeu_ps(lanes[k][i].as_mut_ptr(), acc[k][i]) };
		}
	}
}
