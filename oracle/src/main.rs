//! The `lineage-oracle` binary: clap commands only; the work is in the library.
//!
//! - `serve`: the OpenAI-compatible HTTP server over a base model and its LoRA adapters;
//! - `fixture`: write the tiny (or benchmark) fixture model with PEFT adapters, and import the
//!   adapters into a store;
//! - `bench`: the multi-LoRA serving benchmark;
//! - `key generate|inspect`: the operator's key;
//! - `operator register`: bond and register the operator on chain;
//! - `demo`: the scripted walk through the whole path against a running chain and oracle.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use candle_core::{quantized::GgmlDType, DType, Device};
use clap::{Parser, Subcommand};
use lineage_oracle::{
	adapters::{cache::BenchCacheSource, store::AdapterStore, AdapterLimits},
	api::{build_state_with, payer::PayerAuth, serve, serve_with, ServerConfig, Services},
	chain::{
		connect,
		keys::{describe, generate_key_file, KeySource},
		operator::{register, Registration},
		service::{ChainConfig, ChainService},
	},
	contracts, demo,
	engine::{
		bench::{run_bench, run_gguf_bench, BenchOptions},
		fixture::{write_adapters, write_fixture, FixtureSpec},
		EngineConfig, GgufMode,
	},
	journal::Journal,
};

#[derive(Parser)]
#[command(
	name = "lineage-oracle",
	version,
	about = "Lineage oracle: LoRA inference with usage proofs"
)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Serve the OpenAI-compatible API.
	Serve(ServeArgs),
	/// Write the fixture model and adapters, and import the adapters into `OUT/store`.
	Fixture {
		/// Where to write.
		#[arg(long)]
		out: PathBuf,
		/// How many adapters to write.
		#[arg(long, default_value_t = 4)]
		adapters: usize,
		/// Write the ~100M-parameter benchmark model instead of the tiny one.
		#[arg(long, alias = "bench-size", conflicts_with = "smollm2")]
		bench: bool,
		/// Write only adapters shaped for SmolLM2-135M-Instruct (the GGUF `scripts/setup`
		/// downloads), no model.
		#[arg(long)]
		smollm2: bool,
	},
	/// Run the multi-LoRA serving benchmark and print its table.
	Bench(BenchArgs),
	/// The operator's key.
	#[command(subcommand)]
	Key(KeyCommand),
	/// The operator's registration on chain.
	#[command(subcommand)]
	Operator(OperatorCommand),
	/// The scripted demo: registries, operator, escrow, signed completions, settlement, and the
	/// earnings table read back from the chain (needs a dev chain and a chain-mode oracle).
	Demo(demo::DemoArgs),
	/// Contracts (pallet-revive): deploy, call, read.
	#[command(subcommand)]
	Contract(ContractCommand),
}

#[derive(Subcommand)]
enum ContractCommand {
	/// Deploy a contract with `Revive::instantiate_with_code` (EVM bytecode from solc, or the
	/// `.polkavm` blob of `cargo contract build`); prints its address.
	Deploy {
		#[command(flatten)]
		signer: ChainSigner,
		/// The code file (raw bytes).
		#[arg(long)]
		code: PathBuf,
		/// The constructor's ABI-encoded input, hex (empty by default).
		#[arg(long, default_value = "")]
		data: String,
		/// What to endow the contract with, in LIN's smallest unit (10 decimals).
		#[arg(long, default_value_t = 0)]
		value: u128,
	},
	/// Call a contract in a transaction (`Revive::call`).
	Call {
		#[command(flatten)]
		signer: ChainSigner,
		#[command(flatten)]
		input: ContractInput,
		/// Value sent along, in LIN's smallest unit.
		#[arg(long, default_value_t = 0)]
		value: u128,
	},
	/// Call a contract in a dry run (`ReviveApi::call`) and print the returned data, hex.
	Read {
		#[command(flatten)]
		signer: ChainSigner,
		#[command(flatten)]
		input: ContractInput,
	},
	/// The dApp demo: deploy the dApp, ask an adapter through it, wait for the oracle's answer on
	/// chain, collect it, print it with its fee and split (needs a chain-mode oracle).
	Demo {
		#[command(flatten)]
		signer: ChainSigner,
		/// The dApp's code (`scripts/contracts` builds contracts/build/LineageDapp.bin).
		#[arg(long)]
		code: PathBuf,
		/// The adapter to ask.
		#[arg(long, default_value_t = 0)]
		adapter: u32,
		/// The question.
		#[arg(long, default_value = "What is 2 + 2?")]
		prompt: String,
	},
}

