//! The HTTP handlers. They validate, admit, tokenise (on the blocking pool), resolve the adapter
//! through the cache, hand a [`GenerateRequest`] to the engine and stream text back; they never
//! touch tensors.

use std::{
	sync::Arc,
	time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
	extract::{Request, State},
	http::header,
	middleware::Next,
	response::{IntoResponse, Response},
	Extension, Json,
};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tracing::Instrument;

use super::{
	error::{ApiError, ApiJson},
	metrics::Metrics,
	openai::{
		AdapterResponse, AssistantMessage, ChatChoice, ChatCompletionRequest,
		ChatCompletionResponse, ChatMessage, CompletionChoice, CompletionRequest,
		CompletionResponse, GenerationFields, LoadLoraAdapterRequest, ModelCard, ModelList, Prompt,
		UnloadLoraAdapterRequest,
	},
	payer::Payer,
	prompt::{render_chat, tokenize},
	sse::{stream_response, StreamParts},
	text::{drive, DriveContext, Summary, TextEvent},
	AppState, GateRequest,
};
use crate::{
	adapters::store::{check_name, parse_hash},
	engine::{GenerateRequest, LoraAdapter, SamplingParams},
};

/// The most stop strings a request may set.
pub const MAX_STOPS: usize = 8;
/// The longest stop string, in bytes.
pub const MAX_STOP_LEN: usize = 256;

/// Which generation endpoint a request came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
	/// `/v1/completions`.
	Completions,
	/// `/v1/chat/completions`.
	Chat,
}

/// The identity of a response.
#[derive(Clone, Debug)]
pub struct RequestMeta {
	/// `cmpl-…` or `chatcmpl-…`.
	pub id: String,
	/// The model name the request named.
	pub model: String,
	/// Unix time, seconds.
	pub created: u64,
}

/// Called once when a request finishes (updates the metrics).
pub type Finished = Box<dyn FnOnce(&Summary) + Send>;

/// An admitted request's permit; the in-flight gauge counts these.
pub struct Admission {
	_permit: OwnedSemaphorePermit,
	state: AppState,
	started: Instant,
}

impl Drop for Admission {
	fn drop(&mut self) {
		self.state.inner.metrics.in_flight.dec();
		self.state.inner.metrics.request_duration.observe(self.started.elapsed().as_secs_f64());
	}
}

impl AppState {
	/// Take an admission permit, or refuse with 429 when all are taken.
	fn admit(&self) -> Result<Admission, ApiError> {
		let permit = self
			.inner
			.admission
			.clone()
			.try_acquire_owned()
			.map_err(|_| ApiError::Overloaded(self.inner.limits.max_concurrent))?;
		self.inner.metrics.in_flight.inc();
		Ok(Admission { _permit: permit, state: self.clone(), started: Instant::now() })
	}

	/// The adapter a model name serves, `None` for the base model. A name in the store's index
	/// resolves to its hash; an artifact hash (`0x…`) resolves when some served name points at
	/// it (so unloading the last name stops serving the bytes).
	pub(crate) fn resolve_model(
		&self,
		model: &str,
	) -> Result<Option<lineage_primitives::Hash>, ApiError> {
		if model == self.inner.model.id {
			return Ok(None);
		}
		let store = &self.inner.store;
		if let Some(hash) = store.hash_of(model) {
			return Ok(Some(hash));
		}
		match parse_hash(model) {
			Some(hash) if store.names().iter().any(|(_, h)| *h == hash) => Ok(Some(hash)),
			_ => Err(ApiError::ModelNotFound(model.to_string())),
		}
	}

	async fn adapter(&self, hash: &lineage_primitives::Hash) -> Result<Arc<LoraAdapter>, ApiError> {
		Ok(self.inner.cache.get(&hex::encode(hash.0)).await?)
	}
}

fn now_secs() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn new_id(prefix: &str) -> String {
	format!("{prefix}-{:016x}{:08x}", rand::random::<u64>(), rand::random::<u32>())
}

/// An answer produced in-process, for an on-chain job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAnswer {
	/// The generated text.
	pub text: String,
	/// The prompt's tokens, the chat template applied.
	pub prompt_tokens: u64,
	/// The tokens generated.
	pub completion_tokens: u64,
}

