//! The API's error type and the one place where every layer's errors become HTTP answers.
//!
//! Each layer has its own `thiserror` enum ([`StoreError`], [`CacheError`], [`SubmitError`],
//! wrapped by the inference layer's [`InferError`]); [`ApiError`] wraps that and adds what only
//! HTTP can get wrong, and [`ApiError::classify`] is the only mapping from an error to a status
//! code and an OpenAI error body (`{"error": {"message", "type", "param", "code"}}`).
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

use lineage_adapters::{CacheError, StoreError};
use lineage_engine::{AdapterErrorKind, SubmitError};

use super::openai::{ErrorBody, ErrorResponse};
use crate::infer::InferError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
	/// The inference layer refused or failed the request.
	#[error(transparent)]
	Infer(#[from] InferError),
	/// The body is not the JSON this endpoint takes.
	#[error("invalid JSON body: {0}")]
	InvalidJson(String),
	/// The body is larger than the server accepts.
	#[error("request body too large")]
	BodyTooLarge,
	/// No route has this path.
	#[error("no route for {0}")]
	RouteNotFound(String),
	/// The payer's signed headers are missing, malformed, stale, replayed or do not verify.
	#[error("{0}")]
	Unauthorized(String),
	/// `GET /v1/usage/{id}` for a request the journal never recorded.
	#[error(
		"no usage record for `{0}` in this oracle's journal: name the id of a response this \
		 oracle served (chatcmpl-…) or its request id"
	)]
	UsageNotFound(String),
	/// The request body did not arrive in time.
	#[error(
		"the request body did not arrive within {} ms: send it whole and promptly",
		.0.as_millis()
	)]
	BodyTimeout(std::time::Duration),
	/// An adapter-management route without the operator's token.
	#[error(
		"this route manages the served adapters and needs the operator's token: send \
		 `Authorization: Bearer <token>` with the token in the oracle's --admin-token-file"
	)]
	AdminTokenRequired,
	/// An adapter-management route on a paid server started without an admin token.
	#[error(
		"adapter management over HTTP is closed on this paid oracle: the operator starts it with \
		 --admin-token-file to open it to their token, or preloads adapters with --preload"
	)]
	AdminClosed,
}

impl From<StoreError> for ApiError {
	fn from(e: StoreError) -> Self {
		ApiError::Infer(e.into())
	}
}

impl From<CacheError> for ApiError {
	fn from(e: CacheError) -> Self {
		ApiError::Infer(e.into())
	}
}

impl From<SubmitError> for ApiError {
	fn from(e: SubmitError) -> Self {
		ApiError::Infer(e.into())
	}
}

impl ApiError {
	/// A 400 for `param`.
	pub fn invalid(message: impl Into<String>, param: &'static str) -> Self {
		ApiError::Infer(InferError::invalid(message, param))
	}

	/// A 500: a bug or an unexpected failure.
	pub fn internal(message: impl Into<String>) -> Self {
		ApiError::Infer(InferError::Internal(message.into()))
	}

