//! The API's error type and the one place where every layer's errors become HTTP answers.
//!
//! Each layer has its own `thiserror` enum ([`StoreError`], [`CacheError`], [`SubmitError`]);
//! [`ApiError`] wraps them, and [`ApiError::classify`] is the only mapping from an error to a
//! status code and an OpenAI error body (`{"error": {"message", "type", "param", "code"}}`).
//! Axum's own rejections (a body that is not JSON, too large) go through the same mapping via
//! [`ApiJson`].

use axum::{
	body::Bytes,
	extract::{rejection::BytesRejection, FromRequest, Request},
	http::StatusCode,
	response::{IntoResponse, Response},
	Json,
};
use serde::de::DeserializeOwned;

use super::{
	openai::{ErrorBody, ErrorResponse},
	payer::PayerError,
};
use crate::{
	adapters::{cache::CacheError, store::StoreError, AdapterErrorKind},
	engine::SubmitError,
};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
	/// A field is missing, malformed or out of range.
	#[error("{message}")]
	InvalidRequest {
		/// What is wrong.
		message: String,
		/// The field at fault.
		param: Option<&'static str>,
	},
	/// The body is not the JSON this endpoint takes.
	#[error("invalid JSON body: {0}")]
	InvalidJson(String),
	/// The body is larger than the server accepts.
	#[error("request body too large")]
	BodyTooLarge,
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
	/// No route has this path.
	#[error("no route for {0}")]
	RouteNotFound(String),
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
	/// The payer's signed headers are missing, malformed, stale, replayed or do not verify.
	#[error("{0}")]
	Unauthorized(String),
	/// The payer's escrow with this operator cannot cover the request.
	#[error("{0}")]
	PaymentRequired(String),
	/// The adapter is not registered on chain (or its bytes do not match the registration).
	#[error("{0}")]
	Forbidden(String),
	/// The adapter was registered but has been revoked.
	#[error("{0}")]
	Gone(String),
	/// A service the request needs (the chain) cannot be reached now: retry.
	#[error("{0}")]
	Unavailable(String),
}

impl ApiError {
	/// A 400 for `param`.
	pub fn invalid(message: impl Into<String>, param: &'static str) -> Self {
		ApiError::InvalidRequest { message: message.into(), param: Some(param) }
	}

	/// The one mapping: status code, OpenAI error type, code and parameter.
	pub fn classify(
		&self,
	) -> (StatusCode, &'static str, Option<&'static str>, Option<&'static str>) {
		use StatusCode as S;
		const INVALID: &str = "invalid_request_error";
		const NOT_FOUND: &str = "not_found_error";
		const SERVER: &str = "server_error";
		match self {
			ApiError::InvalidRequest { param, .. } => (S::BAD_REQUEST, INVALID, None, *param),
			ApiError::InvalidJson(_) => (S::BAD_REQUEST, INVALID, Some("invalid_json"), None),
			ApiError::BodyTooLarge => (S::PAYLOAD_TOO_LARGE, INVALID, Some("body_too_large"), None),
			ApiError::ModelNotFound(_) => {
				(S::NOT_FOUND, NOT_FOUND, Some("model_not_found"), Some("model"))
			},
			ApiError::PromptTooLong { .. } => {
				(S::BAD_REQUEST, INVALID, Some("context_length_exceeded"), Some("prompt"))
			},
			ApiError::MaxTokensTooLarge { .. } => {
				(S::BAD_REQUEST, INVALID, Some("context_length_exceeded"), Some("max_tokens"))
			},
			ApiError::Overloaded(_) => {
				(S::TOO_MANY_REQUESTS, "rate_limit_error", Some("overloaded"), None)
			},
			ApiError::AdapterExists(_) => {
				(S::BAD_REQUEST, INVALID, Some("adapter_exists"), Some("lora_name"))
			},
			ApiError::RouteNotFound(_) => (S::NOT_FOUND, NOT_FOUND, Some("route_not_found"), None),
			ApiError::Store(e) => match e {
				StoreError::UnknownAdapter(_) => {
					(S::NOT_FOUND, NOT_FOUND, Some("adapter_not_found"), Some("lora_name"))
				},
				StoreError::MissingFile(_) => {
					(S::BAD_REQUEST, INVALID, Some("invalid_adapter"), Some("lora_path"))
				},
				StoreError::InvalidName(_) => {
					(S::BAD_REQUEST, INVALID, Some("invalid_name"), Some("lora_name"))
				},
				StoreError::NameTaken(_) => {
					(S::BAD_REQUEST, INVALID, Some("adapter_exists"), Some("lora_name"))
				},
				StoreError::HashMismatch { .. } => {
					(S::UNPROCESSABLE_ENTITY, INVALID, Some("adapter_corrupt"), None)
				},
				StoreError::Io { .. } | StoreError::CorruptIndex { .. } => {
					(S::INTERNAL_SERVER_ERROR, SERVER, Some("store_error"), None)
				},
			},
			ApiError::Cache(e) => match e {
				CacheError::NotFound(_) => {
					(S::NOT_FOUND, NOT_FOUND, Some("model_not_found"), Some("model"))
				},
				CacheError::Refused { kind, .. } => match kind {
					AdapterErrorKind::NotFound => {
						(S::NOT_FOUND, NOT_FOUND, Some("adapter_not_found"), None)
					},
					AdapterErrorKind::InvalidFiles => {
						(S::BAD_REQUEST, INVALID, Some("invalid_adapter"), None)
					},
					AdapterErrorKind::Unsupported => {
						(S::UNPROCESSABLE_ENTITY, INVALID, Some("unsupported_adapter"), None)
					},
					AdapterErrorKind::Incompatible => {
						(S::UNPROCESSABLE_ENTITY, INVALID, Some("incompatible_adapter"), None)
					},
					AdapterErrorKind::Internal => {
						(S::INTERNAL_SERVER_ERROR, SERVER, Some("adapter_load_failed"), None)
					},
				},
				CacheError::Device { .. } | CacheError::Internal { .. } => {
					(S::INTERNAL_SERVER_ERROR, SERVER, Some("adapter_load_failed"), None)
				},
			},
			ApiError::Submit(e) => match e {
				SubmitError::QueueFull => {
					(S::TOO_MANY_REQUESTS, "rate_limit_error", Some("overloaded"), None)
				},
				SubmitError::PromptTooLong { .. } => {
					(S::BAD_REQUEST, INVALID, Some("context_length_exceeded"), Some("prompt"))
				},
				SubmitError::EmptyPrompt => {
					(S::BAD_REQUEST, INVALID, Some("empty_prompt"), Some("prompt"))
				},
			},
			ApiError::Generation(_) => {
				(S::INTERNAL_SERVER_ERROR, SERVER, Some("generation_failed"), None)
			},
			ApiError::Tokenizer(_) => {
				(S::INTERNAL_SERVER_ERROR, SERVER, Some("tokenizer_error"), None)
			},
			ApiError::Internal(_) => (S::INTERNAL_SERVER_ERROR, SERVER, None, None),
			ApiError::Unauthorized(_) => {
				(S::UNAUTHORIZED, "authentication_error", Some("invalid_payer_signature"), None)
			},
			ApiError::PaymentRequired(_) => {
				(S::PAYMENT_REQUIRED, "insufficient_quota", Some("insufficient_escrow"), None)
			},
			ApiError::Forbidden(_) => {
				(S::FORBIDDEN, "permission_error", Some("adapter_not_registered"), None)
			},
			ApiError::Gone(_) => (S::GONE, INVALID, Some("adapter_revoked"), None),
			ApiError::Unavailable(_) => {
				(S::SERVICE_UNAVAILABLE, SERVER, Some("chain_unavailable"), None)
			},
		}
	}