impl AppState {
	/// Runs one chat completion in-process (an on-chain job, already paid for on chain): `prompt`
	/// as the user's message to the adapter with artifact hash `adapter`. `budget` gives the most
	/// tokens to generate for a prompt of that many tokens (the caller's fee ceiling); an answer
	/// with no room for a token is refused. Bypasses the gate and the usage sink: the chain
	/// charges jobs when they are fulfilled.
	pub async fn complete_locally(
		&self,
		adapter: lineage_primitives::Hash,
		prompt: String,
		budget: impl FnOnce(usize) -> usize,
		sampling: SamplingParams,
	) -> Result<LocalAnswer, ApiError> {
		let _admission = self.admit()?;
		let messages = vec![ChatMessage {
			role: "user".into(),
			content: Some(super::openai::MessageContent::Text(prompt)),
		}];
		let ids = prompt_tokens(self, PromptInput::Chat(messages), "prompt").await?;
		let room = self.inner.limits.max_seq_len.saturating_sub(ids.len());
		let max_tokens = budget(ids.len()).min(room);
		if max_tokens == 0 {
			return Err(ApiError::invalid(
				"the job's fee ceiling or the context leaves no room for a generated token",
				"max_tokens",
			));
		}
		let adapter = self.adapter(&adapter).await?;
		let prompt_len = ids.len() as u64;
		let mut events = self.inner.engine.submit(GenerateRequest {
			id: new_id("job"),
			prompt: ids,
			adapter: Some(adapter),
			sampling,
			max_tokens,
			submitted_at: Instant::now(),
		})?;
		let mut generated = Vec::new();
		while let Some(event) = events.recv().await {
			match event {
				crate::engine::GenerateEvent::Token { id } => generated.push(id),
				crate::engine::GenerateEvent::Finished { .. } => break,
				crate::engine::GenerateEvent::Failed { message } => {
					return Err(ApiError::Internal(message))
				},
			}
		}
		let model = self.inner.model.clone();
		let count = generated.len() as u64;
		let text = blocking(move || model.tokenizer.decode(&generated, true))
			.await?
			.map_err(|e| ApiError::Internal(format!("decoding the answer: {e}")))?;
		Ok(LocalAnswer { text, prompt_tokens: prompt_len, completion_tokens: count })
	}
}

/// Check the sampling fields and turn them into engine parameters.
fn sampling(gen: &GenerationFields) -> Result<SamplingParams, ApiError> {
	if let Some(n) = gen.n {
		if n != 1 {
			return Err(ApiError::invalid("only n = 1 is supported", "n"));
		}
	}
	let temperature = gen.temperature.unwrap_or(1.0);
	if !temperature.is_finite() || temperature < 0.0 {
		return Err(ApiError::invalid("temperature must be a number >= 0", "temperature"));
	}
	let top_p = match gen.top_p {
		None => None,
		Some(p) if p.is_finite() && p > 0.0 && p <= 1.0 => (p < 1.0).then_some(p),
		Some(_) => return Err(ApiError::invalid("top_p must be in (0, 1]", "top_p")),
	};
	let top_k = match gen.top_k {
		None => None,
		Some(k) if k <= 0 => None,
		Some(k) => Some(usize::try_from(k).unwrap_or(usize::MAX)),
	};
	Ok(SamplingParams {
		temperature,
		top_p,
		top_k,
		seed: gen.seed.unwrap_or_else(rand::random),
		ignore_eos: gen.ignore_eos,
	})
}

fn stops(gen: &GenerationFields) -> Result<Vec<String>, ApiError> {
	let stops = gen.stop.clone().map(|s| s.into_vec()).unwrap_or_default();
	if stops.len() > MAX_STOPS {
		return Err(ApiError::invalid(format!("at most {MAX_STOPS} stop strings"), "stop"));
	}
	if stops.iter().any(|s| s.len() > MAX_STOP_LEN) {
		return Err(ApiError::invalid(
			format!("stop strings are at most {MAX_STOP_LEN} bytes"),
			"stop",
		));
	}
	Ok(stops)
}

/// Where a prompt comes from.
enum PromptInput {
	Text(String),
	Tokens(Vec<u32>),
	Chat(Vec<ChatMessage>),
}

