//! # Lineage benchmark
//!
//! The multi-LoRA serving benchmark (S-LoRA's setting, on the fixture model), apart from the
//! engine it measures (as TGI's `benchmark/` and `mistralrs-bench` are). [`cli`] is what
//! `lineage-oracle bench` runs; [`cache_source`] measures the oracle's adapter cache.
//!
//! Workload: `requests` requests with a fixed prompt length and a fixed output length (greedy
//! decoding; the fixture never predicts its end token, so every request generates exactly
//! `output_len` tokens), each for one of `n` adapters (ranks 8 and 16 on q, k, v, o) drawn with
//! power-law (Zipf) popularity, served with a decode batch of `batch`. All requests arrive at
//! once. Rows, all in one process on one model:
//! - **base**: the same requests on the base model, no adapter: the ceiling;
//! - **unmerged**: multi-LoRA unmerged (this engine), adapters resident in host memory;
//! - **naive**: a server that merges one adapter at a time into the weights
//!   (`W + scale·B·A`) and serves that adapter's queue, batching only its requests;
//! - **base (rr)** and **unmerged (rr)** (when the fixture has `batch` adapters): adapters
//!   assigned round robin, so every decode wave holds `batch` different adapters;
//! - **unmerged 1/4** (largest n): the adapters behind a byte-bounded LRU holding a quarter of
//!   them (warmed with the most popular); misses load from disk while the engine runs.
//!
//! The base and unmerged rows run `repeats` times, interleaved, and the fastest run counts,
//! since the machine may be shared. Reported: output tokens/s, time per output token (TPOT, a
//! request's inference time over its tokens), mean latency (arrival to last token),
//! unmerged/base and unmerged/naive throughput ratios, adapter load time from disk and from host
//! memory, and host bytes per cached adapter against the adapter's weight bytes in its file.
//!
//! [`run_gguf_bench`] runs the same rows over a real GGUF model (SmolLM2-135M-Instruct Q4_1 from
//! `scripts/setup`) twice — base linears kept quantized, then dequantized to f32 — with adapters
//! shaped for it, and compares the two (the naive row needs a dense base, so it runs only on the
//! f32 copy). Requests ignore end-of-sequence tokens, so every row generates the same tokens.
//!
//! [`run_bench`] blocks: from async code, call it inside `spawn_blocking`.

pub mod cache_source;
pub mod cli;

use std::{
	collections::{HashMap, VecDeque},
	fmt,
	path::PathBuf,
	sync::Arc,
	time::{Duration, Instant},
};

use anyhow::Context;
use candle_core::{quantized::GgmlDType, DType, Device};
use rand::{distributions::WeightedIndex, prelude::Distribution, Rng, SeedableRng};

use lineage_engine::{
	fixture::{ensure_adapters, ensure_fixture, FixtureAdapter, FixtureSpec},
	load_peft, load_peft_bytes, AdapterLimits, Engine, EngineConfig, GenerateEvent,
	GenerateRequest, GgufMode, LoadOptions, LoraAdapter, Model, SamplingParams,
};

/// Where the benchmark takes adapters from: the oracle's cache, or [`LruSource`].
pub trait AdapterSource: Send {
	/// The adapter named `name`, loading it if it is not held.
	fn get(&mut self, name: &str) -> anyhow::Result<Arc<LoraAdapter>>;
	/// Hit and miss counters.
	fn stats(&self) -> SourceStats;
}

/// Counters of an [`AdapterSource`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
	/// Requests answered from memory.
	pub hits: u64,
	/// Requests that loaded from disk.
	pub misses: u64,
	/// Adapters dropped to stay within the budget.
	pub evictions: u64,
	/// Bytes held now.
	pub bytes: usize,
}

/// What a source factory gets to build an [`AdapterSource`].
pub struct SourceSetup<'a> {
	/// The served model (its config, id, device and dtype).
	pub model: &'a Model,
	/// The adapters of the fixture, by name and directory.
	pub adapters: &'a [FixtureAdapter],
	/// The host-memory budget in bytes.
	pub budget_bytes: usize,
}

