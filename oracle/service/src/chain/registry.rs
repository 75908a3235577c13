//! The chain's adapter registry as the oracle sees it: every registered adapter by artifact hash,
//! with its id, status and price, read from `Models::Adapters` at a finalized block.
//!
//! `chain::service` loads it whole at start and after a reconnect or a gap in the finalized
//! blocks it follows ([`Registry::replace`]); in between, each finalized block's `Models` events
//! ([`adapters_named`]: a new adapter, a deprecation, a revocation, a price change scheduled)
//! re-read only the adapters they name ([`apply_changes`], one storage read each), as
//! [`plan`] decides. So the oracle serves an adapter only while the chain says it may be billed,
//! and a registry of thousands of adapters is not read again for one price change.

use std::{
	collections::{BTreeSet, HashMap},
	sync::{
		atomic::{AtomicU64, Ordering},
		RwLock,
	},
};

use futures::future::BoxFuture;
use lineage_primitives::{AdapterId, Hash};
use subxt::events::{Event, Events};

use lineage_chain::{
	lineage::{
		self,
		runtime_types::pallet_models::{AdapterInfo, AdapterStatus},
	},
	rpc_err, BlockClient, ChainError, LineageClient, LineageConfig,
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

	/// Sets adapter `id` to `found` (its artifact hash and record as the chain holds them now;
	/// `None`: no longer in storage, so forgotten) and returns its artifact hash when it was
	/// served before and is revoked now. The other adapters are left as they are.
	pub fn update(&self, id: AdapterId, found: Option<(Hash, ChainAdapter)>) -> Option<Hash> {
		let mut maps = self.adapters.write().unwrap_or_else(|e| e.into_inner());
		let old_hash = maps.by_id.remove(&id);
		let old = old_hash.and_then(|h| maps.by_hash.remove(&h));
		let (hash, adapter) = found?;
		let newly_revoked = adapter.state == AdapterState::Revoked
			&& (old_hash != Some(hash) || old.is_none_or(|o| o.state != AdapterState::Revoked));
		maps.by_id.insert(id, hash);
		maps.by_hash.insert(hash, adapter);
		newly_revoked.then_some(hash)
	}

	/// Records that the registry reflects the chain's state at `block`.
	pub fn set_block(&self, block: u64) {
		self.block.store(block, Ordering::Relaxed);
	}
}

/// Adapter `id` as the oracle keeps it, from the chain's `info`: its artifact hash and record
/// (priced at the higher of the price in force and a scheduled one).
fn chain_adapter(id: AdapterId, info: AdapterInfo) -> (Hash, ChainAdapter) {
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
	let adapter = ChainAdapter {
		id,
		state,
		per_1k_input: price.per_1k_input,
		per_1k_output: price.per_1k_output,
		base_model: info.base_model,
	};
	(Hash::from(info.artifact_hash.0), adapter)
}

/// Reads every registered adapter at the current finalized block: `(adapters, block number)`.
pub async fn load_adapters(
	client: &LineageClient,
) -> Result<(HashMap<Hash, ChainAdapter>, u64), ChainError> {
	let at = client.at_current_block().await.map_err(rpc_err)?;
	Ok((load_adapters_at(&at).await?, at.block_number()))
}

/// Reads every registered adapter in the state of block `at`.
pub async fn load_adapters_at(at: &BlockClient) -> Result<HashMap<Hash, ChainAdapter>, ChainError> {
	let entry = at.storage().entry(lineage::storage().models().adapters()).map_err(rpc_err)?;
	let mut iter = entry.iter(()).await.map_err(rpc_err)?;
	let mut adapters = HashMap::new();
	while let Some(kv) = iter.next().await {
		let kv = kv.map_err(rpc_err)?;
		let (id,) = kv.key().map_err(rpc_err)?.decode().map_err(rpc_err)?;
		let (hash, adapter) = chain_adapter(id, kv.value().decode().map_err(rpc_err)?);
		adapters.insert(hash, adapter);
	}
	Ok(adapters)
}

