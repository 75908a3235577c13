//! Lineage's own pallets: the datanet and model registries (steps 1–2 of the path in
//! `DESIGN.md`).

use crate::{
	currency::UNIT, Balances, BlockNumber, Datanets, Runtime, RuntimeEvent, RuntimeHoldReason,
};
use polkadot_sdk::{
	frame_support::{parameter_types, traits::ConstU32},
	frame_system::EnsureRoot,
};

parameter_types! {
	/// Held from a datanet's owner while the datanet is open; released when it is closed.
	pub const DatanetDeposit: crate::Balance = 10 * UNIT;
	/// The least quality multiplier a curator may give a contribution, in percent.
	pub const MinQuality: u16 = 10;
	/// The greatest quality multiplier a curator may give a contribution, in percent.
	pub const MaxQuality: u16 = 300;
	/// Held from a base model's owner for the model's record (kept for good: fees cite it).
	pub const ModelDeposit: crate::Balance = 10 * UNIT;
	/// Held from an adapter's author for the adapter's record.
	pub const AdapterDeposit: crate::Balance = UNIT;
	/// Blocks between an author's price change and the block it takes effect (10 min at 6 s).
	pub const PriceChangeDelay: BlockNumber = 100;
}

impl pallet_datanets::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type DatanetDeposit = DatanetDeposit;
	type MaxNameLength = ConstU32<64>;
	type MaxUriLength = ConstU32<256>;
	type MaxLicenseLength = ConstU32<32>;
	type MaxCurators = ConstU32<16>;
	/// A real community's dataset: a hundred thousand records.
	type MaxContributionsPerDatanet = ConstU32<100_000>;
	/// Each `contribute`/`accept` appends to the unversioned list, whose proof grows with it:
	/// 1,000 hashes keep that under 33 KB.
	type MaxContributionsPerVersion = ConstU32<1_000>;
	type MaxVersionsPerDatanet = ConstU32<10_000>;
	type MinQuality = MinQuality;
	type MaxQuality = MaxQuality;
	type WeightInfo = pallet_datanets::weights::SubstrateWeight<Runtime>;
}

impl pallet_models::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type ModelDeposit = ModelDeposit;
	type AdapterDeposit = AdapterDeposit;
	type Datanets = Datanets;
	type RevokeOrigin = EnsureRoot<crate::AccountId>;
	type MaxUriLength = ConstU32<256>;
	type MaxArchitectureLength = ConstU32<32>;
	type MaxLicenseLength = ConstU32<32>;
	type MaxTargetModules = ConstU32<16>;
	type MaxModuleNameLength = ConstU32<32>;
	type MaxTrainingVersions = ConstU32<16>;
	type MaxRank = ConstU32<256>;
	type MaxLineageDepth = ConstU32<16>;
	type PriceChangeDelay = PriceChangeDelay;
	type WeightInfo = pallet_models::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = benchmark_helpers::FreezeRealVersion;
}

/// Benchmark set-up that needs more than one pallet.
#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers {
	use super::*;
	use crate::{AccountId, RuntimeOrigin};
	use lineage_primitives::DatanetVersionRef;
	use polkadot_sdk::{
		frame_support::traits::fungible::Mutate, sp_core::H256, sp_runtime::BoundedVec,
	};

	/// Makes real frozen versions in pallet-datanets for pallet-models' benchmarks: an open
	/// datanet per call, one contribution, one freeze.
	pub struct FreezeRealVersion;

	impl pallet_models::BenchmarkHelper for FreezeRealVersion {
		fn frozen_version(i: u32) -> DatanetVersionRef {
			let owner: AccountId = polkadot_sdk::frame_benchmarking::account("datanet-owner", i, 0);
			let _ = Balances::set_balance(&owner, 1_000 * UNIT);
			let origin = RuntimeOrigin::signed(owner);
			let datanet = pallet_datanets::NextDatanetId::<Runtime>::get();
			let name: BoundedVec<u8, _> = BoundedVec::truncate_from(b"bench".to_vec());
			let _ = Datanets::create_datanet(
				origin.clone(),
				name,
				BoundedVec::new(),
				BoundedVec::new(),
				pallet_datanets::ContributionPolicy::Open,
			);
			let hash = H256::from_low_u64_be(u64::from(i) + 1);
			let _ = Datanets::contribute(origin.clone(), datanet, hash, 1, 1, None);
			let _ = Datanets::freeze_version(origin, datanet);
			DatanetVersionRef { datanet, version: 1 }
		}
	}
}
