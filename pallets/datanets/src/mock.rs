//! A test runtime: `frame_system`, `pallet_balances` and this pallet, with small limits.

use crate as pallet_datanets;
use polkadot_sdk::{
	frame_support::{
		self, derive_impl, parameter_types,
		traits::{tokens::imbalance::ResolveTo, ConstU16, ConstU32, ConstU64},
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
/// The size-independent part of a record's deposit.
pub const RECORD_BASE: u64 = 10;
/// The part of a record's deposit per byte.
pub const RECORD_PER_BYTE: u64 = 1;
/// The largest record, in bytes.
pub const MAX_RECORD: u32 = 1_024;
/// An account that cannot afford a datanet deposit, nor a record's.
pub const POOR: u64 = 9;
/// Where slashed record deposits go.
pub const TREASURY: u64 = 99;
/// What accounts 1 to 5 hold at genesis.
pub const INITIAL: u64 = 1_000_000;
/// The existential deposit of the test runtime (`pallet_balances`' test default).
pub const ED: u64 = 1;
/// The most records a datanet may store in the test runtime: more than the 1,000 a version
/// could hold before.
pub const MAX_PER_DATANET: u32 = 1_100;
/// The most versions per datanet in the test runtime.
pub const MAX_VERSIONS: u32 = 3;
/// The most curators per datanet in the test runtime.
pub const MAX_CURATORS: u32 = 3;

parameter_types! {
	/// The account slashed deposits are resolved to.
	pub const TreasuryAccount: u64 = TREASURY;
}

impl pallet_datanets::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type DatanetDeposit = ConstU64<DEPOSIT>;
	type ContributionDepositBase = ConstU64<RECORD_BASE>;
	type ContributionDepositPerByte = ConstU64<RECORD_PER_BYTE>;
	type Slashed = ResolveTo<TreasuryAccount, Balances>;
	type MaxNameLength = ConstU32<64>;
	type MaxUriLength = ConstU32<256>;
	type MaxLicenseLength = ConstU32<32>;
	type MaxCurators = ConstU32<MAX_CURATORS>;
	type MaxContributionsPerDatanet = ConstU32<MAX_PER_DATANET>;
	type MaxVersionsPerDatanet = ConstU32<MAX_VERSIONS>;
	type MinQuality = ConstU16<10>;
	type MaxQuality = ConstU16<300>;
	type MaxRecordBytes = ConstU32<MAX_RECORD>;
	type WeightInfo = ();
}

/// Accounts 1 to 5 hold [`INITIAL`] each; account [`POOR`] holds 5, less than any deposit;
/// [`TREASURY`] holds the existential deposit, so that it can receive small slashes.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("the test genesis builds");
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(1, INITIAL),
			(2, INITIAL),
			(3, INITIAL),
			(4, INITIAL),
			(5, INITIAL),
			(POOR, 5),
			(TREASURY, ED),
		],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.expect("the test balances build");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
