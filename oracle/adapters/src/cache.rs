//! Memory tiers for loaded adapters.
//!
//! Adapters are loaded from the [store](crate::store) on first use and kept in memory:
//! - the **host tier**: host-memory copies, an LRU bounded in bytes (the sum of
//!   [`Cacheable::weight_bytes`] of what it holds);
//! - the **device tier** (only when a `promote` function is given, i.e. the engine runs on a
//!   GPU): device copies made from host copies, an LRU bounded in bytes as well. On CPU there is
//!   no device tier and the host copies are what the engine uses.
//!
//! [`AdapterCache::get`] answers a hit with an `Arc` clone. On a miss it loads the adapter on the
//! blocking pool (`spawn_blocking`), **once** however many requests ask for it at the same time
//! (single-flight): concurrent requests for the adapter await the same load, and loads of one
//! adapter never block requests for other adapters or for the base model. The load runs in its
//! own task, so it completes (and is cached) even if every waiting request goes away.
//!
//! Eviction drops the cache's reference only: a request that holds the `Arc` keeps its adapter
//! alive, and the byte budget counts what the cache holds. Eviction prefers adapters no request is
//! using, then the least recently used. [Pinned](AdapterCache::pin) adapters are never evicted by
//! the LRU (they still count against the budget; an unpinned adapter larger than the whole budget
//! is served but not kept).
//!
//! The cache is keyed by a string; the oracle uses the adapter's artifact hash in hex, so a name
//! re-pointed at new bytes can never be served stale weights.

use std::{
	collections::{HashMap, HashSet},
	sync::{Arc, Mutex, MutexGuard},
	time::{Duration, Instant},
};

use candle_core::{DType, Device};
use futures::{
	future::{BoxFuture, Shared},
	FutureExt,
};

use lineage_engine::{
	load_peft, AdapterErrorKind, AdapterLimits, LoadOptions, LoraAdapter, ModelConfig,
};

use crate::store::{parse_hash, AdapterStore, StoreError};

/// What the cache needs to know of a value: how many bytes it holds.
pub trait Cacheable: Send + Sync + 'static {
	/// The bytes of weights this value holds (counted against the tier's budget).
	fn weight_bytes(&self) -> usize;
}

/// Why an adapter could not be had from the cache. Cloned to every request that awaited the load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
	/// No adapter is known under this key.
	#[error("unknown adapter {0}")]
	NotFound(String),
	/// The adapter was refused: its files are invalid, or it uses what the engine does not serve,
	/// or it does not fit this base model.
	#[error("adapter {key} refused: {reason}")]
	Refused {
		/// The cache key.
		key: String,
		/// The class of the refusal ([`AdapterError::kind`](super::AdapterError::kind)).
		kind: AdapterErrorKind,
		/// Why it was refused, in words.
		reason: String,
	},
	/// Copying the adapter to the device failed.
	#[error("moving adapter {key} to the device failed: {reason}")]
	Device {
		/// The cache key.
		key: String,
		/// What the device said.
		reason: String,
	},
	/// Loading failed for a reason that is not the adapter's fault (I/O, a panicked task).
	#[error("loading adapter {key} failed: {reason}")]
	Internal {
		/// The cache key.
		key: String,
		/// What went wrong.
		reason: String,
	},
}

/// Loads the host copy of the adapter with a key (runs on the blocking pool).
pub type Loader<V> = Arc<dyn Fn(&str) -> Result<V, CacheError> + Send + Sync>;

/// Makes the device copy of a host copy (runs on the blocking pool).
pub type Promote<V> = Arc<dyn Fn(&str, &V) -> Result<V, CacheError> + Send + Sync>;

/// Called with the duration of each load from the store (for the load-time histogram).
pub type LoadObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// The byte budgets of the tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
	/// Budget of the host tier, in bytes.
	pub host_bytes: usize,
	/// Budget of the device tier, in bytes (used only when the cache has a `promote` function).
	pub device_bytes: usize,
}

/// Counters and gauges of one tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierStats {
	/// Requests answered from this tier.
	pub hits: u64,
	/// Requests this tier could not answer.
	pub misses: u64,
	/// Adapters evicted by the LRU.
	pub evictions: u64,
	/// Bytes held now.
	pub bytes: usize,
	/// Adapters held now.
	pub entries: usize,
	/// The budget, in bytes.
	pub budget: usize,
}

