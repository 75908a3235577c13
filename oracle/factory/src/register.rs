//! Putting a trained adapter on chain: `Models::register_adapter` with the lineage the run
//! measured (each version weighted by the tokens the run consumed from it, never typed by hand),
//! its parent and base model found by artifact hash, then `Models::post_evaluation` with the
//! manifest's hash and the held-out figures.

use std::path::Path;

use lineage_chain::{
	evaluation::post_evaluation,
	lineage::{
		self,
		runtime_types::{
			bounded_collections::bounded_vec::BoundedVec,
			lineage_primitives::DatanetVersionRef,
			pallet_models::{ArtifactOwner, Evaluation, Price},
			sp_arithmetic::per_things::Perbill,
		},
	},
	submit_and_finalize, LineageClient,
};
use serde::Serialize;
use subxt::utils::H256;
use subxt_signer::sr25519::Keypair;

use crate::{eval, manifest::Manifest};

/// What [`register`] is given.
pub struct RegisterArgs<'a> {
	/// The run's manifest.
	pub manifest: &'a Manifest,
	/// Its sha-256.
	pub manifest_hash: [u8; 32],
	/// The adapter's PEFT folder (its files must hash to the manifest's artifact hash).
	pub adapter_dir: &'a Path,
	/// Price per 1,000 input and output tokens.
	pub price: (u128, u128),
	/// SPDX licence id.
	pub license: &'a str,
	/// Where the adapter's files can be found.
	pub uri: &'a str,
}

/// The registered adapter.
#[derive(Clone, Debug, Serialize)]
pub struct Registered {
	/// Its id.
	pub adapter: u32,
	/// Its base model's id.
	pub base_model: u32,
	/// Its parent's id.
	pub parent: Option<u32>,
	/// The lineage posted: `(datanet, version, parts per billion)`.
	pub training: Vec<(u32, u32, u32)>,
	/// The manifest hash posted with the evaluation.
	pub manifest_hash: String,
}

fn parse_hash(text: &str) -> anyhow::Result<H256> {
	lineage_adapters::store::parse_hash(text)
		.map(|h| H256(h.0))
		.ok_or_else(|| anyhow::anyhow!("{text:?} is not a 32-byte hash in hex"))
}

/// What an artifact hash is registered as on chain.
async fn artifact_owner(
	client: &LineageClient,
	hash: H256,
) -> anyhow::Result<Option<ArtifactOwner>> {
	let at = client.at_current_block().await?;
	let found =
		at.storage().try_fetch(lineage::storage().models().artifact_index(), (hash,)).await?;
	Ok(found.map(|v| v.decode()).transpose()?)
}

/// The evaluation as the chain records it: losses in micro-nats, shares in parts per billion.
pub fn chain_evaluation(
	manifest: &Manifest,
	manifest_hash: [u8; 32],
) -> anyhow::Result<Evaluation> {
	let e: &eval::Evaluation = &manifest.evaluation;
	let micro = |loss: f64| -> anyhow::Result<u32> {
		let v = (loss * 1e6).round();
		if !(0.0..=f64::from(u32::MAX)).contains(&v) {
			anyhow::bail!("a held-out loss of {loss} nats does not fit the chain's micro-nats");
		}
		Ok(v as u32)
	};
	let share = |num: u64, den: u64| {
		Perbill(if den == 0 {
			0
		} else {
			(u128::from(num) * 1_000_000_000 / u128::from(den)) as u32
		})
	};
	Ok(Evaluation {
		manifest_hash: H256(manifest_hash),
		heldout_records: e.heldout_records,
		heldout_tokens: u32::try_from(e.base.tokens)?,
		trained_tokens: manifest.run.tokens,
		base_loss: micro(e.base.loss)?,
		adapter_loss: micro(e.adapter.loss)?,
		base_token_accuracy: share(e.base.correct_tokens, e.base.tokens),
		adapter_token_accuracy: share(e.adapter.correct_tokens, e.adapter.tokens),
		base_exact_match: share(u64::from(e.base.exact_matches), u64::from(e.base.questions)),
		adapter_exact_match: share(
			u64::from(e.adapter.exact_matches),
			u64::from(e.adapter.questions),
		),
	})
}

/// Registers the adapter of `args.manifest` and posts its evaluation, signed by `signer` (who
/// becomes its author). The base model (and the parent) must be registered already.
pub async fn register(
	client: &LineageClient,
	signer: &Keypair,
	args: &RegisterArgs<'_>,
) -> anyhow::Result<Registered> {
	let m = args.manifest;
	let files = lineage_adapters::store::hash_dir(args.adapter_dir)?;
	let artifact = parse_hash(&m.adapter.artifact_hash)?;
	if files.0 != artifact.0 {
		anyhow::bail!(
			"the files in {} hash to 0x{}, not to the manifest's {}: register the adapter the run wrote",
			args.adapter_dir.display(),
			hex::encode(files.0),
			m.adapter.artifact_hash
		);
	}
	let base_hash = parse_hash(&m.base_model.artifact_hash)?;
	let base_model = match artifact_owner(client, base_hash).await? {
		Some(ArtifactOwner::Model(id)) => id,
		_ => anyhow::bail!(
			"the base model {} ({}) is not registered on chain: register it first (Models::register_model)",
			m.base_model.id,
			m.base_model.artifact_hash
		),
	};
	let parent = match &m.parent {
		Some(p) => match artifact_owner(client, parse_hash(&p.artifact_hash)?).await? {
			Some(ArtifactOwner::Adapter(id)) => Some(id),
			_ => anyhow::bail!(
				"the parent adapter {} is not registered: register it first",
				p.artifact_hash
			),
		},
		None => None,
	};
	let weights = m.lineage_weights()?;
	let bytes = |s: &str| BoundedVec(s.as_bytes().to_vec());
	let call = lineage::tx().models().register_adapter(
		base_model,
		parent,
		artifact,
		m.adapter.rank as u32,
		BoundedVec(m.adapter.target_modules.iter().map(|t| bytes(t)).collect()),
		Price { per_1k_input: args.price.0, per_1k_output: args.price.1 },
		bytes(args.license),
		bytes(args.uri),
		BoundedVec(
			weights
				.iter()
				.map(|&((datanet, version), w)| {
					(DatanetVersionRef { datanet, version }, Perbill(w))
				})
				.collect(),
		),
	);
	let done = submit_and_finalize(client, &call, signer).await?;
	let adapter = done
		.events
		.find_first::<lineage::models::events::AdapterRegistered>()
		.ok_or_else(|| {
			anyhow::anyhow!("register_adapter succeeded without an AdapterRegistered event")
		})??
		.adapter;
	post_evaluation(client, signer, adapter, chain_evaluation(m, args.manifest_hash)?).await?;
	Ok(Registered {
		adapter,
		base_model,
		parent,
		training: weights.iter().map(|&((d, v), w)| (d, v, w)).collect(),
		manifest_hash: format!("0x{}", hex::encode(args.manifest_hash)),
	})
}
