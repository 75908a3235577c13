//! The oracle's adapter cache as the benchmark's adapter source.

use std::{collections::HashMap, sync::Arc};

use lineage_adapters::cache::{
	device_promote, load_on_host, AdapterCache, CacheConfig, CacheError, Loader,
};
use lineage_engine::{AdapterLimits, LoraAdapter};

use crate::{AdapterSource, SourceFactory, SourceSetup, SourceStats};

/// The oracle's cache as the benchmark's adapter source
/// ([`AdapterSource`]): the budget-limited row then
/// measures this cache (host tier bounded by the row's budget; the device tier, on a GPU,
/// bounded by the same budget), loading the fixture's adapter folders by name.
pub struct BenchCacheSource {
	cache: AdapterCache<LoraAdapter>,
	runtime: tokio::runtime::Runtime,
}

impl BenchCacheSource {
	/// A source over `setup`'s adapters with `setup.budget_bytes` per tier.
	pub fn new(setup: &SourceSetup<'_>, limits: AdapterLimits) -> anyhow::Result<Self> {
		let dirs: HashMap<String, std::path::PathBuf> =
			setup.adapters.iter().map(|a| (a.name.clone(), a.dir.clone())).collect();
		let model = setup.model;
		let (base, base_id, dtype) = (model.config.clone(), model.id.clone(), model.dtype);
		let loader: Loader<LoraAdapter> = Arc::new(move |name: &str| {
			let dir = dirs.get(name).ok_or_else(|| CacheError::NotFound(name.to_string()))?;
			load_on_host(dir, name, &base, &base_id, limits, dtype)
		});
		let budget = setup.budget_bytes;
		let cache = AdapterCache::new(
			CacheConfig { host_bytes: budget, device_bytes: budget },
			loader,
			device_promote(&model.device, dtype),
		);
		let runtime = tokio::runtime::Builder::new_current_thread().build()?;
		Ok(BenchCacheSource { cache, runtime })
	}

	/// A factory for [`BenchOptions::source`](crate::BenchOptions::source).
	pub fn factory(limits: AdapterLimits) -> SourceFactory {
		Box::new(move |setup| {
			let source: Box<dyn AdapterSource> = Box::new(BenchCacheSource::new(setup, limits)?);
			Ok(source)
		})
	}
}

impl AdapterSource for BenchCacheSource {
	fn get(&mut self, name: &str) -> anyhow::Result<Arc<LoraAdapter>> {
		Ok(self.runtime.block_on(self.cache.get(name))?)
	}

	fn stats(&self) -> SourceStats {
		let stats = self.cache.stats();
		let top = stats.device.unwrap_or(stats.host);
		SourceStats {
			hits: top.hits,
			misses: top.misses,
			evictions: top.evictions,
			bytes: top.bytes,
		}
	}
}
