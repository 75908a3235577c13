//! The reading client: fetches a frozen version's records from a record store and checks every
//! byte against the chain. The fine-tuning tool and the demo read datanets through it.
//!
//! What is trusted is the chain only. The version's ordered list of content hashes is read from
//! the chain (`AcceptedOrder` and `Contributions`), its Merkle root is recomputed and compared
//! with the version's root on chain, and each record's bytes are fetched from the store's
//! gateway path and hashed. A record that does not verify is refused with its index,
//! contribution id and CID. [`verify_record`] checks one record by its Merkle proof alone, as a
//! light client would.

use crate::{
	chain::{ChainContribution, ChainView},
	cid::record_cid_string,
};
use futures::{stream, StreamExt, TryStreamExt};
use lineage_chain::ChainError;
use lineage_primitives::{
	merkle::{verify_version_proof, version_root},
	Hash as H256,
};
use sha2::{Digest, Sha256};

/// How many records are fetched at once.
const FETCH_CONCURRENCY: usize = 16;

/// Why a version or a record was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
	/// The chain has no such version.
	#[error("datanet {datanet} has no frozen version {version} on chain")]
	UnknownVersion {
		/// The datanet.
		datanet: u32,
		/// The version.
		version: u32,
	},
	/// The chain's list does not hash to the chain's root (a broken node or client).
	#[error("the chain's records of datanet {datanet} v{version} do not hash to its root")]
	RootMismatch {
		/// The datanet.
		datanet: u32,
		/// The version.
		version: u32,
	},
	/// The store did not give a record's bytes.
	#[error("record {index} (contribution {contribution}, {cid}): the store answered {reason}")]
	Unavailable {
		/// Its index within the version.
		index: u32,
		/// Its contribution id.
		contribution: u32,
		/// Its CID.
		cid: String,
		/// What the store said.
		reason: String,
	},
	/// The bytes the store gave do not hash to the chain's content hash.
	#[error(
		"record {index} (contribution {contribution}, {cid}): the store's bytes hash to {actual}, \
		 not to the chain's content hash; refusing them"
	)]
	Mismatch {
		/// Its index within the version.
		index: u32,
		/// Its contribution id.
		contribution: u32,
		/// Its CID.
		cid: String,
		/// What the bytes hash to (hex).
		actual: String,
	},
	/// A Merkle proof from the store does not lead to the chain's root.
	#[error("record {index} ({cid}): its Merkle proof does not lead to the chain's root")]
	BadProof {
		/// Its index within the version.
		index: u32,
		/// Its CID.
		cid: String,
	},
	/// The chain could not be read.
	#[error("{0}")]
	Chain(#[from] ChainError),
}

/// One verified record.
#[derive(Clone, Debug)]
pub struct VerifiedRecord {
	/// Its contribution on chain.
	pub contribution: ChainContribution,
	/// Its bytes, checked against the chain's content hash.
	pub bytes: Vec<u8>,
}

/// A verified version.
#[derive(Clone, Debug)]
pub struct VerifiedVersion {
	/// The datanet.
	pub datanet: u32,
	/// The version.
	pub version: u32,
	/// The root on chain (which the records hash to).
	pub merkle_root: [u8; 32],
	/// The version's weight.
	pub weight: u128,
	/// The records in the version's order.
	pub records: Vec<VerifiedRecord>,
}

impl VerifiedVersion {
	/// The bytes of all records.
	pub fn total_bytes(&self) -> u64 {
		self.records.iter().map(|r| r.bytes.len() as u64).sum()
	}
}

/// A client of one record store.
#[derive(Clone)]
pub struct StoreClient {
	http: reqwest::Client,
	base: String,
}

impl StoreClient {
	/// A client of the store at `base` (`http://127.0.0.1:8100`).
	pub fn new(base: &str) -> Self {
		StoreClient { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_string() }
	}

	/// The store's base URL.
	pub fn base(&self) -> &str {
		&self.base
	}

	/// The HTTP client.
	pub fn http(&self) -> &reqwest::Client {
		&self.http
	}

	/// `GET /ipfs/{cid}`: the bytes, or the store's status and reason.
	pub async fn fetch(&self, cid: &str) -> Result<Vec<u8>, String> {
		let url = format!("{}/ipfs/{cid}", self.base);
		let response = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
		let status = response.status();
		let body = response.bytes().await.map_err(|e| e.to_string())?;
		if status.is_success() {
			Ok(body.to_vec())
		} else {
			Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
		}
	}

