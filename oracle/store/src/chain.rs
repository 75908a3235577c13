//! What the store reads from the chain: datanets, contributions and frozen versions, through
//! the subxt types of `lineage-chain`. Every answer is read at the latest finalized block.

use futures::{stream, StreamExt, TryStreamExt};
use lineage_chain::{
	lineage::{
		self,
		runtime_types::pallet_datanets::{ContributionInfo, ContributionStatus, DatanetStatus},
	},
	rpc_err, BlockClient, ChainError, LineageClient,
};
use subxt::utils::H256;

/// How many storage reads are in flight at once when a whole version is read.
const READ_CONCURRENCY: usize = 32;

/// How often to ask again for the latest finalized block when the node has announced it but
/// cannot serve its header yet (a race subxt reports under load).
const AT_ATTEMPTS: u32 = 5;

/// A contribution as the chain holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainContribution {
	/// Its id within the datanet.
	pub id: u32,
	/// Who contributed it.
	pub contributor: [u8; 32],
	/// sha-256 of its bytes.
	pub content_hash: [u8; 32],
	/// Its size in bytes, as declared.
	pub size: u32,
	/// Its token count (declared while pending; as established once accepted).
	pub tokens: u32,
	/// Pending or accepted.
	pub state: ContributionState,
}

/// Where a contribution stands on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContributionState {
	/// Waiting for a curator.
	Pending,
	/// Accepted into `version` (frozen when `version` is at most the datanet's version count).
	Accepted {
		/// The version it is in, or will be frozen in.
		version: u32,
		/// Its place in the datanet's acceptance order.
		index: u32,
		/// Its weight.
		weight: u128,
	},
}

/// A frozen version as the chain holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainVersion {
	/// The Merkle root of its records' content hashes.
	pub merkle_root: [u8; 32],
	/// How many records it holds.
	pub records: u32,
	/// The acceptance index of its first record.
	pub first_record: u32,
	/// Its own weight.
	pub weight: u128,
	/// The weight frozen in versions 1..=this.
	pub total_weight: u128,
}

/// A datanet as the store needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainDatanet {
	/// Whether it still takes contributions.
	pub active: bool,
	/// How many versions it has frozen.
	pub version_count: u32,
}

/// The store's view of the chain.
#[derive(Clone)]
pub struct ChainView {
	client: LineageClient,
}

impl ChainView {
	/// A view through `client`.
	pub fn new(client: LineageClient) -> Self {
		ChainView { client }
	}

	/// A client at the latest finalized block, asking again (briefly) when the node announced a
	/// block it cannot serve yet.
	async fn at(&self) -> Result<BlockClient, ChainError> {
		let mut attempt = 1;
		loop {
			match self.client.at_current_block().await {
				Ok(at) => return Ok(at),
				Err(e) if attempt < AT_ATTEMPTS => {
					tracing::debug!(error = %e, attempt, "latest block not served yet; asking again");
					tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
						.await;
					attempt += 1;
				},
				Err(e) => return Err(rpc_err(e)),
			}
		}
	}

	/// The chain's genesis hash (what upload signatures name).
	pub fn genesis_hash(&self) -> [u8; 32] {
		self.client.genesis_hash().0
	}

	/// The largest record the chain accepts, in bytes (`Datanets::MaxRecordBytes`).
	pub async fn max_record_bytes(&self) -> Result<u32, ChainError> {
		let at = self.at().await?;
		at.constants().entry(lineage::constants().datanets().max_record_bytes()).map_err(rpc_err)
	}

	/// `datanet`, if it exists.
	pub async fn datanet(&self, datanet: u32) -> Result<Option<ChainDatanet>, ChainError> {
		let at = self.at().await?;
		let v = at
			.storage()
			.try_fetch(lineage::storage().datanets().datanets(), (datanet,))
			.await
			.map_err(rpc_err)?;
		let info = v.map(|v| v.decode()).transpose().map_err(rpc_err)?;
		Ok(info.map(|info| ChainDatanet {
			active: matches!(info.status, DatanetStatus::Active),
			version_count: info.version_count,
		}))
	}

	/// The contribution of the record hashing to `hash` in `datanet`, if there is one.
	pub async fn contribution_by_hash(
		&self,
		datanet: u32,
		hash: &[u8; 32],
	) -> Result<Option<ChainContribution>, ChainError> {
		let at = self.at().await?;
		let id = at
			.storage()
			.try_fetch(lineage::storage().datanets().content_index(), (datanet, H256(*hash)))
			.await
			.map_err(rpc_err)?
			.map(|v| v.decode())
			.transpose()
			.map_err(rpc_err)?;
		match id {
			Some(id) => contribution_at(&at, datanet, id).await,
			None => Ok(None),
		}
	}

