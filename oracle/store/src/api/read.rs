//! The reading side: the IPFS gateway path, record metadata, curators' pending list, frozen
//! versions and Merkle proofs.

use crate::{
	chain::{ChainContribution, ChainVersion},
	cid::{parse_record_cid, record_cid_string},
};
use crate::{error::StoreError, state::AppState};
use axum::{
	extract::{Path, Query, State},
	http::{header, HeaderMap, HeaderValue, StatusCode},
	response::{IntoResponse, Response},
	Json,
};
use lineage_primitives::merkle::{version_proof, version_root};
use lineage_primitives::Hash as H256;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A version and its records, from the cache or the chain.
pub async fn load_version(
	state: &AppState,
	datanet: u32,
	version: u32,
) -> Result<Arc<(ChainVersion, Vec<ChainContribution>)>, StoreError> {
	if let Some(hit) =
		state.versions.lock().unwrap_or_else(|e| e.into_inner()).get(&(datanet, version))
	{
		return Ok(hit.clone());
	}
	let info = state.chain.version(datanet, version).await?.ok_or_else(|| {
		StoreError::NotFound(format!("datanet {datanet} has no frozen version {version}"))
	})?;
	let records = state.chain.version_records(datanet, &info).await?;
	let entry = Arc::new((info, records));
	state
		.versions
		.lock()
		.unwrap_or_else(|e| e.into_inner())
		.insert((datanet, version), entry.clone());
	Ok(entry)
}

/// `?format=raw`, as IPFS gateways take it.
#[derive(Deserialize)]
pub struct GatewayQuery {
	/// `raw` answers with `application/vnd.ipld.raw`.
	format: Option<String>,
}

/// `GET /ipfs/{cid}`: the bytes of a record whose contribution is on chain, as an IPFS gateway
/// serves a raw block (immutable, `ETag` the CID).
pub async fn gateway(
	State(state): State<AppState>,
	Path(cid): Path<String>,
	Query(query): Query<GatewayQuery>,
	headers: HeaderMap,
) -> Result<Response, StoreError> {
	let hash = parse_record_cid(&cid).map_err(|e| StoreError::BadCid(e.0))?;
	let st = state.clone();
	let (bytes, contributed) = tokio::task::spawn_blocking(move || {
		Ok::<_, StoreError>((st.db.bytes(&hash)?, st.db.is_contributed(&hash)?))
	})
	.await
	.map_err(|e| StoreError::Internal(e.to_string()))??;
	let Some(bytes) = bytes else {
		return Err(StoreError::NotFound(format!("this store holds no record {cid}")));
	};
	// Its contribution may have appeared since the last sweep.
	let contributed = contributed || crate::sweeper::confirm(&state, hash).await?;
	if !contributed {
		return Err(StoreError::NotFound(format!(
			"record {cid} was uploaded but its contribution is not on chain yet"
		)));
	}
	state.metrics.served(bytes.len());
	let raw = query.format.as_deref() == Some("raw")
		|| headers
			.get(header::ACCEPT)
			.and_then(|v| v.to_str().ok())
			.is_some_and(|v| v.contains("application/vnd.ipld.raw"));
	let content_type = if raw { "application/vnd.ipld.raw" } else { "application/octet-stream" };
	let cid = record_cid_string(&hash);
	let mut response = (StatusCode::OK, bytes).into_response();
	let h = response.headers_mut();
	h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
	h.insert(
		header::CACHE_CONTROL,
		HeaderValue::from_static("public, max-age=29030400, immutable"),
	);
	if let Ok(v) = HeaderValue::from_str(&format!("\"{cid}\"")) {
		h.insert(header::ETAG, v);
	}
	if let Ok(v) = HeaderValue::from_str(&format!("/ipfs/{cid}")) {
		h.insert("x-ipfs-path", v);
	}
	Ok(response)
}

/// What the store knows of one record.
#[derive(Serialize)]
pub struct RecordInfo {
	/// The CID.
	pub cid: String,
	/// sha-256, `0x` and hex.
	pub sha256: String,
	/// Size in bytes.
	pub size: u32,
	/// Tokens by the store's tokenizer.
	pub tokens: Option<u32>,
	/// Whether it is served (its contribution is on chain).
	pub contributed: bool,
}

/// `GET /v1/records/{cid}`.
pub async fn record(
	State(state): State<AppState>,
	Path(cid): Path<String>,
) -> Result<Json<RecordInfo>, StoreError> {
	let hash = parse_record_cid(&cid).map_err(|e| StoreError::BadCid(e.0))?;
	let meta = state
		.db
		.meta(&hash)?
		.ok_or_else(|| StoreError::NotFound(format!("this store holds no record {cid}")))?;
	Ok(Json(RecordInfo {
		cid: record_cid_string(&hash),
		sha256: format!("0x{}", hex::encode(hash)),
		size: meta.size,
		tokens: meta.tokens,
		contributed: meta.contributed > 0,
	}))
}

