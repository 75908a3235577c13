//! Where an adapter's training data comes from in chain mode: its training versions from
//! `Models::Adapters` (the lineage the author registered), each version's records from the
//! datanet's record store, every byte checked against the chain's content hashes and Merkle
//! root ([`lineage_store::client::StoreClient::verified_version`]). The inference layer's
//! [`Tracer`](crate::infer::lineage::Tracer) builds the span indexes from them.

use std::sync::Arc;

use futures::future::BoxFuture;
use lineage_chain::{lineage, rpc_err, LineageClient};
use lineage_primitives::Hash;
use lineage_store::{chain::ChainView, client::StoreClient};
use lineage_trace::RecordMeta;

use super::registry::Registry;
use crate::infer::lineage::{VersionRecord, VersionRef, VersionSource};

/// Training versions from the chain, records from a record store.
pub struct ChainVersions {
	client: LineageClient,
	view: ChainView,
	store: StoreClient,
	registry: Arc<Registry>,
}

impl ChainVersions {
	/// Reads through `client`, resolves adapters with `registry`, fetches records from the
	/// record store at `store_url`.
	pub fn new(client: LineageClient, registry: Arc<Registry>, store_url: &str) -> Self {
		ChainVersions {
			view: ChainView::new(client.clone()),
			client,
			store: StoreClient::new(store_url),
			registry,
		}
	}
}

impl VersionSource for ChainVersions {
	fn training(&self, adapter: Hash) -> BoxFuture<'_, Result<Vec<VersionRef>, String>> {
		Box::pin(async move {
			let id = self
				.registry
				.get(&adapter)
				.ok_or_else(|| "the adapter is not registered on chain".to_string())?
				.id;
			let at = self.client.at_current_block().await.map_err(|e| rpc_err(e).to_string())?;
			let info = at
				.storage()
				.try_fetch(lineage::storage().models().adapters(), (id,))
				.await
				.map_err(|e| rpc_err(e).to_string())?
				.ok_or_else(|| format!("adapter {id} is no longer on chain"))?
				.decode()
				.map_err(|e| rpc_err(e).to_string())?;
			let mut versions = Vec::new();
			for (v, _weight) in info.training.0 {
				let found = self
					.view
					.version(v.datanet, v.version)
					.await
					.map_err(|e| e.to_string())?
					.ok_or_else(|| {
						format!("datanet {} v{} is not on chain", v.datanet, v.version)
					})?;
				versions.push(VersionRef {
					datanet: v.datanet,
					version: v.version,
					root: found.merkle_root,
				});
			}
			Ok(versions)
		})
	}

	fn records(&self, v: VersionRef) -> BoxFuture<'_, Result<Vec<VersionRecord>, String>> {
		Box::pin(async move {
			let verified = self
				.store
				.verified_version(&self.view, v.datanet, v.version)
				.await
				.map_err(|e| format!("reading its records from {}: {e}", self.store.base()))?;
			if verified.merkle_root != v.root {
				return Err("its root changed while it was read".into());
			}
			Ok(verified
				.records
				.into_iter()
				.enumerate()
				.map(|(index, r)| VersionRecord {
					meta: RecordMeta {
						datanet: v.datanet,
						version: v.version,
						index: index as u32,
						contribution: r.contribution.id,
						content_hash: r.contribution.content_hash,
						contributor: r.contribution.contributor,
					},
					bytes: r.bytes,
				})
				.collect())
		})
	}
}
