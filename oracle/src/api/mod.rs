//! The HTTP API: OpenAI-compatible generation over the base model and its LoRA adapters,
//! adapter management in vLLM's names, Prometheus metrics.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/completions` | text completion (`prompt`: text or token ids); `stream: true` → SSE |
//! | `POST /v1/chat/completions` | chat completion (`messages`, rendered by [`prompt::render_chat`]) |
//! | `GET /v1/models` | the base model, then each served adapter (`parent` = the base's id) |
//! | `POST /v1/load_lora_adapter` | `{lora_name, lora_path}`: import into the store, validate, serve |
//! | `POST /v1/unload_lora_adapter` | `{lora_name}`: stop serving the name (then 404, as vLLM) |
//! | `GET /metrics` | Prometheus text, every metric named `lineage_*` |
//! | `GET /health` | 200 and the engine's counters |
//!
//! `model` is the base model's id, an adapter's name, or an adapter's artifact hash (`0x…`) when
//! a served name points at it.
//!
//! In chain mode ([`Services`] with a [`payer::PayerAuth`] and the chain's [`RequestGate`]), the
//! two generation routes take only requests signed by their payer ([`payer`]), and the gate
//! checks the adapter's registration and the payer's escrow before any inference.
//!
//! How a request flows (as TGI's router does it): a semaphore admits it or answers 429
//! (its size is the engine's batch plus its queue, unless configured); the handler validates,
//! tokenises on the blocking pool, gets the adapter from the [`AdapterCache`] (loading it once
//! if needed), submits a [`GenerateRequest`](crate::engine::GenerateRequest) to the engine and
//! hands the token receiver to a per-request driver on the blocking pool ([`text::drive`]),
//! which decodes, applies stop strings and reports the finished request to the [`UsageSink`]
//! before the last text event, so before the response completes. Handlers never touch tensors.
//! Every error goes through [`error::ApiError`], mapped to a status code in one place.

pub mod error;
pub mod metrics;
pub mod openai;
pub mod payer;
pub mod prompt;
pub mod routes;
pub mod sse;
pub mod text;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use axum::{
	extract::DefaultBodyLimit,
	middleware,
	routing::{get, post},
	Router,
};
use candle_core::{DType, Device};
use futures::future::BoxFuture;
use lineage_primitives::Hash;
use tokio::sync::Semaphore;

use crate::{
	adapters::{
		cache::{device_promote, peft_loader, AdapterCache, CacheConfig},
		store::AdapterStore,
		AdapterLimits,
	},
	engine::{Engine, EngineConfig, EngineHandle, GgufMode, LoraAdapter, Model},
};
pub use error::ApiError;
pub use text::Finish;

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
	/// The base model's folder (Hugging Face layout), or a `.gguf` file (loaded with quantized
	/// base linears).
	pub model_dir: PathBuf,
	/// The adapter store's root folder.
	pub store_dir: PathBuf,
	/// Where to listen.
	pub addr: SocketAddr,
	/// Where the model runs.
	pub device: Device,
	/// The dtype of weights and activations (`F32` on the CPU).
	pub dtype: DType,
	/// The engine's batch, queue and context sizes.
	pub engine: EngineConfig,
	/// Requests admitted at once (running, queued, or being prepared); `None` is the engine's
	/// `max_batch + max_queue`. Beyond it, requests get 429.
	pub max_concurrent: Option<usize>,
	/// The host tier's budget, in bytes.
	pub host_cache_bytes: usize,
	/// The device tier's budget, in bytes (used when the device is not the CPU).
	pub device_cache_bytes: usize,
	/// Limits on the adapters accepted.
	pub limits: AdapterLimits,
	/// Adapter folders to import and load at start, each served under its folder's name.
	pub preload: Vec<PathBuf>,
	/// The largest request body, in bytes.
	pub max_body_bytes: usize,
	/// `max_tokens` when a request sets none (capped to the room the prompt leaves).
	pub default_max_tokens: usize,
	/// How a GGUF model's base linears are held ([`GgufMode::Quantized`]: as in the file).
	pub gguf_mode: GgufMode,
}

