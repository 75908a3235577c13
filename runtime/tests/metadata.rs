//! The client's metadata file must be the runtime's metadata: the oracle generates its chain
//! types from `oracle/chain/metadata/lineage.scale`. `scripts/metadata` rewrites the file (it runs
//! this test with `LINEAGE_BLESS_METADATA=1`).

mod common;

use lineage_runtime::Runtime;
use std::path::PathBuf;

/// The metadata version the clients are generated from (subxt reads V14–V16).
const METADATA_VERSION: u32 = 16;

#[test]
fn metadata_is_fresh() {
	let path =
		PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../oracle/chain/metadata/lineage.scale");
	// Some constants are read from storage (the parachain id): take them from the dev genesis,
	// as on the dev chain.
	let current: Vec<u8> = common::genesis("development").execute_with(|| {
		Runtime::metadata_at_version(METADATA_VERSION)
			.expect("the runtime provides metadata V16")
			.to_vec()
	});
	if std::env::var_os("LINEAGE_BLESS_METADATA").is_some() {
		std::fs::write(&path, &current).expect("cannot write the metadata file");
		return;
	}
	let stored = std::fs::read(&path).unwrap_or_default();
	assert!(
		stored == current,
		"{} is stale ({} bytes stored, {} bytes now): run scripts/metadata and commit the file",
		path.display(),
		stored.len(),
		current.len()
	);
}