/// The node, and the account that signs.
#[derive(clap::Args)]
struct ChainSigner {
	/// The node's RPC URL.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	url: String,
	#[command(flatten)]
	key: KeyArgs,
}

impl ChainSigner {
	/// Loads the key and connects to the node.
	async fn open(
		&self,
	) -> anyhow::Result<(lineage_oracle::chain::LineageClient, subxt_signer::sr25519::Keypair)> {
		let key = self.key.source()?.load()?;
		Ok((connect(&self.url).await?, key))
	}
}

/// A contract and an ABI-encoded call to it.
#[derive(clap::Args)]
struct ContractInput {
	/// The contract's address (0x…, 20 bytes).
	#[arg(long)]
	address: String,
	/// The ABI-encoded call, hex.
	#[arg(long)]
	data: String,
}

/// A contract's code from a file built by `scripts/contracts`.
fn read_code(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
	std::fs::read(path)
		.with_context(|| format!("reading {} (build it with scripts/contracts)", path.display()))
}

/// Hex (with or without `0x`) to bytes.
fn unhex(what: &str, s: &str) -> anyhow::Result<Vec<u8>> {
	hex::decode(s.trim_start_matches("0x")).with_context(|| format!("{what} is not hex: {s}"))
}

/// A 20-byte address from hex.
fn h160(s: &str) -> anyhow::Result<subxt::utils::H160> {
	let bytes = unhex("the address", s)?;
	anyhow::ensure!(bytes.len() == 20, "the address must be 20 bytes, got {}", bytes.len());
	Ok(subxt::utils::H160::from_slice(&bytes))
}

#[derive(Subcommand)]
enum KeyCommand {
	/// Generate a new sr25519 key into a file readable by its owner only (0600).
	Generate {
		/// The file to create (never overwritten).
		#[arg(long)]
		out: PathBuf,
	},
	/// Print a key's account (SS58) and public key.
	Inspect(KeyArgs),
}

#[derive(Subcommand)]
enum OperatorCommand {
	/// Bond 1,000 LIN from the key's account and register its key and endpoint (idempotent).
	Register {
		/// The node's RPC URL.
		#[arg(long, default_value = "ws://127.0.0.1:9944")]
		url: String,
		#[command(flatten)]
		key: KeyArgs,
		/// Where this operator's oracle serves (recorded on chain for payers).
		#[arg(long, default_value = "http://127.0.0.1:8000")]
		endpoint: String,
	},
}

/// Where the operator key comes from.
#[derive(clap::Args, Clone, Debug)]
#[group(required = true, multiple = false)]
struct KeyArgs {
	/// A key file written by `key generate` (mode 0600).
	#[arg(long, env = "LINEAGE_KEY_FILE")]
	key_file: Option<PathBuf>,
	/// A secret URI, for development (`//Alice`, `//LineageOracle`).
	#[arg(long)]
	suri: Option<String>,
}

impl KeyArgs {
	fn source(&self) -> anyhow::Result<KeySource> {
		KeySource::from_options(self.key_file.as_deref(), self.suri.as_deref())
			.context("name the key: --key-file FILE or --suri URI")
	}
}

