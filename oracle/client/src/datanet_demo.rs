//! The datanet demo (`lineage-oracle datanet-demo`, run by `scripts/dev`): a datanet filled
//! from a real corpus, its bytes in a record store, its versions read back from the chain and
//! verified byte for byte.
//!
//! 1. Alice creates a curated datanet, `wordnet-3.0-nouns`, whose metadata URI is the store.
//! 2. Records ([`crate::corpus`], WordNet question → answer pairs) are dealt round-robin to
//!    the contributors (Bob, Charlie, Dave, Ferdie). Each contributor uploads its records to the
//!    store, signed with its key (the store answers 202: kept for the upload window), then
//!    contributes them on chain in `utility.batch_all` batches, each holding its deposit.
//! 3. Alice, the curator, reads the pending list from the store — with the tokens the store
//!    measured with the base model's tokenizer — and accepts each contribution at that count.
//! 4. Alice freezes version 1 over the first half; steps 2–3 run again for the second half,
//!    and version 2 is frozen.
//! 5. Each version is read back: its root and records from the chain, every record's bytes
//!    from the store's gateway path, each checked against the chain ([`StoreClient`]).

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Instant};

use anyhow::{bail, Context};
use futures::future::try_join_all;
use sha2::{Digest, Sha256};
use subxt::utils::{AccountId32, H256};
use subxt_signer::sr25519::{dev, Keypair};

use lineage_chain::{
	lineage::{
		self,
		runtime_types::{
			lineage_runtime::RuntimeCall,
			pallet_datanets::{pallet::Call as DatanetsCall, ContributionPolicy},
		},
	},
	submit_and_finalize, LineageClient,
};
use lineage_store::{chain::ChainView, client::StoreClient};

use crate::{
	corpus::{wordnet_records, Record},
	demo::bytes,
};

/// Calls per `utility.batch_all`.
const BATCH: usize = 100;

/// What the datanet demo needs.
#[derive(Clone, Debug)]
pub struct DatanetDemoConfig {
	/// The record store's URL.
	pub store: String,
	/// The WordNet database folder.
	pub corpus: PathBuf,
	/// How many records in all (half in each version).
	pub records: usize,
}

/// The `datanet-demo` command's arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct DatanetDemoArgs {
	/// The node's RPC endpoint.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// The record store's URL.
	#[arg(long, default_value = "http://127.0.0.1:8100")]
	pub store: String,
	/// The WordNet database (Debian's wordnet-base).
	#[arg(long, default_value = crate::corpus::WORDNET_DIR)]
	pub corpus: PathBuf,
	/// How many records in all (half in each of the two versions).
	#[arg(long, default_value_t = 3000)]
	pub records: usize,
}

/// One contributor's share of a version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContributorShare {
	/// Records.
	pub records: u32,
	/// Their weight.
	pub weight: u128,
}

/// One verified version.
#[derive(Clone, Debug)]
pub struct VersionReport {
	/// The version number.
	pub version: u32,
	/// Its records.
	pub records: u32,
	/// Their bytes, all fetched and verified.
	pub bytes: u64,
	/// The version's weight.
	pub weight: u128,
	/// The weight frozen through it.
	pub total_weight: u128,
	/// The root on chain.
	pub merkle_root: [u8; 32],
	/// Per contributor (by name).
	pub contributors: BTreeMap<String, ContributorShare>,
	/// The seconds the verified read took.
	pub verify_secs: f64,
}

/// What the datanet demo did.
#[derive(Clone, Debug)]
pub struct DatanetReport {
	/// The datanet.
	pub datanet: u32,
	/// The versions, verified.
	pub versions: Vec<VersionReport>,
	/// Seconds spent uploading all records to the store.
	pub upload_secs: f64,
	/// The records uploaded.
	pub uploaded: usize,
	/// Their bytes.
	pub uploaded_bytes: u64,
}

impl fmt::Display for DatanetReport {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		writeln!(
			f,
			"datanet {} `wordnet-3.0-nouns` (curated by Alice): {} records uploaded ({} bytes, \
			 {:.0} records/s), read back from chain and verified against the store:",
			self.datanet,
			self.uploaded,
			self.uploaded_bytes,
			self.uploaded as f64 / self.upload_secs.max(1e-9)
		)?;
		writeln!(
			f,
			"  version  records    bytes  weight  frozen weight  merkle root           verified"
		)?;
		for v in &self.versions {
			writeln!(
				f,
				"  v{:<7} {:>7} {:>8} {:>7} {:>14}  0x{}…  every byte ({:.1} s)",
				v.version,
				v.records,
				v.bytes,
				v.weight,
				v.total_weight,
				hex::encode(&v.merkle_root[..8]),
				v.verify_secs
			)?;
			for (name, share) in &v.contributors {
				writeln!(
					f,
					"           {name:<8} {:>5} records, weight {}",
					share.records, share.weight
				)?;
			}
		}
		Ok(())
	}
}

