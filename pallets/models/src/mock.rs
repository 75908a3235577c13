//! A mock runtime: frame_system, pallet_balances and this pallet, with a test double for the
//! datanet registry.

use crate as pallet_models;
use core::cell::RefCell;
use lineage_primitives::{DatanetInspect, DatanetVersionRef};
use polkadot_sdk::{
	frame_support::{self, derive_impl, parameter_types},
	frame_system::{self, EnsureRoot},
	pallet_balances, sp_io,
	sp_runtime::BuildStorage,
};
use std::collections::BTreeSet;

type Block = frame_system::mocking::MockBlockU32<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Models: pallet_models,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u128>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = u128;
	type AccountStore = System;
}

/// The model deposit.
pub const MODEL_DEPOSIT: u128 = 100;
/// The adapter deposit.
pub const ADAPTER_DEPOSIT: u128 = 10;
/// The evaluation deposit.
pub const EVALUATION_DEPOSIT: u128 = 3;
/// The price change delay, in blocks.
pub const PRICE_DELAY: u32 = 10;
/// The greatest depth.
pub const MAX_DEPTH: u32 = 3;

parameter_types! {
	pub const ModelDeposit: u128 = MODEL_DEPOSIT;
	pub const AdapterDeposit: u128 = ADAPTER_DEPOSIT;
	pub const EvaluationDeposit: u128 = EVALUATION_DEPOSIT;
	pub const MaxUriLength: u32 = 64;
	pub const MaxArchitectureLength: u32 = 16;
	pub const MaxLicenseLength: u32 = 16;
	pub const MaxTargetModules: u32 = 4;
	pub const MaxModuleNameLength: u32 = 16;
	pub const MaxTrainingVersions: u32 = 4;
	pub const MaxRank: u32 = 64;
	pub const MaxLineageDepth: u32 = MAX_DEPTH;
	pub const PriceChangeDelay: u32 = PRICE_DELAY;
}

thread_local! {
	static FROZEN: RefCell<BTreeSet<DatanetVersionRef>> = const { RefCell::new(BTreeSet::new()) };
}

/// The datanet registry's test double: a set of frozen versions.
pub struct MockDatanets;

impl MockDatanets {
	/// Makes `version` of `datanet` exist.
	pub fn freeze(datanet: u32, version: u32) -> DatanetVersionRef {
		let r = DatanetVersionRef { datanet, version };
		FROZEN.with(|f| f.borrow_mut().insert(r));
		r
	}
}

impl DatanetInspect for MockDatanets {
	fn is_frozen_version(version: &DatanetVersionRef) -> bool {
		FROZEN.with(|f| f.borrow().contains(version))
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for MockDatanets {
	fn frozen_version(i: u32) -> DatanetVersionRef {
		Self::freeze(1_000 + i, 1)
	}
}

impl pallet_models::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type ModelDeposit = ModelDeposit;
	type AdapterDeposit = AdapterDeposit;
	type EvaluationDeposit = EvaluationDeposit;
	type Datanets = MockDatanets;
	type RevokeOrigin = EnsureRoot<u64>;
	type MaxUriLength = MaxUriLength;
	type MaxArchitectureLength = MaxArchitectureLength;
	type MaxLicenseLength = MaxLicenseLength;
	type MaxTargetModules = MaxTargetModules;
	type MaxModuleNameLength = MaxModuleNameLength;
	type MaxTrainingVersions = MaxTrainingVersions;
	type MaxRank = MaxRank;
	type MaxLineageDepth = MaxLineageDepth;
	type PriceChangeDelay = PriceChangeDelay;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockDatanets;
}

/// Alice: a model owner.
pub const ALICE: u64 = 1;
/// Bob: an adapter author.
pub const BOB: u64 = 2;
/// Carol: another author.
pub const CAROL: u64 = 3;
/// Dave: an account that cannot pay a deposit.
pub const DAVE: u64 = 4;
/// The starting balance of Alice, Bob and Carol.
pub const BALANCE: u128 = 1_000;

/// Test externalities at block 1, with balances and three frozen datanet versions: datanet 1
/// versions 1 and 2, and datanet 2 version 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("frame_system genesis builds");
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, BALANCE), (BOB, BALANCE), (CAROL, BALANCE), (DAVE, 5)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.expect("pallet_balances genesis builds");
	FROZEN.with(|f| f.borrow_mut().clear());
	MockDatanets::freeze(1, 1);
	MockDatanets::freeze(1, 2);
	MockDatanets::freeze(2, 1);
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` in fresh externalities, then checks the pallet's invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Models::do_try_state().expect("the pallet's invariants hold");
	});
}

/// Moves to block `n`.
pub fn run_to_block(n: u32) {
	System::set_block_number(n);
}