impl ServerConfig {
	/// Defaults for serving `model_dir` with the store in `store_dir`, on 127.0.0.1:8000, CPU.
	pub fn new(model_dir: impl Into<PathBuf>, store_dir: impl Into<PathBuf>) -> Self {
		ServerConfig {
			model_dir: model_dir.into(),
			store_dir: store_dir.into(),
			addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
			device: Device::Cpu,
			dtype: DType::F32,
			engine: EngineConfig::default(),
			max_concurrent: None,
			host_cache_bytes: 1 << 30,
			device_cache_bytes: 1 << 30,
			limits: AdapterLimits::default(),
			preload: Vec::new(),
			max_body_bytes: 4 << 20,
			default_max_tokens: 256,
			gguf_mode: GgufMode::Quantized,
		}
	}
}

/// One finished request, as the usage journal records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedRequest {
	/// The response id (`cmpl-…`, `chatcmpl-…`).
	pub id: String,
	/// The model name the request named (an adapter's name or the base model's id).
	pub model: String,
	/// The adapter's artifact hash; `None` for the base model.
	pub adapter: Option<Hash>,
	/// Prompt tokens.
	pub prompt_tokens: usize,
	/// Generated tokens (counted up to a stop string, when one ended the request).
	pub completion_tokens: usize,
	/// sha256 of the response text as returned (after stop strings are trimmed).
	pub response_sha256: [u8; 32],
	/// When it finished, milliseconds since the Unix epoch.
	pub unix_time_ms: u64,
	/// Why it finished.
	pub finish_reason: Finish,
	/// Who pays for it (the verified payer of a signed request), when the server requires one.
	pub payer: Option<[u8; 32]>,
	/// The adapter's id on chain, when the [`RequestGate`] resolved one.
	pub chain_adapter: Option<lineage_primitives::AdapterId>,
}

/// Where finished requests are reported: called once per successful request, from the blocking
/// pool, before the response completes (before the last SSE chunk, before the JSON body is
/// sent). The usage journal plugs in here.
pub trait UsageSink: Send + Sync {
	/// Record one finished request. An error fails the request (the client gets an error, not
	/// an answer that was never recorded).
	fn record(&self, rec: &FinishedRequest) -> Result<(), String>;
}

/// A sink that records nothing (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopSink;

impl UsageSink for NoopSink {
	fn record(&self, _rec: &FinishedRequest) -> Result<(), String> {
		Ok(())
	}
}

/// What a generation request asks of the [`RequestGate`], once it is parsed and tokenised and
/// before any inference runs.
#[derive(Clone, Debug)]
pub struct GateRequest<'a> {
	/// The verified payer of a signed request ([`payer::Payer`]), if the request was signed.
	pub payer: Option<[u8; 32]>,
	/// The model name the request named.
	pub model: &'a str,
	/// The adapter's artifact hash, `None` for the base model.
	pub adapter: Option<lineage_primitives::Hash>,
	/// Prompt tokens.
	pub prompt_tokens: usize,
	/// The most tokens it may generate.
	pub max_tokens: usize,
}

/// A request the [`RequestGate`] let through. Dropping it (when the request ends, after its
/// usage is recorded) releases whatever the gate held for it, such as an escrow reservation.
pub struct GatePass {
	/// Who pays for it.
	pub payer: Option<[u8; 32]>,
	/// The adapter's id on chain.
	pub chain_adapter: Option<lineage_primitives::AdapterId>,
	/// Released on drop.
	pub hold: Option<Box<dyn Send + Sync>>,
}

impl GatePass {
	/// A pass with no payer, no chain adapter and nothing held.
	pub fn open() -> Self {
		GatePass { payer: None, chain_adapter: None, hold: None }
	}
}

/// Decides, before any inference, whether a request may run and who pays for it. The chain
/// mode's gate checks the adapter against the chain's registry and the payer's escrow
/// ([`crate::chain::gate`]); [`OpenGate`] lets everything through.
pub trait RequestGate: Send + Sync {
	/// Admit the request or refuse it with the error the client gets.
	fn admit<'a>(&'a self, req: GateRequest<'a>) -> BoxFuture<'a, Result<GatePass, ApiError>>;
}

/// The gate of a server not joined to a chain: every request passes, nobody pays.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenGate;

impl RequestGate for OpenGate {
	fn admit<'a>(&'a self, _req: GateRequest<'a>) -> BoxFuture<'a, Result<GatePass, ApiError>> {
		Box::pin(async { Ok(GatePass::open()) })
	}
}

