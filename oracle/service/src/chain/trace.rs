//! Where an adapter's training data comes from in chain mode: its training versions from
//! `Models::Adapters` (the lineage the author registered), each version's records from the
//! datanet's record store, every byte checked against the chain's content hashes and Merkle
//! root ([`lineage_store::client::StoreClient::verified_version`]). The inference layer's
//! [`Tracer`](crate::infer::lineage::Tracer) builds the span indexes from them.

use std::sync::Arc;

use futures::future::BoxFuture;
use lineage_chain::{lineage, rpc_err};
use lineage_primitives::Hash;
use lineage_store::{chain::ChainView, client::StoreClient};
use lineage_trace::RecordMeta;

use super::{link::ChainLink, registry::Registry};
use crate::infer::lineage::{VersionRecord, VersionRef, VersionSource};

/// Training versions from the chain, records from a record store.
pub struct ChainVersions {
	link: Arc<ChainLink>,
	store: StoreClient,
	registry: Arc<Registry>,
}

impl ChainVersions {
	/// Reads through the oracle's shared connection `link` (so a reconnect serves it too),
	/// resolves adapters with `registry`, fetches records from the record store at `store_url`.
	pub fn new(link: Arc<ChainLink>, registry: Arc<Registry>, store_url: &str) -> Self {
		ChainVersions { link, store: StoreClient::new(store_url), registry }
	}

	/// A view of the chain through the current connection.
	fn view(&self) -> Result<ChainView, String> {
		self.link.client().map(ChainView::new).ok_or_else(|| "not connected to the node".into())
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
			let client = self.link.client().ok_or("not connected to the node")?;
			let view = ChainView::new(client.clone());
			let at = client.at_current_block().await.map_err(|e| rpc_err(e).to_string())?;
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
				let found = view
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
			let view = self.view()?;
			let verified = self
				.store
				.verified_version(&view, v.datanet, v.version)
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
