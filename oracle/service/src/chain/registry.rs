//! The chain's adapter registry as the oracle sees it: every registered adapter by artifact hash,
//! with its id, status and price, read from `Models::Adapters` at a finalized block.
//!
//! `chain::service` reloads it whenever a finalized block carries a `Models` event (a new
//! adapter, a deprecation, a revocation, a price change), so the oracle serves an adapter only
//! while the chain says it may be billed.

use std::{
	collections::HashMap,
	sync::{
		atomic::{AtomicU64, Ordering},
		RwLock,
	},
};

use lineage_primitives::{AdapterId, Hash};

use lineage_chain::{
	lineage::{self, runtime_types::pallet_models::AdapterStatus},
	rpc_err, ChainError, LineageClient,
};

/// Whether the chain lets an adapter be billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterState {
	/// Usable.
	Active,
	/// Superseded by its author, still billable.
	Deprecated,
	/// Revoked by governance: never served.
	Revoked,
}

/// One registered adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainAdapter {
	/// Its id on chain (what usage entries name).
	pub id: AdapterId,
	/// Its status.
	pub state: AdapterState,
	/// The price per 1,000 input tokens the oracle reserves escrow at: the higher of the price
	/// in force and a scheduled one, so a price rise cannot overdraw the payer.
	pub per_1k_input: u128,
	/// The same for output tokens.
	pub per_1k_output: u128,
	/// The base model it applies to.
	pub base_model: u32,
}

impl ChainAdapter {
	/// The most a request of `input` prompt tokens and up to `output` generated tokens may cost
	/// (rounded up), `None` on overflow.
	pub fn max_fee(&self, input: u64, output: u64) -> Option<u128> {
		let fee = lineage_primitives::usage::usage_fee(
			input,
			output,
			self.per_1k_input,
			self.per_1k_output,
		)?;
		fee.checked_add(1)
	}
}

/// The adapters registered on chain, by artifact hash, and the block they were read at.
#[derive(Debug, Default)]
pub struct Registry {
	adapters: RwLock<Maps>,
	block: AtomicU64,
}

#[derive(Debug, Default)]
struct Maps {
	by_hash: HashMap<Hash, ChainAdapter>,
	by_id: HashMap<AdapterId, Hash>,
}

impl Registry {
	/// An empty registry (nothing is served until the first sync).
	pub fn new() -> Self {
		Self::default()
	}

	/// The adapter registered with this artifact hash.
	pub fn get(&self, hash: &Hash) -> Option<ChainAdapter> {
		self.adapters.read().unwrap_or_else(|e| e.into_inner()).by_hash.get(hash).copied()
	}

	/// The adapter registered with this id.
	pub fn by_id(&self, id: AdapterId) -> Option<ChainAdapter> {
		self.entry(id).map(|(_, adapter)| adapter)
	}

	/// Adapter `id`'s artifact hash and record.
	pub fn entry(&self, id: AdapterId) -> Option<(Hash, ChainAdapter)> {
		let maps = self.adapters.read().unwrap_or_else(|e| e.into_inner());
		let hash = maps.by_id.get(&id)?;
		maps.by_hash.get(hash).map(|a| (*hash, *a))
	}

	/// The block number the registry was read at (0 before the first sync).
	pub fn block(&self) -> u64 {
		self.block.load(Ordering::Relaxed)
	}

	/// How many adapters are registered.
	pub fn len(&self) -> usize {
		self.adapters.read().unwrap_or_else(|e| e.into_inner()).by_hash.len()
	}

	/// Whether no adapter is registered.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// Replaces the contents with `adapters`, read at `block`, and returns the artifact hashes
	/// that were served before and are revoked now.
	pub fn replace(&self, adapters: HashMap<Hash, ChainAdapter>, block: u64) -> Vec<Hash> {
		let mut maps = self.adapters.write().unwrap_or_else(|e| e.into_inner());
		let newly_revoked = adapters
			.iter()
			.filter(|(h, a)| {
				a.state == AdapterState::Revoked
					&& maps.by_hash.get(*h).is_none_or(|old| old.state != AdapterState::Revoked)
			})
			.map(|(h, _)| *h)
			.collect();
		maps.by_id = adapters.iter().map(|(h, a)| (a.id, *h)).collect();
		maps.by_hash = adapters;
		self.block.store(block, Ordering::Relaxed);
		newly_revoked
	}
}

/// Reads every registered adapter at the current finalized block: `(adapters, block number)`.
pub async fn load_adapters(
	client: &LineageClient,
) -> Result<(HashMap<Hash, ChainAdapter>, u64), ChainError> {
	let at = client.at_current_block().await.map_err(rpc_err)?;
	let entry = at.storage().entry(lineage::storage().models().adapters()).map_err(rpc_err)?;
	let mut iter = entry.iter(()).await.map_err(rpc_err)?;
	let mut adapters = HashMap::new();
	while let Some(kv) = iter.next().await {
		let kv = kv.map_err(rpc_err)?;
		let (id,) = kv.key().map_err(rpc_err)?.decode().map_err(rpc_err)?;
		let info = kv.value().decode().map_err(rpc_err)?;
		let mut price = info.price;
		if let Some((_, next)) = info.next_price {
			price.per_1k_input = price.per_1k_input.max(next.per_1k_input);
			price.per_1k_output = price.per_1k_output.max(next.per_1k_output);
		}
		let state = match info.status {
			AdapterStatus::Active => AdapterState::Active,
			AdapterStatus::Deprecated => AdapterState::Deprecated,
			AdapterStatus::Revoked => AdapterState::Revoked,
		};
		adapters.insert(
			Hash::from(info.artifact_hash.0),
			ChainAdapter {
				id,
				state,
				per_1k_input: price.per_1k_input,
				per_1k_output: price.per_1k_output,
				base_model: info.base_model,
			},
		);
	}
	Ok((adapters, at.block_number()))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn adapter(id: u32, state: AdapterState) -> ChainAdapter {
		ChainAdapter { id, state, per_1k_input: 10, per_1k_output: 20, base_model: 0 }
	}

	#[test]
	fn replace_reports_only_new_revocations() {
		let r = Registry::new();
		let (a, b) = (Hash::repeat_byte(1), Hash::repeat_byte(2));
		let first = HashMap::from([
			(a, adapter(0, AdapterState::Active)),
			(b, adapter(1, AdapterState::Revoked)),
		]);
		assert_eq!(r.replace(first.clone(), 5), vec![b]);
		assert_eq!(r.replace(first, 6), Vec::<Hash>::new());
		let second = HashMap::from([
			(a, adapter(0, AdapterState::Revoked)),
			(b, adapter(1, AdapterState::Revoked)),
		]);
		assert_eq!(r.replace(second, 7), vec![a]);
		assert_eq!((r.block(), r.len()), (7, 2));
		assert_eq!(r.by_id(1).map(|a| a.state), Some(AdapterState::Revoked));
		assert_eq!(r.by_id(9), None);
	}

	#[test]
	fn max_fee_rounds_up() {
		// (1,000 × 10 + 500 × 20) / 1,000 = 20, + 1.
		assert_eq!(adapter(0, AdapterState::Active).max_fee(1_000, 500), Some(21));
	}
}
