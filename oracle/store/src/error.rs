//! The store's one error type: every refusal has an HTTP status and a reason, and changes
//! nothing.

use axum::{
	http::StatusCode,
	response::{IntoResponse, Response},
	Json,
};
use lineage_chain::ChainError;

use crate::db::DbError;

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// The path's CID is not the CID of a record.
	#[error("{0}")]
	BadCid(String),
	/// A required header is missing.
	#[error("missing header `{0}`: uploads are signed by the contributor's wallet key")]
	MissingHeader(&'static str),
	/// A header does not parse.
	#[error("header `{header}`: {reason}")]
	BadHeader {
		/// The header.
		header: &'static str,
		/// What was expected.
		reason: String,
	},
	/// The signature does not verify for this contributor, record, datanet and chain.
	#[error(
		"the signature is not the contributor's over this upload (domain lineage/record01, this \
		 chain's genesis hash, datanet {datanet}, the record's sha-256)"
	)]
	BadSignature {
		/// The datanet named in the path.
		datanet: u32,
	},
	/// The body is empty.
	#[error("the record is empty")]
	Empty,
	/// The body is larger than the chain's record limit.
	#[error("the record is larger than {limit} bytes (the chain's MaxRecordBytes)")]
	TooLarge {
		/// The limit.
		limit: u32,
	},
	/// The body's sha-256 is not the one the CID names.
	#[error("the body's sha-256 is {actual}, but the CID names {expected}")]
	HashMismatch {
		/// What the CID names (hex).
		expected: String,
		/// What the body hashes to (hex).
		actual: String,
	},
	/// No datanet has this id on chain.
	#[error("datanet {0} does not exist on chain")]
	UnknownDatanet(u32),
	/// The datanet takes no more contributions.
	#[error("datanet {0} is closed: it takes no new records")]
	DatanetClosed(u32),
	/// The chain has this record in this datanet from another contributor.
	#[error("this record is contributed to datanet {0} by another account")]
	ContributedByOther(u32),
	/// The chain's declared size differs from the body's.
	#[error("the contribution on chain declares {declared} bytes, the body has {actual}")]
	SizeMismatch {
		/// The size on chain.
		declared: u32,
		/// The body's size.
		actual: u32,
	},
	/// Nothing is stored (and served) under this name.
	#[error("{0}")]
	NotFound(String),
	/// The chain could not be read.
	#[error("cannot read the chain: {0}")]
	Chain(#[from] ChainError),
	/// The database failed.
	#[error("{0}")]
	Db(#[from] DbError),
	/// A background task failed.
	#[error("internal error: {0}")]
	Internal(String),
}

impl StoreError {
	/// The HTTP status of the error.
	pub fn status(&self) -> StatusCode {
		match self {
			StoreError::BadCid(_) | StoreError::Empty | StoreError::HashMismatch { .. } => {
				StatusCode::BAD_REQUEST
			},
			StoreError::BadHeader { .. } => StatusCode::BAD_REQUEST,
			StoreError::MissingHeader(_) | StoreError::BadSignature { .. } => {
				StatusCode::UNAUTHORIZED
			},
			StoreError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
			StoreError::UnknownDatanet(_) | StoreError::NotFound(_) => StatusCode::NOT_FOUND,
			StoreError::DatanetClosed(_)
			| StoreError::ContributedByOther(_)
			| StoreError::SizeMismatch { .. } => StatusCode::CONFLICT,
			StoreError::Chain(_) => StatusCode::SERVICE_UNAVAILABLE,
			StoreError::Db(_) | StoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
		}
	}

	/// A short machine-readable name of the error (the `code` of the JSON body).
	pub fn code(&self) -> &'static str {
		match self {
			StoreError::BadCid(_) => "bad_cid",
			StoreError::MissingHeader(_) => "unsigned",
			StoreError::BadHeader { .. } => "bad_header",
			StoreError::BadSignature { .. } => "bad_signature",
			StoreError::Empty => "empty",
			StoreError::TooLarge { .. } => "too_large",
			StoreError::HashMismatch { .. } => "hash_mismatch",
			StoreError::UnknownDatanet(_) => "unknown_datanet",
			StoreError::DatanetClosed(_) => "datanet_closed",
			StoreError::ContributedByOther(_) => "contributed_by_other",
			StoreError::SizeMismatch { .. } => "size_mismatch",
			StoreError::NotFound(_) => "not_found",
			StoreError::Chain(_) => "chain_unavailable",
			StoreError::Db(_) => "database",
			StoreError::Internal(_) => "internal",
		}
	}
}

impl IntoResponse for StoreError {
	fn into_response(self) -> Response {
		let status = self.status();
		if status.is_server_error() {
			tracing::error!(error = %self, "request failed");
		}
		let body =
			serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
		(status, Json(body)).into_response()
	}
}