/// A snapshot of the cache's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
	/// The host tier.
	pub host: TierStats,
	/// The device tier, when there is one.
	pub device: Option<TierStats>,
	/// Loads from the store that succeeded.
	pub loads: u64,
	/// Loads from the store (or promotions) that failed.
	pub load_failures: u64,
	/// Keys pinned now.
	pub pinned: usize,
}

struct Entry<V> {
	value: Arc<V>,
	bytes: usize,
	last_used: u64,
}

struct Tier<V> {
	entries: HashMap<String, Entry<V>>,
	stats: TierStats,
}

impl<V: Cacheable> Tier<V> {
	fn new(budget: usize) -> Self {
		Self { entries: HashMap::new(), stats: TierStats { budget, ..Default::default() } }
	}

	fn touch(&mut self, key: &str, tick: u64) -> Option<Arc<V>> {
		let entry = self.entries.get_mut(key)?;
		entry.last_used = tick;
		Some(entry.value.clone())
	}

	fn remove(&mut self, key: &str) -> bool {
		match self.entries.remove(key) {
			Some(old) => {
				self.stats.bytes -= old.bytes;
				self.stats.entries -= 1;
				true
			},
			None => false,
		}
	}

	/// Insert `value` and evict down to the budget. Returns whether `value` was kept.
	fn insert(&mut self, key: &str, value: Arc<V>, tick: u64, pinned: &HashSet<String>) -> bool {
		self.remove(key);
		let bytes = value.weight_bytes();
		if bytes > self.stats.budget && !pinned.contains(key) {
			return false;
		}
		self.entries.insert(key.to_string(), Entry { value, bytes, last_used: tick });
		self.stats.bytes += bytes;
		self.stats.entries += 1;
		self.trim(pinned, Some(key));
		true
	}

	/// Evict until the tier fits its budget: idle entries before those in use, then the least
	/// recently used; never a pinned entry, nor `keep`.
	fn trim(&mut self, pinned: &HashSet<String>, keep: Option<&str>) {
		while self.stats.bytes > self.stats.budget {
			let victim = self
				.entries
				.iter()
				.filter(|(k, _)| Some(k.as_str()) != keep && !pinned.contains(k.as_str()))
				.min_by_key(|(_, e)| (Arc::strong_count(&e.value) > 1, e.last_used))
				.map(|(k, _)| k.clone());
			let Some(victim) = victim else { break };
			self.remove(&victim);
			self.stats.evictions += 1;
		}
	}
}

type LoadResult<V> = Result<Arc<V>, CacheError>;
type Inflight<V> = Shared<BoxFuture<'static, LoadResult<V>>>;

struct State<V> {
	host: Tier<V>,
	device: Option<Tier<V>>,
	pinned: HashSet<String>,
	/// Loads under way: key → (load id, the future every waiter awaits).
	inflight: HashMap<String, (u64, Inflight<V>)>,
	tick: u64,
	next_load: u64,
	loads: u64,
	load_failures: u64,
}

impl<V: Cacheable> State<V> {
	fn next_tick(&mut self) -> u64 {
		self.tick += 1;
		self.tick
	}

	fn is_current(&self, key: &str, load: u64) -> bool {
		self.inflight.get(key).is_some_and(|(id, _)| *id == load)
	}
}

struct Inner<V> {
	state: Mutex<State<V>>,
	loader: Loader<V>,
	promote: Option<Promote<V>>,
	on_load: Option<LoadObserver>,
}

impl<V> Inner<V> {
	fn lock(&self) -> MutexGuard<'_, State<V>> {
		// No method panics while holding the lock half-way through an update.
		self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
	}
}

/// The tiered adapter cache. Clones share one cache.
pub struct AdapterCache<V> {
	inner: Arc<Inner<V>>,
}

impl<V> Clone for AdapterCache<V> {
	fn clone(&self) -> Self {
		Self { inner: self.inner.clone() }
	}
}