/// Builds the adapter source of the budget-limited row.
pub type SourceFactory = Box<dyn Fn(&SourceSetup<'_>) -> anyhow::Result<Box<dyn AdapterSource>>>;

/// A byte-bounded LRU over adapter directories: the benchmark's own cache.
pub struct LruSource {
	dirs: HashMap<String, PathBuf>,
	model: Model,
	budget: usize,
	/// Most recently used last.
	entries: VecDeque<(String, Arc<LoraAdapter>)>,
	bytes: usize,
	stats: SourceStats,
}

impl LruSource {
	/// A cache of at most `budget_bytes` of adapter weights, loading from the fixture's directories.
	pub fn new(setup: &SourceSetup<'_>) -> Self {
		LruSource {
			dirs: setup.adapters.iter().map(|a| (a.name.clone(), a.dir.clone())).collect(),
			model: setup.model.clone(),
			budget: setup.budget_bytes,
			entries: VecDeque::new(),
			bytes: 0,
			stats: SourceStats::default(),
		}
	}
}

impl AdapterSource for LruSource {
	fn get(&mut self, name: &str) -> anyhow::Result<Arc<LoraAdapter>> {
		if let Some(i) = self.entries.iter().position(|(n, _)| n == name) {
			self.stats.hits += 1;
			if let Some(e) = self.entries.remove(i) {
				let a = e.1.clone();
				self.entries.push_back(e);
				return Ok(a);
			}
		}
		self.stats.misses += 1;
		let dir = self.dirs.get(name).with_context(|| format!("no adapter {name}"))?;
		let opts = LoadOptions::for_model(&self.model, AdapterLimits::default());
		let adapter = Arc::new(load_peft(dir, &opts)?);
		let size = adapter.weight_bytes();
		while self.bytes + size > self.budget {
			let Some((_, old)) = self.entries.pop_front() else { break };
			self.bytes -= old.weight_bytes();
			self.stats.evictions += 1;
		}
		if size <= self.budget {
			self.bytes += size;
			self.entries.push_back((name.to_string(), adapter.clone()));
		}
		Ok(adapter)
	}

	fn stats(&self) -> SourceStats {
		SourceStats { bytes: self.bytes, ..self.stats }
	}
}

/// The benchmark's settings.
pub struct BenchOptions {
	/// Where the fixture is written (reused when its manifest matches the spec).
	pub work_dir: PathBuf,
	/// The model to write (its `adapters` is raised to the largest count).
	pub spec: FixtureSpec,
	/// The numbers of adapters to serve, one row group each.
	pub adapter_counts: Vec<usize>,
	/// Decode batch size.
	pub batch: usize,
	/// Requests per row.
	pub requests: usize,
	/// Prompt tokens per request.
	pub prompt_len: usize,
	/// Generated tokens per request.
	pub output_len: usize,
	/// Zipf exponent of adapter popularity.
	pub zipf_s: f64,
	/// Seed of the workload.
	pub seed: u64,
	/// The share of all adapters' bytes the budget-limited row's cache may hold.
	pub budget_fraction: f64,
	/// Runs of the base and unmerged rows; the fastest counts (the machine may be shared).
	pub repeats: usize,
	/// Builds the budget-limited row's source; [`LruSource`] when `None`.
	pub source: Option<SourceFactory>,
	/// Where the model and the adapters run (`Device::Cpu`, or CUDA with the `cuda` feature).
	pub device: Device,
	/// The model's and adapters' dtype on that device (f32 on the CPU).
	pub dtype: DType,
	/// Serve this GGUF file, its base linears held as the mode says, instead of writing the
	/// fixture model; `spec` then only shapes the adapters ([`FixtureSpec::smollm2`]).
	pub gguf: Option<(PathBuf, GgufMode)>,
}

impl BenchOptions {
	/// The full benchmark: the bench fixture, n ∈ {1, 10, 100, 1000}, batch 32, 64 requests of
	/// 16 prompt and 32 output tokens, Zipf exponent 1, a quarter budget.
	pub fn full(work_dir: PathBuf) -> Self {
		BenchOptions {
			work_dir,
			spec: FixtureSpec::bench(),
			adapter_counts: vec![1, 10, 100, 1000],
			batch: 32,
			requests: 64,
			prompt_len: 16,
			output_len: 32,
			zipf_s: 1.0,
			seed: 1,
			budget_fraction: 0.25,
			repeats: 2,
			source: None,
			device: Device::Cpu,
			dtype: DType::F32,
			gguf: None,
		}
	}

	/// The real-model benchmark: `gguf` (SmolLM2-135M-Instruct) with its base linears quantized,
	/// SmolLM2-shaped adapters, n = 100, 32 requests of 16 output tokens (one full decode wave:
	/// the Q4_1 rows run at ~20 tokens/s on 2 CPU cores), otherwise as [`BenchOptions::full`].
	/// [`run_gguf_bench`] also runs it requantized to Q8_0 and dequantized to f32.
	pub fn gguf(work_dir: PathBuf, gguf: PathBuf) -> Self {
		BenchOptions {
			spec: FixtureSpec::smollm2(),
			adapter_counts: vec![100],
			requests: 32,
			output_len: 16,
			gguf: Some((gguf, GgufMode::Quantized)),
			// Apart from the fixture's adapters, which have the same names.
			..Self::full(work_dir.join("smollm2"))
		}
	}

	/// A seconds-long run on the tiny fixture (for tests).
	pub fn quick(work_dir: PathBuf) -> Self {
		BenchOptions {
			work_dir,
			spec: FixtureSpec::tiny(),
			adapter_counts: vec![1, 4],
			batch: 4,
			requests: 8,
			prompt_len: 4,
			output_len: 4,
			zipf_s: 1.0,
			seed: 1,
			budget_fraction: 0.25,
			repeats: 1,
			source: None,
			device: Device::Cpu,
			dtype: DType::F32,
			gguf: None,
		}
	}
}

/// One measured row.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
	/// `base`, `unmerged`, `naive` or `unmerged ¼`.
	pub case: String,
	/// Adapters in the workload (0 for the base row).
	pub adapters: usize,
	/// Distinct adapters the requests used.
	pub distinct: usize,
	/// Output tokens per second.
	pub tokens_per_s: f64,
	/// Mean time per output token of a request, in milliseconds.
	pub tpot_ms: f64,
	/// Mean latency from arrival to the last token, in milliseconds.
	pub latency_ms: f64,
	/// Wall time of the row.
	pub wall: Duration,
	/// Throughput over the base row's.
	pub vs_base: Option<f64>,
	/// Throughput over the naive row's with the same n.
	pub vs_naive: Option<f64>,
	/// Merges, cache hits/misses.
	pub detail: String,
}

