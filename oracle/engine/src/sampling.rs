//! Per-sequence sampling: temperature, top-k, top-p and a per-request seed, through
//! candle-transformers' [`LogitsProcessor`].

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};

/// How one request picks its next token.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
	/// Softmax temperature; `0` (or below, or NaN) picks the most likely token (greedy).
	pub temperature: f64,
	/// Nucleus sampling: keep the most likely tokens up to this much probability (in `(0, 1)`;
	/// other values keep everything).
	pub top_p: Option<f64>,
	/// Keep only the `k` most likely tokens (`0` keeps everything).
	pub top_k: Option<usize>,
	/// Seed of the request's random stream: the same request with the same seed samples the
	/// same tokens.
	pub seed: u64,
	/// Keep generating past an end-of-sequence token (vLLM's `ignore_eos`): the request runs to
	/// `max_tokens`, as benchmarks need.
	pub ignore_eos: bool,
}

impl SamplingParams {
	/// Greedy decoding.
	pub fn greedy() -> Self {
		SamplingParams { temperature: 0.0, top_p: None, top_k: None, seed: 0, ignore_eos: false }
	}

	/// The candle sampling strategy these parameters describe.
	pub fn strategy(&self) -> Sampling {
		let t = self.temperature;
		if t.is_nan() || t <= 1e-7 {
			return Sampling::ArgMax;
		}
		let p = self.top_p.filter(|p| *p > 0.0 && *p < 1.0);
		let k = self.top_k.filter(|k| *k > 0);
		match (k, p) {
			(None, None) => Sampling::All { temperature: t },
			(Some(k), None) => Sampling::TopK { k, temperature: t },
			(None, Some(p)) => Sampling::TopP { p, temperature: t },
			(Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature: t },
		}
	}
}

impl Default for SamplingParams {
	fn default() -> Self {
		Self::greedy()
	}
}

/// One sequence's sampler, holding its seeded random stream.
pub struct Sampler {
	processor: LogitsProcessor,
}

impl Sampler {
	/// A sampler for `params`, seeded with `params.seed`.
	pub fn new(params: &SamplingParams) -> Self {
		Sampler { processor: LogitsProcessor::from_sampling(params.seed, params.strategy()) }
	}

	/// Picks a token from `[vocab]` logits.
	pub fn sample(&mut self, logits: &Tensor) -> candle_core::Result<u32> {
		self.processor.sample(logits)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::Device;

	#[test]
	fn zero_temperature_is_argmax() {
		let logits = Tensor::new(&[0.1f32, 2.0, -1.0, 1.9], &Device::Cpu).expect("tensor");
		let mut s = Sampler::new(&SamplingParams::greedy());
		assert_eq!(s.sample(&logits).expect("samples"), 1);
	}

	#[test]
	fn same_seed_same_tokens() {
		let logits = Tensor::new(&[0.5f32, 0.4, 0.3, 0.2, 0.1], &Device::Cpu).expect("tensor");
		let params = SamplingParams {
			temperature: 1.5,
			top_p: Some(0.95),
			top_k: Some(4),
			seed: 7,
			ignore_eos: false,
		};
		let run = || {
			let mut s = Sampler::new(&params);
			(0..32).map(|_| s.sample(&logits).expect("samples")).collect::<Vec<_>>()
		};
		assert_eq!(run(), run());
		assert!(run().iter().any(|&t| t != run()[0]), "temperature 1.5 should vary");
	}
}
