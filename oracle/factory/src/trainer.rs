//! The training loop: supervised fine-tuning of the LoRA modules on the answer tokens.
//!
//! Everything a step does is a function of its index: the examples of step `s` are positions
//! `s·B·A .. (s+1)·B·A` of the epochs' orders (each epoch a shuffle of the training split drawn
//! from the seed and the epoch), and the dropout masks are drawn from the seed, the step, the
//! micro-batch and the module. So a run resumed from a checkpoint after step `s` does exactly
//! what the uninterrupted run did after step `s`, and ends with the same adapter.
//!
//! Per step: each micro-batch's loss is `−Σ log p(answer token) / T`, with `T` the answer tokens
//! of the whole step, so the accumulated gradient is the gradient of the step's mean token loss
//! whatever the split into micro-batches; the global gradient norm is clipped; AdamW updates at
//! the step's learning rate (warm-up, then cosine decay).

use std::{collections::BTreeMap, path::Path, time::Instant};

use candle_core::{Tensor, D};
use lineage_engine::{autograd::target_log_probs, LoraDropout, Model, Proj, TrainSeq};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
	checkpoint::{self, Counters, State},
	config::TrainConfig,
	data::Example,
	lora::TrainableLora,
	optim::{AdamW, GradAccumulator},
	progress::Progress,
};

pub use crate::history::StepLog;

/// What the loop is told beyond the settings.
pub struct RunOptions<'a> {
	/// The run folder (checkpoints).
	pub dir: &'a Path,
	/// What binds checkpoints to this run.
	pub run_key: String,
	/// Continue from the folder's checkpoint when there is one.
	pub resume: bool,
	/// Return after this many steps (an interruption, for tests); the run is then unfinished.
	pub stop_after: Option<usize>,
	/// Where progress goes.
	pub progress: Progress,
}

/// The result of the loop.
pub struct Trained {
	/// The trained modules.
	pub lora: TrainableLora,
	/// Every step's log.
	pub log: Vec<StepLog>,
	/// Steps the run has (all of them when finished).
	pub total_steps: usize,
	/// Tokens fed per `datanet/version`, all epochs.
	pub tokens_consumed: BTreeMap<String, u64>,
	/// The step the run resumed after, when it did.
	pub resumed_after: Option<usize>,
	/// Whether every step ran.
	pub finished: bool,
	/// Seconds spent in this process's steps.
	pub seconds: f64,
}

/// The key of a version in token counts: `datanet/version`.
pub fn version_key(datanet: u32, version: u32) -> String {
	format!("{datanet}/{version}")
}

/// Optimiser steps of a run over `n` training examples.
pub fn total_steps(cfg: &TrainConfig, n: usize) -> usize {
	let per = cfg.micro_batch * cfg.grad_accum;
	let all = (n * cfg.epochs).div_ceil(per);
	cfg.max_steps.map_or(all, |m| m.min(all))
}

/// The example order of each epoch.
struct Orders {
	n: usize,
	seed: u64,
	cache: Vec<Vec<usize>>,
}