/// The parts a server is assembled from besides its configuration: where usage goes, who
/// admits requests, and how payers authenticate.
#[derive(Clone)]
pub struct Services {
	/// Where finished requests are recorded.
	pub sink: Arc<dyn UsageSink>,
	/// Who admits requests.
	pub gate: Arc<dyn RequestGate>,
	/// When set, generation requests must be signed by their payer (401 otherwise).
	pub payer_auth: Option<payer::PayerAuth>,
}

impl Services {
	/// A sink, an open gate, no payer signatures.
	pub fn with_sink(sink: Arc<dyn UsageSink>) -> Self {
		Services { sink, gate: Arc::new(OpenGate), payer_auth: None }
	}
}

/// Limits the handlers enforce.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
	pub max_seq_len: usize,
	pub default_max_tokens: usize,
	pub max_concurrent: usize,
	pub max_body_bytes: usize,
}

pub(crate) struct Shared {
	pub engine: EngineHandle,
	pub model: Arc<Model>,
	pub store: Arc<AdapterStore>,
	pub cache: AdapterCache<LoraAdapter>,
	pub metrics: metrics::Metrics,
	pub sink: Arc<dyn UsageSink>,
	pub gate: Arc<dyn RequestGate>,
	pub payer_auth: Option<payer::PayerAuth>,
	pub chat_template: Option<Arc<prompt::ChatTemplate>>,
	pub admission: Arc<Semaphore>,
	pub limits: Limits,
	/// Unix seconds at start.
	pub started: u64,
	/// Serialises adapter loads and unloads (so name checks and index writes do not race).
	pub adapter_ops: tokio::sync::Mutex<()>,
}

/// The server's shared state: engine, model, adapter store and cache, metrics, usage sink.
#[derive(Clone)]
pub struct AppState {
	pub(crate) inner: Arc<Shared>,
}

impl AppState {
	/// The model served.
	pub fn model(&self) -> &Arc<Model> {
		&self.inner.model
	}

	/// The adapter store.
	pub fn store(&self) -> &Arc<AdapterStore> {
		&self.inner.store
	}

	/// The adapter cache (keyed by artifact hash in hex).
	pub fn cache(&self) -> &AdapterCache<LoraAdapter> {
		&self.inner.cache
	}

	/// The engine.
	pub fn engine(&self) -> &EngineHandle {
		&self.inner.engine
	}

	/// The metrics (to register more collectors in their registry).
	pub fn metrics(&self) -> &metrics::Metrics {
		&self.inner.metrics
	}
}

/// Load the model, start the engine, open the store, build the cache and preload adapters, with
/// `sink` and an open gate.
pub async fn build_state(
	config: &ServerConfig,
	sink: Arc<dyn UsageSink>,
) -> anyhow::Result<AppState> {
	build_state_with(config, Services::with_sink(sink)).await
}