/// A contribution as the API lists it.
#[derive(Serialize)]
pub struct ListedRecord {
	/// The contribution id within the datanet.
	pub contribution: u32,
	/// The CID of its bytes.
	pub cid: String,
	/// sha-256, `0x` and hex (the chain's content hash).
	pub sha256: String,
	/// The contributor (SS58, prefix 42).
	pub contributor: String,
	/// The size on chain.
	pub size: u32,
	/// Tokens: declared (pending) or as established (accepted), on chain.
	pub tokens: u32,
	/// Tokens measured by this store's tokenizer, when it holds the bytes and has one.
	pub measured_tokens: Option<u32>,
	/// Whether this store holds the bytes.
	pub available: bool,
}

fn listed(state: &AppState, c: &ChainContribution) -> Result<ListedRecord, StoreError> {
	let meta = state.db.meta(&c.content_hash)?;
	Ok(ListedRecord {
		contribution: c.id,
		cid: record_cid_string(&c.content_hash),
		sha256: format!("0x{}", hex::encode(c.content_hash)),
		contributor: subxt::utils::AccountId32(c.contributor).to_string(),
		size: c.size,
		tokens: c.tokens,
		measured_tokens: meta.and_then(|m| m.tokens),
		available: meta.is_some(),
	})
}

/// `GET /v1/datanets/{datanet}/pending`: what a curator reviews — the pending contributions on
/// chain, with the store's token count and whether the bytes are here.
pub async fn pending(
	State(state): State<AppState>,
	Path(datanet): Path<u32>,
) -> Result<Json<Vec<ListedRecord>>, StoreError> {
	state.chain.datanet(datanet).await?.ok_or(StoreError::UnknownDatanet(datanet))?;
	let pending = state.chain.pending(datanet).await?;
	pending.iter().map(|c| listed(&state, c)).collect::<Result<Vec<_>, _>>().map(Json)
}

/// A frozen version as the API lists it.
#[derive(Serialize)]
pub struct VersionListing {
	/// The datanet.
	pub datanet: u32,
	/// The version.
	pub version: u32,
	/// The Merkle root on chain, `0x` and hex.
	pub merkle_root: String,
	/// Whether the root of the listed content hashes is the chain's root.
	pub root_matches: bool,
	/// The version's weight, and the weight frozen through it.
	pub weight: String,
	/// The weight frozen in versions 1..=this.
	pub total_weight: String,
	/// The records, in the version's order.
	pub records: Vec<ListedRecord>,
}

/// `GET /v1/datanets/{datanet}/versions/{version}`.
pub async fn version(
	State(state): State<AppState>,
	Path((datanet, version)): Path<(u32, u32)>,
) -> Result<Json<VersionListing>, StoreError> {
	let entry = load_version(&state, datanet, version).await?;
	let (info, records) = (&entry.0, &entry.1);
	let hashes: Vec<H256> = records.iter().map(|c| H256::from(c.content_hash)).collect();
	Ok(Json(VersionListing {
		datanet,
		version,
		merkle_root: format!("0x{}", hex::encode(info.merkle_root)),
		root_matches: version_root(&hashes).0 == info.merkle_root,
		weight: info.weight.to_string(),
		total_weight: info.total_weight.to_string(),
		records: records.iter().map(|c| listed(&state, c)).collect::<Result<Vec<_>, _>>()?,
	}))
}

/// A record's Merkle proof within a version.
#[derive(Serialize)]
pub struct ProofAnswer {
	/// The record's index within the version.
	pub index: u32,
	/// The number of records in the version.
	pub count: u32,
	/// The chain's root, `0x` and hex.
	pub merkle_root: String,
	/// The record's CID.
	pub cid: String,
	/// sha-256 of the record (the leaf's preimage), `0x` and hex.
	pub sha256: String,
	/// The sibling hashes from the leaf up, `0x` and hex.
	pub proof: Vec<String>,
}

/// `GET /v1/datanets/{datanet}/versions/{version}/proofs/{index}`.
pub async fn proof(
	State(state): State<AppState>,
	Path((datanet, version, index)): Path<(u32, u32, u32)>,
) -> Result<Json<ProofAnswer>, StoreError> {
	let entry = load_version(&state, datanet, version).await?;
	let (info, records) = (&entry.0, &entry.1);
	let record = records.get(index as usize).ok_or_else(|| {
		StoreError::NotFound(format!(
			"version {version} of datanet {datanet} has {} records; there is no index {index}",
			records.len()
		))
	})?;
	let hashes: Vec<H256> = records.iter().map(|c| H256::from(c.content_hash)).collect();
	let proof = version_proof(&hashes, index);
	Ok(Json(ProofAnswer {
		index,
		count: info.records,
		merkle_root: format!("0x{}", hex::encode(info.merkle_root)),
		cid: record_cid_string(&record.content_hash),
		sha256: format!("0x{}", hex::encode(record.content_hash)),
		proof: proof.proof.iter().map(|h| format!("0x{}", hex::encode(h.0))).collect(),
	}))
}

/// `GET /health`: the store's record and byte counts.
pub async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, StoreError> {
	let (records, bytes) = state.db.totals()?;
	Ok(Json(serde_json::json!({ "status": "ok", "records": records, "bytes": bytes })))
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
	match state.metrics.render() {
		Ok(text) => (StatusCode::OK, text).into_response(),
		Err(e) => StoreError::Internal(e).into_response(),
	}
}

/// Any other path.
pub async fn not_found() -> StoreError {
	StoreError::NotFound("no such endpoint: see the record store's API in its crate docs".into())
}