impl<V: Cacheable> AdapterCache<V> {
	/// A cache that loads host copies with `loader` and, when `promote` is given, keeps device
	/// copies made by it in a device tier.
	pub fn new(config: CacheConfig, loader: Loader<V>, promote: Option<Promote<V>>) -> Self {
		let state = State {
			host: Tier::new(config.host_bytes),
			device: promote.as_ref().map(|_| Tier::new(config.device_bytes)),
			pinned: HashSet::new(),
			inflight: HashMap::new(),
			tick: 0,
			next_load: 0,
			loads: 0,
			load_failures: 0,
		};
		Self { inner: Arc::new(Inner { state: Mutex::new(state), loader, promote, on_load: None }) }
	}

	/// Call `observer` with the duration of every load from the store. Set it before sharing
	/// the cache (it is ignored on a cache that already has clones).
	pub fn with_load_observer(mut self, observer: LoadObserver) -> Self {
		if let Some(inner) = Arc::get_mut(&mut self.inner) {
			inner.on_load = Some(observer);
		}
		self
	}

	/// The adapter with this key, as the engine uses it: from memory when it is there, else
	/// loaded once (see the module doc) and cached.
	pub async fn get(&self, key: &str) -> Result<Arc<V>, CacheError> {
		let waiting = {
			let mut guard = self.inner.lock();
			let st = &mut *guard;
			let tick = st.next_tick();
			let top_hit = match st.device.as_mut() {
				Some(device) => device.touch(key, tick),
				None => st.host.touch(key, tick),
			};
			let top = st.device.as_mut().map_or(&mut st.host.stats, |d| &mut d.stats);
			if let Some(value) = top_hit {
				top.hits += 1;
				return Ok(value);
			}
			top.misses += 1;
			match st.inflight.get(key) {
				Some((_, fut)) => fut.clone(),
				None => self.start_load(st, key),
			}
		};
		waiting.await
	}

	/// Make sure the adapter is loaded (into every tier) and return it; the same as
	/// [`get`](Self::get), named for the management API.
	pub async fn load(&self, key: &str) -> Result<Arc<V>, CacheError> {
		self.get(key).await
	}

	/// Drop the adapter from every tier, unpin it, and make a load under way not cache its
	/// result. Requests holding it keep their `Arc`. Returns whether anything was dropped.
	pub fn unload(&self, key: &str) -> bool {
		let mut st = self.inner.lock();
		let mut dropped = st.host.remove(key);
		if let Some(device) = st.device.as_mut() {
			dropped |= device.remove(key);
		}
		st.pinned.remove(key);
		st.inflight.remove(key);
		dropped
	}

	/// Pin a key: its adapter, once loaded, is never evicted by the LRU.
	pub fn pin(&self, key: &str) {
		self.inner.lock().pinned.insert(key.to_string());
	}

	/// Unpin a key; its adapter becomes evictable (and the tiers are trimmed to their budgets).
	pub fn unpin(&self, key: &str) {
		let mut st = self.inner.lock();
		if !st.pinned.remove(key) {
			return;
		}
		let st = &mut *st;
		st.host.trim(&st.pinned, None);
		if let Some(device) = st.device.as_mut() {
			device.trim(&st.pinned, None);
		}
	}

	/// Whether the adapter is held in the tier the engine uses (device tier, else host tier).
	pub fn is_resident(&self, key: &str) -> bool {
		let st = self.inner.lock();
		match st.device.as_ref() {
			Some(device) => device.entries.contains_key(key),
			None => st.host.entries.contains_key(key),
		}
	}

	/// A snapshot of the counters.
	pub fn stats(&self) -> CacheStats {
		let st = self.inner.lock();
		CacheStats {
			host: st.host.stats,
			device: st.device.as_ref().map(|d| d.stats),
			loads: st.loads,
			load_failures: st.load_failures,
			pinned: st.pinned.len(),
		}
	}

	/// Start the load task for `key` and register it as in flight. Called with the lock held.
	fn start_load(&self, st: &mut State<V>, key: &str) -> Inflight<V> {
		st.next_load += 1;
		let load = st.next_load;
		let inner = self.inner.clone();
		let owned_key = key.to_string();
		let task = tokio::spawn(async move {
			let result = run_load(&inner, &owned_key, load).await;
			let mut st = inner.lock();
			let current = st.is_current(&owned_key, load);
			match &result {
				Ok(value) => {
					st.loads += 1;
					if current {
						let tick = st.next_tick();
						let st = &mut *st;
						let top = st.device.as_mut().unwrap_or(&mut st.host);
						top.insert(&owned_key, value.clone(), tick, &st.pinned);
					}
				},
				Err(_) => st.load_failures += 1,
			}
			if current {
				st.inflight.remove(&owned_key);
			}
			result
		});
		let err_key = key.to_string();
		let fut: Inflight<V> = async move {
			task.await.unwrap_or_else(|e| {
				Err(CacheError::Internal { key: err_key, reason: format!("load task failed: {e}") })
			})
		}
		.boxed()
		.shared();
		st.inflight.insert(key.to_string(), (load, fut.clone()));
		fut
	}
}

