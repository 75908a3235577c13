//! The record store end to end: the real `lineage-store` binary against a real
//! `polkadot-omni-node` running the Lineage runtime (the dev chain spec of `scripts/chain-spec`;
//! `scripts/test` makes it first).
//!
//! - every bad upload gets a 4xx with its reason, stores nothing, and the store keeps serving;
//! - upload → contribute → accept → freeze → every record of each version fetched from the
//!   store and verified against the chain's root (the datanet demo, with a small corpus);
//! - a record the store serves with other bytes is refused by the client, which names it;
//!   a record rejected on chain leaves the store; the database survives a restart.

use std::{
	io::{BufRead, BufReader},
	path::Path,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

use lineage_chain::{
	lineage::{self, runtime_types::bounded_collections::bounded_vec::BoundedVec},
	submit_and_finalize, LineageClient,
};
use lineage_client::datanet_demo::{run_datanet_demo, DatanetDemoConfig};
use lineage_store::{
	chain::ChainView,
	cid::record_cid_string,
	client::{StoreClient, VerifyError},
};
use lineage_testkit::{node::DevNode, temp_dir};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use subxt::utils::H256;
use subxt_signer::sr25519::{dev, Keypair};

/// A running `lineage-store serve`, killed on drop.
struct Store {
	child: Child,
	url: String,
}

impl Drop for Store {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

/// Starts the store binary on a free port with its database at `db`, an upload window of
/// `window_secs` and a fast sweeper; waits until it listens.
fn start_store(chain_url: &str, db: &Path, window_secs: u64) -> Store {
	let mut child = Command::new(env!("CARGO_BIN_EXE_lineage-store"))
		.args(["serve", "--chain-url", chain_url, "--port", "0", "--sweep-ms", "200"])
		.arg("--db")
		.arg(db)
		.args(["--window-secs", &window_secs.to_string()])
		.stdout(Stdio::piped())
		.stderr(Stdio::inherit())
		.spawn()
		.expect("cannot start lineage-store");
	let stdout = child.stdout.take().expect("stdout");
	let mut line = String::new();
	BufReader::new(stdout).read_line(&mut line).expect("reading the store's first line");
	let url = line
		.trim()
		.strip_prefix("listening on ")
		.unwrap_or_else(|| panic!("the store did not start: `{line}`"))
		.to_string();
	Store { child, url }
}

fn bytes(s: &str) -> BoundedVec<u8> {
	BoundedVec(s.as_bytes().to_vec())
}

async fn create_datanet(client: &LineageClient, owner: &Keypair) -> u32 {
	let done = submit_and_finalize(
		client,
		&lineage::tx().datanets().create_datanet(
			bytes("store-e2e"),
			bytes(""),
			bytes("CC0-1.0"),
			lineage::runtime_types::pallet_datanets::ContributionPolicy::Curated,
		),
		owner,
	)
	.await
	.expect("create_datanet");
	done.events
		.find_first::<lineage::datanets::events::DatanetCreated>()
		.expect("event")
		.expect("decode")
		.datanet
}

async fn contribute(client: &LineageClient, who: &Keypair, datanet: u32, record: &[u8]) -> u32 {
	let hash = H256(Sha256::digest(record).into());
	let size = record.len() as u32;
	let done = submit_and_finalize(
		client,
		&lineage::tx().datanets().contribute(datanet, hash, size, size, None),
		who,
	)
	.await
	.expect("contribute");
	done.events
		.find_first::<lineage::datanets::events::ContributionSubmitted>()
		.expect("event")
		.expect("decode")
		.contribution
}

/// `GET /health`'s record count.
async fn stored_records(http: &reqwest::Client, store: &Store) -> u64 {
	let health: serde_json::Value = http
		.get(format!("{}/health", store.url))
		.send()
		.await
		.expect("the store answers /health")
		.json()
		.await
		.expect("JSON");
	health["records"].as_u64().expect("records")
}

/// PUTs `body` to `datanet` under `cid` with `headers`; returns the status and the error code.
async fn put(
	http: &reqwest::Client,
	store: &Store,
	datanet: u32,
	cid: &str,
	headers: &[(&'static str, String)],
	body: Vec<u8>,
) -> (StatusCode, String, String) {
	let mut request = http.put(format!("{}/v1/datanets/{datanet}/records/{cid}", store.url));
	for (name, value) in headers {
		request = request.header(*name, value);
	}
	let response = request.body(body).send().await.expect("the store answers");
	let status = response.status();
	let json: serde_json::Value = response.json().await.unwrap_or_default();
	let code = json["error"]["code"].as_str().unwrap_or_default().to_string();
	let message = json["error"]["message"].as_str().unwrap_or_default().to_string();
	(status, code, message)
}

#[tokio::test]
async fn bad_uploads_get_a_reason_store_nothing_and_the_store_keeps_serving() {
	let (_node, client) = DevNode::start().await;
	let dir = temp_dir("store-bad-uploads");
	let store = start_store(&_node.url, &dir.path().join("store.redb"), 2);
	let http = reqwest::Client::new();
	let genesis = client.genesis_hash().0;
	let (alice, bob, charlie) = (dev::alice(), dev::bob(), dev::charlie());
	let datanet = create_datanet(&client, &alice).await;

	let record =
		b"{\"prompt\":\"What is a dog?\",\"completion\":\"a domesticated canid\"}\n".to_vec();
	let hash: [u8; 32] = Sha256::digest(&record).into();
	let cid = record_cid_string(&hash);
	let signed = |who: &Keypair, d: u32, h: [u8; 32]| {
		lineage_chain::record::sign_upload(who, genesis, d, h).to_vec()
	};

	// Wrong hash: the body is not what the CID names.
	let other_cid = record_cid_string(&Sha256::digest(b"other bytes").into());
	let (status, code, message) =
		put(&http, &store, datanet, &other_cid, &signed(&bob, datanet, hash), record.clone()).await;
	assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "hash_mismatch"), "{message}");
	assert!(message.contains(&hex::encode(hash)), "{message}");

	// Over the chain's limit (MaxRecordBytes = 256 KiB).
	let big = vec![b'x'; 256 * 1024 + 1];
	let big_hash: [u8; 32] = Sha256::digest(&big).into();
	let (status, code, message) = put(
		&http,
		&store,
		datanet,
		&record_cid_string(&big_hash),
		&signed(&bob, datanet, big_hash),
		big,
	)
	.await;
	assert_eq!((status, code.as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
	assert!(message.contains("262144"), "{message}");

	// Unsigned.
	let (status, code, message) = put(&http, &store, datanet, &cid, &[], record.clone()).await;
	assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "unsigned"), "{message}");
	assert!(message.contains("x-lineage-contributor"), "{message}");

	// Wrongly signed: Charlie's signature under Bob's name, and Bob's for another datanet.
	let mut forged = signed(&charlie, datanet, hash);
	forged[0].1 = signed(&bob, datanet, hash)[0].1.clone();
	let (status, code, _) = put(&http, &store, datanet, &cid, &forged, record.clone()).await;
	assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "bad_signature"));
	let (status, code, _) =
		put(&http, &store, datanet, &cid, &signed(&bob, datanet + 1, hash), record.clone()).await;
	assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "bad_signature"));

	// Unknown datanet.
	let (status, code, message) =
		put(&http, &store, 9_999, &cid, &signed(&bob, 9_999, hash), record.clone()).await;
	assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "unknown_datanet"), "{message}");

	// A bad CID, and an empty body.
	let (status, code, _) =
		put(&http, &store, datanet, "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u", &[], vec![])
			.await;
	assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "bad_cid"));
	assert_eq!(stored_records(&http, &store).await, 0, "nothing stored by a bad upload");

	// Contributed on chain by someone else: Charlie may not upload Bob's record.
	let bobs = b"bob's own record\n".to_vec();
	let bobs_hash: [u8; 32] = Sha256::digest(&bobs).into();
	contribute(&client, &bob, datanet, &bobs).await;
	let (status, code, _) = put(
		&http,
		&store,
		datanet,
		&record_cid_string(&bobs_hash),
		&signed(&charlie, datanet, bobs_hash),
		bobs.clone(),
	)
	.await;
	assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "contributed_by_other"));
	assert_eq!(stored_records(&http, &store).await, 0);

	// Never contributed: kept for the window (202) but not served, then dropped.
	let response = StoreClient::new(&store.url)
		.upload(&bob, genesis, datanet, record.clone())
		.await
		.expect("upload");
	assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
	assert_eq!(response.body["status"], "awaiting-contribution");
	let gateway = http.get(format!("{}/ipfs/{cid}", store.url)).send().await.expect("gateway");
	assert_eq!(gateway.status(), StatusCode::NOT_FOUND);
	assert!(gateway.text().await.unwrap().contains("not on chain yet"));
	assert_eq!(stored_records(&http, &store).await, 1);
	let deadline = Instant::now() + Duration::from_secs(20);
	while stored_records(&http, &store).await != 0 {
		assert!(Instant::now() < deadline, "the uncontributed upload was never dropped");
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
	let meta = http.get(format!("{}/v1/records/{cid}", store.url)).send().await.unwrap();
	assert_eq!(meta.status(), StatusCode::NOT_FOUND);

	// The same upload, contributed: served (201, then 200 on the gateway) with IPFS headers.
	let answer = StoreClient::new(&store.url).upload(&bob, genesis, datanet, bobs.clone()).await;
	assert_eq!(answer.expect("upload").status, StatusCode::CREATED);
	let gateway = http
		.get(format!("{}/ipfs/{}?format=raw", store.url, record_cid_string(&bobs_hash)))
		.send()
		.await
		.unwrap();
	assert_eq!(gateway.status(), StatusCode::OK);
	assert_eq!(gateway.headers()["content-type"], "application/vnd.ipld.raw");
	assert_eq!(gateway.bytes().await.unwrap().to_vec(), bobs);
}

