//! AdamW with its state in the open, so a checkpoint can hold it and a resumed run continues
//! exactly (candle-nn's `AdamW` keeps its moments private), and global-norm gradient clipping.
//!
//! PyTorch's `torch.optim.AdamW` update, per parameter `p` with gradient `g` at step `t`
//! (1-based): `p ← p − lr·λ·p`; `m ← β₁m + (1−β₁)g`; `v ← β₂v + (1−β₂)g²`;
//! `p ← p − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)`.

use candle_core::{backprop::GradStore, Tensor, Var};

/// AdamW's moments of every parameter and the step count.
pub struct AdamW {
	/// First moments, one per parameter, in parameter order.
	pub m: Vec<Tensor>,
	/// Second moments.
	pub v: Vec<Tensor>,
	/// Steps taken.
	pub t: u64,
	beta1: f64,
	beta2: f64,
	eps: f64,
	weight_decay: f64,
}

impl AdamW {
	/// Zero moments for `params`.
	pub fn new(
		params: &[&Var],
		beta1: f64,
		beta2: f64,
		eps: f64,
		weight_decay: f64,
	) -> candle_core::Result<Self> {
		let zeros = |p: &&Var| p.as_tensor().zeros_like();
		Ok(AdamW {
			m: params.iter().map(zeros).collect::<candle_core::Result<_>>()?,
			v: params.iter().map(zeros).collect::<candle_core::Result<_>>()?,
			t: 0,
			beta1,
			beta2,
			eps,
			weight_decay,
		})
	}

	/// One update of `params` (the order of [`AdamW::new`]) with `grads[i]` at learning rate
	/// `lr`.
	pub fn step(&mut self, params: &[&Var], grads: &[Tensor], lr: f64) -> candle_core::Result<()> {
		if params.len() != self.m.len() || grads.len() != params.len() {
			candle_core::bail!(
				"AdamW: {} parameters, {} gradients, {} moments",
				params.len(),
				grads.len(),
				self.m.len()
			);
		}
		self.t += 1;
		let t = self.t as i32;
		let c1 = 1.0 - self.beta1.powi(t);
		let c2 = 1.0 - self.beta2.powi(t);
		for (i, (p, g)) in params.iter().zip(grads).enumerate() {
			let m = ((&self.m[i] * self.beta1)? + (g * (1.0 - self.beta1))?)?;
			let v = ((&self.v[i] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
			let decayed = if self.weight_decay > 0.0 {
				(p.as_tensor() * (1.0 - lr * self.weight_decay))?
			} else {
				p.as_tensor().clone()
			};
			let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + self.eps)?)?;
			p.set(&(decayed - (update * lr)?)?)?;
			self.m[i] = m;
			self.v[i] = v;
		}
		Ok(())
	}
}

/// The gradients of `params` summed over micro-batches (zeros for a parameter a micro-batch did
/// not reach).
pub struct GradAccumulator {
	sums: Vec<Tensor>,
}

impl GradAccumulator {
	/// Zero sums for `params`.
	pub fn new(params: &[&Var]) -> candle_core::Result<Self> {
		Ok(GradAccumulator {
			sums: params
				.iter()
				.map(|p| p.as_tensor().zeros_like())
				.collect::<candle_core::Result<_>>()?,
		})
	}

	/// Adds one micro-batch's gradients.
	pub fn add(&mut self, params: &[&Var], grads: &GradStore) -> candle_core::Result<()> {
		for (sum, p) in self.sums.iter_mut().zip(params) {
			if let Some(g) = grads.get(p.as_tensor()) {
				*sum = (&*sum + g)?;
			}
		}
		Ok(())
	}

	/// The sums, clipped to global norm `max_norm` (unless 0), and the norm before clipping.
	pub fn finish(self, max_norm: f64) -> candle_core::Result<(Vec<Tensor>, f64)> {
		let mut sq = 0f64;
		for g in &self.sums {
			sq += g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
		}
		let norm = sq.sqrt();
		if max_norm > 0.0 && norm > max_norm {
			let factor = max_norm / (norm + 1e-6);
			let clipped =
				self.sums.iter().map(|g| g * factor).collect::<candle_core::Result<_>>()?;
			return Ok((clipped, norm));
		}
		Ok((self.sums, norm))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::Device;

	#[test]
	fn adamw_matches_the_pytorch_update() {
		// One parameter 1.0, gradient 0.5, lr 0.1, β 0.9/0.999, ε 1e-8, λ 0.01: PyTorch gives
		// p = 1·(1 − 0.1·0.01) − 0.1·(0.05/0.1)/(√(0.00025/0.001) + 1e-8) = 0.999 − 0.1.
		let p = Var::new(&[1.0f64], &Device::Cpu).unwrap();
		let mut opt = AdamW::new(&[&p], 0.9, 0.999, 1e-8, 0.01).unwrap();
		let g = Tensor::new(&[0.5f64], &Device::Cpu).unwrap();
		opt.step(&[&p], &[g], 0.1).unwrap();
		let got = p.as_tensor().to_vec1::<f64>().unwrap()[0];
		assert!((got - 0.899).abs() < 1e-7, "{got}");
	}

	#[test]
	fn clipping_scales_to_the_global_norm() {
		let p = Var::new(&[0.0f32, 0.0], &Device::Cpu).unwrap();
		let acc =
			GradAccumulator { sums: vec![Tensor::new(&[3.0f32, 4.0], &Device::Cpu).unwrap()] };
		let _ = p;
		let (g, norm) = acc.finish(1.0).unwrap();
		assert!((norm - 5.0).abs() < 1e-6);
		let v = g[0].to_vec1::<f32>().unwrap();
		assert!((v[0] - 0.6).abs() < 1e-5 && (v[1] - 0.8).abs() < 1e-5, "{v:?}");
	}
}
