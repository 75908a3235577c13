//! The record store's throughput, measured against a real dev chain:
//!
//! ```text
//! cargo run --release -p lineage-store --example bench -- [RECORDS]
//! ```
//!
//! It starts a `polkadot-omni-node` dev chain (the dev spec of `scripts/chain-spec`) and the
//! store's router in this process, creates a datanet, and measures, for `RECORDS` WordNet
//! records (default 2,000):
//!
//! 1. **baseline**: the same records written to and read from the store's database directly
//!    (`Db::put`, `Db::bytes`): what the disk and redb allow;
//! 2. **upload**: signed `PUT`s over HTTP, each checked (CID, signature, size) and looked up on
//!    chain (datanet, contribution), then written durably;
//! 3. **gateway read**: `GET /ipfs/{cid}` of every record;
//! 4. **verified read**: the whole frozen version through `StoreClient::verified_version` (the
//!    list from the chain, every byte hashed and checked).
//!
//! Each is printed as records/s and MB/s and as a ratio to the baseline of the same direction.

use std::{sync::Arc, time::Instant};

use lineage_chain::lineage;
use lineage_client::{
	corpus::{wordnet_records, WORDNET_DIR},
	datanet_demo::{run_datanet_demo, DatanetDemoConfig},
};
use lineage_store::{
	api::{router, StoreState},
	chain::ChainView,
	cid::record_cid_string,
	client::StoreClient,
	db::{Db, Placement, PlacementState},
	metrics::Metrics,
};
use lineage_testkit::{node::DevNode, temp_dir};
use sha2::{Digest, Sha256};

fn row(what: &str, records: usize, bytes: u64, secs: f64, baseline: Option<f64>) {
	let rate = records as f64 / secs;
	let mb = bytes as f64 / secs / 1e6;
	let ratio = baseline.map(|b| format!("{:.3}", rate / b)).unwrap_or_else(|| "1".into());
	println!("| {what:<34} | {records:>7} | {rate:>10.0} | {mb:>7.2} | {ratio:>8} |");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(2_000);
	let records: Vec<Vec<u8>> =
		wordnet_records(WORDNET_DIR.as_ref(), n)?.iter().map(|r| r.to_bytes()).collect();
	let total: u64 = records.iter().map(|r| r.len() as u64).sum();
	let (node, client) = DevNode::start().await;
	let dir = temp_dir("store-bench");

	// 1. Baseline: the database alone.
	let raw = Db::open(&dir.path().join("baseline.redb"))?;
	let placement = Placement {
		contributor: [1; 32],
		uploaded_ms: 0,
		state: PlacementState::Contributed { contribution: 0, frozen: true },
	};
	let started = Instant::now();
	for r in &records {
		let hash: [u8; 32] = Sha256::digest(r).into();
		raw.put(0, &hash, r, None, placement)?;
	}
	let db_write = started.elapsed().as_secs_f64();
	let started = Instant::now();
	for r in &records {
		let hash: [u8; 32] = Sha256::digest(r).into();
		assert!(raw.bytes(&hash)?.is_some());
	}
	let db_read = started.elapsed().as_secs_f64();

	// The store, in this process, on a free port.
	let chain = ChainView::new(client.clone());
	let state = Arc::new(StoreState {
		db: Db::open(&dir.path().join("store.redb"))?,
		max_record_bytes: chain.max_record_bytes().await?,
		chain: chain.clone(),
		window: std::time::Duration::from_secs(3600),
		tokens: None,
		metrics: Metrics::new()?,
		versions: Default::default(),
	});
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
	let url = format!("http://{}", listener.local_addr()?);
	tokio::spawn(async move { axum::serve(listener, router(state)).await });
	let store = StoreClient::new(&url);

	// 2. Uploads, by the demo's path (four contributors at once), timed by the demo itself;
	// then the same records contributed, accepted and frozen as two versions.
	let report = run_datanet_demo(
		&client,
		&DatanetDemoConfig { store: url.clone(), corpus: WORDNET_DIR.into(), records: n },
	)
	.await?;

	// 3. Gateway reads of every record.
	let started = Instant::now();
	for r in &records {
		let hash: [u8; 32] = Sha256::digest(r).into();
		let bytes = store.fetch(&record_cid_string(&hash)).await.map_err(anyhow::Error::msg)?;
		assert_eq!(bytes.len(), r.len());
	}
	let gateway = started.elapsed().as_secs_f64();

	// 4. Verified reads of both versions.
	let started = Instant::now();
	let mut verified = 0usize;
	for version in 1..=2 {
		verified += store.verified_version(&chain, report.datanet, version).await?.records.len();
	}
	let verify = started.elapsed().as_secs_f64();
	assert_eq!(verified, n);

	let at = client.at_current_block().await?;
	let info = at
		.storage()
		.fetch(lineage::storage().datanets().datanets(), (report.datanet,))
		.await?
		.decode()?;
	println!(
		"{n} WordNet records, {total} bytes ({} bytes each on average); datanet {} holds {} \
		 records in {} versions",
		total / n as u64,
		report.datanet,
		info.frozen_count,
		info.version_count
	);
	println!("| path                               | records | records/s |    MB/s | vs. base |");
	println!("|---|---|---|---|---|");
	let base_w = n as f64 / db_write;
	let base_r = n as f64 / db_read;
	row("baseline: Db::put (durable)", n, total, db_write, None);
	row("baseline: Db::bytes", n, total, db_read, None);
	row(
		"upload: signed PUT, chain checked",
		n,
		report.uploaded_bytes,
		report.upload_secs,
		Some(base_w),
	);
	row("read: GET /ipfs/{cid}", n, total, gateway, Some(base_r));
	row("read: verified against the chain", n, total, verify, Some(base_r));
	drop(node);
	Ok(())
}