#[derive(clap::Args)]
struct ServeArgs {
	/// The base model's folder (Hugging Face layout: config.json, *.safetensors, tokenizer.json).
	#[arg(long, env = "LINEAGE_MODEL", required_unless_present = "gguf", conflicts_with = "gguf")]
	model: Option<PathBuf>,
	/// A GGUF file to serve instead (Llama family, quantized base linears), such as the
	/// SmolLM2-135M-Instruct Q4_1 that `scripts/setup` downloads.
	#[arg(long)]
	gguf: Option<PathBuf>,
	/// How the GGUF's base linears are held: `file` (its own block types), `q8_0` (requantized
	/// at load: candle's CPU kernels for Q4_1 are scalar, Q8_0's use AVX2) or `f32`.
	#[arg(long, default_value = "file", requires = "gguf")]
	gguf_weights: String,
	/// The adapter store's folder.
	#[arg(long, env = "LINEAGE_ADAPTERS_DIR")]
	adapters_dir: PathBuf,
	/// Address to listen on.
	#[arg(long, default_value = "127.0.0.1")]
	host: std::net::IpAddr,
	/// Port to listen on.
	#[arg(long, default_value_t = 8000)]
	port: u16,
	/// `cpu`, `cuda` or `cuda:N` (CUDA needs the `cuda` feature).
	#[arg(long, default_value = "cpu")]
	device: String,
	/// `f32`, `f16` or `bf16` (default: f32 on the CPU, bf16 on CUDA).
	#[arg(long)]
	dtype: Option<String>,
	/// Sequences in the running batch at most.
	#[arg(long, default_value_t = 32)]
	max_batch: usize,
	/// Requests waiting for the batch at most.
	#[arg(long, default_value_t = 256)]
	max_queue: usize,
	/// Prompt plus completion tokens at most.
	#[arg(long, default_value_t = 2048)]
	max_seq_len: usize,
	/// Prompt tokens prefilled per step at most.
	#[arg(long, default_value_t = 512)]
	prefill_chunk: usize,
	/// Requests admitted at once (default: max-batch + max-queue); beyond, 429.
	#[arg(long)]
	max_concurrent: Option<usize>,
	/// Host-memory budget of the adapter cache, bytes.
	#[arg(long, default_value_t = 1 << 30)]
	host_cache_bytes: usize,
	/// Device-memory budget of the adapter cache, bytes (GPU only).
	#[arg(long, default_value_t = 1 << 30)]
	device_cache_bytes: usize,
	/// The largest LoRA rank accepted.
	#[arg(long, default_value_t = 64)]
	max_rank: usize,
	/// `max_tokens` when a request sets none.
	#[arg(long, default_value_t = 256)]
	default_max_tokens: usize,
	/// The largest request body, bytes.
	#[arg(long, default_value_t = 4 << 20)]
	max_body_bytes: usize,
	/// Adapter folders to import and load at start (served under each folder's name).
	#[arg(long, num_args = 1..)]
	preload: Vec<PathBuf>,
	/// Join the chain at this RPC URL: serve only adapters registered on chain, require signed
	/// payer requests with escrow, journal usage and submit signed batches.
	#[arg(long, requires = "chain_key")]
	chain_url: Option<String>,
	/// The operator key (chain mode).
	#[arg(long, env = "LINEAGE_KEY_FILE", group = "chain_key")]
	key_file: Option<PathBuf>,
	/// The operator key as a secret URI, for development (chain mode).
	#[arg(long, group = "chain_key", conflicts_with = "key_file")]
	suri: Option<String>,
	/// The usage journal's file (chain mode).
	#[arg(long, default_value = "lineage-journal.redb")]
	journal: PathBuf,
	/// Milliseconds between batches (chain mode).
	#[arg(long, default_value_t = 2000)]
	batch_interval_ms: u64,
	/// Serve the base model alone to signed payers, free of charge (chain mode; it has no
	/// price on chain, so by default only registered adapters are served).
	#[arg(long)]
	free_base: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
	/// Where the fixture is written (reused when it matches).
	#[arg(long, default_value = "target/lineage-bench")]
	work_dir: PathBuf,
	/// A seconds-long run on the tiny fixture instead of the full benchmark.
	#[arg(long, conflicts_with = "gguf")]
	quick: bool,
	/// Benchmark this GGUF model (SmolLM2-135M-Instruct, from `scripts/setup`) with adapters
	/// shaped for it, base linears quantized and then dequantized to f32 (default n: 100).
	#[arg(long)]
	gguf: Option<PathBuf>,
	/// Numbers of adapters to serve, comma-separated (default 1,10,100,1000; quick: 1,4).
	#[arg(long, value_delimiter = ',')]
	adapters: Option<Vec<usize>>,
	/// Decode batch size.
	#[arg(long)]
	batch: Option<usize>,
	/// Requests per row.
	#[arg(long)]
	requests: Option<usize>,
	/// Prompt tokens per request.
	#[arg(long)]
	prompt_len: Option<usize>,
	/// Generated tokens per request.
	#[arg(long)]
	output_len: Option<usize>,
	/// Zipf exponent of adapter popularity.
	#[arg(long)]
	zipf: Option<f64>,
	/// Seed of the workload.
	#[arg(long)]
	seed: Option<u64>,
	/// Share of all adapters' bytes the budget-limited row may cache.
	#[arg(long)]
	budget_fraction: Option<f64>,
	/// Measure the benchmark's own simple LRU in the budget-limited row instead of the oracle's
	/// adapter cache.
	#[arg(long)]
	simple_lru: bool,
	/// `cpu`, `cuda` or `cuda:N` (CUDA needs the `cuda` feature).
	#[arg(long, default_value = "cpu")]
	device: String,
	/// `f32`, `f16` or `bf16` (default: f32 on the CPU, bf16 on CUDA).
	#[arg(long)]
	dtype: Option<String>,
}