/// Tokenise (on the blocking pool) and check the prompt against the vocabulary and the context.
async fn prompt_tokens(
	state: &AppState,
	input: PromptInput,
	param: &'static str,
) -> Result<Vec<u32>, ApiError> {
	let ids = match input {
		PromptInput::Tokens(ids) => {
			let vocab = state.inner.model.config.vocab_size;
			if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
				return Err(ApiError::invalid(
					format!("token id {bad} is outside the vocabulary (size {vocab})"),
					param,
				));
			}
			ids
		},
		PromptInput::Text(text) => {
			let model = state.inner.model.clone();
			blocking(move || tokenize(&model.tokenizer, &text, true))
				.await?
				.map_err(ApiError::Tokenizer)?
		},
		PromptInput::Chat(messages) => {
			let model = state.inner.model.clone();
			let template = state.inner.chat_template.clone();
			let rendered = blocking(move || {
				let (text, special) = render_chat(&messages, template.as_deref())
					.map_err(|m| ApiError::invalid(m, "messages"))?;
				tokenize(&model.tokenizer, &text, special).map_err(ApiError::Tokenizer)
			});
			rendered.await??
		},
	};
	if ids.is_empty() {
		return Err(ApiError::invalid("the prompt is empty", param));
	}
	let max = state.inner.limits.max_seq_len;
	if ids.len() >= max {
		return Err(ApiError::PromptTooLong { prompt: ids.len(), max });
	}
	Ok(ids)
}

/// The completion budget: the requested `max_tokens` if it fits, else an error; the default
/// (capped to the room left) when none is requested.
fn max_tokens(state: &AppState, prompt: usize, requested: Option<u64>) -> Result<usize, ApiError> {
	let max = state.inner.limits.max_seq_len;
	let room = max.saturating_sub(prompt);
	match requested {
		None => Ok(state.inner.limits.default_max_tokens.min(room)),
		Some(0) => Err(ApiError::invalid("max_tokens must be at least 1", "max_tokens")),
		Some(m) => {
			let m = usize::try_from(m).unwrap_or(usize::MAX);
			if m > room {
				return Err(ApiError::MaxTokensTooLarge { prompt, max_tokens: m, max });
			}
			Ok(m)
		},
	}
}

/// Everything both endpoints do once the prompt input is known.
async fn generate(
	state: AppState,
	endpoint: Endpoint,
	payer: Option<Payer>,
	model: String,
	input: PromptInput,
	gen: GenerationFields,
	requested_max: Option<u64>,
) -> Result<Response, ApiError> {
	let admission = state.admit()?;
	let submitted_at = Instant::now();
	let params = sampling(&gen)?;
	let stops = stops(&gen)?;
	let adapter_hash = state.resolve_model(&model)?;
	let param = if endpoint == Endpoint::Chat { "messages" } else { "prompt" };
	let prompt = prompt_tokens(&state, input, param).await?;
	let max_tokens = max_tokens(&state, prompt.len(), requested_max)?;
	// Before any inference: the gate checks the adapter and the payer (the chain's registry and
	// escrow in chain mode).
	let pass = state
		.inner
		.gate
		.admit(GateRequest {
			payer: payer.map(|p| p.account),
			model: &model,
			adapter: adapter_hash,
			prompt_tokens: prompt.len(),
			max_tokens,
		})
		.await?;
	let adapter = match &adapter_hash {
		Some(hash) => Some(state.adapter(hash).await?),
		None => None,
	};
	let meta = RequestMeta {
		id: new_id(if endpoint == Endpoint::Chat { "chatcmpl" } else { "cmpl" }),
		model,
		created: now_secs(),
	};
	let span = tracing::info_span!(
		"generate",
		id = %meta.id,
		model = %meta.model,
		prompt_tokens = prompt.len(),
		max_tokens,
		completion_tokens = tracing::field::Empty,
		queue_ms = tracing::field::Empty,
		inference_ms = tracing::field::Empty,
		ttft_ms = tracing::field::Empty,
		decode_ms = tracing::field::Empty,
		finish = tracing::field::Empty,
	);
	let prompt_len = prompt.len();
	let events = state.inner.engine.submit(GenerateRequest {
		id: meta.id.clone(),
		prompt,
		adapter,
		sampling: params,
		max_tokens,
		submitted_at,
	})?;
	let (tx, rx) = mpsc::unbounded_channel();
	let ctx = DriveContext {
		id: meta.id.clone(),
		model: meta.model.clone(),
		adapter: adapter_hash,
		prompt_tokens: prompt_len,
		stops,
		submitted_at,
		sink: state.inner.sink.clone(),
		pass,
	};
	let model = state.inner.model.clone();
	let driver_span = span.clone();
	tokio::task::spawn_blocking(move || {
		let _entered = driver_span.enter();
		drive(events, &model.tokenizer, ctx, tx)
	});
	let metrics_state = state.clone();
	let finish_span = span.clone();
	let on_finish: Finished = Box::new(move |s: &Summary| {
		record_finish(&metrics_state.inner.metrics, &finish_span, s);
	});
	if gen.stream {
		let parts = StreamParts { meta, events: rx, on_finish: Some(on_finish), admission };
		return Ok(stream_response(endpoint, parts));
	}
	let response = collect(endpoint, meta, rx, on_finish).instrument(span).await;
	drop(admission);
	response
}

