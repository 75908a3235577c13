//! The benchmark's command line: `lineage-oracle bench …` takes these arguments.

use std::path::PathBuf;

use lineage_engine::{
	device::{parse_device, parse_dtype},
	AdapterLimits,
};

use crate::{cache_source::BenchCacheSource, run_bench, run_gguf_bench, BenchOptions};

/// What `lineage-oracle bench` takes.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
	/// Where the fixture is written (reused when it matches).
	#[arg(long, default_value = "target/lineage-bench")]
	pub work_dir: PathBuf,
	/// A seconds-long run on the tiny fixture instead of the full benchmark.
	#[arg(long, conflicts_with = "gguf")]
	pub quick: bool,
	/// Benchmark this GGUF model (SmolLM2-135M-Instruct, from `scripts/setup`) with adapters
	/// shaped for it, base linears quantized and then dequantized to f32 (default n: 100).
	#[arg(long)]
	pub gguf: Option<PathBuf>,
	/// Numbers of adapters to serve, comma-separated (default 1,10,100,1000; quick: 1,4).
	#[arg(long, value_delimiter = ',')]
	pub adapters: Option<Vec<usize>>,
	/// Decode batch size.
	#[arg(long)]
	pub batch: Option<usize>,
	/// Requests per row.
	#[arg(long)]
	pub requests: Option<usize>,
	/// Prompt tokens per request.
	#[arg(long)]
	pub prompt_len: Option<usize>,
	/// Generated tokens per request.
	#[arg(long)]
	pub output_len: Option<usize>,
	/// Zipf exponent of adapter popularity.
	#[arg(long)]
	pub zipf: Option<f64>,
	/// Seed of the workload.
	#[arg(long)]
	pub seed: Option<u64>,
	/// Share of all adapters' bytes the budget-limited row may cache.
	#[arg(long)]
	pub budget_fraction: Option<f64>,
	/// Measure the benchmark's own simple LRU in the budget-limited row instead of the oracle's
	/// adapter cache.
	#[arg(long)]
	pub simple_lru: bool,
	/// `cpu`, `cuda` or `cuda:N` (CUDA needs the `cuda` feature).
	#[arg(long, default_value = "cpu")]
	pub device: String,
	/// `f32`, `f16` or `bf16` (default: f32 on the CPU, bf16 on CUDA).
	#[arg(long)]
	pub dtype: Option<String>,
}

/// Runs the benchmark `args` ask for and returns its report as text. Blocks: from async code,
/// call it inside `spawn_blocking`.
pub fn run(args: BenchArgs) -> anyhow::Result<String> {
	let mut opts = match (args.quick, args.gguf) {
		(true, _) => BenchOptions::quick(args.work_dir),
		(false, Some(gguf)) => BenchOptions::gguf(args.work_dir, gguf),
		(false, None) => BenchOptions::full(args.work_dir),
	};
	opts.device = parse_device(&args.device)?;
	opts.dtype = parse_dtype(args.dtype.as_deref(), &opts.device)?;
	if let Some(v) = args.adapters {
		opts.adapter_counts = v;
	}
	if let Some(v) = args.batch {
		opts.batch = v;
	}
	if let Some(v) = args.requests {
		opts.requests = v;
	}
	if let Some(v) = args.prompt_len {
		opts.prompt_len = v;
	}
	if let Some(v) = args.output_len {
		opts.output_len = v;
	}
	if let Some(v) = args.zipf {
		opts.zipf_s = v;
	}
	if let Some(v) = args.seed {
		opts.seed = v;
	}
	if let Some(v) = args.budget_fraction {
		opts.budget_fraction = v;
	}
	if !args.simple_lru {
		opts.source = Some(BenchCacheSource::factory(AdapterLimits::default()));
	}
	Ok(if opts.gguf.is_some() {
		run_gguf_bench(opts)?.to_string()
	} else {
		run_bench(&opts)?.to_string()
	})
}