/// [`build_state`] with every service given.
pub async fn build_state_with(
	config: &ServerConfig,
	services: Services,
) -> anyhow::Result<AppState> {
	let (dir, device, dtype) = (config.model_dir.clone(), config.device.clone(), config.dtype);
	let gguf_mode = config.gguf_mode;
	let model = tokio::task::spawn_blocking(move || {
		if dir.is_file() && dir.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
			Model::load_gguf(&dir, &device, dtype, gguf_mode)
		} else {
			Model::load_hf(&dir, &device, dtype)
		}
	})
	.await?
	.with_context(|| format!("loading the model in {}", config.model_dir.display()))?;
	let model = Arc::new(model);
	tracing::info!(model = %model.id, device = ?model.device, dtype = ?model.dtype, "model loaded");
	let engine = Engine::start(model.clone(), config.engine.clone());
	let store_dir = config.store_dir.clone();
	let store = tokio::task::spawn_blocking(move || AdapterStore::open(store_dir))
		.await?
		.with_context(|| format!("opening the adapter store in {}", config.store_dir.display()))?;
	let store = Arc::new(store);
	let metrics = metrics::Metrics::new().context("registering metrics")?;
	let load_time = metrics.adapter_load.clone();
	let cache = AdapterCache::new(
		CacheConfig {
			host_bytes: config.host_cache_bytes,
			device_bytes: config.device_cache_bytes,
		},
		peft_loader(
			store.clone(),
			model.config.clone(),
			model.id.clone(),
			config.limits,
			model.dtype,
		),
		device_promote(&model.device, model.dtype),
	)
	.with_load_observer(Arc::new(move |d| load_time.observe(d.as_secs_f64())));
	let dir = config.model_dir.clone();
	let own = model.clone();
	let chat_template =
		match tokio::task::spawn_blocking(move || match prompt::ChatTemplate::from_model(&own)? {
			Some(t) => Ok(Some(t)),
			None => prompt::ChatTemplate::from_model_dir(&dir),
		})
		.await?
		{
			Ok(t) => t.map(Arc::new),
			Err(e) => {
				tracing::warn!(error = %e, "ignoring the model's chat template; using the fallback");
				None
			},
		};
	tracing::info!(model_template = chat_template.is_some(), "chat template");
	let engine_config = engine.config().clone();
	let max_concurrent =
		config.max_concurrent.unwrap_or(engine_config.max_batch + engine_config.max_queue).max(1);
	let state = AppState {
		inner: Arc::new(Shared {
			engine,
			model,
			store,
			cache,
			metrics,
			sink: services.sink,
			gate: services.gate,
			payer_auth: services.payer_auth,
			chat_template,
			admission: Arc::new(Semaphore::new(max_concurrent)),
			limits: Limits {
				max_seq_len: engine_config.max_seq_len,
				default_max_tokens: config.default_max_tokens.max(1),
				max_concurrent,
				max_body_bytes: config.max_body_bytes,
			},
			started: text::unix_time_ms() / 1000,
			adapter_ops: tokio::sync::Mutex::new(()),
		}),
	};
	for dir in &config.preload {
		preload(&state, dir).await.with_context(|| format!("preloading {}", dir.display()))?;
	}
	Ok(state)
}

/// Import the adapter in `dir`, load it, and serve it under the folder's name.
async fn preload(state: &AppState, dir: &std::path::Path) -> anyhow::Result<()> {
	let name = dir
		.file_name()
		.map(|n| n.to_string_lossy().into_owned())
		.context("the folder has no name to serve it under")?;
	let store = state.inner.store.clone();
	let src = dir.to_path_buf();
	let hash = tokio::task::spawn_blocking(move || store.import_dir(&src)).await??;
	let key = hex::encode(hash.0);
	state.inner.cache.load(&key).await?;
	let store = state.inner.store.clone();
	let owned = name.clone();
	tokio::task::spawn_blocking(move || store.set_name(&owned, hash)).await??;
	tracing::info!(adapter = %name, hash = %key, "adapter preloaded");
	Ok(())
}

/// The router with every route, the request-counting middleware and the body limit.
pub async fn router(state: AppState) -> Router {
	let limit = state.inner.limits.max_body_bytes;
	let mut generation = Router::new()
		.route("/v1/completions", post(routes::completions))
		.route("/v1/chat/completions", post(routes::chat_completions));
	if let Some(auth) = state.inner.payer_auth.clone() {
		generation = generation.layer(middleware::from_fn_with_state(auth, payer::require_payer));
	}
	Router::new()
		.merge(generation)
		.route("/v1/models", get(routes::models))
		.route("/v1/load_lora_adapter", post(routes::load_adapter))
		.route("/v1/unload_lora_adapter", post(routes::unload_adapter))
		.route("/metrics", get(routes::metrics))
		.route("/health", get(routes::health))
		.fallback(routes::not_found)
		.layer(middleware::from_fn_with_state(state.clone(), routes::track))
		.layer(DefaultBodyLimit::max(limit))
		.with_state(state)
}

/// Serve `state` on an already bound listener until the process ends.
pub async fn serve_with(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
	let app = router(state).await;
	axum::serve(listener, app).await.context("HTTP server failed")
}

/// Build the state from `config` (with the no-op usage sink), bind `config.addr` and serve.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
	let state = build_state(&config, Arc::new(NoopSink)).await?;
	let listener = tokio::net::TcpListener::bind(config.addr)
		.await
		.with_context(|| format!("binding {}", config.addr))?;
	tracing::info!(addr = %listener.local_addr()?, "serving");
	serve_with(listener, state).await
}