#[tokio::test]
async fn versions_are_filled_frozen_and_every_byte_verified_against_the_chain() {
	let (node, client) = DevNode::start().await;
	let dir = temp_dir("store-versions");
	let db = dir.path().join("store.redb");
	let mut store = start_store(&node.url, &db, 600);

	// Upload → contribute → accept (at measured tokens, none here: no tokenizer) → freeze, twice.
	let cfg = DatanetDemoConfig {
		store: store.url.clone(),
		corpus: lineage_client::corpus::WORDNET_DIR.into(),
		records: 40,
	};
	let report = run_datanet_demo(&client, &cfg).await.expect("the datanet demo");
	assert_eq!(report.versions.len(), 2);
	assert_eq!(report.versions.iter().map(|v| v.records).sum::<u32>(), 40);
	for v in &report.versions {
		assert_eq!(v.records, 20);
		assert_eq!(v.contributors.len(), 4, "four contributors in each version");
		assert_eq!(v.contributors.values().map(|c| c.weight).sum::<u128>(), v.weight);
	}
	assert_eq!(
		report.versions[1].total_weight,
		report.versions[0].weight + report.versions[1].weight
	);
	let datanet = report.datanet;
	let chain = ChainView::new(client.clone());
	let reader = StoreClient::new(&store.url);

	// Each record also verifies by its Merkle proof alone.
	for index in [0, 7, 19] {
		reader.verify_record(&chain, datanet, 2, index).await.expect("proof verifies");
	}
	let out_of_range = reader.verify_record(&chain, datanet, 2, 20).await;
	assert!(matches!(out_of_range, Err(VerifyError::Unavailable { .. })), "{out_of_range:?}");

	// A record the store serves with other bytes is refused, and named. Tamper with the file
	// while the store is down; the rest survives the restart.
	let version = chain.version(datanet, 1).await.unwrap().unwrap();
	let records = chain.version_records(datanet, &version).await.unwrap();
	let victim = records[3];
	drop(store);
	{
		let raw = redb::Database::create(&db).expect("open the store's database");
		let txn = raw.begin_write().unwrap();
		{
			let blobs: redb::TableDefinition<&[u8; 32], &[u8]> =
				redb::TableDefinition::new("blobs");
			let mut table = txn.open_table(blobs).unwrap();
			table.insert(&victim.content_hash, b"tampered bytes".as_slice()).unwrap();
		}
		txn.commit().unwrap();
	}
	store = start_store(&node.url, &db, 600);
	let reader = StoreClient::new(&store.url);
	match reader.verified_version(&chain, datanet, 1).await {
		Err(VerifyError::Mismatch { index, contribution, cid, .. }) => {
			assert_eq!((index, contribution), (3, victim.id));
			assert_eq!(cid, record_cid_string(&victim.content_hash));
		},
		other => panic!("tampered bytes were not refused: {other:?}"),
	}
	let intact = reader.verified_version(&chain, datanet, 2).await.expect("version 2 intact");
	assert_eq!(intact.records.len(), 20);

	// A record rejected on chain as bad data leaves the store, and its deposit is slashed.
	let (alice, eve) = (dev::alice(), dev::eve());
	let bad = b"{\"prompt\":\"spam\",\"completion\":\"spam\"}\n".to_vec();
	let bad_hash: [u8; 32] = Sha256::digest(&bad).into();
	let answer = reader.upload(&eve, client.genesis_hash().0, datanet, bad.clone()).await.unwrap();
	assert_eq!(answer.status, StatusCode::ACCEPTED);
	let id = contribute(&client, &eve, datanet, &bad).await;
	let rejected = submit_and_finalize(
		&client,
		&lineage::tx().datanets().reject_contribution(datanet, id, 1),
		&alice,
	)
	.await
	.expect("reject");
	let event = rejected
		.events
		.find_first::<lineage::datanets::events::ContributionRejected>()
		.unwrap()
		.unwrap();
	assert!(event.slashed > 0, "the deposit is slashed");
	let deadline = Instant::now() + Duration::from_secs(20);
	loop {
		let meta =
			reqwest::get(format!("{}/v1/records/{}", store.url, record_cid_string(&bad_hash)))
				.await
				.unwrap();
		if meta.status() == StatusCode::NOT_FOUND {
			break;
		}
		assert!(Instant::now() < deadline, "the rejected record stayed in the store");
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
}