fn record_finish(metrics: &Metrics, span: &tracing::Span, s: &Summary) {
	metrics.observe_generation(
		s.usage.prompt_tokens,
		s.usage.completion_tokens,
		s.queue_time,
		s.time_to_first_token,
		s.decode_time,
	);
	let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
	span.record("completion_tokens", s.usage.completion_tokens);
	if let Some(q) = s.queue_time {
		span.record("queue_ms", ms(q));
	}
	if let Some(i) = s.inference_time {
		span.record("inference_ms", ms(i));
	}
	if let Some(t) = s.time_to_first_token {
		span.record("ttft_ms", ms(t));
	}
	span.record("decode_ms", ms(s.decode_time));
	span.record("finish", s.finish.as_str());
	span.in_scope(|| tracing::info!("request finished"));
}

/// Gather a whole answer (non-streaming).
async fn collect(
	endpoint: Endpoint,
	meta: RequestMeta,
	mut rx: mpsc::UnboundedReceiver<TextEvent>,
	on_finish: Finished,
) -> Result<Response, ApiError> {
	let mut text = String::new();
	let summary = loop {
		match rx.recv().await {
			Some(TextEvent::Delta(delta)) => text.push_str(&delta),
			Some(TextEvent::Done(summary)) => break summary,
			Some(TextEvent::Failed(message)) => return Err(ApiError::Generation(message)),
			None => return Err(ApiError::Internal("the generation ended without a result".into())),
		}
	};
	on_finish(&summary);
	let finish_reason = Some(summary.finish.as_str().to_string());
	Ok(match endpoint {
		Endpoint::Completions => Json(CompletionResponse {
			id: meta.id,
			object: "text_completion".into(),
			created: meta.created,
			model: meta.model,
			choices: vec![CompletionChoice { index: 0, text, logprobs: None, finish_reason }],
			usage: Some(summary.usage),
		})
		.into_response(),
		Endpoint::Chat => Json(ChatCompletionResponse {
			id: meta.id,
			object: "chat.completion".into(),
			created: meta.created,
			model: meta.model,
			choices: vec![ChatChoice {
				index: 0,
				message: AssistantMessage { role: "assistant".into(), content: text },
				finish_reason,
			}],
			usage: summary.usage,
		})
		.into_response(),
	})
}

/// `POST /v1/completions`.
pub async fn completions(
	State(state): State<AppState>,
	payer: Option<Extension<Payer>>,
	ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
	let input = match req.prompt {
		Prompt::Text(text) => PromptInput::Text(text),
		Prompt::Tokens(ids) => PromptInput::Tokens(ids),
		Prompt::TextBatch(mut texts) if texts.len() == 1 => PromptInput::Text(texts.remove(0)),
		Prompt::TokenBatch(mut ids) if ids.len() == 1 => PromptInput::Tokens(ids.remove(0)),
		Prompt::TextBatch(_) | Prompt::TokenBatch(_) => {
			return Err(ApiError::invalid("only one prompt per request is supported", "prompt"))
		},
	};
	let requested = req.gen.max_tokens;
	let payer = payer.map(|Extension(p)| p);
	generate(state, Endpoint::Completions, payer, req.model, input, req.gen, requested).await
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
	State(state): State<AppState>,
	payer: Option<Extension<Payer>>,
	ApiJson(req): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
	if req.messages.is_empty() {
		return Err(ApiError::invalid("messages must not be empty", "messages"));
	}
	let requested = req.gen.max_tokens.or(req.max_completion_tokens);
	let input = PromptInput::Chat(req.messages);
	let payer = payer.map(|Extension(p)| p);
	generate(state, Endpoint::Chat, payer, req.model, input, req.gen, requested).await
}

/// `GET /v1/models`: the base model, then every adapter name the store serves.
pub async fn models(State(state): State<AppState>) -> Json<ModelList> {
	let base = &state.inner.model;
	let mut data = vec![ModelCard {
		id: base.id.clone(),
		object: "model".into(),
		created: state.inner.started,
		owned_by: "lineage".into(),
		root: base.id.clone(),
		parent: None,
		max_model_len: Some(state.inner.limits.max_seq_len),
	}];
	for (name, hash) in state.inner.store.names() {
		data.push(ModelCard {
			id: name,
			object: "model".into(),
			created: state.inner.started,
			owned_by: "lineage".into(),
			root: format!("0x{}", hex::encode(hash.0)),
			parent: Some(base.id.clone()),
			max_model_len: None,
		});
	}
	Json(ModelList { object: "list".into(), data })
}