	/// The status code this error answers with.
	pub fn status(&self) -> StatusCode {
		self.classify().0
	}

	/// The OpenAI error body (also sent as the last event of a failed stream).
	pub fn body(&self) -> ErrorResponse {
		let (_, kind, code, param) = self.classify();
		ErrorResponse {
			error: ErrorBody {
				message: self.to_string(),
				kind: kind.to_string(),
				param: param.map(str::to_string),
				code: code.map(str::to_string),
			},
		}
	}
}

impl IntoResponse for ApiError {
	fn into_response(self) -> Response {
		let status = self.status();
		if status.is_server_error() {
			tracing::error!(error = %self, "request failed");
		} else {
			tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
		}
		(status, Json(self.body())).into_response()
	}
}

impl From<PayerError> for ApiError {
	fn from(e: PayerError) -> Self {
		ApiError::Unauthorized(e.to_string())
	}
}

impl From<BytesRejection> for ApiError {
	fn from(rejection: BytesRejection) -> Self {
		if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
			ApiError::BodyTooLarge
		} else {
			ApiError::InvalidJson(rejection.body_text())
		}
	}
}

/// A JSON body extractor whose rejections are [`ApiError`]s (so they answer in OpenAI's shape).
///
/// Unlike `axum::Json` it does not insist on a `Content-Type: application/json` header, as
/// OpenAI-compatible servers accept `curl -d` bodies.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
	type Rejection = ApiError;

	async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
		let bytes = Bytes::from_request(req, state).await?;
		serde_json::from_slice(&bytes)
			.map(ApiJson)
			.map_err(|e| ApiError::InvalidJson(e.to_string()))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn each_layer_maps_to_its_status() {
		assert_eq!(
			ApiError::Submit(SubmitError::QueueFull).status(),
			StatusCode::TOO_MANY_REQUESTS
		);
		assert_eq!(ApiError::ModelNotFound("x".into()).status(), StatusCode::NOT_FOUND);
		assert_eq!(
			ApiError::Cache(CacheError::Refused {
				key: "k".into(),
				kind: AdapterErrorKind::InvalidFiles,
				reason: "r".into()
			})
			.status(),
			StatusCode::BAD_REQUEST
		);
		let body = ApiError::MaxTokensTooLarge { prompt: 3, max_tokens: 10, max: 8 }.body();
		assert_eq!(body.error.param.as_deref(), Some("max_tokens"));
		assert_eq!(body.error.code.as_deref(), Some("context_length_exceeded"));
		assert!(body.error.message.contains("13 tokens"), "{}", body.error.message);
	}
}
