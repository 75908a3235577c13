//! One generation, from a prompt to a stream of text events and a usage record, whoever asked
//! for it: admission, prompt building and tokenising (on the blocking pool), the gate, the
//! adapter, the engine, and the per-request driver ([`super::text::drive`]).

use std::{sync::Arc, time::Instant};

use lineage_chain::time::unix_time_secs;
use lineage_engine::{
	chat::{render_chat, tokenize},
	ChatTurn, GenerateEvent, GenerateRequest, LoraAdapter, SamplingParams,
};
use lineage_primitives::Hash;
use tokio::sync::mpsc::{self, UnboundedReceiver};

use super::{
	error::InferError,
	gate::GateRequest,
	state::{blocking, Admission, Infer},
	text::{drive, DriveContext, Summary, TextEvent, TraceJob},
	usage::Voucher,
};

/// Where a prompt comes from.
#[derive(Clone, Debug)]
pub enum PromptInput {
	/// Text, tokenised with the tokenizer's special tokens.
	Text(String),
	/// Token ids, checked against the vocabulary.
	Tokens(Vec<u32>),
	/// A conversation, rendered with the model's chat template (or the fallback).
	Chat(Vec<ChatTurn>),
}

/// One generation to run.
#[derive(Clone, Debug)]
pub struct Generate {
	/// The prefix of the response id (`cmpl`, `chatcmpl`).
	pub id_prefix: &'static str,
	/// The verified payer, when the request was signed.
	pub payer: Option<[u8; 32]>,
	/// The payer's signed authorisation of the request, when it was signed.
	pub voucher: Option<Voucher>,
	/// The model name: the base model's id, an adapter's name or its artifact hash (`0x…`).
	pub model: String,
	/// The prompt.
	pub input: PromptInput,
	/// The request field the prompt came in (named in errors: `prompt`, `messages`).
	pub prompt_param: &'static str,
	/// Sampling.
	pub sampling: SamplingParams,
	/// Stop strings.
	pub stops: Vec<String>,
	/// The most tokens to generate, if the caller set it.
	pub max_tokens: Option<u64>,
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

/// A generation under way: its identity, its text events, what to call when it finishes, and
/// the admission permit that must live as long as it does.
pub struct Generation {
	/// The response's id, model and creation time.
	pub meta: RequestMeta,
	/// Text from the driver, ending with [`TextEvent::Done`] (after the usage is recorded) or
	/// [`TextEvent::Failed`].
	pub events: UnboundedReceiver<TextEvent>,
	/// Records the request's metrics and timings; call it with the summary once.
	pub on_finish: Finished,
	/// The admission permit, released when dropped.
	pub admission: Admission,
	/// The request's tracing span (queue, inference and decode timings are recorded in it).
	pub span: tracing::Span,
	/// What the gate counts against the payer's spend limit, this request included at its most
	/// (sent as `x-lineage-spent`).
	pub spent: Option<u128>,
}

/// An answer produced in-process, for an on-chain job.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalAnswer {
	/// The generated text.
	pub text: String,
	/// The prompt's tokens, the chat template applied.
	pub prompt_tokens: u64,
	/// The tokens generated.
	pub completion_tokens: u64,
	/// The answer's attribution, when the oracle traces the adapter (as an HTTP answer's).
	pub lineage: Option<super::lineage::Lineage>,
}

/// A fresh response id with `prefix`.
fn new_id(prefix: &str) -> String {
	format!("{prefix}-{:016x}{:08x}", rand::random::<u64>(), rand::random::<u32>())
}

impl Infer {
	/// The adapter a model name serves, `None` for the base model. A name in the store's index
	/// resolves to its hash; an artifact hash (`0x…`) resolves when some served name points at
	/// it (so unloading the last name stops serving the bytes).
	pub fn resolve_model(&self, model: &str) -> Result<Option<Hash>, InferError> {
		if model == self.model().id {
			return Ok(None);
		}
		let store = self.store();
		if let Some(hash) = store.hash_of(model) {
			return Ok(Some(hash));
		}
		match lineage_adapters::store::parse_hash(model) {
			Some(hash) if store.names().iter().any(|(_, h)| *h == hash) => Ok(Some(hash)),
			_ => Err(InferError::ModelNotFound(model.to_string())),
		}
	}