	/// The one mapping: status code, OpenAI error type, code and parameter.
	pub fn classify(
		&self,
	) -> (StatusCode, &'static str, Option<&'static str>, Option<&'static str>) {
		use StatusCode as S;
		const INVALID: &str = "invalid_request_error";
		const NOT_FOUND: &str = "not_found_error";
		match self {
			ApiError::Infer(e) => classify_infer(e),
			ApiError::InvalidJson(_) => (S::BAD_REQUEST, INVALID, Some("invalid_json"), None),
			ApiError::BodyTooLarge => (S::PAYLOAD_TOO_LARGE, INVALID, Some("body_too_large"), None),
			ApiError::RouteNotFound(_) => (S::NOT_FOUND, NOT_FOUND, Some("route_not_found"), None),
			ApiError::Unauthorized(_) => {
				(S::UNAUTHORIZED, "authentication_error", Some("invalid_payer_signature"), None)
			},
			ApiError::UsageNotFound(_) => {
				(S::NOT_FOUND, NOT_FOUND, Some("usage_not_found"), Some("id"))
			},
			ApiError::BodyTimeout(_) => (S::REQUEST_TIMEOUT, INVALID, Some("body_timeout"), None),
			ApiError::AdminTokenRequired => {
				(S::UNAUTHORIZED, "authentication_error", Some("admin_token_required"), None)
			},
			ApiError::AdminClosed => (S::FORBIDDEN, "permission_error", Some("admin_closed"), None),
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

/// The mapping of the inference layer's errors: status code, OpenAI error type, code and
/// parameter.
fn classify_infer(
	e: &InferError,
) -> (StatusCode, &'static str, Option<&'static str>, Option<&'static str>) {
	use StatusCode as S;
	const INVALID: &str = "invalid_request_error";
	const NOT_FOUND: &str = "not_found_error";
	const SERVER: &str = "server_error";
	match e {
		InferError::InvalidRequest { param, .. } => (S::BAD_REQUEST, INVALID, None, *param),
		InferError::ModelNotFound(_) => {
			(S::NOT_FOUND, NOT_FOUND, Some("model_not_found"), Some("model"))
		},
		InferError::PromptTooLong { .. } => {
			(S::BAD_REQUEST, INVALID, Some("context_length_exceeded"), Some("prompt"))
		},
		InferError::MaxTokensTooLarge { .. } => {
			(S::BAD_REQUEST, INVALID, Some("context_length_exceeded"), Some("max_tokens"))
		},
		InferError::Overloaded(_) => {
			(S::TOO_MANY_REQUESTS, "rate_limit_error", Some("overloaded"), None)
		},
		InferError::AdapterExists(_) => {
			(S::BAD_REQUEST, INVALID, Some("adapter_exists"), Some("lora_name"))
		},
		InferError::Store(e) => match e {
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
		InferError::Cache(e) => match e {
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
		InferError::Submit(e) => match e {
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
		InferError::Generation(_) => {
			(S::INTERNAL_SERVER_ERROR, SERVER, Some("generation_failed"), None)
		},
		InferError::Tokenizer(_) => {
			(S::INTERNAL_SERVER_ERROR, SERVER, Some("tokenizer_error"), None)
		},
		InferError::Internal(_) => (S::INTERNAL_SERVER_ERROR, SERVER, None, None),
		InferError::PayerRequired(_) => {
			(S::UNAUTHORIZED, "authentication_error", Some("invalid_payer_signature"), None)
		},
		InferError::InsufficientEscrow(_) => {
			(S::PAYMENT_REQUIRED, "insufficient_quota", Some("insufficient_escrow"), None)
		},
		InferError::SpendLimitTooLow { .. } => {
			(S::PAYMENT_REQUIRED, "insufficient_quota", Some("spend_limit_too_low"), None)
		},
		InferError::NotRegistered(_) => {
			(S::FORBIDDEN, "permission_error", Some("adapter_not_registered"), None)
		},
		InferError::Revoked(_) => (S::GONE, INVALID, Some("adapter_revoked"), None),
		InferError::Unavailable(_) => {
			(S::SERVICE_UNAVAILABLE, SERVER, Some("chain_unavailable"), None)
		},
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
		let mut response = (status, Json(self.body())).into_response();
		if let ApiError::Infer(InferError::SpendLimitTooLow { spent, .. }) = &self {
			// What the client signs its next limit on top of.
			if let Ok(value) = axum::http::HeaderValue::from_str(&spent.to_string()) {
				response.headers_mut().insert(lineage_chain::payer::SPENT_HEADER, value);
			}
		}
		response
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
		assert_eq!(ApiError::from(SubmitError::QueueFull).status(), StatusCode::TOO_MANY_REQUESTS);
		assert_eq!(
			ApiError::from(InferError::ModelNotFound("x".into())).status(),
			StatusCode::NOT_FOUND
		);
		assert_eq!(
			ApiError::from(CacheError::Refused {
				key: "k".into(),
				kind: AdapterErrorKind::InvalidFiles,
				reason: "r".into()
			})
			.status(),
			StatusCode::BAD_REQUEST
		);
		let body =
			ApiError::from(InferError::MaxTokensTooLarge { prompt: 3, max_tokens: 10, max: 8 })
				.body();
		assert_eq!(body.error.param.as_deref(), Some("max_tokens"));
		assert_eq!(body.error.code.as_deref(), Some("context_length_exceeded"));
		assert!(body.error.message.contains("13 tokens"), "{}", body.error.message);
	}
}
