//! The portable path: plain Rust, used where no SIMD path applies (and tested everywhere).

use super::{
	acts::QActs,
	out::OutView,
	weights::{BlockKind, QWeights, QK},
};

/// The Q4_1 minimum term of row `n` against activation row `b`: Σ_j m_j × s_j.
pub(crate) fn min_term(w: &QWeights, a: &QActs, n: usize, b: usize) -> f32 {
	let nb = w.blocks_per_row();
	let mins = &w.mins[n * nb..(n + 1) * nb];
	let s = &a.s[b * nb..(b + 1) * nb];
	mins.iter().zip(s).map(|(m, s)| m * s).sum()
}

/// Computes weight rows `row0 .. row0 + out.rows` into `out`.
pub(crate) fn rows(w: &QWeights, a: &QActs, row0: usize, out: &mut OutView<'_>) {
	let (cols, nb, batch) = (w.cols(), w.blocks_per_row(), a.batch);
	let mut buf = vec![0i8; cols];
	for i in 0..out.rows {
		let n = row0 + i;
		w.decode_row(n, &mut buf);
		let ws = &w.scales[n * nb..(n + 1) * nb];
		for b in 0..batch {
			let xq = &a.qs[b * cols..(b + 1) * cols];
			let xd = &a.d[b * nb..(b + 1) * nb];
			let mut acc = 0f32;
			for j in 0..nb {
				let wb = &buf[j * QK..(j + 1) * QK];
				let xb = &xq[j * QK..(j + 1) * QK];
				let isum: i32 = wb.iter().zip(xb).map(|(&p, &q)| p as i32 * q as i32).sum();
				acc += isum as f32 * (ws[j] * xd[j]);
			}
			if w.kind == BlockKind::Q4_1 {
				acc += min_term(w, a, n, b);
			}
			out.set(i, b, acc);
		}
	}
}
