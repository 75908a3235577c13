//! [`Infer`]: the model, the engine and everything around them, started once and shared.

use std::{
	path::{Path, PathBuf},
	sync::Arc,
	time::Instant,
};

use anyhow::Context;
use candle_core::{DType, Device};
use lineage_adapters::{
	cache::{device_promote, peft_loader, AdapterCache, CacheConfig},
	AdapterStore,
};
use lineage_chain::time::unix_time_secs;
use lineage_engine::{
	AdapterLimits, ChatTemplate, Engine, EngineConfig, EngineHandle, GgufMode, LoraAdapter, Model,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{error::InferError, gate::RequestGate, usage::UsageSink};
use crate::metrics::Metrics;

/// What the inference layer is started from.
#[derive(Clone, Debug)]
pub struct InferConfig {
	/// The base model's folder (Hugging Face layout), or a `.gguf` file.
	pub model_dir: PathBuf,
	/// The adapter store's root folder.
	pub store_dir: PathBuf,
	/// Where the model runs.
	pub device: Device,
	/// The dtype of weights and activations (`F32` on the CPU).
	pub dtype: DType,
	/// The engine's batch, queue and context sizes.
	pub engine: EngineConfig,
	/// Requests admitted at once (running, queued, or being prepared); `None` is the engine's
	/// `max_batch + max_queue`. Beyond it, requests are refused as overloaded.
	pub max_concurrent: Option<usize>,
	/// The host tier's budget, in bytes.
	pub host_cache_bytes: usize,
	/// The device tier's budget, in bytes (used when the device is not the CPU).
	pub device_cache_bytes: usize,
	/// Limits on the adapters accepted.
	pub limits: AdapterLimits,
	/// Adapter folders to import and load at start, each served under its folder's name.
	pub preload: Vec<PathBuf>,
	/// `max_tokens` when a request sets none (capped to the room the prompt leaves).
	pub default_max_tokens: usize,
	/// How a GGUF model's base linears are held ([`GgufMode::Quantized`]: as in the file).
	pub gguf_mode: GgufMode,
	/// Per-answer attribution: where span indexes are kept and their bounds (`None`: answers
	/// carry no `lineage`).
	pub trace: Option<super::lineage::TraceConfig>,
}

/// Limits every request is held to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
	/// The context window, in tokens.
	pub max_seq_len: usize,
	/// `max_tokens` when a request sets none.
	pub default_max_tokens: usize,
	/// Requests admitted at once.
	pub max_concurrent: usize,
}

struct Shared {
	engine: EngineHandle,
	model: Arc<Model>,
	store: Arc<AdapterStore>,
	cache: AdapterCache<LoraAdapter>,
	metrics: Metrics,
	sink: Arc<dyn UsageSink>,
	gate: Arc<dyn RequestGate>,
	chat_template: Option<Arc<ChatTemplate>>,
	tracer: Option<Arc<super::lineage::Tracer>>,
	admission: Arc<Semaphore>,
	limits: Limits,
	/// Unix seconds at start.
	started: u64,
	/// Serialises adapter loads and unloads (so name checks and index writes do not race).
	adapter_ops: tokio::sync::Mutex<()>,
}

/// The inference layer, started and shared (cloning it is cheap): what the HTTP API and the
/// on-chain job runner both call.
#[derive(Clone)]
pub struct Infer {
	inner: Arc<Shared>,
}

/// An admitted request's permit; the in-flight gauge counts these.
pub struct Admission {
	_permit: OwnedSemaphorePermit,
	infer: Infer,
	started: Instant,
}

impl Drop for Admission {
	fn drop(&mut self) {
		let metrics = &self.infer.inner.metrics;
		metrics.in_flight.dec();
		metrics.request_duration.observe(self.started.elapsed().as_secs_f64());
	}
}