/// Load `key` through the tiers below the top one: host copy (from memory or the store), then the
/// device copy when there is a device tier. The caller inserts the result into the top tier.
async fn run_load<V: Cacheable>(inner: &Arc<Inner<V>>, key: &str, load: u64) -> LoadResult<V> {
	let Some(promote) = inner.promote.clone() else {
		return load_from_store(inner, key).await;
	};
	let cached = {
		let mut st = inner.lock();
		let tick = st.next_tick();
		let hit = st.host.touch(key, tick);
		if hit.is_some() {
			st.host.stats.hits += 1;
		} else {
			st.host.stats.misses += 1;
		}
		hit
	};
	let host = match cached {
		Some(host) => host,
		None => {
			let host = load_from_store(inner, key).await?;
			let mut st = inner.lock();
			if st.is_current(key, load) {
				let tick = st.next_tick();
				let st = &mut *st;
				st.host.insert(key, host.clone(), tick, &st.pinned);
			}
			host
		},
	};
	let owned_key = key.to_string();
	let device = tokio::task::spawn_blocking(move || promote(&owned_key, &host))
		.await
		.map_err(|e| CacheError::Internal { key: key.to_string(), reason: e.to_string() })??;
	Ok(Arc::new(device))
}

async fn load_from_store<V: Cacheable>(inner: &Arc<Inner<V>>, key: &str) -> LoadResult<V> {
	let loader = inner.loader.clone();
	let owned_key = key.to_string();
	let start = Instant::now();
	let value = tokio::task::spawn_blocking(move || loader(&owned_key))
		.await
		.map_err(|e| CacheError::Internal { key: key.to_string(), reason: e.to_string() })??;
	if let Some(observe) = &inner.on_load {
		observe(start.elapsed());
	}
	tracing::debug!(
		adapter = key,
		elapsed_ms = start.elapsed().as_millis() as u64,
		"adapter loaded"
	);
	Ok(Arc::new(value))
}

impl Cacheable for LoraAdapter {
	fn weight_bytes(&self) -> usize {
		LoraAdapter::weight_bytes(self)
	}
}

/// The oracle's loader: the cache key is an artifact hash in hex; the stored files are re-hashed
/// ([`AdapterStore::verify`]), so only bytes that still hash to their registered hash are
/// served, then parsed as PEFT on the host in `dtype`, checked against the base model.
pub fn peft_loader(
	store: Arc<AdapterStore>,
	base: ModelConfig,
	base_id: String,
	limits: AdapterLimits,
	dtype: DType,
) -> Loader<LoraAdapter> {
	Arc::new(move |key: &str| {
		let hash = parse_hash(key).ok_or_else(|| CacheError::NotFound(key.to_string()))?;
		store.verify(&hash).map_err(|e| match e {
			StoreError::UnknownAdapter(_) => CacheError::NotFound(key.to_string()),
			StoreError::HashMismatch { .. } | StoreError::MissingFile(_) => CacheError::Refused {
				key: key.to_string(),
				kind: AdapterErrorKind::InvalidFiles,
				reason: e.to_string(),
			},
			e => CacheError::Internal { key: key.to_string(), reason: e.to_string() },
		})?;
		load_on_host(&store.path_of(&hash), key, &base, &base_id, limits, dtype)
	})
}

/// Parses the PEFT adapter in `dir` on the host in `dtype`, checked against the base model
/// (`base`, served as `base_id`); a refusal is reported under the cache key `key`.
pub fn load_on_host(
	dir: &std::path::Path,
	key: &str,
	base: &ModelConfig,
	base_id: &str,
	limits: AdapterLimits,
	dtype: DType,
) -> Result<LoraAdapter, CacheError> {
	let opts = LoadOptions {
		base,
		expected_base: Some(base_id),
		limits,
		device: &Device::Cpu,
		dtype,
		name: Some(key),
	};
	load_peft(dir, &opts).map_err(|e| CacheError::Refused {
		key: key.to_string(),
		kind: e.kind(),
		reason: e.to_string(),
	})
}

