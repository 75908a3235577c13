//! A run's settings: what is trained (LoRA targets, rank, layers) and how (optimiser,
//! schedule, batches, seed). Every field is written into the training manifest.

use lineage_engine::Proj;
use serde::{Deserialize, Serialize};

/// Every hyper-parameter of a fine-tuning run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
	/// The projections that get a LoRA module, by Hugging Face name (`q_proj`, …).
	pub targets: Vec<String>,
	/// The LoRA rank.
	pub rank: usize,
	/// `lora_alpha`.
	pub alpha: f64,
	/// Scale `alpha / √r` (rsLoRA) instead of `alpha / r`.
	pub rslora: bool,
	/// Dropout on each LoRA module's input (PEFT's `lora_dropout`), in `[0, 1)`.
	pub dropout: f64,
	/// Train only the top this many decoder layers (PEFT's `layers_to_transform`); all when
	/// `None`. Backward stops at the lowest trained layer, so fewer layers train faster.
	pub top_layers: Option<usize>,
	/// Peak learning rate (AdamW).
	pub learning_rate: f64,
	/// The learning rate the cosine decay ends at.
	pub min_learning_rate: f64,
	/// Steps of linear warm-up to the peak.
	pub warmup_steps: usize,
	/// AdamW's decoupled weight decay.
	pub weight_decay: f64,
	/// AdamW's β₁.
	pub beta1: f64,
	/// AdamW's β₂.
	pub beta2: f64,
	/// AdamW's ε.
	pub eps: f64,
	/// Passes over the training split.
	pub epochs: usize,
	/// Stop after this many optimiser steps, when set (a budget).
	pub max_steps: Option<usize>,
	/// Sequences per forward pass.
	pub micro_batch: usize,
	/// Micro-batches per optimiser step (gradient accumulation).
	pub grad_accum: usize,
	/// Clip the global gradient norm to this (0: no clipping).
	pub clip_norm: f64,
	/// Seed of the LoRA initialisation, the data order and the dropout masks.
	pub seed: u64,
	/// Records held out for evaluation, per thousand, chosen from their content hashes.
	pub heldout_permille: u32,
	/// Train on at most this many records (the first by content hash of the training split),
	/// when set: a budget for short runs.
	pub max_train_records: Option<usize>,
	/// Records longer than this many tokens (prompt and answer) are skipped, and counted.
	pub max_seq_len: usize,
	/// Write a checkpoint every this many steps (and at the end).
	pub checkpoint_every: usize,
	/// Held-out questions answered by greedy generation for exact match (the first by content
	/// hash; generation is the slowest part of the evaluation).
	pub exact_match_limit: usize,
}

impl Default for TrainConfig {
	fn default() -> Self {
		TrainConfig {
			targets: ["q_proj", "k_proj", "v_proj", "o_proj"].map(String::from).to_vec(),
			rank: 8,
			alpha: 16.0,
			rslora: false,
			dropout: 0.0,
			top_layers: None,
			learning_rate: 1e-3,
			min_learning_rate: 0.0,
			warmup_steps: 4,
			weight_decay: 0.0,
			beta1: 0.9,
			beta2: 0.999,
			eps: 1e-8,
			epochs: 1,
			max_steps: None,
			micro_batch: 4,
			grad_accum: 2,
			clip_norm: 1.0,
			seed: 0,
			heldout_permille: 100,
			max_train_records: None,
			max_seq_len: 256,
			checkpoint_every: 20,
			exact_match_limit: 16,
		}
	}
}

/// A setting that cannot run; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("invalid training setting: {0}")]
pub struct ConfigError(pub String);

impl TrainConfig {
	/// The targeted projections, parsed and checked.
	pub fn projections(&self) -> Result<Vec<Proj>, ConfigError> {
		let mut out = Vec::new();
		for t in &self.targets {
			let p = Proj::from_hf_name(t).ok_or_else(|| {
				ConfigError(format!(
					"target {t:?} is not a projection: use q_proj, k_proj, v_proj, o_proj, \
					 gate_proj, up_proj or down_proj"
				))
			})?;
			if out.contains(&p) {
				return Err(ConfigError(format!("target {t} is named twice")));
			}
			out.push(p);
		}
		if out.is_empty() {
			return Err(ConfigError("no LoRA target".into()));
		}
		out.sort();
		Ok(out)
	}

