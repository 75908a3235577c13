//! A run's checkpoint: the LoRA tensors, AdamW's moments and the run's counters, in one
//! safetensors file (the counters as JSON in its metadata) written to a temporary name, synced
//! and renamed over the last one. A crash or `kill -9` at any moment leaves the previous
//! checkpoint or the new one whole, never a mix.

use std::{collections::HashMap, path::Path};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::history::StepLog;

/// The file name inside the run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// What a checkpoint holds besides tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counters {
	/// Optimiser steps done.
	pub steps_done: usize,
	/// The optimiser's step count.
	pub adam_t: u64,
	/// What binds the checkpoint to its run: the hash of the run's inputs and settings.
	pub run_key: String,
	/// The log of every step done.
	pub log: Vec<StepLog>,
	/// Tokens fed per `datanet/version` so far.
	pub tokens_consumed: std::collections::BTreeMap<String, u64>,
}

/// The state to save or restore.
pub struct State {
	/// A, B per module, in order.
	pub params: Vec<Tensor>,
	/// AdamW first moments.
	pub m: Vec<Tensor>,
	/// AdamW second moments.
	pub v: Vec<Tensor>,
	/// The counters.
	pub counters: Counters,
}

/// Writes `state` as the run's checkpoint in `dir`, atomically.
pub fn save(dir: &Path, state: &State) -> anyhow::Result<()> {
	let mut tensors: Vec<(String, Tensor)> = Vec::new();
	for (kind, list) in [("p", &state.params), ("m", &state.m), ("v", &state.v)] {
		for (i, t) in list.iter().enumerate() {
			tensors.push((format!("{kind}.{i:05}"), t.clone()));
		}
	}
	let meta = HashMap::from([("counters".to_string(), serde_json::to_string(&state.counters)?)]);
	let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
	safetensors::serialize_to_file(tensors, Some(meta), &tmp)
		.map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
	std::fs::File::open(&tmp)?.sync_all()?;
	std::fs::rename(&tmp, dir.join(CHECKPOINT_FILE))?;
	std::fs::File::open(dir)?.sync_all()?;
	Ok(())
}

/// The checkpoint in `dir`, if there is one; it must belong to `run_key` and hold `params`
/// parameters.
pub fn load(dir: &Path, run_key: &str, params: usize) -> anyhow::Result<Option<State>> {
	let path = dir.join(CHECKPOINT_FILE);
	if !path.is_file() {
		return Ok(None);
	}
	let bytes = std::fs::read(&path)?;
	let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
		.map_err(|e| anyhow::anyhow!("{} is not a checkpoint: {e}", path.display()))?;
	let text = meta
		.metadata()
		.as_ref()
		.and_then(|m| m.get("counters"))
		.ok_or_else(|| anyhow::anyhow!("{} has no counters", path.display()))?;
	let counters: Counters = serde_json::from_str(text)?;
	if counters.run_key != run_key {
		anyhow::bail!(
			"{} belongs to another run (other data or settings): remove it or use another run folder",
			path.display()
		);
	}
	let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?;
	let mut take = |kind: &str| -> anyhow::Result<Vec<Tensor>> {
		(0..params)
			.map(|i| {
				tensors
					.remove(&format!("{kind}.{i:05}"))
					.ok_or_else(|| anyhow::anyhow!("{} lacks {kind}.{i:05}", path.display()))
			})
			.collect()
	};
	let (p, m, v) = (take("p")?, take("m")?, take("v")?);
	Ok(Some(State { params: p, m, v, counters }))
}