	/// Contribution `id` of `datanet`, if it exists.
	pub async fn contribution(
		&self,
		datanet: u32,
		id: u32,
	) -> Result<Option<ChainContribution>, ChainError> {
		contribution_at(&self.at().await?, datanet, id).await
	}

	/// The contributions of `datanet` waiting for a curator, by id.
	pub async fn pending(&self, datanet: u32) -> Result<Vec<ChainContribution>, ChainError> {
		let at = self.at().await?;
		let entry =
			at.storage().entry(lineage::storage().datanets().contributions()).map_err(rpc_err)?;
		let mut iter = entry.iter((datanet,)).await.map_err(rpc_err)?;
		let mut out = Vec::new();
		while let Some(kv) = iter.next().await {
			let kv = kv.map_err(rpc_err)?;
			let (_, id) = kv.key().map_err(rpc_err)?.decode().map_err(rpc_err)?;
			let info = kv.value().decode().map_err(rpc_err)?;
			if matches!(info.status, ContributionStatus::Pending) {
				out.push(ChainContribution::from_info(id, info));
			}
		}
		out.sort_by_key(|c| c.id);
		Ok(out)
	}

	/// Version `version` of `datanet`, if it is frozen.
	pub async fn version(
		&self,
		datanet: u32,
		version: u32,
	) -> Result<Option<ChainVersion>, ChainError> {
		let at = self.at().await?;
		let v = at
			.storage()
			.try_fetch(lineage::storage().datanets().versions(), (datanet, version))
			.await
			.map_err(rpc_err)?;
		let info = v.map(|v| v.decode()).transpose().map_err(rpc_err)?;
		Ok(info.map(|v| ChainVersion {
			merkle_root: v.merkle_root.0,
			records: v.records,
			first_record: v.first_record,
			weight: v.weight,
			total_weight: v.total_weight,
		}))
	}

	/// The records of a frozen version in their order (acceptance order), read from the chain:
	/// `AcceptedOrder` for each index of the version, then each contribution.
	pub async fn version_records(
		&self,
		datanet: u32,
		version: &ChainVersion,
	) -> Result<Vec<ChainContribution>, ChainError> {
		let at = self.at().await?;
		let first = version.first_record;
		let last = first.checked_add(version.records).ok_or_else(|| {
			ChainError::Setup(format!("datanet {datanet}: a version's record range overflows"))
		})?;
		let at = &at;
		stream::iter(first..last)
			.map(|index| async move {
				let id = at
					.storage()
					.try_fetch(lineage::storage().datanets().accepted_order(), (datanet, index))
					.await
					.map_err(rpc_err)?
					.map(|v| v.decode())
					.transpose()
					.map_err(rpc_err)?
					.ok_or_else(|| {
						ChainError::Setup(format!(
							"datanet {datanet}: no record at acceptance index {index}"
						))
					})?;
				contribution_at(at, datanet, id).await?.ok_or_else(|| {
					ChainError::Setup(format!("datanet {datanet}: contribution {id} is missing"))
				})
			})
			.buffered(READ_CONCURRENCY)
			.try_collect()
			.await
	}
}

/// Contribution `id` of `datanet` in the state of `at`, if it exists.
async fn contribution_at(
	at: &BlockClient,
	datanet: u32,
	id: u32,
) -> Result<Option<ChainContribution>, ChainError> {
	let v = at
		.storage()
		.try_fetch(lineage::storage().datanets().contributions(), (datanet, id))
		.await
		.map_err(rpc_err)?;
	let info = v.map(|v| v.decode()).transpose().map_err(rpc_err)?;
	Ok(info.map(|info| ChainContribution::from_info(id, info)))
}

impl ChainContribution {
	/// Contribution `id` from its stored form.
	fn from_info(id: u32, info: ContributionInfo) -> Self {
		let (tokens, state) = match info.status {
			ContributionStatus::Pending => (info.tokens, ContributionState::Pending),
			ContributionStatus::Accepted { tokens, weight, index, version, .. } => {
				(tokens, ContributionState::Accepted { version, index, weight })
			},
		};
		ChainContribution {
			id,
			contributor: info.contributor.0,
			content_hash: info.content_hash.0,
			size: info.size_bytes,
			tokens,
			state,
		}
	}
}