impl Orders {
	fn index(&mut self, i: usize) -> usize {
		let epoch = i / self.n;
		while self.cache.len() <= epoch {
			let e = self.cache.len() as u64;
			let mut rng =
				ChaCha8Rng::seed_from_u64(self.seed ^ (e + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
			let mut order: Vec<usize> = (0..self.n).collect();
			order.shuffle(&mut rng);
			self.cache.push(order);
		}
		self.cache[epoch][i % self.n]
	}
}

/// Dropout masks drawn from the seed, the step, the micro-batch and the module.
struct SeededDropout {
	p: f64,
	seed: u64,
	step: usize,
	micro: usize,
	device: candle_core::Device,
}

impl LoraDropout for SeededDropout {
	fn mask(
		&mut self,
		layer: usize,
		proj: Proj,
		rows: usize,
		cols: usize,
	) -> candle_core::Result<Option<Tensor>> {
		let mix = [self.step as u64, self.micro as u64, layer as u64, proj as u64]
			.iter()
			.fold(self.seed ^ 0xd1b5_4a32_d192_ed03, |h, &x| {
				(h ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(23)
			});
		let mut rng = ChaCha8Rng::seed_from_u64(mix);
		let keep = 1.0 / (1.0 - self.p) as f32;
		let p = self.p as f32;
		let mask: Vec<f32> =
			(0..rows * cols).map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep }).collect();
		Ok(Some(Tensor::from_vec(mask, (rows, cols), &self.device)?))
	}
}

/// The logits of `batch`'s answer rows (one row per answer token, in order) and the answer
/// tokens they predict: one teacher-forced pass of the trainable forward.
pub fn micro_batch_logits(
	model: &Model,
	batch: &[&Example],
	lora: &[lineage_engine::LoraModule],
	dropout: Option<&mut dyn LoraDropout>,
) -> anyhow::Result<(Tensor, Vec<u32>)> {
	let inputs: Vec<Vec<u32>> = batch.iter().map(|e| e.input()).collect();
	let scored: Vec<Vec<usize>> = batch.iter().map(|e| e.scored()).collect();
	let seqs: Vec<TrainSeq<'_>> =
		inputs.iter().zip(&scored).map(|(t, s)| TrainSeq { tokens: t, scored: s }).collect();
	let targets: Vec<u32> = batch.iter().flat_map(|e| e.answer_tokens.iter().copied()).collect();
	Ok((model.train_logits(&seqs, lora, dropout)?, targets))
}

/// The log-probabilities of `batch`'s answer tokens, `[answer tokens]`.
pub fn micro_batch_log_probs(
	model: &Model,
	batch: &[&Example],
	lora: &[lineage_engine::LoraModule],
	dropout: Option<&mut dyn LoraDropout>,
) -> anyhow::Result<Tensor> {
	let (logits, targets) = micro_batch_logits(model, batch, lora, dropout)?;
	Ok(target_log_probs(&logits, &targets)?)
}

/// Runs (or resumes) the loop over `train` from `lora`'s starting point.
pub fn train(
	model: &Model,
	cfg: &TrainConfig,
	train: &[Example],
	mut lora: TrainableLora,
	opts: RunOptions<'_>,
) -> anyhow::Result<Trained> {
	cfg.check()?;
	if train.is_empty() {
		anyhow::bail!("the training split is empty: add records to the datanet versions or lower heldout_permille");
	}
	let total = total_steps(cfg, train.len());
	let per = cfg.micro_batch * cfg.grad_accum;
	let stream_len = train.len() * cfg.epochs;
	let vars_owned: Vec<candle_core::Var> = lora.vars().into_iter().cloned().collect();
	let vars: Vec<&candle_core::Var> = vars_owned.iter().collect();
	let mut opt = AdamW::new(&vars, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay)?;
	let mut log = Vec::new();
	let mut tokens_consumed: BTreeMap<String, u64> = BTreeMap::new();
	let mut start = 0;
	let mut resumed_after = None;
	if opts.resume {
		if let Some(state) = checkpoint::load(opts.dir, &opts.run_key, vars.len())? {
			for (v, t) in vars.iter().zip(&state.params) {
				v.set(&t.to_device(&model.device)?)?;
			}
			opt.m = state
				.m
				.iter()
				.map(|t| t.to_device(&model.device))
				.collect::<candle_core::Result<_>>()?;
			opt.v = state
				.v
				.iter()
				.map(|t| t.to_device(&model.device))
				.collect::<candle_core::Result<_>>()?;
			opt.t = state.counters.adam_t;
			start = state.counters.steps_done;
			log = state.counters.log;
			tokens_consumed = state.counters.tokens_consumed;
			resumed_after = Some(start);
			tracing::info!(steps_done = start, "resuming from the run's checkpoint");
		}
	}
	let mut orders = Orders { n: train.len(), seed: cfg.seed, cache: Vec::new() };
	let modules = lora.engine_modules();
	let began = Instant::now();
	let mut bar = opts.progress.start(total as u64, start as u64);
	let save = |done: usize, opt: &AdamW, log: &[StepLog], tokens: &BTreeMap<String, u64>| {
		checkpoint::save(
			opts.dir,
			&State {
				params: vars.iter().map(|v| v.as_tensor().clone()).collect(),
				m: opt.m.clone(),
				v: opt.v.clone(),
				counters: Counters {
					steps_done: done,
					adam_t: opt.t,
					run_key: opts.run_key.clone(),
					log: log.to_vec(),
					tokens_consumed: tokens.clone(),
				},
			},
		)
	};
	let mut finished = true;
	for (ran, step) in (start..total).enumerate() {
		if opts.stop_after.is_some_and(|n| ran >= n) {
			finished = false;
			break;
		}
		let t0 = Instant::now();
		let lo = step * per;
		let hi = ((step + 1) * per).min(stream_len);
		let picked: Vec<&Example> = (lo..hi).map(|i| &train[orders.index(i)]).collect();
		let answer_tokens: usize = picked.iter().map(|e| e.answer_tokens.len()).sum();
		let tokens: usize = picked.iter().map(|e| e.input_len()).sum();
		let mut acc = GradAccumulator::new(&vars)?;
		let mut loss_sum = 0f64;
		for (micro, batch) in picked.chunks(cfg.micro_batch).enumerate() {
			let mut dropout = SeededDropout {
				p: cfg.dropout,
				seed: cfg.seed,
				step,
				micro,
				device: model.device.clone(),
			};
			let d: Option<&mut dyn LoraDropout> =
				if cfg.dropout > 0.0 { Some(&mut dropout) } else { None };
			let lp = micro_batch_log_probs(model, batch, &modules, d)?;
			let loss = (lp.sum(D::Minus1)? * (-1.0 / answer_tokens as f64))?;
			loss_sum += loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
			let grads = loss.backward()?;
			acc.add(&vars, &grads)?;
		}
		let (grads, grad_norm) = acc.finish(cfg.clip_norm)?;
		let lr = cfg.learning_rate_at(step, total);
		opt.step(&vars, &grads, lr)?;
		for e in &picked {
			*tokens_consumed.entry(version_key(e.at.datanet, e.at.version)).or_default() +=
				e.input_len() as u64;
		}
		if !loss_sum.is_finite() {
			anyhow::bail!(
				"the loss became {loss_sum} at step {}: lower the learning rate",
				step + 1
			);
		}
		let entry = StepLog {
			step: step + 1,
			loss: loss_sum,
			learning_rate: lr,
			grad_norm,
			tokens: tokens as u64,
			answer_tokens: answer_tokens as u64,
		};
		let secs = t0.elapsed().as_secs_f64();
		bar.step(&entry, tokens as f64 / secs.max(1e-9));
		log.push(entry);
		if (step + 1) % cfg.checkpoint_every == 0 || step + 1 == total {
			save(step + 1, &opt, &log, &tokens_consumed)?;
		}
	}
	bar.finish();
	drop(modules);
	lora = TrainableLora { modules: lora.modules, scale: lora.scale, config: lora.config };
	Ok(Trained {
		lora,
		log,
		total_steps: total,
		tokens_consumed,
		resumed_after,
		finished,
		seconds: began.elapsed().as_secs_f64(),
	})
}
