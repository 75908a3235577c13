//! Assembling and running the HTTP server: its configuration, its state (the inference layer
//! and the payer check), the router and `serve`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use axum::{
	extract::DefaultBodyLimit,
	middleware,
	routing::{get, post},
	Router,
};
use candle_core::{DType, Device};
use lineage_engine::{AdapterLimits, EngineConfig, GgufMode};

use super::{
	admin::{self, AdminAccess},
	evidence,
	listen::{serve_connections, ConnectionLimits},
	payer, routes,
	state::AppState,
};
use crate::infer::{
	gate::{OpenGate, RequestGate},
	lineage::TraceConfig,
	usage::{NoopSink, UsageSink},
	Infer, InferConfig,
};
use crate::journal::Journal;

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
	/// The header read timeout and the most connections served at once.
	pub connections: ConnectionLimits,
	/// Per-answer attribution (`lineage` in responses): the span index cache and its bounds;
	/// `None` traces nothing.
	pub trace: Option<TraceConfig>,
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
			connections: ConnectionLimits::default(),
			trace: None,
		}
	}

	/// The part of the configuration the inference layer takes.
	pub fn infer_config(&self) -> InferConfig {
		InferConfig {
			model_dir: self.model_dir.clone(),
			store_dir: self.store_dir.clone(),
			device: self.device.clone(),
			dtype: self.dtype,
			engine: self.engine.clone(),
			max_concurrent: self.max_concurrent,
			host_cache_bytes: self.host_cache_bytes,
			device_cache_bytes: self.device_cache_bytes,
			limits: self.limits,
			preload: self.preload.clone(),
			default_max_tokens: self.default_max_tokens,
			gguf_mode: self.gguf_mode,
			trace: self.trace.clone(),
		}
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
	/// Who may load and unload adapters.
	pub admin: AdminAccess,
	/// The usage journal, for the evidence route (chain mode).
	pub journal: Option<Arc<Journal>>,
}

impl Services {
	/// A sink, an open gate, no payer signatures, open adapter management, no journal.
	pub fn with_sink(sink: Arc<dyn UsageSink>) -> Self {
		Services {
			sink,
			gate: Arc::new(OpenGate),
			payer_auth: None,
			admin: AdminAccess::Open,
			journal: None,
		}
	}
}

/// Loads the model, starts the engine, opens the store, builds the cache and preloads adapters,
/// with `sink` and an open gate.
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
	let infer = Infer::start(&config.infer_config(), services.sink, services.gate).await?;
	Ok(AppState {
		infer,
		payer_auth: services.payer_auth,
		max_body_bytes: config.max_body_bytes,
		admin: services.admin,
		journal: services.journal,
		connections: config.connections,
	})
}

/// The router with every route, the request-counting middleware and the body limit.
pub async fn router(state: AppState) -> Router {
	let limit = state.max_body_bytes;
	let mut generation = Router::new()
		.route("/v1/completions", post(routes::completions))
		.route("/v1/chat/completions", post(routes::chat_completions));
	if let Some(auth) = state.payer_auth.clone() {
		generation = generation.layer(middleware::from_fn_with_state(auth, payer::require_payer));
	}
	// Outermost: the admission permit before the body, the signature or the nonce.
	let generation =
		generation.layer(middleware::from_fn_with_state(state.clone(), routes::admit_first));
	let admin = Router::new()
		.route("/v1/load_lora_adapter", post(routes::load_adapter))
		.route("/v1/unload_lora_adapter", post(routes::unload_adapter))
		.layer(middleware::from_fn_with_state(state.admin.clone(), admin::require_admin));
	Router::new()
		.merge(generation)
		.merge(admin)
		.route("/v1/models", get(routes::models))
		.route("/v1/usage/{id}", get(evidence::usage_evidence))
		.route("/metrics", get(routes::metrics))
		.route("/health", get(routes::health))
		.fallback(routes::not_found)
		.layer(middleware::from_fn_with_state(state.clone(), routes::track))
		.layer(DefaultBodyLimit::max(limit))
		.with_state(state)
}

/// Serves `state` on an already bound listener until the process ends, under the state's
/// connection limits ([`serve_connections`]).
pub async fn serve_with(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
	let limits = state.connections;
	let app = router(state).await;
	serve_connections(listener, app, limits).await.context("HTTP server failed")
}

/// Builds the state from `config` (with the no-op usage sink), binds `config.addr` and serves.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
	let state = build_state(&config, Arc::new(NoopSink)).await?;
	let listener = tokio::net::TcpListener::bind(config.addr)
		.await
		.with_context(|| format!("binding {}", config.addr))?;
	tracing::info!(addr = %listener.local_addr()?, "serving");
	serve_with(listener, state).await
}
