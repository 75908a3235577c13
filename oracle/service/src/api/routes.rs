//! The HTTP handlers. They validate, admit, tokenise (on the blocking pool), resolve the adapter
//! through the cache, hand a [`GenerateRequest`] to the engine and stream text back; they never
//! touch tensors.

use std::sync::{Arc, Mutex};

use axum::{
	extract::{Request, State},
	http::{header, HeaderValue},
	middleware::Next,
	response::{IntoResponse, Response},
	Extension, Json,
};
use lineage_chain::payer::SPENT_HEADER;
use lineage_engine::SamplingParams;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{
	error::{ApiError, ApiJson},
	openai::{
		AdapterResponse, AssistantMessage, ChatChoice, ChatCompletionRequest,
		ChatCompletionResponse, CompletionChoice, CompletionRequest, CompletionResponse, Endpoint,
		GenerationFields, LoadLoraAdapterRequest, ModelCard, ModelList, Prompt,
		UnloadLoraAdapterRequest, Usage,
	},
	payer::Payer,
	prompt::chat_turns,
	sse::{stream_response, StreamParts},
	state::AppState,
};
use crate::{
	infer::{
		generate::{Finished, Generate, PromptInput, RequestMeta},
		state::Admission,
		text::TextEvent,
		InferError,
	},
	metrics::Metrics,
};

/// The most stop strings a request may set.
pub const MAX_STOPS: usize = 8;
/// The longest stop string, in bytes.
pub const MAX_STOP_LEN: usize = 256;

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

/// The admission permit [`admit_first`] took for a request, in its extensions: taken once by
/// the handler.
#[derive(Clone)]
pub struct Admitted(Arc<Mutex<Option<Admission>>>);

impl Admitted {
	/// The permit, once.
	fn take(&self) -> Option<Admission> {
		self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
	}
}

/// Middleware on the generation routes, outside the payer check: takes the admission permit
/// (429 when all are taken) before anything else is done for the request — before its body is
/// read, its signature checked or its nonce written to the journal — so a flood costs one
/// semaphore try per request.
pub async fn admit_first(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
	match state.infer().admit() {
		Ok(admission) => {
			req.extensions_mut().insert(Admitted(Arc::new(Mutex::new(Some(admission)))));
			next.run(req).await
		},
		Err(e) => ApiError::from(e).into_response(),
	}
}

/// Everything both endpoints do once the prompt input is known: admit, check the OpenAI
/// fields, hand the rest to the inference layer, then stream or gather the answer.
#[allow(clippy::too_many_arguments)]
async fn generate(
	state: AppState,
	endpoint: Endpoint,
	admitted: Option<Admitted>,
	payer: Option<Payer>,
	model: String,
	input: PromptInput,
	gen: GenerationFields,
	requested_max: Option<u64>,
) -> Result<Response, ApiError> {
	let infer = state.infer();
	let admission = match admitted.and_then(|a| a.take()) {
		Some(admission) => admission,
		None => infer.admit()?,
	};
	let sampling = sampling(&gen)?;
	let stops = stops(&gen)?;
	let chat = endpoint == Endpoint::Chat;
	let generation = infer
		.generate(
			admission,
			Generate {
				id_prefix: if chat { "chatcmpl" } else { "cmpl" },
				payer: payer.as_ref().map(|p| p.account),
				voucher: payer.map(|p| p.voucher),
				model,
				input,
				prompt_param: if chat { "messages" } else { "prompt" },
				sampling,
				stops,
				max_tokens: requested_max,
			},
		)
		.await?;
	let span = generation.span.clone();
	let spent = generation.spent;
	let with_spent = move |mut response: Response| {
		if let Some(value) = spent.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
			response.headers_mut().insert(SPENT_HEADER, value);
		}
		response
	};
	if gen.stream {
		let parts = StreamParts {
			meta: generation.meta,
			events: generation.events,
			on_finish: Some(generation.on_finish),
			admission: generation.admission,
		};
		return Ok(with_spent(stream_response(endpoint, parts)));
	}
	let response = collect(endpoint, generation.meta, generation.events, generation.on_finish)
		.instrument(span)
		.await;
	drop(generation.admission);
	response.map(with_spent)
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
			Some(TextEvent::Failed(message)) => return Err(InferError::Generation(message).into()),
			None => return Err(ApiError::internal("the generation ended without a result")),
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
			usage: Some(Usage::from(summary.usage)),
			lineage: summary.lineage,
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
			usage: Usage::from(summary.usage),
			lineage: summary.lineage,
		})
		.into_response(),
	})
}