/// The benchmark's results.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
	/// The model's shape, in words.
	pub model: String,
	/// The workload, in words.
	pub workload: String,
	/// The rows, in the order run.
	pub rows: Vec<BenchRow>,
	/// Mean load time from disk (read, parse, build), per rank.
	pub load_disk_ms: Vec<(usize, f64)>,
	/// Mean load time from the files' bytes already in host memory (parse, build), per rank.
	pub load_host_ms: Vec<(usize, f64)>,
	/// Mean time to copy a loaded adapter to the model's device, per rank.
	pub copy_ms: Vec<(usize, f64)>,
	/// Host bytes held per cached adapter, per rank.
	pub cached_bytes: Vec<(usize, usize)>,
	/// The adapter's weight bytes in its file, per rank.
	pub file_weight_bytes: Vec<(usize, usize)>,
	/// The budget of the limited row in bytes, and the bytes of all adapters.
	pub budget: Option<(usize, usize)>,
}

impl fmt::Display for BenchReport {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		writeln!(f, "model: {}", self.model)?;
		writeln!(f, "workload: {}", self.workload)?;
		writeln!(
			f,
			"| {:<13} | {:>5} | {:>8} | {:>9} | {:>8} | {:>10} | {:>7} | {:>8} | {:<32} |",
			"case",
			"n",
			"distinct",
			"tok/s",
			"TPOT ms",
			"latency ms",
			"vs base",
			"vs naive",
			"detail"
		)?;
		writeln!(
			f,
			"|{:-<15}|{:->7}|{:->10}|{:->11}|{:->10}|{:->12}|{:->9}|{:->10}|{:-<34}|",
			"", "", "", "", "", "", "", "", ""
		)?;
		let ratio = |r: Option<f64>| r.map_or("".to_string(), |r| format!("{r:.2}"));
		for r in &self.rows {
			writeln!(
				f,
				"| {:<13} | {:>5} | {:>8} | {:>9.1} | {:>8.2} | {:>10.1} | {:>7} | {:>8} | {:<32} |",
				r.case,
				r.adapters,
				r.distinct,
				r.tokens_per_s,
				r.tpot_ms,
				r.latency_ms,
				ratio(r.vs_base),
				ratio(r.vs_naive),
				r.detail
			)?;
		}
		let per_rank_ms = |v: &[(usize, f64)]| {
			v.iter().map(|(r, x)| format!("r{r} {x:.2} ms")).collect::<Vec<_>>().join(", ")
		};
		let per_rank_b = |v: &[(usize, usize)]| {
			v.iter()
				.map(|(r, x)| format!("r{r} {:.2} MiB", *x as f64 / (1 << 20) as f64))
				.collect::<Vec<_>>()
				.join(", ")
		};
		writeln!(f, "adapter load from disk: {}", per_rank_ms(&self.load_disk_ms))?;
		writeln!(f, "adapter load from host bytes: {}", per_rank_ms(&self.load_host_ms))?;
		writeln!(f, "adapter copy to the model's device: {}", per_rank_ms(&self.copy_ms))?;
		writeln!(f, "host bytes per cached adapter: {}", per_rank_b(&self.cached_bytes))?;
		writeln!(f, "adapter weight bytes in its file: {}", per_rank_b(&self.file_weight_bytes))?;
		if let Some((budget, all)) = self.budget {
			writeln!(
				f,
				"limited budget: {:.1} MiB of {:.1} MiB for all adapters",
				budget as f64 / (1 << 20) as f64,
				all as f64 / (1 << 20) as f64
			)?;
		}
		Ok(())
	}
}