fn parse_device(s: &str) -> anyhow::Result<Device> {
	match s {
		"cpu" => Ok(Device::Cpu),
		"cuda" => Device::new_cuda(0).context("opening CUDA device 0"),
		other => {
			let n = other
				.strip_prefix("cuda:")
				.and_then(|n| n.parse().ok())
				.with_context(|| format!("unknown device {other:?}: cpu, cuda or cuda:N"))?;
			Device::new_cuda(n).with_context(|| format!("opening CUDA device {n}"))
		},
	}
}

fn parse_dtype(s: Option<&str>, device: &Device) -> anyhow::Result<DType> {
	match s {
		None if device.is_cpu() => Ok(DType::F32),
		None => Ok(DType::BF16),
		Some("f32") => Ok(DType::F32),
		Some("f16") => Ok(DType::F16),
		Some("bf16") => Ok(DType::BF16),
		Some(other) => anyhow::bail!("unknown dtype {other:?}: f32, f16 or bf16"),
	}
}

fn serve_config(a: ServeArgs) -> anyhow::Result<ServerConfig> {
	let device = parse_device(&a.device)?;
	let dtype = parse_dtype(a.dtype.as_deref(), &device)?;
	let Some(model) = a.gguf.or(a.model) else {
		anyhow::bail!("name the model: --model DIR (Hugging Face layout) or --gguf FILE");
	};
	let mut config = ServerConfig::new(model, a.adapters_dir);
	config.addr = SocketAddr::new(a.host, a.port);
	config.device = device;
	config.dtype = dtype;
	config.engine = EngineConfig {
		max_batch: a.max_batch,
		max_queue: a.max_queue,
		max_seq_len: a.max_seq_len,
		prefill_chunk: a.prefill_chunk,
	};
	config.max_concurrent = a.max_concurrent;
	config.host_cache_bytes = a.host_cache_bytes;
	config.device_cache_bytes = a.device_cache_bytes;
	config.limits = AdapterLimits { max_rank: a.max_rank };
	config.preload = a.preload;
	config.max_body_bytes = a.max_body_bytes;
	config.default_max_tokens = a.default_max_tokens;
	config.gguf_mode = match a.gguf_weights.as_str() {
		"file" => GgufMode::Quantized,
		"q8_0" => GgufMode::Requantized(GgmlDType::Q8_0),
		"f32" => GgufMode::Dequantized,
		other => anyhow::bail!("unknown --gguf-weights {other:?}: file, q8_0 or f32"),
	};
	Ok(config)
}