	/// Reads version `version` of `datanet`: the list and root from the chain, each record's
	/// bytes from the store, every byte checked.
	pub async fn verified_version(
		&self,
		chain: &ChainView,
		datanet: u32,
		version: u32,
	) -> Result<VerifiedVersion, VerifyError> {
		let info = chain
			.version(datanet, version)
			.await?
			.ok_or(VerifyError::UnknownVersion { datanet, version })?;
		let contributions = chain.version_records(datanet, &info).await?;
		let hashes: Vec<H256> = contributions.iter().map(|c| H256::from(c.content_hash)).collect();
		if version_root(&hashes).0 != info.merkle_root {
			return Err(VerifyError::RootMismatch { datanet, version });
		}
		let records = stream::iter(contributions.into_iter().enumerate())
			.map(|(index, contribution)| async move {
				let index = index as u32;
				let cid = record_cid_string(&contribution.content_hash);
				let bytes = self.fetch(&cid).await.map_err(|reason| VerifyError::Unavailable {
					index,
					contribution: contribution.id,
					cid: cid.clone(),
					reason,
				})?;
				let actual: [u8; 32] = Sha256::digest(&bytes).into();
				if actual != contribution.content_hash {
					return Err(VerifyError::Mismatch {
						index,
						contribution: contribution.id,
						cid,
						actual: hex::encode(actual),
					});
				}
				Ok(VerifiedRecord { contribution, bytes })
			})
			.buffered(FETCH_CONCURRENCY)
			.try_collect()
			.await?;
		Ok(VerifiedVersion {
			datanet,
			version,
			merkle_root: info.merkle_root,
			weight: info.weight,
			records,
		})
	}

	/// Checks record `index` of a version by its Merkle proof alone: the proof and the bytes
	/// from the store, the root and the record count from the chain. Returns the bytes.
	pub async fn verify_record(
		&self,
		chain: &ChainView,
		datanet: u32,
		version: u32,
		index: u32,
	) -> Result<Vec<u8>, VerifyError> {
		let info = chain
			.version(datanet, version)
			.await?
			.ok_or(VerifyError::UnknownVersion { datanet, version })?;
		let url = format!("{}/v1/datanets/{datanet}/versions/{version}/proofs/{index}", self.base);
		let unavailable = |reason: String| VerifyError::Unavailable {
			index,
			contribution: u32::MAX,
			cid: String::new(),
			reason,
		};
		let response = self.http.get(&url).send().await.map_err(|e| unavailable(e.to_string()))?;
		let status = response.status();
		let text = response.text().await.map_err(|e| unavailable(e.to_string()))?;
		if !status.is_success() {
			return Err(unavailable(format!("{status}: {text}")));
		}
		let answer: serde_json::Value =
			serde_json::from_str(&text).map_err(|e| unavailable(e.to_string()))?;
		let cid = answer["cid"].as_str().unwrap_or_default().to_string();
		let proof: Vec<H256> = answer["proof"]
			.as_array()
			.map(|a| a.iter().filter_map(|h| h.as_str().and_then(parse_h256)).collect())
			.unwrap_or_default();
		let bytes = self.fetch(&cid).await.map_err(|reason| VerifyError::Unavailable {
			index,
			contribution: u32::MAX,
			cid: cid.clone(),
			reason,
		})?;
		let hash = H256::from(<[u8; 32]>::from(Sha256::digest(&bytes)));
		if !verify_version_proof(&H256::from(info.merkle_root), proof, info.records, index, &hash) {
			return Err(VerifyError::BadProof { index, cid });
		}
		Ok(bytes)
	}
}

fn parse_h256(text: &str) -> Option<H256> {
	let mut out = [0u8; 32];
	hex::decode_to_slice(text.strip_prefix("0x")?, &mut out).ok()?;
	Some(H256::from(out))
}

/// The store's answer to an upload: its status and its JSON body.
#[derive(Clone, Debug)]
pub struct UploadAnswer {
	/// The HTTP status.
	pub status: reqwest::StatusCode,
	/// The JSON body (the record's CID, sha-256, size and tokens; or the error).
	pub body: serde_json::Value,
}

impl StoreClient {
	/// Uploads `bytes` to `datanet`, signed by `signer` for the chain with `genesis_hash`.
	pub async fn upload(
		&self,
		signer: &subxt_signer::sr25519::Keypair,
		genesis_hash: [u8; 32],
		datanet: u32,
		bytes: Vec<u8>,
	) -> Result<UploadAnswer, reqwest::Error> {
		let hash: [u8; 32] = Sha256::digest(&bytes).into();
		let url =
			format!("{}/v1/datanets/{datanet}/records/{}", self.base, record_cid_string(&hash));
		let mut request = self.http.put(url).body(bytes);
		for (name, value) in lineage_chain::record::sign_upload(signer, genesis_hash, datanet, hash)
		{
			request = request.header(name, value);
		}
		let response = request.send().await?;
		let status = response.status();
		let body = response.json().await.unwrap_or(serde_json::Value::Null);
		Ok(UploadAnswer { status, body })
	}
}
