//! The records of the datanet versions a run trains on, read through the record store's
//! verifying client: the version's list and Merkle root come from the chain, each record's
//! bytes from the store, and every byte is checked. A record that does not verify stops the run
//! with its index, contribution id and CID ([`lineage_store::client::VerifyError`]).

use lineage_store::{chain::ChainView, client::StoreClient};

use crate::data::{RecordRef, SourceRecord};

/// One verified version.
#[derive(Clone, Debug)]
pub struct VersionData {
	/// The datanet.
	pub datanet: u32,
	/// The version.
	pub version: u32,
	/// Its Merkle root on chain.
	pub merkle_root: [u8; 32],
	/// Its records, in order, verified.
	pub records: Vec<SourceRecord>,
}

/// Parses `datanet/version` (`0/1`).
pub fn parse_version_ref(text: &str) -> Result<(u32, u32), String> {
	let (d, v) = text
		.split_once('/')
		.ok_or_else(|| format!("{text:?}: name a version as DATANET/VERSION, such as 0/1"))?;
	let num = |s: &str| s.trim().parse::<u32>().map_err(|e| format!("{text:?}: {e}"));
	Ok((num(d)?, num(v)?))
}

/// Reads and verifies each of `versions` (distinct, in the order given).
pub async fn fetch_versions(
	store: &StoreClient,
	chain: &ChainView,
	versions: &[(u32, u32)],
) -> anyhow::Result<Vec<VersionData>> {
	let mut seen = std::collections::BTreeSet::new();
	let mut out = Vec::with_capacity(versions.len());
	for &(datanet, version) in versions {
		if !seen.insert((datanet, version)) {
			anyhow::bail!("datanet {datanet} v{version} is named twice");
		}
		let verified = store.verified_version(chain, datanet, version).await.map_err(|e| {
			anyhow::anyhow!("datanet {datanet} v{version} cannot be used for training: {e}")
		})?;
		let records = verified
			.records
			.into_iter()
			.enumerate()
			.map(|(index, r)| SourceRecord {
				at: RecordRef {
					datanet,
					version,
					index: index as u32,
					contribution: r.contribution.id,
					content_hash: r.contribution.content_hash,
				},
				bytes: r.bytes,
			})
			.collect();
		out.push(VersionData { datanet, version, merkle_root: verified.merkle_root, records });
	}
	Ok(out)
}
