//! What an inference can fail with, whoever asked for it (an HTTP request or an on-chain job).
//! The HTTP layer turns each into a status code in one place (`api::error`).

use lineage_adapters::{CacheError, StoreError};
use lineage_engine::{ChatError, SubmitError};

/// Everything the inference layer can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
	/// A field is missing, malformed or out of range.
	#[error("{message}")]
	InvalidRequest {
		/// What is wrong.
		message: String,
		/// The field at fault.
		param: Option<&'static str>,
	},
	/// `model` names neither the base model nor a served adapter.
	#[error("the model `{0}` does not exist")]
	ModelNotFound(String),
	/// The prompt leaves no room to generate in the context window.
	#[error(
		"this model's maximum context length is {max} tokens; the prompt has {prompt} tokens, \
		 which leaves no room to generate"
	)]
	PromptTooLong {
		/// Prompt tokens.
		prompt: usize,
		/// The context window.
		max: usize,
	},
	/// `max_tokens` does not fit in the context window after the prompt.
	#[error(
		"this model's maximum context length is {max} tokens; you requested {} tokens \
		 ({prompt} in the prompt, {max_tokens} for the completion)",
		prompt + max_tokens
	)]
	MaxTokensTooLarge {
		/// Prompt tokens.
		prompt: usize,
		/// Requested completion tokens.
		max_tokens: usize,
		/// The context window.
		max: usize,
	},
	/// Every admission permit is taken.
	#[error("the server is at capacity ({0} requests in flight); retry later")]
	Overloaded(usize),
	/// An adapter with this name is already served.
	#[error("the adapter `{0}` is already loaded; unload it first")]
	AdapterExists(String),
	/// The adapter store failed.
	#[error(transparent)]
	Store(#[from] StoreError),
	/// The adapter cache (loading an adapter) failed.
	#[error(transparent)]
	Cache(#[from] CacheError),
	/// The engine refused the request.
	#[error(transparent)]
	Submit(#[from] SubmitError),
	/// Generation failed after the request was accepted.
	#[error("generation failed: {0}")]
	Generation(String),
	/// Tokenisation failed.
	#[error("tokenizer: {0}")]
	Tokenizer(String),
	/// A bug or an unexpected failure (a panicked task, …).
	#[error("internal error: {0}")]
	Internal(String),
	/// The request must be signed by its payer and was not.
	#[error("{0}")]
	PayerRequired(String),
	/// The payer's escrow with this operator cannot cover the request.
	#[error("{0}")]
	InsufficientEscrow(String),
	/// The spend limit the payer signed does not cover what is counted against it with this
	/// request at its most.
	#[error("{message}")]
	SpendLimitTooLow {
		/// What is wrong and the least limit that would do.
		message: String,
		/// What is counted against the limit before this request (sent as `x-lineage-spent`).
		spent: u128,
	},
	/// The adapter is not registered on chain (or its bytes do not match the registration).
	#[error("{0}")]
	NotRegistered(String),
	/// The adapter was registered but has been revoked.
	#[error("{0}")]
	Revoked(String),
	/// A service the request needs (the chain) cannot be reached now: retry.
	#[error("{0}")]
	Unavailable(String),
}

impl InferError {
	/// A refusal of `param`'s value.
	pub fn invalid(message: impl Into<String>, param: &'static str) -> Self {
		InferError::InvalidRequest { message: message.into(), param: Some(param) }
	}
}

impl From<ChatError> for InferError {
	fn from(e: ChatError) -> Self {
		match e {
			ChatError::Tokenizer(message) => InferError::Tokenizer(message),
			other => InferError::invalid(other.to_string(), "messages"),
		}
	}
}