/// `serve`: standalone, or joined to the chain when `--chain-url` is given.
async fn serve_command(a: ServeArgs) -> anyhow::Result<()> {
	let chain = match a.chain_url.clone() {
		None => None,
		Some(url) => {
			let key = KeySource::from_options(a.key_file.as_deref(), a.suri.as_deref())
				.context("chain mode needs --key-file or --suri")?;
			let mut cfg = ChainConfig::new(url);
			cfg.batch_interval = std::time::Duration::from_millis(a.batch_interval_ms.max(100));
			cfg.free_base = a.free_base;
			Some((cfg, key.load()?, a.journal.clone()))
		},
	};
	let config = serve_config(a)?;
	let Some((chain_config, key, journal_path)) = chain else {
		return serve(config).await;
	};
	let journal = Arc::new(
		Journal::open(&journal_path)
			.with_context(|| format!("opening the usage journal {}", journal_path.display()))?,
	);
	let store = Arc::new(AdapterStore::open(&config.store_dir)?);
	let chain = ChainService::connect(chain_config, key, journal.clone(), store).await?;
	let replay_journal = journal.clone();
	let services = Services {
		sink: chain.gate().sink(),
		gate: chain.gate().clone(),
		payer_auth: Some(PayerAuth::new(
			chain.payer_context(),
			config.max_body_bytes,
			move |payer: &[u8; 32], nonce: u64, timestamp_ms: u64| {
				replay_journal
					.use_nonce(&lineage_primitives::AccountId::new(*payer), nonce, timestamp_ms)
					.map_err(|e| e.to_string())
			},
		)),
	};
	let state = build_state_with(&config, services).await?;
	chain.spawn(state.clone())?;
	let listener = tokio::net::TcpListener::bind(config.addr)
		.await
		.with_context(|| format!("binding {}", config.addr))?;
	tracing::info!(addr = %listener.local_addr()?, journal = %journal_path.display(), "serving (chain mode)");
	serve_with(listener, state).await
}

fn fixture(out: PathBuf, adapters: usize, bench: bool, smollm2: bool) -> anyhow::Result<()> {
	if smollm2 {
		let spec = FixtureSpec { adapters, ..FixtureSpec::smollm2() };
		let written = write_adapters(&out, &spec)?;
		let store = AdapterStore::open(out.join("store"))?;
		println!("adapters for {} (serve with --gguf)", spec.model_id);
		println!("store {}", store.root().display());
		for adapter in &written {
			let hash = store.import_named(&adapter.name, &adapter.dir)?;
			println!("adapter {} 0x{} (rank {})", adapter.name, hex::encode(hash.0), adapter.rank);
		}
		return Ok(());
	}
	let mut spec = if bench { FixtureSpec::bench() } else { FixtureSpec::tiny() };
	spec.adapters = adapters;
	let manifest = write_fixture(&out, &spec)?;
	let store = AdapterStore::open(out.join("store"))?;
	println!("model {} in {}", manifest.model_id, manifest.model_dir.display());
	println!("store {}", store.root().display());
	for adapter in &manifest.adapters {
		let hash = store.import_named(&adapter.name, &adapter.dir)?;
		println!("adapter {} 0x{} (rank {})", adapter.name, hex::encode(hash.0), adapter.rank);
	}
	Ok(())
}