/// The device tier's copy function for `device`, or `None` on the CPU (where the host tier is
/// what the engine uses).
pub fn device_promote(device: &Device, dtype: DType) -> Option<Promote<LoraAdapter>> {
	if device.is_cpu() {
		return None;
	}
	let device = device.clone();
	Some(Arc::new(move |key: &str, host: &LoraAdapter| {
		host.to_device(&device, dtype)
			.map_err(|e| CacheError::Device { key: key.to_string(), reason: e.to_string() })
	}))
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::sync::atomic::{AtomicUsize, Ordering};

	/// A stand-in adapter: its key and its size.
	#[derive(Debug, PartialEq)]
	struct Blob {
		key: String,
		bytes: usize,
		on_device: bool,
	}

	impl Cacheable for Blob {
		fn weight_bytes(&self) -> usize {
			self.bytes
		}
	}

	/// Keys look like `name:bytes`; `bad:*` fails; `slow:*` sleeps 200 ms.
	fn loader(calls: Arc<AtomicUsize>) -> Loader<Blob> {
		Arc::new(move |key: &str| {
			calls.fetch_add(1, Ordering::SeqCst);
			let (name, bytes) = key.split_once(':').ok_or(CacheError::NotFound(key.into()))?;
			if name == "bad" {
				return Err(CacheError::Refused {
					key: key.into(),
					kind: AdapterErrorKind::InvalidFiles,
					reason: "bad".into(),
				});
			}
			if name == "slow" {
				std::thread::sleep(Duration::from_millis(200));
			}
			let bytes = bytes.parse().map_err(|_| CacheError::NotFound(key.into()))?;
			Ok(Blob { key: key.into(), bytes, on_device: false })
		})
	}

	fn host_cache(budget: usize) -> (AdapterCache<Blob>, Arc<AtomicUsize>) {
		let calls = Arc::new(AtomicUsize::new(0));
		let config = CacheConfig { host_bytes: budget, device_bytes: 0 };
		(AdapterCache::new(config, loader(calls.clone()), None), calls)
	}

	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn concurrent_misses_load_once() {
		let (cache, calls) = host_cache(1000);
		let gets = (0..16).map(|_| {
			let cache = cache.clone();
			tokio::spawn(async move { cache.get("slow:10").await })
		});
		for got in futures::future::join_all(gets).await {
			assert_eq!(got.expect("join").expect("load").key, "slow:10");
		}
		assert_eq!(calls.load(Ordering::SeqCst), 1);
		let stats = cache.stats();
		assert_eq!((stats.host.misses, stats.loads, stats.host.entries), (16, 1, 1));
		cache.get("slow:10").await.expect("hit");
		assert_eq!(cache.stats().host.hits, 1);
	}

	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn a_slow_load_does_not_block_other_adapters() {
		let (cache, _) = host_cache(1000);
		cache.get("fast:1").await.expect("fast");
		let slow = {
			let cache = cache.clone();
			tokio::spawn(async move { cache.get("slow:1").await })
		};
		tokio::time::sleep(Duration::from_millis(20)).await;
		let start = Instant::now();
		cache.get("fast:1").await.expect("hit");
		cache.get("other:1").await.expect("other load");
		assert!(start.elapsed() < Duration::from_millis(150), "{:?}", start.elapsed());
		slow.await.expect("join").expect("slow");
	}

	#[tokio::test]
	async fn lru_is_bounded_in_bytes_and_spares_pinned_and_in_use() {
		let (cache, calls) = host_cache(100);
		cache.pin("p:40");
		let _p = cache.get("p:40").await.expect("p");
		let a = cache.get("a:30").await.expect("a");
		drop(a);
		let held = cache.get("b:30").await.expect("b");
		// 40 + 30 + 30 = 100: all fit. Touch a so b is the LRU, but b is in use.
		cache.get("a:30").await.expect("a again");
		cache.get("c:30").await.expect("c");
		let stats = cache.stats().host;
		assert!(stats.bytes <= 100, "{stats:?}");
		assert!(cache.is_resident("p:40"), "pinned stays");
		assert!(cache.is_resident("b:30"), "in use is evicted last");
		assert!(!cache.is_resident("a:30"), "idle LRU goes first");
		assert_eq!(stats.evictions, 1);
		// An evicted adapter still in use stays alive for its holder.
		assert_eq!(held.key, "b:30");
		// Larger than the budget: served, not kept.
		assert_eq!(cache.get("huge:500").await.expect("huge").bytes, 500);
		assert!(!cache.is_resident("huge:500"));
		// Unpinning makes it evictable again; unload drops it now.
		cache.unpin("p:40");
		assert!(cache.unload("p:40"));
		assert!(!cache.is_resident("p:40"));
		assert_eq!(calls.load(Ordering::SeqCst), 5);
	}

	#[tokio::test]
	async fn unpinning_trims_the_tier_to_its_budget() {
		let (cache, _) = host_cache(50);
		cache.pin("a:40");
		cache.get("a:40").await.expect("a");
		cache.get("b:30").await.expect("b");
		// Over budget while `a` is pinned: nothing else can go.
		assert_eq!(cache.stats().host.bytes, 70);
		cache.unpin("a:40");
		assert!(!cache.is_resident("a:40"));
		assert!(cache.is_resident("b:30"));
		assert_eq!(cache.stats().host.bytes, 30);
	}

	#[tokio::test]
	async fn failed_loads_are_reported_to_every_waiter_and_not_cached() {
		let (cache, calls) = host_cache(100);
		let (a, b) = tokio::join!(cache.get("bad:1"), cache.get("bad:1"));
		assert!(matches!(a, Err(CacheError::Refused { .. })));
		assert_eq!(a, b);
		assert!(cache.get("bad:1").await.is_err());
		assert_eq!(calls.load(Ordering::SeqCst), 2);
		assert_eq!(cache.stats().load_failures, 2);
		assert!(matches!(cache.get("nosize").await, Err(CacheError::NotFound(_))));
	}

	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn unload_during_a_load_keeps_the_result_out_of_the_cache() {
		let (cache, _) = host_cache(100);
		let pending = {
			let cache = cache.clone();
			tokio::spawn(async move { cache.get("slow:1").await })
		};
		tokio::time::sleep(Duration::from_millis(50)).await;
		cache.unload("slow:1");
		pending.await.expect("join").expect("the waiter still gets it");
		assert!(!cache.is_resident("slow:1"));
	}

	#[tokio::test]
	async fn device_tier_promotes_from_the_host_tier() {
		let calls = Arc::new(AtomicUsize::new(0));
		let promotions = Arc::new(AtomicUsize::new(0));
		let promote: Promote<Blob> = {
			let promotions = promotions.clone();
			Arc::new(move |_key: &str, host: &Blob| {
				promotions.fetch_add(1, Ordering::SeqCst);
				Ok(Blob { key: host.key.clone(), bytes: host.bytes, on_device: true })
			})
		};
		let loads = Arc::new(AtomicUsize::new(0));
		let observed = loads.clone();
		let cache = AdapterCache::new(
			CacheConfig { host_bytes: 100, device_bytes: 50 },
			loader(calls.clone()),
			Some(promote),
		)
		.with_load_observer(Arc::new(move |_| {
			observed.fetch_add(1, Ordering::SeqCst);
		}));
		assert!(cache.get("a:30").await.expect("a").on_device);
		assert!(cache.get("b:30").await.expect("b").on_device);
		// The device tier holds only one of them; the host tier holds both.
		let stats = cache.stats();
		let device = stats.device.expect("device tier");
		assert_eq!((device.entries, stats.host.entries), (1, 2));
		// `a` was evicted from the device: promoted again from the host copy, not reloaded.
		assert!(cache.get("a:30").await.expect("a again").on_device);
		assert_eq!(calls.load(Ordering::SeqCst), 2);
		assert_eq!(loads.load(Ordering::SeqCst), 2);
		assert_eq!(promotions.load(Ordering::SeqCst), 3);
		let stats = cache.stats();
		assert_eq!(stats.host.hits, 1);
		assert_eq!(stats.device.expect("device").misses, 3);
	}
}