/// Where [`apply_changes`] reads one adapter from: the chain's storage at a block
/// ([`StorageAt`]), or a fake in tests.
pub trait AdapterSource: Sync {
	/// Adapter `id`'s artifact hash and record, `None` when storage has no such adapter.
	fn adapter(
		&self,
		id: AdapterId,
	) -> BoxFuture<'_, Result<Option<(Hash, ChainAdapter)>, ChainError>>;
}

/// `Models::Adapters` in the state of one block.
pub struct StorageAt<'a>(pub &'a BlockClient);

impl AdapterSource for StorageAt<'_> {
	fn adapter(
		&self,
		id: AdapterId,
	) -> BoxFuture<'_, Result<Option<(Hash, ChainAdapter)>, ChainError>> {
		Box::pin(async move {
			let value = self
				.0
				.storage()
				.try_fetch(lineage::storage().models().adapters(), (id,))
				.await
				.map_err(rpc_err)?;
			let info = value.map(|v| v.decode()).transpose().map_err(rpc_err)?;
			Ok(info.map(|info| chain_adapter(id, info)))
		})
	}
}

/// Re-reads only the adapters `ids` from `source` (one read each), updates `registry` with
/// them, and records it as synced at `block`. Returns the artifact hashes newly revoked (to be
/// unloaded). On an error nothing is recorded as synced: the caller reloads the whole registry.
pub async fn apply_changes(
	registry: &Registry,
	source: &dyn AdapterSource,
	ids: &BTreeSet<AdapterId>,
	block: u64,
) -> Result<Vec<Hash>, ChainError> {
	let mut read = Vec::with_capacity(ids.len());
	for &id in ids {
		read.push((id, source.adapter(id).await?));
	}
	let revoked = read.into_iter().filter_map(|(id, found)| registry.update(id, found)).collect();
	registry.set_block(block);
	Ok(revoked)
}

/// What a finalized block asks of the registry ([`plan`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncStep {
	/// The registry already reflects this block (read at it or later): nothing to do.
	Skip,
	/// Re-read only these adapters (none: the block changed none, the registry just moves on).
	Update(BTreeSet<AdapterId>),
	/// Reload the whole registry: blocks were missed since the last sync, or an event could not
	/// be read.
	Reload,
}

/// What block `block` asks of a registry that reflects block `synced`, given the adapters the
/// block's `Models` events name (`None` when they could not be read).
pub fn plan(synced: u64, block: u64, named: Option<BTreeSet<AdapterId>>) -> SyncStep {
	if block <= synced {
		return SyncStep::Skip;
	}
	match named {
		Some(ids) if block == synced + 1 => SyncStep::Update(ids),
		_ => SyncStep::Reload,
	}
}

/// The adapters a block's `Models` events name: registered, deprecated, revoked, or repriced.
/// `None` when an event cannot be decoded or is one this oracle does not know (then the whole
/// registry is reloaded: never a stale adapter served for a missed change).
pub fn adapters_named(events: &Events<LineageConfig>) -> Option<BTreeSet<AdapterId>> {
	let mut ids = BTreeSet::new();
	for event in events.iter() {
		let event = event.ok()?;
		if event.pallet_name() != "Models" {
			continue;
		}
		if let Some(id) = adapter_of(&event)? {
			ids.insert(id);
		}
	}
	Some(ids)
}