impl Infer {
	/// Loads the model, starts the engine, opens the store, builds the cache, reads the chat
	/// template and preloads adapters; `sink` records finished requests and `gate` admits them.
	pub async fn start(
		config: &InferConfig,
		sink: Arc<dyn UsageSink>,
		gate: Arc<dyn RequestGate>,
	) -> anyhow::Result<Infer> {
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
			.with_context(|| {
				format!("opening the adapter store in {}", config.store_dir.display())
			})?;
		let store = Arc::new(store);
		let metrics = Metrics::new().context("registering metrics")?;
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
			match tokio::task::spawn_blocking(move || match ChatTemplate::from_model(&own)? {
				Some(t) => Ok(Some(t)),
				None => ChatTemplate::from_model_dir(&dir),
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
		let max_concurrent = config
			.max_concurrent
			.unwrap_or(engine_config.max_batch + engine_config.max_queue)
			.max(1);
		let tracer = match &config.trace {
			Some(trace) => {
				let tokenizer = Arc::new(model.tokenizer.clone());
				let tracer = super::lineage::Tracer::new(trace, tokenizer)
					.with_context(|| {
						format!("opening the span index cache in {}", trace.cache_dir.display())
					})?
					.with_timing(metrics.attribution.clone());
				Some(Arc::new(tracer))
			},
			None => None,
		};
		let infer = Infer {
			inner: Arc::new(Shared {
				engine,
				model,
				store,
				cache,
				metrics,
				sink,
				gate,
				chat_template,
				tracer,
				admission: Arc::new(Semaphore::new(max_concurrent)),
				limits: Limits {
					max_seq_len: engine_config.max_seq_len,
					default_max_tokens: config.default_max_tokens.max(1),
					max_concurrent,
				},
				started: unix_time_secs(),
				adapter_ops: tokio::sync::Mutex::new(()),
			}),
		};
		for dir in &config.preload {
			infer.preload(dir).await.with_context(|| format!("preloading {}", dir.display()))?;
		}
		Ok(infer)
	}

	/// Imports the adapter in `dir`, loads it, and serves it under the folder's name.
	async fn preload(&self, dir: &Path) -> anyhow::Result<()> {
		let name = dir
			.file_name()
			.map(|n| n.to_string_lossy().into_owned())
			.context("the folder has no name to serve it under")?;
		let store = self.inner.store.clone();
		let src = dir.to_path_buf();
		let hash = tokio::task::spawn_blocking(move || store.import_dir(&src)).await??;
		let key = hex::encode(hash.0);
		self.inner.cache.load(&key).await?;
		let store = self.inner.store.clone();
		let owned = name.clone();
		tokio::task::spawn_blocking(move || store.set_name(&owned, hash)).await??;
		tracing::info!(adapter = %name, hash = %key, "adapter preloaded");
		Ok(())
	}

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
	pub fn metrics(&self) -> &Metrics {
		&self.inner.metrics
	}

	/// The limits requests are held to.
	pub fn limits(&self) -> Limits {
		self.inner.limits
	}

	/// Unix seconds when the layer started.
	pub fn started(&self) -> u64 {
		self.inner.started
	}

	/// The model's own chat template, if it has one (else the fallback is used).
	pub(crate) fn chat_template(&self) -> Option<Arc<ChatTemplate>> {
		self.inner.chat_template.clone()
	}

	/// Per-answer attribution, when the oracle was started with it.
	pub fn tracer(&self) -> Option<&Arc<super::lineage::Tracer>> {
		self.inner.tracer.as_ref()
	}

	/// Where finished requests are recorded.
	pub(crate) fn sink(&self) -> &Arc<dyn UsageSink> {
		&self.inner.sink
	}

	/// Who admits requests.
	pub(crate) fn gate(&self) -> &Arc<dyn RequestGate> {
		&self.inner.gate
	}

	/// The lock that serialises adapter loads and unloads.
	pub(crate) fn adapter_ops(&self) -> &tokio::sync::Mutex<()> {
		&self.inner.adapter_ops
	}

	/// Takes an admission permit, or refuses with [`InferError::Overloaded`] when all are
	/// taken.
	pub fn admit(&self) -> Result<Admission, InferError> {
		let permit = self
			.inner
			.admission
			.clone()
			.try_acquire_owned()
			.map_err(|_| InferError::Overloaded(self.inner.limits.max_concurrent))?;
		self.inner.metrics.in_flight.inc();
		Ok(Admission { _permit: permit, infer: self.clone(), started: Instant::now() })
	}
}

/// Runs blocking work (tokenising, store I/O) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
	f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, InferError> {
	tokio::task::spawn_blocking(f).await.map_err(|e| InferError::Internal(e.to_string()))
}
