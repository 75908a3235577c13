//! `PUT /v1/datanets/{datanet}/records/{cid}`: a contributor hands a record's bytes to the
//! store.
//!
//! The checks, cheapest first, each refusing with its own status and reason and storing
//! nothing: the CID names a raw sha-256 record (400); the contributor and signature headers are
//! there and parse (401, 400); the body is not empty (400) and within the chain's
//! `MaxRecordBytes` (413); its sha-256 is the CID's (400); the signature is the contributor's
//! over (domain, genesis hash, datanet, sha-256) (401); the datanet exists (404) and is active
//! (409); and if the chain already has the record in this datanet, it is this contributor's and
//! of this size (409).
//!
//! The answer is `201 Created` when the contribution is already on chain, and `202 Accepted`
//! when it is not yet: the store keeps the bytes for the upload window and drops them unless
//! the contribution appears on chain in time (the sweeper checks).

use crate::{
	chain::ContributionState,
	cid::{parse_record_cid, record_cid_string},
	db::{Placement, PlacementState, PutOutcome},
};
use crate::{error::StoreError, state::AppState};
use axum::{
	body::Bytes,
	extract::{rejection::BytesRejection, Path, State},
	http::{HeaderMap, StatusCode},
	Json,
};
use lineage_chain::{
	payer::parse_account,
	record::{RecordUpload, CONTRIBUTOR_HEADER, SIGNATURE_HEADER},
	time::unix_time_ms,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The answer to an upload.
#[derive(Debug, Serialize)]
pub struct Uploaded {
	/// The record's CID.
	pub cid: String,
	/// Its sha-256, `0x` and hex: the content hash to contribute on chain.
	pub sha256: String,
	/// Its size in bytes.
	pub size: u32,
	/// Its token count by the store's tokenizer, when it has one.
	pub tokens: Option<u32>,
	/// `contributed` (on chain already) or `awaiting-contribution`.
	pub status: &'static str,
	/// When an upload awaiting its contribution is dropped, Unix milliseconds.
	pub expires_ms: Option<u64>,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, StoreError> {
	let value = headers.get(name).ok_or(StoreError::MissingHeader(name))?;
	value.to_str().map_err(|_| StoreError::BadHeader { header: name, reason: "not ASCII".into() })
}

fn signature(text: &str) -> Result<[u8; 64], StoreError> {
	let mut out = [0u8; 64];
	let hex = text.strip_prefix("0x").unwrap_or(text);
	hex::decode_to_slice(hex, &mut out).map_err(|e| StoreError::BadHeader {
		header: SIGNATURE_HEADER,
		reason: format!("expected 0x and 128 hex digits ({e})"),
	})?;
	Ok(out)
}

/// The handler.
pub async fn upload(
	State(state): State<AppState>,
	Path((datanet, cid)): Path<(u32, String)>,
	headers: HeaderMap,
	body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Uploaded>), StoreError> {
	let outcome = upload_inner(&state, datanet, &cid, &headers, body).await;
	state.metrics.upload(match &outcome {
		Ok(_) => "stored",
		Err(e) => e.code(),
	});
	outcome
}

async fn upload_inner(
	state: &AppState,
	datanet: u32,
	cid: &str,
	headers: &HeaderMap,
	body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Uploaded>), StoreError> {
	let hash = parse_record_cid(cid).map_err(|e| StoreError::BadCid(e.0))?;
	let contributor = parse_account(header(headers, CONTRIBUTOR_HEADER)?)
		.map_err(|e| StoreError::BadHeader { header: CONTRIBUTOR_HEADER, reason: e.0 })?;
	let signature = signature(header(headers, SIGNATURE_HEADER)?)?;
	let limit = state.max_record_bytes;
	// Axum refuses a body over its limit (the record limit plus one byte) before it is read.
	let body = body.map_err(|_| StoreError::TooLarge { limit })?;
	if body.is_empty() {
		return Err(StoreError::Empty);
	}
	let size = u32::try_from(body.len()).ok().filter(|s| *s <= limit);
	let size = size.ok_or(StoreError::TooLarge { limit })?;
	let actual: [u8; 32] = Sha256::digest(&body).into();
	if actual != hash {
		return Err(StoreError::HashMismatch {
			expected: hex::encode(hash),
			actual: hex::encode(actual),
		});
	}
	let upload = RecordUpload::new(state.chain.genesis_hash(), datanet, contributor, hash);
	if !upload.verify(&signature) {
		return Err(StoreError::BadSignature { datanet });
	}
	let info = state.chain.datanet(datanet).await?.ok_or(StoreError::UnknownDatanet(datanet))?;
	let on_chain = state.chain.contribution_by_hash(datanet, &hash).await?;
	let now = unix_time_ms();
	let placement_state = match on_chain {
		Some(c) if c.contributor != contributor => {
			return Err(StoreError::ContributedByOther(datanet))
		},
		Some(c) if c.size != size => {
			return Err(StoreError::SizeMismatch { declared: c.size, actual: size })
		},
		Some(c) => PlacementState::Contributed {
			contribution: c.id,
			frozen: matches!(c.state, ContributionState::Accepted { version, .. }
				if version <= info.version_count),
		},
		None if !info.active => return Err(StoreError::DatanetClosed(datanet)),
		None => PlacementState::Uploaded {
			expires_ms: now.saturating_add(state.window.as_millis() as u64),
		},
	};
	let tokens = match &state.tokens {
		Some(counter) => {
			let counter = counter.clone();
			let bytes = body.clone();
			tokio::task::spawn_blocking(move || counter.count(&bytes))
				.await
				.map_err(|e| StoreError::Internal(e.to_string()))?
		},
		None => None,
	};
	let placement = Placement { contributor, uploaded_ms: now, state: placement_state };
	let db_state = {
		let st = state.clone();
		let body = body.clone();
		tokio::task::spawn_blocking(move || st.db.put(datanet, &hash, &body, tokens, placement))
			.await
			.map_err(|e| StoreError::Internal(e.to_string()))??
	};
	let (stored, tokens) = match db_state {
		PutOutcome::Stored => (placement, tokens),
		PutOutcome::AlreadyThere(existing) => {
			if existing.contributor != contributor {
				return Err(StoreError::ContributedByOther(datanet));
			}
			let measured = state.db.meta(&hash)?.and_then(|m| m.tokens);
			if existing.state != placement_state {
				state.db.set_state(datanet, &hash, placement_state)?;
			}
			(Placement { state: placement_state, ..existing }, measured)
		},
	};
	state.metrics.stored_bytes(size);
	let (status, text, expires_ms) = match stored.state {
		PlacementState::Contributed { .. } => (StatusCode::CREATED, "contributed", None),
		PlacementState::Uploaded { expires_ms } => {
			(StatusCode::ACCEPTED, "awaiting-contribution", Some(expires_ms))
		},
	};
	Ok((
		status,
		Json(Uploaded {
			cid: record_cid_string(&hash),
			sha256: format!("0x{}", hex::encode(hash)),
			size,
			tokens,
			status: text,
			expires_ms,
		}),
	))
}