/// The demo's contributors, by name.
fn contributors() -> Vec<(&'static str, Keypair)> {
	vec![
		("Bob", dev::bob()),
		("Charlie", dev::charlie()),
		("Dave", dev::dave()),
		("Ferdie", dev::ferdie()),
	]
}

/// Runs the `datanet-demo` command and prints its report.
pub async fn run(args: DatanetDemoArgs) -> anyhow::Result<()> {
	let client = lineage_chain::connect(&args.url).await?;
	let cfg = DatanetDemoConfig { store: args.store, corpus: args.corpus, records: args.records };
	let report = run_datanet_demo(&client, &cfg).await?;
	println!("{report}");
	Ok(())
}

/// Runs the demo (see the module doc) and returns what it read back and verified.
pub async fn run_datanet_demo(
	client: &LineageClient,
	cfg: &DatanetDemoConfig,
) -> anyhow::Result<DatanetReport> {
	let records = wordnet_records(&cfg.corpus, cfg.records)?;
	if records.len() < 2 {
		bail!("the corpus gave {} records; two versions need at least 2", records.len());
	}
	let store = StoreClient::new(&cfg.store);
	let chain = ChainView::new(client.clone());
	let alice = dev::alice();

	// 1. The datanet.
	let created = submit_and_finalize(
		client,
		&lineage::tx().datanets().create_datanet(
			bytes("wordnet-3.0-nouns"),
			bytes(&cfg.store),
			bytes("LicenseRef-WordNet-3.0"),
			ContributionPolicy::Curated,
		),
		&alice,
	)
	.await
	.context("create_datanet")?;
	let datanet = created
		.events
		.find_first::<lineage::datanets::events::DatanetCreated>()
		.context("no DatanetCreated event")??
		.datanet;

	let half = records.len() / 2;
	let mut upload_secs = 0.0;
	let mut uploaded_bytes = 0u64;
	for part in [&records[..half], &records[half..]] {
		// 2. Uploads, then contributions.
		let started = Instant::now();
		uploaded_bytes += upload_all(client, &store, datanet, part).await?;
		upload_secs += started.elapsed().as_secs_f64();
		contribute_all(client, datanet, part).await?;
		// 3. The curator accepts at the store's measured token counts.
		accept_all(client, &store, datanet, part.len()).await?;
		// 4. The version.
		submit_and_finalize(client, &lineage::tx().datanets().freeze_version(datanet), &alice)
			.await
			.context("freeze_version")?;
	}

	// 5. Read back and verify.
	let names: BTreeMap<[u8; 32], &str> =
		contributors().into_iter().map(|(n, k)| (k.public_key().0, n)).collect();
	let mut versions = Vec::new();
	for version in 1..=2 {
		let started = Instant::now();
		let verified = store
			.verified_version(&chain, datanet, version)
			.await
			.with_context(|| format!("verifying version {version}"))?;
		let verify_secs = started.elapsed().as_secs_f64();
		let info = chain.version(datanet, version).await?.context("the version vanished")?;
		let mut shares: BTreeMap<String, ContributorShare> = BTreeMap::new();
		for r in &verified.records {
			let name = names.get(&r.contribution.contributor).copied().unwrap_or("?");
			let share = shares.entry(name.to_string()).or_default();
			share.records += 1;
			if let lineage_store::chain::ContributionState::Accepted { weight, .. } =
				r.contribution.state
			{
				share.weight += weight;
			}
			Record::from_bytes(&r.bytes).with_context(|| {
				format!("record {} of version {version} is not a corpus record", r.contribution.id)
			})?;
		}
		versions.push(VersionReport {
			version,
			records: verified.records.len() as u32,
			bytes: verified.total_bytes(),
			weight: info.weight,
			total_weight: info.total_weight,
			merkle_root: info.merkle_root,
			contributors: shares,
			verify_secs,
		});
	}
	Ok(DatanetReport { datanet, versions, upload_secs, uploaded: records.len(), uploaded_bytes })
}

