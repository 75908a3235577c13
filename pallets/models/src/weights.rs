//! Weights for `pallet_models`.
//!
//! PLACEHOLDER NUMBERS, estimated by hand from the storage each call touches. `scripts/bench`
//! regenerates this file from the benchmarks in `benchmarking.rs` with `frame-omni-bencher`:
//!
//! ```text
//! frame-omni-bencher v1 benchmark pallet --runtime <lineage_runtime.wasm> \
//!     --pallet pallet_models --extrinsic '*' --steps 50 --repeat 20 \
//!     --output pallets/models/src/weights.rs
//! ```

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]
#![allow(dead_code)]

use polkadot_sdk::frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_models`.
pub trait WeightInfo {
	fn register_model() -> Weight;
	fn register_adapter(m: u32, t: u32, ) -> Weight;
	fn deprecate_adapter() -> Weight;
	fn revoke_adapter() -> Weight;
	fn set_price() -> Weight;
}

/// Weights for `pallet_models` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: polkadot_sdk::frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Models::ArtifactIndex` (r:1 w:1)
	/// Storage: `Models::NextModelId` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Models::Models` (r:0 w:1)
	fn register_model() -> Weight {
		Weight::from_parts(45_000_000, 4_200)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	/// Storage: `Datanets::Versions` (r:t w:0)
	/// Storage: `Models::Models` (r:1 w:0)
	/// Storage: `Models::Adapters` (r:1 w:1)
	/// Storage: `Models::ArtifactIndex` (r:1 w:1)
	/// Storage: `Models::NextAdapterId` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// The range of component `m` is `[1, 16]`.
	/// The range of component `t` is `[1, 16]`.
	fn register_adapter(m: u32, t: u32, ) -> Weight {
		Weight::from_parts(70_000_000, 8_000)
			.saturating_add(Weight::from_parts(250_000, 0).saturating_mul(m.into()))
			.saturating_add(Weight::from_parts(4_000_000, 2_600).saturating_mul(t.into()))
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(t.into())))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	/// Storage: `Models::Adapters` (r:1 w:1)
	fn deprecate_adapter() -> Weight {
		Weight::from_parts(18_000_000, 3_000)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Models::Adapters` (r:1 w:1)
	fn revoke_adapter() -> Weight {
		Weight::from_parts(18_000_000, 3_000)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Models::Adapters` (r:1 w:1)
	fn set_price() -> Weight {
		Weight::from_parts(20_000_000, 3_000)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	/// Storage: `Models::ArtifactIndex` (r:1 w:1)
	/// Storage: `Models::NextModelId` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Models::Models` (r:0 w:1)
	fn register_model() -> Weight {
		Weight::from_parts(45_000_000, 4_200)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
	}
	/// Storage: `Datanets::Versions` (r:t w:0)
	/// Storage: `Models::Models` (r:1 w:0)
	/// Storage: `Models::Adapters` (r:1 w:1)
	/// Storage: `Models::ArtifactIndex` (r:1 w:1)
	/// Storage: `Models::NextAdapterId` (r:1 w:1)
	/// Storage: `Balances::Holds` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// The range of component `m` is `[1, 16]`.
	/// The range of component `t` is `[1, 16]`.
	fn register_adapter(m: u32, t: u32, ) -> Weight {
		Weight::from_parts(70_000_000, 8_000)
			.saturating_add(Weight::from_parts(250_000, 0).saturating_mul(m.into()))
			.saturating_add(Weight::from_parts(4_000_000, 2_600).saturating_mul(t.into()))
			.saturating_add(RocksDbWeight::get().reads(6_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(t.into())))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
	}
	/// Storage: `Models::Adapters` (r:1 w:1)
	fn deprecate_adapter() -> Weight {
		Weight::from_parts(18_000_000, 3_000)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Models::Adapters` (r:1 w:1)
	fn revoke_adapter() -> Weight {
		Weight::from_parts(18_000_000, 3_000)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	/// Storage: `Models::Adapters` (r:1 w:1)
	fn set_price() -> Weight {
		Weight::from_parts(20_000_000, 3_000)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
}