	/// The loaded adapter with artifact hash `hash` (loading it once if needed).
	pub async fn adapter(&self, hash: &Hash) -> Result<Arc<LoraAdapter>, InferError> {
		Ok(self.cache().get(&hex::encode(hash.0)).await?)
	}

	/// Tokenises the prompt (on the blocking pool) and checks it against the vocabulary and
	/// the context; `param` names the field in errors.
	pub async fn prompt_tokens(
		&self,
		input: PromptInput,
		param: &'static str,
	) -> Result<Vec<u32>, InferError> {
		let model = self.model().clone();
		let ids = match input {
			PromptInput::Tokens(ids) => {
				let vocab = model.config.vocab_size;
				if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
					return Err(InferError::invalid(
						format!("token id {bad} is outside the vocabulary (size {vocab})"),
						param,
					));
				}
				ids
			},
			PromptInput::Text(text) => blocking(move || tokenize(&model.tokenizer, &text, true))
				.await?
				.map_err(InferError::from)?,
			PromptInput::Chat(turns) => {
				let template = self.chat_template();
				blocking(move || {
					let (text, special) = render_chat(&turns, template.as_deref())?;
					tokenize(&model.tokenizer, &text, special)
				})
				.await?
				.map_err(InferError::from)?
			},
		};
		if ids.is_empty() {
			return Err(InferError::invalid("the prompt is empty", param));
		}
		let max = self.limits().max_seq_len;
		if ids.len() >= max {
			return Err(InferError::PromptTooLong { prompt: ids.len(), max });
		}
		Ok(ids)
	}

	/// The completion budget: the requested `max_tokens` if it fits, else an error; the default
	/// (capped to the room left) when none is requested.
	pub fn max_tokens(&self, prompt: usize, requested: Option<u64>) -> Result<usize, InferError> {
		let limits = self.limits();
		let max = limits.max_seq_len;
		let room = max.saturating_sub(prompt);
		match requested {
			None => Ok(limits.default_max_tokens.min(room)),
			Some(0) => Err(InferError::invalid("max_tokens must be at least 1", "max_tokens")),
			Some(m) => {
				let m = usize::try_from(m).unwrap_or(usize::MAX);
				if m > room {
					return Err(InferError::MaxTokensTooLarge { prompt, max_tokens: m, max });
				}
				Ok(m)
			},
		}
	}

	/// Starts one generation, admitted with `admission` ([`Infer::admit`]): builds and
	/// tokenises the prompt, lets the gate check the adapter and the payer before any inference,
	/// submits it to the engine and hands the token stream to a driver on the blocking pool,
	/// which records the usage before it sends [`TextEvent::Done`].
	pub async fn generate(
		&self,
		admission: Admission,
		req: Generate,
	) -> Result<Generation, InferError> {
		let submitted_at = Instant::now();
		let adapter_hash = self.resolve_model(&req.model)?;
		let prompt = self.prompt_tokens(req.input, req.prompt_param).await?;
		let max_tokens = self.max_tokens(prompt.len(), req.max_tokens)?;
		// Before any inference: the gate checks the adapter and the payer (the chain's registry
		// and escrow in chain mode).
		let pass = self
			.gate()
			.admit(GateRequest {
				payer: req.payer,
				voucher: req.voucher.as_ref(),
				model: &req.model,
				adapter: adapter_hash,
				prompt_tokens: prompt.len(),
				max_tokens,
			})
			.await?;
		let adapter = match &adapter_hash {
			Some(hash) => Some(self.adapter(hash).await?),
			None => None,
		};
		let meta =
			RequestMeta { id: new_id(req.id_prefix), model: req.model, created: unix_time_secs() };
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
		// Attribution: the adapter's span indexes if built (else why not, and indexing starts).
		let trace = match (&adapter_hash, self.tracer()) {
			(Some(hash), Some(tracer)) => Some(TraceJob {
				tracer: tracer.clone(),
				indexes: tracer.ensure(*hash),
				prompt: prompt.clone(),
			}),
			_ => None,
		};
		let spent = pass.spent;
		let voucher = req.voucher;
		let events = self.engine().submit(GenerateRequest {
			id: meta.id.clone(),
			prompt,
			adapter,
			sampling: req.sampling,
			max_tokens,
			submitted_at,
		})?;
		let (tx, rx) = mpsc::unbounded_channel();
		let ctx = DriveContext {
			id: meta.id.clone(),
			model: meta.model.clone(),
			adapter: adapter_hash,
			prompt_tokens: prompt_len,
			stops: req.stops,
			submitted_at,
			sink: self.sink().clone(),
			pass,
			voucher,
			trace,
		};
		let model = self.model().clone();
		let driver_span = span.clone();
		tokio::task::spawn_blocking(move || {
			let _entered = driver_span.enter();
			drive(events, &model.tokenizer, ctx, tx)
		});
		let infer = self.clone();
		let finish_span = span.clone();
		let on_finish: Finished = Box::new(move |s: &Summary| infer.record_finish(&finish_span, s));
		Ok(Generation { meta, events: rx, on_finish, admission, span, spent })
	}

	/// Records a finished request's metrics and its timings in its span.
	fn record_finish(&self, span: &tracing::Span, s: &Summary) {
		self.metrics().observe_generation(
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

	/// Runs one chat completion in-process (an on-chain job, already paid for on chain): `prompt`
	/// as the user's message to the adapter with artifact hash `adapter`. `budget` gives the most
	/// tokens to generate for a prompt of that many tokens (the caller's fee ceiling); an answer
	/// with no room for a token is refused. Bypasses the gate and the usage sink: the chain
	/// charges jobs when they are fulfilled.
	pub async fn complete(
		&self,
		adapter: Hash,
		prompt: String,
		budget: impl FnOnce(usize) -> usize,
		sampling: SamplingParams,
	) -> Result<LocalAnswer, InferError> {
		let _admission = self.admit()?;
		let turns = vec![ChatTurn::new("user", prompt)];
		let ids = self.prompt_tokens(PromptInput::Chat(turns), "prompt").await?;
		let room = self.limits().max_seq_len.saturating_sub(ids.len());
		let max_tokens = budget(ids.len()).min(room);
		if max_tokens == 0 {
			return Err(InferError::invalid(
				"the job's fee ceiling or the context leaves no room for a generated token",
				"max_tokens",
			));
		}
		let trace = self.tracer().map(|tracer| (tracer.clone(), tracer.ensure(adapter)));
		let adapter = self.adapter(&adapter).await?;
		let prompt_len = ids.len() as u64;
		let prompt_ids = trace.as_ref().map(|_| ids.clone());
		let mut events = self.engine().submit(GenerateRequest {
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
				GenerateEvent::Token { id } => generated.push(id),
				GenerateEvent::Finished { .. } => break,
				GenerateEvent::Failed { message } => return Err(InferError::Internal(message)),
			}
		}
		let model = self.model().clone();
		let count = generated.len() as u64;
		let text = blocking(move || model.tokenizer.decode(&generated, true))
			.await?
			.map_err(|e| InferError::Internal(format!("decoding the answer: {e}")))?;
		// Attributed as an HTTP answer is: its spans in the adapter's training records.
		let lineage = match (trace, prompt_ids) {
			(Some((tracer, Ok(indexes))), Some(prompt)) => {
				let answer = text.clone();
				Some(blocking(move || tracer.attribute(&indexes, &prompt, &answer)).await?)
			},
			(Some((_, Err(lineage))), _) => Some(lineage),
			_ => None,
		};
		Ok(LocalAnswer { text, prompt_tokens: prompt_len, completion_tokens: count, lineage })
	}
}