/// One request of the workload: its prompt and its adapter's index (popularity rank).
#[derive(Clone)]
struct Job {
	prompt: Vec<u32>,
	adapter: usize,
}

/// What one request measured.
struct Outcome {
	tokens: usize,
	inference: Duration,
	done_at: Instant,
}

/// Runs the benchmark (see the module doc) and returns its report.
pub fn run_bench(opts: &BenchOptions) -> anyhow::Result<BenchReport> {
	anyhow::ensure!(
		opts.batch > 0 && opts.requests > 0 && opts.output_len > 0 && opts.prompt_len > 0,
		"sizes must be > 0"
	);
	let max_n = opts.adapter_counts.iter().copied().max().unwrap_or(0);
	let spec = FixtureSpec { adapters: max_n.max(opts.spec.adapters), ..opts.spec.clone() };
	std::fs::create_dir_all(&opts.work_dir)?;
	let (model, adapters, file) = match &opts.gguf {
		None => {
			let manifest =
				ensure_fixture(&opts.work_dir, &spec).context("writing the bench fixture")?;
			let model = Model::load_hf(&manifest.model_dir, &opts.device, opts.dtype)?;
			(model, manifest.adapters, String::new())
		},
		Some((path, mode)) => {
			let adapters =
				ensure_adapters(&opts.work_dir, &spec).context("writing the bench adapters")?;
			let model = Model::load_gguf(path, &opts.device, opts.dtype, *mode)?;
			let name = path.file_name().unwrap_or_default().to_string_lossy();
			let held = match mode {
				GgufMode::Quantized => "base linears kept quantized".to_string(),
				GgufMode::Requantized(to) => format!("base linears requantized to {to:?}"),
				GgufMode::Dequantized => "base linears dequantized".to_string(),
			};
			(model, adapters, format!("{name} ({held}): "))
		},
	};
	// The naive server merges adapters into the weights: it needs a dense base.
	let can_merge = !matches!(opts.gguf, Some((_, GgufMode::Quantized | GgufMode::Requantized(_))));
	let model = Arc::new(model);
	let engine_config = EngineConfig {
		max_batch: opts.batch,
		max_queue: opts.requests.max(1),
		max_seq_len: opts.prompt_len + opts.output_len + 1,
		prefill_chunk: opts.batch * opts.prompt_len,
	};
	let c = &model.config;
	let model_desc = format!(
		"{file}hidden {}, {} layers, {}/{} heads, intermediate {}, vocab {}, {:?} on {} ({} CPU threads)",
		c.hidden_size,
		c.num_hidden_layers,
		c.num_attention_heads,
		c.num_key_value_heads,
		c.intermediate_size,
		c.vocab_size,
		opts.dtype,
		if opts.device.is_cpu() { "CPU".to_string() } else { format!("{:?}", opts.device) },
		candle_core::utils::get_num_threads()
	);
	let workload = format!(
		"{} requests × ({} prompt + {} output tokens), greedy, batch {}, Zipf s={} over n adapters (ranks 8/16 on q,k,v,o)",
		opts.requests, opts.prompt_len, opts.output_len, opts.batch, opts.zipf_s
	);
	let load = LoadOptions::for_model(&model, AdapterLimits::default());
	let mut rows = Vec::new();

	// Warm up (first-touch of the weights' pages, thread pools).
	let warm = workload_jobs(opts, 1, c.vocab_size);
	serve(
		&model,
		&engine_config,
		warm.iter().take(opts.batch).map(|j| (j.prompt.clone(), None)).collect(),
	)?;

	let mut largest = None;
	for &n in &opts.adapter_counts {
		let jobs = workload_jobs(opts, n, c.vocab_size);
		let resident = load_resident(&jobs, &adapters, &load)?;
		let (base, mut unmerged) =
			base_and_unmerged(opts, &model, &engine_config, &jobs, &resident, n)?;
		if n == max_n {
			largest = Some((jobs.clone(), base.clone()));
		}
		if !can_merge {
			log_rows(&[&base, &unmerged]);
			rows.extend([base, unmerged]);
			continue;
		}
		// (c) naive: merge one adapter at a time, serve its queue.
		let t0 = Instant::now();
		let mut order: Vec<usize> = Vec::new();
		for j in &jobs {
			if !order.contains(&j.adapter) {
				order.push(j.adapter);
			}
		}
		let mut out = Vec::new();
		let mut merge_time = Duration::ZERO;
		for a in &order {
			let Some(adapter) = resident.get(a) else { continue };
			let m0 = Instant::now();
			let merged = Arc::new(adapter.merged_into(&model)?);
			merge_time += m0.elapsed();
			let queue =
				jobs.iter().filter(|j| j.adapter == *a).map(|j| (j.prompt.clone(), None)).collect();
			out.extend(serve(&merged, &engine_config, queue)?);
		}
		let naive = row(
			"naive",
			n,
			order.len(),
			t0,
			&out,
			format!("{} merges, {:.0} ms merging", order.len(), merge_time.as_secs_f64() * 1e3),
		);
		unmerged.vs_naive = Some(unmerged.tokens_per_s / naive.tokens_per_s);
		log_rows(&[&base, &unmerged, &naive]);
		rows.extend([base, unmerged, naive]);
	}

	// Every wave with `batch` distinct adapters (round robin), against the base.
	if max_n >= opts.batch && opts.batch > 1 {
		let mut jobs = workload_jobs(opts, max_n, c.vocab_size);
		for (i, j) in jobs.iter_mut().enumerate() {
			j.adapter = i % opts.batch;
		}
		let resident = load_resident(&jobs, &adapters, &load)?;
		let (mut base, mut unmerged) =
			base_and_unmerged(opts, &model, &engine_config, &jobs, &resident, opts.batch)?;
		base.case = "base (rr)".into();
		unmerged.case = "unmerged (rr)".into();
		unmerged.detail = format!("{} distinct adapters per wave", opts.batch);
		log_rows(&[&base, &unmerged]);
		rows.extend([base, unmerged]);
	}

	// The largest n again, behind a cache holding a quarter of the adapters' bytes.
	let mut budget = None;
	if let Some((jobs, base)) = largest.filter(|_| max_n > 1) {
		// Bytes of all n adapters once loaded: one load per (rank, patterns) kind.
		let mut per_kind: HashMap<(usize, bool), usize> = HashMap::new();
		let mut all_bytes = 0;
		for a in adapters.iter().take(max_n) {
			let bytes = match per_kind.get(&(a.rank, a.patterns)) {
				Some(&b) => b,
				None => {
					let b = load_peft(&a.dir, &load)?.weight_bytes();
					per_kind.insert((a.rank, a.patterns), b);
					b
				},
			};
			all_bytes += bytes;
		}
		let budget_bytes = (all_bytes as f64 * opts.budget_fraction) as usize;
		let setup = SourceSetup { model: &model, adapters: &adapters[..max_n], budget_bytes };
		let mut source: Box<dyn AdapterSource> = match &opts.source {
			Some(factory) => factory(&setup)?,
			None => Box::new(LruSource::new(&setup)),
		};
		// Warm the cache with the most popular adapters that fit.
		let mut held = 0;
		for a in adapters.iter().take(max_n) {
			held += source.get(&a.name)?.weight_bytes();
			if held >= budget_bytes {
				break;
			}
		}
		let before = source.stats();
		let t0 = Instant::now();
		let mut reqs = Vec::with_capacity(jobs.len());
		for j in &jobs {
			let name = &adapters.get(j.adapter).context("adapter index out of range")?.name;
			reqs.push((j.prompt.clone(), Some(source.get(name)?)));
		}
		let out = serve(&model, &engine_config, reqs)?;
		let after = source.stats();
		let distinct = distinct_adapters(&jobs);
		let mut limited = row(
			"unmerged 1/4",
			max_n,
			distinct,
			t0,
			&out,
			format!(
				"{} hits, {} misses, {} evictions",
				after.hits - before.hits,
				after.misses - before.misses,
				after.evictions - before.evictions
			),
		);
		limited.vs_base = Some(limited.tokens_per_s / base.tokens_per_s);
		log_rows(&[&limited]);
		rows.push(limited);
		budget = Some((budget_bytes, all_bytes));
	}
	finish_report(&model, &adapters, model_desc, workload, rows, budget)
}

