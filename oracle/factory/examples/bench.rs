//! Training speed of LoRA fine-tuning on SmolLM2-135M-Instruct (dequantized to f32) on this CPU.
//!
//! ```text
//! cargo run --release -p lineage-factory --example bench -- [--targets q_proj,k_proj,v_proj,o_proj] [--top-layers 30]
//! ```
//!
//! The workload mirrors `oracle/factory/bench/peft_baseline.py` (PyTorch + PEFT): `--seqs`
//! sequences of `--seq-len` random tokens from a fixed seed, the loss on the last
//! `--answer-len`, micro-batches of `--batch`, AdamW, clipping at 1.0; `--warmup` untimed steps,
//! then `--steps` timed. The baseline in the same process is a forward pass of the same batch
//! without a graph (what evaluation costs): a training step is reported as a multiple of it.
//! Prints one JSON line, with the peak resident memory of the process (`VmHWM`).

use std::time::Instant;

use candle_core::{Device, D};
use clap::Parser;
use lineage_engine::{autograd::target_log_probs, Model, TrainSeq};
use lineage_factory::{
	lora::TrainableLora,
	optim::{AdamW, GradAccumulator},
	TrainConfig,
};
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
	/// The GGUF file (default: scripts/setup's SmolLM2).
	#[arg(long, env = "SMOLLM2_GGUF_PATH")]
	model: Option<std::path::PathBuf>,
	#[arg(long, value_delimiter = ',', default_value = "q_proj,k_proj,v_proj,o_proj")]
	targets: Vec<String>,
	#[arg(long)]
	top_layers: Option<usize>,
	#[arg(long, default_value_t = 8)]
	rank: usize,
	#[arg(long, default_value_t = 16)]
	seqs: usize,
	#[arg(long, default_value_t = 96)]
	seq_len: usize,
	#[arg(long, default_value_t = 32)]
	answer_len: usize,
	#[arg(long, default_value_t = 4)]
	batch: usize,
	#[arg(long, default_value_t = 2)]
	warmup: usize,
	#[arg(long, default_value_t = 8)]
	steps: usize,
}

fn peak_rss_mib() -> f64 {
	let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
	status
		.lines()
		.find_map(|l| l.strip_prefix("VmHWM:"))
		.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
		.map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let path = args.model.clone().unwrap_or_else(|| {
		std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
			.join(".cache/lineage/models/SmolLM2-135M-Instruct.Q4_1.gguf")
	});
	let model = Model::load_gguf(
		&path,
		&Device::Cpu,
		candle_core::DType::F32,
		lineage_engine::GgufMode::Dequantized,
	)?;
	let cfg = TrainConfig {
		targets: args.targets.clone(),
		rank: args.rank,
		top_layers: args.top_layers,
		..Default::default()
	};
	cfg.check()?;
	let lora = TrainableLora::init(&model.config, &model.id, &cfg, &Device::Cpu)?;
	let vars_owned: Vec<candle_core::Var> = lora.vars().into_iter().cloned().collect();
	let vars: Vec<&candle_core::Var> = vars_owned.iter().collect();
	let modules = lora.engine_modules();
	let mut opt = AdamW::new(&vars, 0.9, 0.999, 1e-8, 0.0)?;
	let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
	let vocab = model.config.vocab_size as u32;
	let seqs: Vec<Vec<u32>> = (0..args.seqs)
		.map(|_| (0..args.seq_len).map(|_| rng.gen_range(0..vocab)).collect())
		.collect();
	let scored: Vec<usize> = (args.seq_len - args.answer_len - 1..args.seq_len - 1).collect();
	let step = |i: usize, opt: &mut AdamW, train: bool| -> anyhow::Result<()> {
		let lo = (i * args.batch) % args.seqs;
		let batch: Vec<&Vec<u32>> = (lo..lo + args.batch).map(|j| &seqs[j % args.seqs]).collect();
		let ts: Vec<TrainSeq<'_>> =
			batch.iter().map(|t| TrainSeq { tokens: t, scored: &scored }).collect();
		let targets: Vec<u32> =
			batch.iter().flat_map(|t| scored.iter().map(|&p| t[p + 1])).collect();
		if !train {
			let logits = model.train_logits(&ts, &lora.frozen_modules(), None)?;
			let _ = target_log_probs(&logits, &targets)?.sum_all()?.to_scalar::<f32>()?;
			return Ok(());
		}
		let logits = model.train_logits(&ts, &modules, None)?;
		let loss =
			(target_log_probs(&logits, &targets)?.sum(D::Minus1)? * (-1.0 / targets.len() as f64))?;
		let grads = loss.backward()?;
		let mut acc = GradAccumulator::new(&vars)?;
		acc.add(&vars, &grads)?;
		let (g, _) = acc.finish(1.0)?;
		opt.step(&vars, &g, 1e-4)?;
		Ok(())
	};
	for i in 0..args.warmup {
		step(i, &mut opt, true)?;
	}
	let t0 = Instant::now();
	for i in 0..args.steps {
		step(args.warmup + i, &mut opt, true)?;
	}
	let train_s = t0.elapsed().as_secs_f64() / args.steps as f64;
	let t1 = Instant::now();
	for i in 0..args.steps {
		step(i, &mut opt, false)?;
	}
	let fwd_s = t1.elapsed().as_secs_f64() / args.steps as f64;
	let tokens = (args.batch * args.seq_len) as f64;
	println!(
		"{}",
		serde_json::json!({
			"framework": "lineage-factory (candle 0.11)",
			"threads": candle_core::utils::get_num_threads(),
			"targets": args.targets,
			"top_layers": args.top_layers.unwrap_or(model.config.num_hidden_layers),
			"rank": args.rank,
			"batch": args.batch,
			"seq_len": args.seq_len,
			"step_s": train_s,
			"tokens_per_s": tokens / train_s,
			"answer_tokens_per_s": (args.batch * args.answer_len) as f64 / train_s,
			"forward_only_s": fwd_s,
			"step_over_forward": train_s / fwd_s,
			"peak_rss_mib": peak_rss_mib(),
		})
	);
	Ok(())
}
