//! The two f32 vector kernels the CPU paths of LoRA ([`super::lora`]) and decode attention
//! ([`super::attention`]) are built from.

/// `Σ a·b`, with eight partial sums so the compiler vectorises it.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
	let mut acc = [0f32; 8];
	let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
	let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
	for (x, y) in ca.zip(cb) {
		for i in 0..8 {
			acc[i] += x[i] * y[i];
		}
	}
	acc.iter().sum::<f32>() + tail
}

/// `y += a·x`.
#[inline(always)]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
	for (yi, xi) in y.iter_mut().zip(x) {
		*yi += a * xi;
	}
}