/// Logs measured rows as they come (a full run takes minutes).
fn log_rows(rows: &[&BenchRow]) {
	for r in rows {
		tracing::info!(
			case = %r.case,
			n = r.adapters,
			tokens_per_s = format!("{:.1}", r.tokens_per_s),
			wall_s = format!("{:.1}", r.wall.as_secs_f64()),
			"bench row"
		);
	}
}

/// Distinct adapters a workload uses.
fn distinct_adapters(jobs: &[Job]) -> usize {
	let mut d: Vec<usize> = jobs.iter().map(|j| j.adapter).collect();
	d.sort_unstable();
	d.dedup();
	d.len()
}

/// Loads the adapters a workload uses (they stay in host memory for the unmerged row).
fn load_resident(
	jobs: &[Job],
	adapters: &[FixtureAdapter],
	load: &LoadOptions<'_>,
) -> anyhow::Result<HashMap<usize, Arc<LoraAdapter>>> {
	let mut resident = HashMap::new();
	for j in jobs {
		if let std::collections::hash_map::Entry::Vacant(e) = resident.entry(j.adapter) {
			let a = adapters.get(j.adapter).context("adapter index out of range")?;
			e.insert(Arc::new(load_peft(&a.dir, load)?));
		}
	}
	Ok(resident)
}