/// Each contributor uploads its round-robin share of `records` to the store (all contributors
/// at once). Returns the bytes uploaded.
async fn upload_all(
	client: &LineageClient,
	store: &StoreClient,
	datanet: u32,
	records: &[Record],
) -> anyhow::Result<u64> {
	let genesis = client.genesis_hash().0;
	let people = contributors();
	let k = people.len();
	let jobs = people.iter().enumerate().map(|(i, (name, key))| {
		let mine: Vec<Vec<u8>> = records.iter().skip(i).step_by(k).map(Record::to_bytes).collect();
		async move {
			let mut total = 0u64;
			for bytes in mine {
				total += bytes.len() as u64;
				let answer = store
					.upload(key, genesis, datanet, bytes)
					.await
					.with_context(|| format!("{name}'s upload"))?;
				if !answer.status.is_success() {
					bail!("the store refused {name}'s upload: {} {}", answer.status, answer.body);
				}
			}
			Ok::<_, anyhow::Error>(total)
		}
	});
	Ok(try_join_all(jobs).await?.into_iter().sum())
}

/// Each contributor contributes its share on chain, `BATCH` per `utility.batch_all`.
async fn contribute_all(
	client: &LineageClient,
	datanet: u32,
	records: &[Record],
) -> anyhow::Result<()> {
	let people = contributors();
	let k = people.len();
	let jobs = people.iter().enumerate().map(|(i, (name, key))| {
		let mine: Vec<&Record> = records.iter().skip(i).step_by(k).collect();
		async move {
			for chunk in mine.chunks(BATCH) {
				let calls = chunk.iter().map(|r| contribute_call(datanet, r)).collect();
				submit_and_finalize(client, &lineage::tx().utility().batch_all(calls), key)
					.await
					.with_context(|| format!("{name}'s contributions"))?;
			}
			Ok::<_, anyhow::Error>(())
		}
	});
	try_join_all(jobs).await?;
	Ok(())
}

/// The contribution of `record` to `datanet`. The contributor declares one token per byte, the
/// most the chain allows; the curator sets the measured count at acceptance.
fn contribute_call(datanet: u32, record: &Record) -> RuntimeCall {
	let bytes = record.to_bytes();
	let hash: [u8; 32] = Sha256::digest(&bytes).into();
	RuntimeCall::Datanets(DatanetsCall::contribute {
		datanet,
		content_hash: H256(hash),
		size_bytes: bytes.len() as u32,
		tokens: bytes.len() as u32,
		uri: None,
	})
}

/// Alice reads the pending list from the store and accepts each contribution at the token
/// count the store measured (quality 100%), `BATCH` per `utility.batch_all`.
async fn accept_all(
	client: &LineageClient,
	store: &StoreClient,
	datanet: u32,
	expected: usize,
) -> anyhow::Result<()> {
	let url = format!("{}/v1/datanets/{datanet}/pending", store.base());
	let pending: Vec<serde_json::Value> =
		store.http().get(&url).send().await?.error_for_status()?.json().await?;
	if pending.len() != expected {
		bail!("the store lists {} pending contributions, expected {expected}", pending.len());
	}
	let mut accepts = Vec::with_capacity(pending.len());
	for p in &pending {
		let contribution =
			p["contribution"].as_u64().context("pending: no contribution id")? as u32;
		if p["available"] != serde_json::Value::Bool(true) {
			bail!(
				"the store does not hold the bytes of contribution {contribution}: not accepting"
			);
		}
		accepts.push((contribution, p["measured_tokens"].as_u64().map(|t| t as u32)));
	}
	let alice = dev::alice();
	for chunk in accepts.chunks(BATCH) {
		let calls = chunk
			.iter()
			.map(|&(contribution, tokens)| {
				RuntimeCall::Datanets(DatanetsCall::accept_contribution {
					datanet,
					contribution,
					quality: Some(100),
					tokens,
				})
			})
			.collect();
		submit_and_finalize(client, &lineage::tx().utility().batch_all(calls), &alice)
			.await
			.context("Alice's acceptances")?;
	}
	Ok(())
}

/// The account of a dev contributor by name (for reports).
pub fn contributor_account(name: &str) -> Option<AccountId32> {
	contributors().into_iter().find(|(n, _)| *n == name).map(|(_, k)| k.public_key().into())
}