fn bench(a: BenchArgs) -> anyhow::Result<()> {
	let mut opts = match (a.quick, a.gguf) {
		(true, _) => BenchOptions::quick(a.work_dir),
		(false, Some(gguf)) => BenchOptions::gguf(a.work_dir, gguf),
		(false, None) => BenchOptions::full(a.work_dir),
	};
	opts.device = parse_device(&a.device)?;
	opts.dtype = parse_dtype(a.dtype.as_deref(), &opts.device)?;
	if let Some(v) = a.adapters {
		opts.adapter_counts = v;
	}
	if let Some(v) = a.batch {
		opts.batch = v;
	}
	if let Some(v) = a.requests {
		opts.requests = v;
	}
	if let Some(v) = a.prompt_len {
		opts.prompt_len = v;
	}
	if let Some(v) = a.output_len {
		opts.output_len = v;
	}
	if let Some(v) = a.zipf {
		opts.zipf_s = v;
	}
	if let Some(v) = a.seed {
		opts.seed = v;
	}
	if let Some(v) = a.budget_fraction {
		opts.budget_fraction = v;
	}
	if !a.simple_lru {
		opts.source = Some(BenchCacheSource::factory(AdapterLimits::default()));
	}
	if opts.gguf.is_some() {
		println!("{}", run_gguf_bench(opts)?);
	} else {
		println!("{}", run_bench(&opts)?);
	}
	Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
		)
		.init();
	match Cli::parse().command {
		Command::Serve(args) => serve_command(args).await,
		Command::Fixture { out, adapters, bench: big, smollm2 } => {
			tokio::task::spawn_blocking(move || fixture(out, adapters, big, smollm2)).await?
		},
		Command::Bench(args) => tokio::task::spawn_blocking(move || bench(args)).await?,
		Command::Key(KeyCommand::Generate { out }) => {
			let key = generate_key_file(&out)?;
			println!("wrote {} (mode 0600)\n{}", out.display(), describe(&key));
			Ok(())
		},
		Command::Key(KeyCommand::Inspect(k)) => {
			println!("{}", describe(&k.source()?.load()?));
			Ok(())
		},
		Command::Operator(OperatorCommand::Register { url, key, endpoint }) => {
			let key = key.source()?.load()?;
			let client = connect(&url).await?;
			match register(&client, &key, &endpoint).await? {
				Registration::Registered { operator, bond } => {
					println!("registered operator {operator} (bond {bond}, endpoint {endpoint})")
				},
				Registration::AlreadyRegistered { operator } => {
					println!("operator {operator} was already registered (endpoint {endpoint})")
				},
			}
			Ok(())
		},
		Command::Demo(args) => demo::run(args).await,
		Command::Contract(ContractCommand::Deploy { signer, code, data, value }) => {
			let code = read_code(&code)?;
			let (client, key) = signer.open().await?;
			let data = unhex("--data", &data)?;
			let limits = contracts::Limits::default();
			let address = contracts::deploy(&client, &key, code, data, value, limits).await?;
			println!("{address:?}");
			Ok(())
		},
		Command::Contract(ContractCommand::Call { signer, input, value }) => {
			let (client, key) = signer.open().await?;
			let (address, data) = (h160(&input.address)?, unhex("--data", &input.data)?);
			let limits = contracts::Limits::default();
			let done = contracts::call(&client, &key, address, data, value, limits).await?;
			println!("finalized in block {:?}", done.block_hash);
			Ok(())
		},
		Command::Contract(ContractCommand::Read { signer, input }) => {
			let (client, key) = signer.open().await?;
			let (address, data) = (h160(&input.address)?, unhex("--data", &input.data)?);
			let origin = lineage_oracle::chain::keys::account_of(&key);
			let out = contracts::read(&client, &origin, address, data).await?;
			println!("0x{}", hex::encode(out.data));
			Ok(())
		},
		Command::Contract(ContractCommand::Demo { signer, code, adapter, prompt }) => {
			let code = read_code(&code)?;
			let (client, key) = signer.open().await?;
			println!("dApp → adapter {adapter}: {prompt:?}");
			let timeout = std::time::Duration::from_secs(300);
			let report =
				contracts::run_dapp_demo(&client, &key, code, adapter, &prompt, timeout).await?;
			println!("{report}");
			Ok(())
		},
	}
}