/// The base row and the unmerged row of a workload (fastest of `repeats` runs each), the
/// unmerged row's `vs_base` filled.
fn base_and_unmerged(
	opts: &BenchOptions,
	model: &Arc<Model>,
	config: &EngineConfig,
	jobs: &[Job],
	resident: &HashMap<usize, Arc<LoraAdapter>>,
	n: usize,
) -> anyhow::Result<(BenchRow, BenchRow)> {
	let distinct = distinct_adapters(jobs);
	let mut base: Option<BenchRow> = None;
	let mut unmerged: Option<BenchRow> = None;
	for _ in 0..opts.repeats.max(1) {
		let reqs = jobs.iter().map(|j| (j.prompt.clone(), None)).collect();
		let t0 = Instant::now();
		let out = serve(model, config, reqs)?;
		base = Some(best(base, row("base", n, 0, t0, &out, String::new())));
		let reqs =
			jobs.iter().map(|j| (j.prompt.clone(), resident.get(&j.adapter).cloned())).collect();
		let t0 = Instant::now();
		let out = serve(model, config, reqs)?;
		unmerged = Some(best(unmerged, row("unmerged", n, distinct, t0, &out, String::new())));
	}
	let (Some(base), Some(mut unmerged)) = (base, unmerged) else {
		anyhow::bail!("no run");
	};
	unmerged.vs_base = Some(unmerged.tokens_per_s / base.tokens_per_s);
	Ok((base, unmerged))
}