/// `POST /v1/load_lora_adapter` (vLLM): import `lora_path` into the store, load it (which
/// validates it against the base model), then serve it as `lora_name`. A refused adapter is a
/// 400/422 with the reason, and leaves nothing behind.
pub async fn load_adapter(
	State(state): State<AppState>,
	ApiJson(req): ApiJson<LoadLoraAdapterRequest>,
) -> Result<Json<AdapterResponse>, ApiError> {
	let _serialised = state.inner.adapter_ops.lock().await;
	let name = req.lora_name;
	check_name(&name)?;
	if name == state.inner.model.id || state.inner.store.hash_of(&name).is_some() {
		return Err(ApiError::AdapterExists(name));
	}
	let store = state.inner.store.clone();
	let path = std::path::PathBuf::from(req.lora_path);
	let hash = blocking(move || store.import_dir(&path)).await??;
	let key = hex::encode(hash.0);
	if let Err(e) = state.inner.cache.load(&key).await {
		state.inner.cache.unload(&key);
		let store = state.inner.store.clone();
		// Nothing else points at bytes that never loaded; a failure to delete is only logged.
		if let Ok(Err(gc)) = blocking(move || store.remove_unreferenced(&hash)).await {
			tracing::warn!(error = %gc, "could not remove a refused adapter from the store");
		}
		return Err(e.into());
	}
	let store = state.inner.store.clone();
	let owned = name.clone();
	blocking(move || store.set_name(&owned, hash)).await??;
	tracing::info!(adapter = %name, hash = %key, "adapter loaded");
	Ok(Json(AdapterResponse {
		message: format!("Success: LoRA adapter '{name}' added successfully."),
		lora_name: name,
		artifact_hash: format!("0x{key}"),
	}))
}

/// `POST /v1/unload_lora_adapter` (vLLM): stop serving `lora_name` (requests naming it get
/// 404 from now on) and drop it from memory unless another name serves the same bytes. The
/// files stay in the content-addressed store, so loading it again is cheap.
pub async fn unload_adapter(
	State(state): State<AppState>,
	ApiJson(req): ApiJson<UnloadLoraAdapterRequest>,
) -> Result<Json<AdapterResponse>, ApiError> {
	let _serialised = state.inner.adapter_ops.lock().await;
	let name = req.lora_name;
	let store = state.inner.store.clone();
	let owned = name.clone();
	let removed = blocking(move || store.remove_name(&owned)).await??;
	let Some(hash) = removed else {
		return Err(crate::adapters::store::StoreError::UnknownAdapter(name).into());
	};
	if !state.inner.store.names().iter().any(|(_, h)| *h == hash) {
		state.inner.cache.unload(&hex::encode(hash.0));
	}
	tracing::info!(adapter = %name, "adapter unloaded");
	Ok(Json(AdapterResponse {
		message: format!("Success: LoRA adapter '{name}' removed successfully."),
		lora_name: name,
		artifact_hash: format!("0x{}", hex::encode(hash.0)),
	}))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
	let metrics = &state.inner.metrics;
	metrics.observe_cache(&state.inner.cache.stats());
	metrics.observe_engine(&state.inner.engine.stats());
	let text = metrics.render().map_err(|e| ApiError::Internal(e.to_string()))?;
	Ok(([(header::CONTENT_TYPE, Metrics::content_type())], text).into_response())
}

/// `GET /health`: 200 while the server runs, with the engine's counters.
pub async fn health(State(state): State<AppState>) -> Response {
	let engine = state.inner.engine.stats();
	Json(serde_json::json!({
		"status": "ok",
		"model": state.inner.model.id,
		"engine": {
			"queued": engine.queued,
			"running": engine.running,
			"steps": engine.steps,
			"tokens_generated": engine.tokens_generated,
		},
	}))
	.into_response()
}

/// Any other path: 404 in OpenAI's shape.
pub async fn not_found(req: Request) -> ApiError {
	ApiError::RouteNotFound(format!("{} {}", req.method(), req.uri().path()))
}

/// Middleware: count every answer by endpoint (the route's pattern, never the raw path) and
/// status, inside a span for the request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
	let endpoint = req
		.extensions()
		.get::<axum::extract::MatchedPath>()
		.map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
	let span = tracing::debug_span!("http", method = %req.method(), endpoint = %endpoint);
	let response = next.run(req).instrument(span).await;
	state.inner.metrics.observe_request(&endpoint, response.status().as_u16());
	response
}

/// Run blocking work (store I/O) on the blocking pool.
async fn blocking<T: Send + 'static>(
	f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
	tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(e.to_string()))
}
