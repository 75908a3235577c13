//! # Lineage adapters
//!
//! Where the oracle keeps LoRA adapters: on disk by artifact hash, and in memory by tier. The
//! PEFT format itself (reading, writing, the checks) is the engine's
//! ([`lineage_engine::peft`]).
//!
//! - [`store`]: the adapter files on disk, addressed by their artifact hash (the hash the chain
//!   registers), with a name index;
//! - [`cache`]: the host (and device) tiers, LRU-bounded in bytes, loading each adapter once
//!   however many requests wait for it.

pub mod cache;
pub mod store;

pub use cache::{AdapterCache, CacheConfig, CacheError, CacheStats, TierStats};
pub use store::{AdapterStore, StoreError};