/// Adds the adapter load measurements and builds the report.
fn finish_report(
	model: &Arc<Model>,
	adapters: &[FixtureAdapter],
	model_desc: String,
	workload: String,
	rows: Vec<BenchRow>,
	budget: Option<(usize, usize)>,
) -> anyhow::Result<BenchReport> {
	let load = LoadOptions::for_model(model, AdapterLimits::default());
	let (mut disk, mut host, mut copy) = (Vec::new(), Vec::new(), Vec::new());
	let (mut cached, mut file) = (Vec::new(), Vec::new());
	for rank in [8, 16] {
		let sample: Vec<&FixtureAdapter> =
			adapters.iter().filter(|a| a.rank == rank && !a.patterns).take(8).collect();
		if sample.is_empty() {
			continue;
		}
		let (mut d, mut h, mut cp) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
		let mut last = None;
		for a in &sample {
			let t = Instant::now();
			let loaded = load_peft(&a.dir, &load)?;
			d += t.elapsed();
			let cfg = std::fs::read(a.dir.join("adapter_config.json"))?;
			let st = std::fs::read(a.dir.join("adapter_model.safetensors"))?;
			let t = Instant::now();
			let _ = load_peft_bytes(&cfg, &st, &load)?;
			h += t.elapsed();
			let t = Instant::now();
			let _ = loaded.to_device(&model.device, model.dtype)?;
			cp += t.elapsed();
			last = Some((loaded.weight_bytes(), file_weight_bytes(&st)?));
		}
		let k = sample.len() as f64;
		disk.push((rank, d.as_secs_f64() * 1e3 / k));
		host.push((rank, h.as_secs_f64() * 1e3 / k));
		copy.push((rank, cp.as_secs_f64() * 1e3 / k));
		if let Some((c, f)) = last {
			cached.push((rank, c));
			file.push((rank, f));
		}
	}
	Ok(BenchReport {
		model: model_desc,
		workload,
		rows,
		load_disk_ms: disk,
		load_host_ms: host,
		copy_ms: copy,
		cached_bytes: cached,
		file_weight_bytes: file,
		budget,
	})
}

/// The bytes of the tensors stored in a safetensors file.
fn file_weight_bytes(st: &[u8]) -> anyhow::Result<usize> {
	let tensors = candle_core::safetensors::load_buffer(st, &Device::Cpu)?;
	Ok(tensors.values().map(|t| t.elem_count() * t.dtype().size_in_bytes()).sum())
}

/// The workload for `n` adapters: prompts and Zipf-drawn adapter indices.
fn workload_jobs(opts: &BenchOptions, n: usize, vocab: usize) -> Vec<Job> {
	let mut rng =
		rand::rngs::StdRng::seed_from_u64(opts.seed ^ (n as u64).wrapping_mul(0x9E37_79B9));
	let weights: Vec<f64> = (1..=n.max(1)).map(|i| 1.0 / (i as f64).powf(opts.zipf_s)).collect();
	let zipf = WeightedIndex::new(&weights).ok();
	(0..opts.requests)
		.map(|_| Job {
			prompt: (0..opts.prompt_len).map(|_| rng.gen_range(3..vocab as u32)).collect(),
			adapter: zipf.as_ref().map_or(0, |z| z.sample(&mut rng)),
		})
		.collect()
}

/// Serves requests on a fresh engine over `model` and waits for all of them.
fn serve(
	model: &Arc<Model>,
	config: &EngineConfig,
	reqs: Vec<(Vec<u32>, Option<Arc<LoraAdapter>>)>,
) -> anyhow::Result<Vec<Outcome>> {
	let engine = Engine::start(model.clone(), config.clone());
	let now = Instant::now();
	let mut rxs = Vec::with_capacity(reqs.len());
	for (i, (prompt, adapter)) in reqs.into_iter().enumerate() {
		let rx = engine
			.submit(GenerateRequest {
				id: format!("bench-{i}"),
				prompt,
				adapter,
				sampling: SamplingParams { ignore_eos: true, ..SamplingParams::greedy() },
				max_tokens: config.max_seq_len,
				submitted_at: now,
			})
			.map_err(|e| anyhow::anyhow!("submit: {e}"))?;
		rxs.push(rx);
	}
	let mut out = Vec::with_capacity(rxs.len());
	for mut rx in rxs {
		loop {
			match rx.blocking_recv() {
				Some(GenerateEvent::Token { .. }) => {},
				Some(GenerateEvent::Finished { completion_tokens, inference_time, .. }) => {
					out.push(Outcome {
						tokens: completion_tokens,
						inference: inference_time,
						done_at: Instant::now(),
					});
					break;
				},
				Some(GenerateEvent::Failed { message }) => {
					anyhow::bail!("request failed: {message}")
				},
				None => anyhow::bail!("the engine dropped a request"),
			}
		}
	}
	Ok(out)
}

/// The faster of two runs of a row.
fn best(a: Option<BenchRow>, b: BenchRow) -> BenchRow {
	match a {
		Some(a) if a.tokens_per_s >= b.tokens_per_s => a,
		_ => b,
	}
}

