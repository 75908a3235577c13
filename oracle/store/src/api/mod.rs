//! The store's HTTP API (axum). Handlers check what the caller sent, read the chain, and hand
//! bytes to the database; they never hold a record only in memory.
//!
//! | method and path | what |
//! |---|---|
//! | `PUT /v1/datanets/{datanet}/records/{cid}` | upload a record (signed by the contributor) |
//! | `GET /ipfs/{cid}` | a record's bytes, IPFS gateway path (contributed records only) |
//! | `GET /v1/records/{cid}` | what the store knows of a record (size, measured tokens) |
//! | `GET /v1/datanets/{datanet}/pending` | the contributions waiting for a curator, with their tokens |
//! | `GET /v1/datanets/{datanet}/versions/{version}` | a frozen version: its root and ordered records |
//! | `GET /v1/datanets/{datanet}/versions/{version}/proofs/{index}` | a record's Merkle proof |
//! | `GET /health` | the record and byte counts |
//! | `GET /metrics` | Prometheus metrics (`lineage_store_…`) |

mod error;
mod read;
mod upload;

pub use error::StoreError;

use crate::{chain::ChainView, db::Db, metrics::Metrics, tokens::TokenCounter};
use axum::{
	extract::DefaultBodyLimit,
	routing::{get, put},
	Router,
};
use std::{sync::Arc, time::Duration};

/// What every handler shares.
pub struct StoreState {
	/// The database.
	pub db: Db,
	/// The chain.
	pub chain: ChainView,
	/// The largest record, in bytes (the chain's `MaxRecordBytes`).
	pub max_record_bytes: u32,
	/// How long an upload waits for its contribution on chain before it is dropped.
	pub window: Duration,
	/// Counts tokens with the base model's tokenizer, when the store has it.
	pub tokens: Option<TokenCounter>,
	/// Metrics.
	pub metrics: Metrics,
	/// Frozen versions' record lists, read once from the chain (they never change).
	pub versions: read::VersionCache,
}

/// Shared state.
pub type AppState = Arc<StoreState>;

/// The router over `state`.
pub fn router(state: AppState) -> Router {
	// Room for the largest record and a little more, so that an oversize body gets the store's
	// own 413 with the limit in it.
	let limit = state.max_record_bytes as usize + 1;
	Router::new()
		.route("/v1/datanets/{datanet}/records/{cid}", put(upload::upload))
		.route("/ipfs/{cid}", get(read::gateway))
		.route("/v1/records/{cid}", get(read::record))
		.route("/v1/datanets/{datanet}/pending", get(read::pending))
		.route("/v1/datanets/{datanet}/versions/{version}", get(read::version))
		.route("/v1/datanets/{datanet}/versions/{version}/proofs/{index}", get(read::proof))
		.route("/health", get(read::health))
		.route("/metrics", get(read::metrics))
		.fallback(read::not_found)
		.layer(DefaultBodyLimit::max(limit))
		.with_state(state)
}
