//! A test runtime: `frame_system`, `pallet_balances` and this pallet, with small limits.

use crate as pallet_datanets;
use polkadot_sdk::{
	frame_support::{
		self, derive_impl,
		traits::{ConstU16, ConstU32, ConstU64},
	},
	frame_system, pallet_balances, sp_io,
	sp_runtime::BuildStorage,
};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Datanets: pallet_datanets,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
}

/// The deposit of a datanet in the test runtime.
pub const DEPOSIT: u64 = 10;
/// An account that cannot afford a datanet deposit.
pub const POOR: u64 = 9;
/// The most contributions per version in the test runtime.
pub const MAX_PER_VERSION: u32 = 8;
/// The most contributions per datanet in the test runtime.
pub const MAX_PER_DATANET: u32 = 40;
/// The most versions per datanet in the test runtime.
pub const MAX_VERSIONS: u32 = 3;
/// The most curators per datanet in the test runtime.
pub const MAX_CURATORS: u32 = 3;

impl pallet_datanets::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type DatanetDeposit = ConstU64<DEPOSIT>;
	type MaxNameLength = ConstU32<64>;
	type MaxUriLength = ConstU32<256>;
	type MaxLicenseLength = ConstU32<32>;
	type MaxCurators = ConstU32<MAX_CURATORS>;
	type MaxContributionsPerDatanet = ConstU32<MAX_PER_DATANET>;
	type MaxContributionsPerVersion = ConstU32<MAX_PER_VERSION>;
	type MaxVersionsPerDatanet = ConstU32<MAX_VERSIONS>;
	type MinQuality = ConstU16<10>;
	type MaxQuality = ConstU16<300>;
	type OnWeightChange = ();
	type WeightInfo = ();
}

/// Accounts 1 to 5 hold 100 each; account [`POOR`] holds 5, less than a deposit.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("the test genesis builds");
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(1, 100), (2, 100), (3, 100), (4, 100), (5, 100), (POOR, 5)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.expect("the test balances build");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