/// A row from the outcomes of a run that started at `t0`.
fn row(
	case: &str,
	n: usize,
	distinct: usize,
	t0: Instant,
	out: &[Outcome],
	detail: String,
) -> BenchRow {
	let wall = out.iter().map(|o| o.done_at).max().map_or(Duration::ZERO, |e| e.duration_since(t0));
	let tokens: usize = out.iter().map(|o| o.tokens).sum();
	let k = out.len().max(1) as f64;
	let tpot =
		out.iter().map(|o| o.inference.as_secs_f64() / o.tokens.max(1) as f64).sum::<f64>() / k;
	let latency = out.iter().map(|o| o.done_at.duration_since(t0).as_secs_f64()).sum::<f64>() / k;
	BenchRow {
		case: case.to_string(),
		adapters: n,
		distinct,
		tokens_per_s: tokens as f64 / wall.as_secs_f64().max(1e-9),
		tpot_ms: tpot * 1e3,
		latency_ms: latency * 1e3,
		wall,
		vs_base: None,
		vs_naive: None,
		detail,
	}
}

/// [`run_gguf_bench`]'s results: the same rows on the quantized, the requantized (Q8_0) and the
/// dequantized base.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufBenchReport {
	/// Base linears kept quantized (as in the file).
	pub quantized: BenchReport,
	/// Base linears requantized to Q8_0 at load.
	pub q8_0: BenchReport,
	/// Base linears dequantized to f32 (with the naive rows).
	pub dense: BenchReport,
}

impl GgufBenchReport {
	/// The tokens/s of the first row of `case` in `report`.
	fn tokens_per_s(report: &BenchReport, case: &str) -> Option<f64> {
		report.rows.iter().find(|r| r.case == case).map(|r| r.tokens_per_s)
	}
}

impl fmt::Display for GgufBenchReport {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		writeln!(f, "## quantized base (as in the file)\n{}", self.quantized)?;
		writeln!(f, "## requantized (Q8_0) base\n{}", self.q8_0)?;
		writeln!(f, "## dequantized (f32) base\n{}", self.dense)?;
		let q = |case| Self::tokens_per_s(&self.quantized, case);
		let q8 = |case| Self::tokens_per_s(&self.q8_0, case);
		let d = |case| Self::tokens_per_s(&self.dense, case);
		let line =
			|f: &mut fmt::Formatter<'_>, what: &str, a: Option<f64>, b: Option<f64>| match (a, b) {
				(Some(a), Some(b)) => writeln!(f, "{what}: {:.2} ({a:.1} / {b:.1} tok/s)", a / b),
				_ => Ok(()),
			};
		line(f, "quantized base / f32 base", q("base"), d("base"))?;
		line(f, "Q8_0 base / f32 base", q8("base"), d("base"))?;
		line(f, "quantized unmerged / f32 unmerged", q("unmerged"), d("unmerged"))?;
		line(f, "quantized unmerged / f32 naive merge", q("unmerged"), d("naive"))?;
		line(f, "Q8_0 unmerged / f32 naive merge", q8("unmerged"), d("naive"))?;
		line(f, "Q8_0 unmerged / Q8_0 base", q8("unmerged"), q8("base"))?;
		line(f, "f32 unmerged / f32 base", d("unmerged"), d("base"))?;
		line(f, "quantized unmerged (rr) / quantized base (rr)", q("unmerged (rr)"), q("base (rr)"))
	}
}

/// Runs the benchmark on `opts.gguf` twice, base linears quantized then dequantized to f32 (see
/// the module doc).
pub fn run_gguf_bench(opts: BenchOptions) -> anyhow::Result<GgufBenchReport> {
	let Some((path, _)) = opts.gguf.clone() else {
		anyhow::bail!("run_gguf_bench needs BenchOptions::gguf");
	};
	let mut opts = opts;
	opts.gguf = Some((path.clone(), GgufMode::Quantized));
	let quantized = run_bench(&opts)?;
	opts.gguf = Some((path.clone(), GgufMode::Requantized(GgmlDType::Q8_0)));
	let q8_0 = run_bench(&opts)?;
	opts.gguf = Some((path, GgufMode::Dequantized));
	let dense = run_bench(&opts)?;
	Ok(GgufBenchReport { quantized, q8_0, dense })
}
