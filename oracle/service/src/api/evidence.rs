//! `GET /v1/usage/{id}`: the evidence a payer checks and disputes with.
//!
//! `id` is a response's id (`chatcmpl-…`, `cmpl-…`) or the journal's request id (`0x` and 64
//! hex digits, sha256 of the response id). The answer holds the usage record (and its SCALE
//! bytes, the Merkle leaf), the payer's signed authorisation of the request (its spend limit
//! and signature), and once the record is batched, the batch's sequence, state and records root
//! with the record's Merkle proof, which
//! [`lineage_primitives::usage::verify_record`] checks against the root the chain holds in
//! `Usage::Batches`. A payer who finds a charge they did not sign for disputes it with
//! `Usage::dispute`. Knowing a response id is the capability: the oracle hands it only to the
//! client that made the request.

use axum::{
	extract::{Path, State},
	Json,
};
use codec::Encode;
use serde_json::{json, Value};
use subxt::utils::AccountId32;

use super::{error::ApiError, state::AppState};
use crate::{
	chain::gate::request_id,
	journal::{BatchState, Evidence},
};

/// `0x` and lower-case hex.
fn hex0x(bytes: impl AsRef<[u8]>) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// The request id `id` names: parsed from `0x…`, or sha256 of a response id.
fn parse_id(id: &str) -> Result<[u8; 32], ApiError> {
	if let Some(hex) = id.strip_prefix("0x") {
		let mut out = [0u8; 32];
		hex::decode_to_slice(hex, &mut out).map_err(|e| {
			ApiError::invalid(format!("a request id is 0x and 64 hex digits ({e})"), "id")
		})?;
		return Ok(out);
	}
	if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
		return Err(ApiError::invalid(
			"name a response id (chatcmpl-…) or a request id (0x and 64 hex digits)",
			"id",
		));
	}
	Ok(request_id(id).0)
}

/// The JSON of `evidence`.
fn to_json(e: &Evidence) -> Value {
	let r = &e.record;
	let state = |s: &BatchState| match s {
		BatchState::Signed => json!({ "state": "signed" }),
		BatchState::Finalized { block, total_fee } => {
			json!({ "state": "finalized", "block": block, "total_fee": total_fee.to_string() })
		},
		BatchState::Settled { block, total_fee } => {
			json!({ "state": "settled", "block": block, "total_fee": total_fee.to_string() })
		},
	};
	json!({
		"request_id": hex0x(r.request_id),
		"record": {
			"payer": AccountId32(r.payer.clone().into()).to_string(),
			"adapter": r.adapter,
			"input_tokens": r.input_tokens,
			"output_tokens": r.output_tokens,
			"response_sha256": hex0x(r.response_hash),
			"finished_at_ms": r.finished_at_ms,
			"served_at": r.served_at,
			"matched": r.matched.iter().map(|m| json!({
				"datanet": m.datanet,
				"version": m.version,
				"contributor": AccountId32(m.contributor.clone().into()).to_string(),
				"parts_per_billion": m.share.deconstruct(),
			})).collect::<Vec<_>>(),
			"scale": hex0x(r.encode()),
		},
		"authorization": e.voucher.as_ref().map(|v| json!({
			"timestamp_ms": v.timestamp_ms,
			"nonce": v.nonce,
			"spend_limit": v.spend_limit.to_string(),
			"target_sha256": hex0x(v.target_sha256),
			"body_sha256": hex0x(v.body_sha256),
			"wrapped": v.wrapped,
			"scale": hex0x(v.encode()),
		})),
		"batch": e.batch.as_ref().map(|b| json!({
			"sequence": b.sequence,
			"status": state(&b.state),
			"records_root": hex0x(b.records_root),
			"leaves": b.leaves,
			"index": b.index,
			"proof": b.proof.iter().map(hex0x).collect::<Vec<_>>(),
		})),
		"rejected": e.rejected,
		"lineage": e.lineage.as_deref().and_then(|l| serde_json::from_slice::<Value>(l).ok()),
	})
}

/// `GET /v1/usage/{id}` (see the module doc): 404 for a request this oracle never recorded, or
/// on a server that keeps no journal.
pub async fn usage_evidence(
	State(state): State<AppState>,
	Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
	let request = parse_id(&id)?;
	let Some(journal) = state.journal.clone() else {
		return Err(ApiError::RouteNotFound(
			"/v1/usage: this oracle is not joined to a chain and keeps no usage journal".into(),
		));
	};
	let found = tokio::task::spawn_blocking(move || journal.evidence(&request))
		.await
		.map_err(|e| ApiError::internal(format!("the journal read panicked: {e}")))?
		.map_err(|e| ApiError::internal(format!("the journal read failed: {e}")))?;
	match found {
		Some(evidence) => Ok(Json(to_json(&evidence))),
		None => Err(ApiError::UsageNotFound(id)),
	}
}
