//! Attention of one step: each sequence against its own cache.
//!
//! [`attend`] runs one sequence with candle ops (any device, any number of new tokens, causal
//! mask when more than one). On the CPU in f32, [`decode_cpu`] serves every sequence that brings
//! one token in a single pass over the caches, without the dozen small tensor operations per
//! sequence and layer the generic path costs.

use candle_core::{DType, Storage, Tensor};

use super::vecmath::{axpy, dot};

/// Attention of one sequence: `q` `[t, heads, head_dim]` (already scaled) against `k`, `v`
/// `[kv_heads, T, head_dim]`; returns `[t, heads·head_dim]`.
///
/// Grouped-query attention without copying the keys: the `heads / kv_heads` query heads that
/// share a key/value head become extra rows of one matrix product per key/value head (Hugging
/// Face orders the query heads so that head `h` uses key/value head `h / (heads / kv_heads)`).
pub(crate) fn attend(
	q: &Tensor,
	k: &Tensor,
	v: &Tensor,
	mask: Option<&Tensor>,
	nkv: usize,
) -> candle_core::Result<Tensor> {
	let (t, nh, hd) = q.dims3()?;
	let rep = nh / nkv;
	let total = k.dim(1)?;
	// [t, nkv, rep, hd] -> [nkv, rep, t, hd] -> [nkv, rep·t, hd]
	let q = q.reshape((t, nkv, rep, hd))?.permute((1, 2, 0, 3))?.contiguous()?.reshape((
		nkv,
		rep * t,
		hd,
	))?;
	let scores = q.matmul(&k.t()?)?;
	let scores = match mask {
		Some(m) => scores.reshape((nkv, rep, t, total))?.broadcast_add(m)?.reshape((
			nkv,
			rep * t,
			total,
		))?,
		None => scores,
	};
	let in_dtype = scores.dtype();
	let probs =
		candle_nn::ops::softmax_last_dim(&scores.to_dtype(DType::F32)?)?.to_dtype(in_dtype)?;
	let out = probs.matmul(v)?; // [nkv, rep·t, hd]
	out.reshape((nkv, rep, t, hd))?.permute((2, 0, 1, 3))?.reshape((t, nh * hd))
}

/// One decoding sequence for [`decode_cpu`]: its query row and its cache views.
pub(crate) struct DecodeRow<'a> {
	/// The row of the step's `q` (`[N, heads, head_dim]`) this sequence's token is.
	pub row: usize,
	/// Keys, `[kv_heads, T, head_dim]` (a view into the cache buffer).
	pub k: &'a Tensor,
	/// Values, `[kv_heads, T, head_dim]`.
	pub v: &'a Tensor,
}

/// A strided read view of an f32 CPU tensor of rank 3.
struct View<'a> {
	guard: candle_core::StorageRef<'a>,
	offset: usize,
	stride: [usize; 3],
	dims: [usize; 3],
}

impl<'a> View<'a> {
	fn new(t: &'a Tensor) -> candle_core::Result<Self> {
		let (guard, layout) = t.storage_and_layout();
		let (d0, d1, d2) = t.dims3()?;
		let s = layout.stride();
		if s.len() != 3 || s[2] != 1 {
			candle_core::bail!("attention kernel: unexpected layout {:?}", s);
		}
		Ok(View {
			guard,
			offset: layout.start_offset(),
			stride: [s[0], s[1], s[2]],
			dims: [d0, d1, d2],
		})
	}

	fn data(&self) -> candle_core::Result<&[f32]> {
		match &*self.guard {
			Storage::Cpu(cpu) => Ok(&cpu.as_slice::<f32>()?[self.offset..]),
			_ => candle_core::bail!("attention kernel: tensor is not on the cpu"),
		}
	}
}

/// Attention of every one-token sequence of a step, on the CPU in f32.
///
/// `q` is `[N, heads, head_dim]` (already scaled, contiguous); for each [`DecodeRow`], writes
/// `softmax(q·Kᵀ)·V` into `out[row]` (`out` is `[N, heads·head_dim]`, row-major).
pub(crate) fn decode_cpu(
	q: &Tensor,
	rows: &[DecodeRow<'_>],
	nkv: usize,
	out: &mut [f32],
) -> candle_core::Result<()> {
	let (n, nh, hd) = q.dims3()?;
	let rep = nh / nkv.max(1);
	let qv = View::new(q)?;
	if qv.stride != [nh * hd, hd, 1] {
		candle_core::bail!("attention kernel: q must be contiguous");
	}
	let qs = qv.data()?;
	let mut scores = Vec::new();
	for r in rows {
		if r.row >= n {
			candle_core::bail!("attention kernel: row {} out of {n}", r.row);
		}
		let (kv, vv) = (View::new(r.k)?, View::new(r.v)?);
		if kv.dims[0] != nkv || kv.dims[2] != hd || vv.dims != kv.dims {
			candle_core::bail!("attention kernel: cache shapes {:?} / {:?}", kv.dims, vv.dims);
		}
		let total = kv.dims[1];
		let (ks, vs) = (kv.data()?, vv.data()?);
		scores.resize(total, 0.0f32);
		for h in 0..nh {
			let g = h / rep;
			let qh = &qs[(r.row * nh + h) * hd..(r.row * nh + h + 1) * hd];
			let mut max = f32::NEG_INFINITY;
			for (j, s) in scores.iter_mut().enumerate() {
				let base = g * kv.stride[0] + j * kv.stride[1];
				*s = dot(qh, &ks[base..base + hd]);
				max = max.max(*s);
			}
			let mut sum = 0.0;
			for s in scores.iter_mut() {
				*s = (*s - max).exp();
				sum += *s;
			}
			let o = &mut out[(r.row * nh + h) * hd..(r.row * nh + h + 1) * hd];
			o.fill(0.0);
			for (j, s) in scores.iter().enumerate() {
				let base = g * vv.stride[0] + j * vv.stride[1];
				axpy(s / sum, &vs[base..base + hd], o);
			}
		}
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::Device;

	#[test]
	fn decode_kernel_equals_candle_ops() {
		let dev = &Device::Cpu;
		let (nh, nkv, hd, cap) = (8, 2, 16, 32);
		let q = Tensor::randn(0f32, 1.0, (3, nh, hd), dev).expect("q");
		// Cache buffers with spare capacity, viewed as the first `len` positions.
		let kb = Tensor::randn(0f32, 1.0, (nkv, cap, hd), dev).expect("k");
		let vb = Tensor::randn(0f32, 1.0, (nkv, cap, hd), dev).expect("v");
		let lens = [5, 17, 1];
		let views: Vec<(Tensor, Tensor)> = lens
			.iter()
			.map(|&l| (kb.narrow(1, 0, l).expect("k"), vb.narrow(1, 0, l).expect("v")))
			.collect();
		let rows: Vec<DecodeRow<'_>> =
			views.iter().enumerate().map(|(row, (k, v))| DecodeRow { row, k, v }).collect();
		let mut out = vec![0f32; 3 * nh * hd];
		decode_cpu(&q, &rows, nkv, &mut out).expect("kernel");
		for (row, (k, v)) in views.iter().enumerate() {
			let q_i = q.narrow(0, row, 1).expect("q_i");
			let want = attend(&q_i, k, v, None, nkv).expect("attend").flatten_all().expect("f");
			let want = want.to_vec1::<f32>().expect("vec");
			let got = &out[row * nh * hd..(row + 1) * nh * hd];
			let diff = want.iter().zip(got).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
			assert!(diff < 1e-5, "row {row}: {diff}");
		}
	}
}
