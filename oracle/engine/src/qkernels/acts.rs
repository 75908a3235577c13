//! Activations quantized per 32-element block to 8 bits, as ggml's Q8_0 / Q8_1 do.

use super::{f16::round_f16, weights::QK};

/// `batch` activation rows quantized to `i8` per 32-block: `x ≈ q × d`.
///
/// `d` is stored rounded to half precision and `s` (the block's `d × Σq`, used by Q4_1's
/// minimum term) is computed the way candle's `BlockQ8_1` does, so results match candle's
/// quantized matmul to float rounding.
pub(crate) struct QActs {
	/// Rows.
	pub(crate) batch: usize,
	/// Elements per row.
	pub(crate) cols: usize,
	/// Quants, `[batch][cols]`.
	pub(crate) qs: Vec<i8>,
	/// Block scales, `[batch][cols / 32]`.
	pub(crate) d: Vec<f32>,
	/// Block sums times scale, `[batch][cols / 32]`.
	pub(crate) s: Vec<f32>,
}

impl QActs {
	/// Quantizes `x` (`batch × cols`, `cols` a multiple of 32): scale = max|x| / 127, round to
	/// nearest (ties away from zero, as candle).
	pub(crate) fn quantize(x: &[f32], batch: usize, cols: usize) -> Self {
		debug_assert_eq!(x.len(), batch * cols);
		debug_assert_eq!(cols % QK, 0);
		let blocks = x.len() / QK;
		let mut qs = vec![0i8; x.len()];
		let mut d = Vec::with_capacity(blocks);
		let mut s = Vec::with_capacity(blocks);
		for (xb, qb) in x.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)) {
			let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
			let dx = amax / 127.0;
			let id = if dx != 0.0 { 1.0 / dx } else { 0.0 };
			let db = round_f16(dx);
			let mut sum = 0i32;
			for (q, &v) in qb.iter_mut().zip(xb) {
				*q = (v * id).round() as i8;
				sum += *q as i32;
			}
			d.push(db);
			s.push(round_f16(round_f16(sum as f32) * db));
		}
		Self { batch, cols, qs, d, s }
	}

	/// Blocks per row.
	pub(crate) fn blocks_per_row(&self) -> usize {
		self.cols / QK
	}
}