/// The adapter a `Models` event names (`Some(None)`: an event that changes no adapter's record),
/// `None` when it cannot be read.
fn adapter_of(event: &Event<'_, LineageConfig>) -> Option<Option<AdapterId>> {
	use lineage::models::events as e;
	let id = match event.event_name() {
		"AdapterRegistered" => event.decode_fields_as::<e::AdapterRegistered>()?.ok()?.adapter,
		"AdapterDeprecated" => event.decode_fields_as::<e::AdapterDeprecated>()?.ok()?.adapter,
		"AdapterRevoked" => event.decode_fields_as::<e::AdapterRevoked>()?.ok()?.adapter,
		"PriceChangeScheduled" => {
			event.decode_fields_as::<e::PriceChangeScheduled>()?.ok()?.adapter
		},
		// A base model (not in the registry) or an evaluation (kept apart from the record).
		"ModelRegistered" | "EvaluationPosted" => return Some(None),
		_ => return None,
	};
	Some(Some(id))
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

	/// A chain whose adapters are `adapters`, counting the reads.
	#[derive(Default)]
	struct FakeChain {
		adapters: HashMap<AdapterId, (Hash, ChainAdapter)>,
		reads: std::sync::Mutex<Vec<AdapterId>>,
	}

	impl AdapterSource for FakeChain {
		fn adapter(
			&self,
			id: AdapterId,
		) -> BoxFuture<'_, Result<Option<(Hash, ChainAdapter)>, ChainError>> {
			self.reads.lock().unwrap().push(id);
			let found = self.adapters.get(&id).copied();
			Box::pin(async move { Ok(found) })
		}
	}

	#[tokio::test]
	async fn an_event_for_one_adapter_reads_only_that_adapter() {
		let (x, y) = (Hash::repeat_byte(1), Hash::repeat_byte(2));
		let r = Registry::new();
		r.replace(
			HashMap::from([
				(x, adapter(0, AdapterState::Active)),
				(y, adapter(1, AdapterState::Active)),
			]),
			5,
		);
		// On chain, X is revoked in block 6; Y was repriced too, but no event of block 6 names
		// it (the registry must not read it).
		let mut y_repriced = adapter(1, AdapterState::Active);
		y_repriced.per_1k_output = 99;
		let chain = FakeChain {
			adapters: HashMap::from([
				(0, (x, adapter(0, AdapterState::Revoked))),
				(1, (y, y_repriced)),
			]),
			..Default::default()
		};
		let revoked = apply_changes(&r, &chain, &BTreeSet::from([0]), 6).await.unwrap();
		assert_eq!(*chain.reads.lock().unwrap(), vec![0], "only X is read");
		assert_eq!(revoked, vec![x], "X is unloaded");
		// Revoked X is no longer served (the gate refuses a revoked adapter); Y stays as it was.
		assert_eq!(r.get(&x).map(|a| a.state), Some(AdapterState::Revoked));
		assert_eq!(r.get(&y), Some(adapter(1, AdapterState::Active)));
		assert_eq!((r.block(), r.len()), (6, 2));
		// The same event again reports no new revocation.
		assert_eq!(apply_changes(&r, &chain, &BTreeSet::from([0]), 7).await.unwrap(), vec![]);
	}

	#[tokio::test]
	async fn a_new_adapter_is_added_and_a_vanished_one_forgotten() {
		let (x, z) = (Hash::repeat_byte(1), Hash::repeat_byte(3));
		let r = Registry::new();
		r.replace(HashMap::from([(x, adapter(0, AdapterState::Active))]), 5);
		let chain = FakeChain {
			adapters: HashMap::from([(2, (z, adapter(2, AdapterState::Deprecated)))]),
			..Default::default()
		};
		let revoked = apply_changes(&r, &chain, &BTreeSet::from([0, 2]), 6).await.unwrap();
		assert!(revoked.is_empty());
		assert_eq!(r.get(&x), None, "not in storage any more: forgotten");
		assert_eq!(r.by_id(0), None);
		assert_eq!(r.entry(2), Some((z, adapter(2, AdapterState::Deprecated))));
		assert_eq!(r.len(), 1);
	}

	#[test]
	fn a_block_updates_in_order_and_reloads_after_a_gap() {
		let ids = BTreeSet::from([4]);
		assert_eq!(plan(10, 11, Some(ids.clone())), SyncStep::Update(ids.clone()));
		assert_eq!(plan(10, 11, Some(BTreeSet::new())), SyncStep::Update(BTreeSet::new()));
		assert_eq!(plan(10, 10, Some(ids.clone())), SyncStep::Skip, "read at this block");
		assert_eq!(plan(10, 3, None), SyncStep::Skip, "older than the registry");
		assert_eq!(plan(10, 12, Some(ids)), SyncStep::Reload, "block 11 was missed");
		assert_eq!(plan(10, 11, None), SyncStep::Reload, "an unreadable event");
	}

	#[test]
	fn max_fee_rounds_up() {
		// (1,000 × 10 + 500 × 20) / 1,000 = 20, + 1.
		assert_eq!(adapter(0, AdapterState::Active).max_fee(1_000, 500), Some(21));
	}
}
