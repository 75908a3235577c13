//! `lineage-oracle serve`: standalone, or joined to the chain with `--chain-url`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use candle_core::quantized::GgmlDType;
use lineage_adapters::AdapterStore;
use lineage_chain::keys::KeySource;
use lineage_engine::{
	device::{parse_device, parse_dtype},
	AdapterLimits, EngineConfig, GgufMode,
};
use lineage_trace::AttributionParams;

use crate::{
	api::{
		admin::{load_token_file, AdminAccess},
		build_state_with,
		listen::ConnectionLimits,
		payer::{PayerAuth, PayerContext, ReplayStoreError},
		serve, serve_with, ServerConfig, Services,
	},
	chain::{
		service::{ChainConfig, ChainService},
		trace::ChainVersions,
	},
	infer::{lineage::TraceConfig, usage::NoopSink},
	journal::Journal,
};

/// What `lineage-oracle serve` takes.
#[derive(clap::Args)]
pub struct ServeArgs {
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
	/// Milliseconds a client may take to send a request's headers (then the connection is
	/// closed: slow-loris clients cannot hold connections).
	#[arg(long, default_value_t = 10_000)]
	header_read_timeout_ms: u64,
	/// Connections served at once; one more is closed as soon as it is accepted.
	#[arg(long, default_value_t = 4096)]
	max_connections: usize,
	/// Adapter folders to import and load at start (served under each folder's name).
	#[arg(long, num_args = 1..)]
	preload: Vec<PathBuf>,
	/// The datanets' record store (chain mode): attribute each answer to the records of its
	/// adapter's training versions, read from here and checked against the chain (responses
	/// carry `lineage`).
	#[arg(long, requires = "chain_url")]
	record_store: Option<String>,
	/// Where span indexes are kept, one folder per version root (with --record-store).
	#[arg(long, default_value = "lineage-spans")]
	span_cache: PathBuf,
	/// The shortest verbatim span, in tokens, that credits a record.
	#[arg(long, default_value_t = 4)]
	min_span: usize,
	/// Occurrences above which a span is too common to credit anyone.
	#[arg(long, default_value_t = 256)]
	max_span_occurrences: u64,
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
	/// On-chain jobs answered at once at most (chain mode); at most half of --max-concurrent,
	/// so paid HTTP requests keep the rest of the admission permits.
	#[arg(long, default_value_t = 4)]
	max_concurrent_jobs: usize,
	/// Serve the base model alone to signed payers, free of charge (chain mode; it has no
	/// price on chain, so by default only registered adapters are served).
	#[arg(long)]
	free_base: bool,
	/// A file holding the operator's token for `/v1/load_lora_adapter` and
	/// `/v1/unload_lora_adapter` (`Authorization: Bearer …`; one word of at least 16 characters,
	/// mode 600). In chain mode those routes are closed without it; standalone, open.
	#[arg(long, env = "LINEAGE_ADMIN_TOKEN_FILE")]
	admin_token_file: Option<PathBuf>,
}

/// The server configuration `a` describes.
pub fn serve_config(a: ServeArgs) -> anyhow::Result<ServerConfig> {
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
	if a.header_read_timeout_ms == 0 || a.max_connections == 0 {
		anyhow::bail!("--header-read-timeout-ms and --max-connections must be at least 1");
	}
	config.connections = ConnectionLimits {
		header_read_timeout: std::time::Duration::from_millis(a.header_read_timeout_ms),
		max_connections: a.max_connections,
	};
	config.default_max_tokens = a.default_max_tokens;
	if a.record_store.is_some() {
		if a.min_span == 0 {
			anyhow::bail!("--min-span must be at least 1 token");
		}
		config.trace = Some(TraceConfig {
			cache_dir: a.span_cache.clone(),
			params: AttributionParams {
				min_span: a.min_span,
				max_occurrences: a.max_span_occurrences,
				..AttributionParams::default()
			},
		});
	}
	config.gguf_mode = match a.gguf_weights.as_str() {
		"file" => GgufMode::Quantized,
		"q8_0" => GgufMode::Requantized(GgmlDType::Q8_0),
		"f32" => GgufMode::Dequantized,
		other => anyhow::bail!("unknown --gguf-weights {other:?}: file, q8_0 or f32"),
	};
	Ok(config)
}

/// `serve`: standalone, or joined to the chain when `--chain-url` is given.
pub async fn run(a: ServeArgs) -> anyhow::Result<()> {
	let admin_token = a.admin_token_file.as_deref().map(load_token_file).transpose()?;
	let chain = match a.chain_url.clone() {
		None => None,
		Some(url) => {
			let key = KeySource::from_options(a.key_file.as_deref(), a.suri.as_deref())
				.context("chain mode needs --key-file or --suri")?;
			let mut cfg = ChainConfig::new(url);
			cfg.batch_interval = std::time::Duration::from_millis(a.batch_interval_ms.max(100));
			cfg.free_base = a.free_base;
			cfg.jobs.max_concurrent = a.max_concurrent_jobs.max(1);
			cfg.jobs.poll = cfg.batch_interval;
			Some((cfg, key.load()?, a.journal.clone(), a.record_store.clone()))
		},
	};
	let config = serve_config(a)?;
	let Some((chain_config, key, journal_path, record_store)) = chain else {
		if admin_token.is_none() {
			return serve(config).await;
		}
		let mut services = Services::with_sink(Arc::new(NoopSink));
		services.admin = AdminAccess::new(admin_token, false);
		let state = build_state_with(&config, services).await?;
		let listener = tokio::net::TcpListener::bind(config.addr)
			.await
			.with_context(|| format!("binding {}", config.addr))?;
		tracing::info!(addr = %listener.local_addr()?, "serving");
		return serve_with(listener, state).await;
	};
	let journal = Arc::new(
		Journal::open(&journal_path)
			.with_context(|| format!("opening the usage journal {}", journal_path.display()))?,
	);
	let store = Arc::new(AdapterStore::open(&config.store_dir)?);
	let chain = ChainService::connect(chain_config, key, journal.clone(), store).await?;
	let payer_context = PayerContext {
		genesis_hash: chain.genesis(),
		operator: chain.operator().0,
		max_skew_ms: chain.max_skew_ms(),
	};
	let replay_journal = journal.clone();
	let services = Services {
		sink: chain.gate().sink(),
		gate: chain.gate().clone(),
		payer_auth: Some(PayerAuth::new(
			payer_context,
			config.max_body_bytes,
			move |payer: &[u8; 32], nonce: u64, timestamp_ms: u64| {
				replay_journal
					.use_nonce(&lineage_primitives::AccountId::new(*payer), nonce, timestamp_ms)
					.map_err(ReplayStoreError::from)
			},
		)),
		admin: AdminAccess::new(admin_token, true),
		journal: Some(journal.clone()),
	};
	let state = build_state_with(&config, services).await?;
	if let (Some(tracer), Some(store_url)) = (state.infer().tracer(), record_store) {
		let source = ChainVersions::new(chain.link().clone(), chain.registry().clone(), &store_url);
		tracer.set_source(Arc::new(source));
		tracing::info!(record_store = %store_url, span_cache = %config.trace.as_ref().map(|t| t.cache_dir.display().to_string()).unwrap_or_default(), "attributing answers");
	}
	chain.spawn(state.infer().clone())?;
	let listener = tokio::net::TcpListener::bind(config.addr)
		.await
		.with_context(|| format!("binding {}", config.addr))?;
	tracing::info!(addr = %listener.local_addr()?, journal = %journal_path.display(), "serving (chain mode)");
	serve_with(listener, state).await
}