	/// The LoRA scale: `alpha / r`, or `alpha / √r` with rsLoRA.
	pub fn scale(&self) -> f64 {
		if self.rslora {
			self.alpha / (self.rank as f64).sqrt()
		} else {
			self.alpha / self.rank as f64
		}
	}

	/// The decoder layers that are trained, of `num_layers`.
	pub fn layers(&self, num_layers: usize) -> std::ops::Range<usize> {
		let top = self.top_layers.unwrap_or(num_layers).min(num_layers);
		num_layers - top..num_layers
	}

	/// Checks every setting; the error names the first that cannot run.
	pub fn check(&self) -> Result<(), ConfigError> {
		self.projections()?;
		let bad = |m: &str| Err(ConfigError(m.to_string()));
		if self.rank == 0 {
			return bad("rank must be at least 1");
		}
		if !(self.alpha.is_finite() && self.alpha > 0.0) {
			return bad("alpha must be positive");
		}
		if !(0.0..1.0).contains(&self.dropout) {
			return bad("dropout must be in [0, 1)");
		}
		if self.top_layers == Some(0) {
			return bad("top_layers must be at least 1");
		}
		if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
			return bad("learning_rate must be positive");
		}
		if !(0.0..=self.learning_rate).contains(&self.min_learning_rate) {
			return bad("min_learning_rate must be in [0, learning_rate]");
		}
		if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
			return bad("beta1 and beta2 must be in [0, 1)");
		}
		if !(self.eps > 0.0 && self.weight_decay >= 0.0 && self.clip_norm >= 0.0) {
			return bad("eps must be positive, weight_decay and clip_norm non-negative");
		}
		if self.epochs == 0 || self.micro_batch == 0 || self.grad_accum == 0 {
			return bad("epochs, micro_batch and grad_accum must be at least 1");
		}
		if self.max_steps == Some(0) || self.max_train_records == Some(0) {
			return bad("max_steps and max_train_records must be at least 1 when set");
		}
		if self.heldout_permille == 0 || self.heldout_permille >= 1000 {
			return bad(
				"heldout_permille must be in 1..=999: the adapter is judged on held-out records",
			);
		}
		if self.max_seq_len < 2 || self.checkpoint_every == 0 {
			return bad("max_seq_len must be at least 2 and checkpoint_every at least 1");
		}
		Ok(())
	}

	/// The learning rate of optimiser step `step` (0-based) of `total`: linear warm-up over
	/// `warmup_steps` (`peak · (step + 1) / warmup`), then cosine decay to `min_learning_rate`
	/// at the last step.
	pub fn learning_rate_at(&self, step: usize, total: usize) -> f64 {
		let peak = self.learning_rate;
		if step < self.warmup_steps {
			return peak * (step + 1) as f64 / self.warmup_steps as f64;
		}
		let span = total.saturating_sub(self.warmup_steps).saturating_sub(1).max(1);
		let progress = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
		self.min_learning_rate
			+ 0.5
				* (peak - self.min_learning_rate)
				* (1.0 + (std::f64::consts::PI * progress).cos())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn schedule_warms_up_then_decays_to_the_floor() {
		let c = TrainConfig {
			learning_rate: 1.0,
			min_learning_rate: 0.1,
			warmup_steps: 4,
			..Default::default()
		};
		assert_eq!(c.learning_rate_at(0, 20), 0.25);
		assert_eq!(c.learning_rate_at(3, 20), 1.0);
		assert_eq!(c.learning_rate_at(4, 20), 1.0);
		assert!((c.learning_rate_at(19, 20) - 0.1).abs() < 1e-12);
		let mid = c.learning_rate_at(11, 20);
		assert!(mid < 1.0 && mid > 0.1);
	}

	#[test]
	fn bad_settings_are_named() {
		let c = TrainConfig { targets: vec!["lm_head".into()], ..Default::default() };
		assert!(c.check().unwrap_err().to_string().contains("lm_head"));
		let c = TrainConfig { dropout: 1.0, ..Default::default() };
		assert!(c.check().unwrap_err().to_string().contains("dropout"));
		let c = TrainConfig { heldout_permille: 0, ..Default::default() };
		assert!(c.check().unwrap_err().to_string().contains("heldout"));
		assert!(TrainConfig::default().check().is_ok());
		assert_eq!(TrainConfig { top_layers: Some(4), ..Default::default() }.layers(30), 26..30);
	}
}
