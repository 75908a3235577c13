//! The training manifest: what went into a run, how it ran and what came out, as one JSON file
//! (`manifest.json` in the run folder). Its sha-256 is what the chain records with the
//! adapter's evaluation, so the posted figures point at exactly these inputs and settings.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{config::TrainConfig, data::Skipped, eval::Evaluation, history::StepLog};

/// The manifest's format tag.
pub const FORMAT: &str = "lineage-training-manifest/1";
/// The file name in a run folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The base model trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseModel {
	/// Its id (the adapters' `base_model_name_or_path`).
	pub id: String,
	/// The model file's name.
	pub file: String,
	/// Its artifact hash (`0x…`, the chain's rule over the file).
	pub artifact_hash: String,
	/// How its weights were held: `gguf-dequantized-f32`.
	pub weights: String,
}

/// One datanet version the run read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatanetInput {
	/// The datanet.
	pub datanet: u32,
	/// The version.
	pub version: u32,
	/// Its Merkle root on chain (`0x…`); every record was checked against it.
	pub merkle_root: String,
	/// Its records.
	pub records: u32,
	/// Of which in the training split (after the budget).
	pub train_records: u32,
	/// Of which held out.
	pub heldout_records: u32,
	/// Tokens fed from this version over the whole run (prompts and answers, all epochs): the
	/// measure its lineage weight is taken from.
	pub tokens_consumed: u64,
}

/// The parent an adapter continued from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parent {
	/// Its artifact hash (`0x…`).
	pub artifact_hash: String,
}

/// How the run went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
	/// Optimiser steps.
	pub steps: usize,
	/// Tokens fed (prompts and answers, all steps).
	pub tokens: u64,
	/// Answer tokens the loss was taken on.
	pub answer_tokens: u64,
	/// Every step's loss, learning rate and gradient norm.
	pub log: Vec<StepLog>,
	/// Records that could not become examples, and why.
	pub skipped: Vec<Skipped>,
	/// Training records left out by `max_train_records`.
	pub over_budget: usize,
	/// CPU threads the run used.
	pub threads: usize,
	/// Seconds the training steps took (in the last process when resumed).
	pub seconds: f64,
	/// The step the run resumed after, when it was interrupted.
	pub resumed_after: Option<usize>,
}

/// The adapter written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterArtifact {
	/// Its artifact hash (`0x…`, the chain's rule over the two PEFT files).
	pub artifact_hash: String,
	/// Each file's sha-256 (`0x…`).
	pub files: BTreeMap<String, String>,
	/// The LoRA rank.
	pub rank: usize,
	/// The targeted modules.
	pub target_modules: Vec<String>,
}

/// A training manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
	/// [`FORMAT`].
	pub format: String,
	/// The tool and its version.
	pub tool: String,
	/// What binds the run's inputs and settings (names its folder and checkpoints).
	pub run_key: String,
	/// The base model.
	pub base_model: BaseModel,
	/// The parent adapter, when the run continued one.
	pub parent: Option<Parent>,
	/// The versions read.
	pub datanets: Vec<DatanetInput>,
	/// Every hyper-parameter.
	pub config: TrainConfig,
	/// How it went.
	pub run: RunReport,
	/// The held-out evaluation.
	pub evaluation: Evaluation,
	/// The adapter.
	pub adapter: AdapterArtifact,
}

impl Manifest {
	/// The bytes written: pretty JSON and a final newline.
	pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
		let mut out = serde_json::to_vec_pretty(self)?;
		out.push(b'\n');
		Ok(out)
	}

	/// sha-256 of [`Manifest::to_bytes`].
	pub fn hash(&self) -> anyhow::Result<[u8; 32]> {
		Ok(Sha256::digest(self.to_bytes()?).into())
	}

	/// Writes it into `dir` (atomically) and returns its hash.
	pub fn write(&self, dir: &Path) -> anyhow::Result<[u8; 32]> {
		let bytes = self.to_bytes()?;
		let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
		std::fs::write(&tmp, &bytes)?;
		std::fs::rename(&tmp, dir.join(MANIFEST_FILE))?;
		Ok(Sha256::digest(&bytes).into())
	}

	/// Reads a manifest file; the error names the file and what is wrong.
	pub fn read(path: &Path) -> anyhow::Result<(Manifest, [u8; 32])> {
		let bytes =
			std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
		let m: Manifest = serde_json::from_slice(&bytes)
			.map_err(|e| anyhow::anyhow!("{} is not a training manifest: {e}", path.display()))?;
		if m.format != FORMAT {
			anyhow::bail!("{} has format {:?}; this tool reads {FORMAT}", path.display(), m.format);
		}
		Ok((m, Sha256::digest(&bytes).into()))
	}

	/// The lineage weights of the versions in parts per billion, proportional to the tokens
	/// consumed from each, summing to exactly 10^9 (largest remainder). Versions the run
	/// consumed nothing from get nothing and are left out.
	pub fn lineage_weights(&self) -> anyhow::Result<Vec<((u32, u32), u32)>> {
		let used: Vec<&DatanetInput> =
			self.datanets.iter().filter(|d| d.tokens_consumed > 0).collect();
		let total: u128 = used.iter().map(|d| u128::from(d.tokens_consumed)).sum();
		if total == 0 {
			anyhow::bail!("the run consumed no tokens: nothing to attribute");
		}
		const ONE: u128 = 1_000_000_000;
		let mut parts: Vec<(usize, u128, u128)> = used
			.iter()
			.enumerate()
			.map(|(i, d)| {
				let exact = u128::from(d.tokens_consumed) * ONE;
				(i, exact / total, exact % total)
			})
			.collect();
		let assigned: u128 = parts.iter().map(|p| p.1).sum();
		let mut left = ONE - assigned;
		parts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
		for p in parts.iter_mut() {
			if left == 0 {
				break;
			}
			p.1 += 1;
			left -= 1;
		}
		parts.sort_by_key(|p| p.0);
		Ok(parts
			.into_iter()
			.map(|(i, w, _)| ((used[i].datanet, used[i].version), w as u32))
			.collect())
	}
}
