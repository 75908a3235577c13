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

mod read;
mod upload;

pub use crate::{
	error::StoreError,
	state::{AppState, StoreState},
};
use axum::{
	extract::DefaultBodyLimit,
	routing::{get, put},
	Router,
};

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