/// `POST /v1/completions`.
pub async fn completions(
	State(state): State<AppState>,
	admitted: Option<Extension<Admitted>>,
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
	let (admitted, payer) = (admitted.map(|Extension(a)| a), payer.map(|Extension(p)| p));
	let endpoint = Endpoint::Completions;
	generate(state, endpoint, admitted, payer, req.model, input, req.gen, requested).await
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
	State(state): State<AppState>,
	admitted: Option<Extension<Admitted>>,
	payer: Option<Extension<Payer>>,
	ApiJson(req): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
	if req.messages.is_empty() {
		return Err(ApiError::invalid("messages must not be empty", "messages"));
	}
	let requested = req.gen.max_tokens.or(req.max_completion_tokens);
	let input = PromptInput::Chat(chat_turns(req.messages)?);
	let (admitted, payer) = (admitted.map(|Extension(a)| a), payer.map(|Extension(p)| p));
	let endpoint = Endpoint::Chat;
	generate(state, endpoint, admitted, payer, req.model, input, req.gen, requested).await
}

/// `GET /v1/models`: the base model, then every adapter name the store serves.
pub async fn models(State(state): State<AppState>) -> Json<ModelList> {
	let infer = state.infer();
	let base = infer.model();
	let mut data = vec![ModelCard {
		id: base.id.clone(),
		object: "model".into(),
		created: infer.started(),
		owned_by: "lineage".into(),
		root: base.id.clone(),
		parent: None,
		max_model_len: Some(infer.limits().max_seq_len),
	}];
	for (name, hash) in infer.store().names() {
		data.push(ModelCard {
			id: name,
			object: "model".into(),
			created: infer.started(),
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
	let name = req.lora_name;
	let hash = state.infer().load_adapter(&name, std::path::PathBuf::from(req.lora_path)).await?;
	Ok(Json(AdapterResponse {
		message: format!("Success: LoRA adapter '{name}' added successfully."),
		lora_name: name,
		artifact_hash: format!("0x{}", hex::encode(hash.0)),
	}))
}

/// `POST /v1/unload_lora_adapter` (vLLM): stop serving `lora_name` (requests naming it get
/// 404 from now on) and drop it from memory unless another name serves the same bytes. The
/// files stay in the content-addressed store, so loading it again is cheap.
pub async fn unload_adapter(
	State(state): State<AppState>,
	ApiJson(req): ApiJson<UnloadLoraAdapterRequest>,
) -> Result<Json<AdapterResponse>, ApiError> {
	let name = req.lora_name;
	let hash = state.infer().unload_adapter(&name).await?;
	Ok(Json(AdapterResponse {
		message: format!("Success: LoRA adapter '{name}' removed successfully."),
		lora_name: name,
		artifact_hash: format!("0x{}", hex::encode(hash.0)),
	}))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
	let infer = state.infer();
	let metrics = infer.metrics();
	metrics.observe_cache(&infer.cache().stats());
	metrics.observe_engine(&infer.engine().stats());
	let text = metrics.render().map_err(|e| ApiError::internal(e.to_string()))?;
	Ok(([(header::CONTENT_TYPE, Metrics::content_type())], text).into_response())
}

/// `GET /health`: 200 while the server runs, with the engine's counters.
pub async fn health(State(state): State<AppState>) -> Response {
	let engine = state.infer().engine().stats();
	Json(serde_json::json!({
		"status": "ok",
		"model": state.infer().model().id,
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
	state.infer().metrics().observe_request(&endpoint, response.status().as_u16());
	response
}
