//! A mock runtime: frame_system, pallet_balances and this pallet, with test doubles for the model
//! registry (adapters with prices and status) and for settlement (a sink that records each call).

use crate as pallet_usage;
use core::cell::RefCell;
use lineage_primitives::{
	usage::{AdapterInspect, AdapterTerms, AdapterUse, MatchedShare, SettleFees},
	AdapterId,
};
use polkadot_sdk::{
	frame_support::{
		self, derive_impl, parameter_types,
		traits::{fungible::Mutate, tokens::Preservation, ConstU128},
		weights::Weight,
		PalletId,
	},
	frame_system::{self, EnsureRoot},
	pallet_balances, sp_io,
	sp_runtime::{testing::TestSignature, BuildStorage, DispatchError, DispatchResult},
};
use std::collections::BTreeMap;

type Block = frame_system::mocking::MockBlockU32<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Usage: pallet_usage,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u128>;
}

/// The existential deposit: escrow below it must still work.
pub const ED: u128 = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = u128;
	type AccountStore = System;
	type ExistentialDeposit = ConstU128<ED>;
}

/// The operator bond.
pub const BOND: u128 = 1_000;
/// What a refunded dispute slashes.
pub const SLASH: u128 = 300;
/// The dispute window, in blocks.
pub const WINDOW: u32 = 10;
/// The withdrawal notice, in blocks.
pub const NOTICE: u32 = 20;
/// The unbonding period, in blocks.
pub const UNBONDING: u32 = 30;
/// The most entries per batch.
pub const MAX_ENTRIES: u32 = 1_000;
/// The most adapters per batch.
pub const MAX_ADAPTERS: u32 = 32;
/// The most payers per batch.
pub const MAX_PAYERS: u32 = 250;
/// The most matched shares per adapter of a batch.
pub const MAX_MATCHED: u32 = 4;
/// What a payer deposits to dispute an entry.
pub const DISPUTE_DEPOSIT: u128 = 25;
/// The longest endpoint.
pub const MAX_ENDPOINT: u32 = 64;

/// Alice: a payer.
pub const ALICE: u64 = 1;
/// Bob: a payer.
pub const BOB: u64 = 2;
/// Carol: a payer.
pub const CAROL: u64 = 3;
/// Dave: an account that can pay neither a bond nor escrow.
pub const DAVE: u64 = 4;
/// An operator.
pub const OP: u64 = 10;
/// Another operator.
pub const OP2: u64 = 11;
/// A relayer that submits batches for operators.
pub const RELAYER: u64 = 20;
/// Where the mock settlement sends fees.
pub const SINK: u64 = 98;
/// The most blocks a batch's first record may have been served before its submission.
pub const SERVED_AGE: u32 = 50;
/// Who receives slashed bonds.
pub const TREASURY: u64 = 99;
/// The starting balance of the funded accounts.
pub const BALANCE: u128 = 1_000_000_000;

parameter_types! {
	pub const UsagePalletId: PalletId = PalletId(*b"lin/usag");
	pub const OperatorBond: u128 = BOND;
	pub const DisputeSlash: u128 = SLASH;
	pub const SlashBeneficiary: u64 = TREASURY;
	pub const DisputeWindow: u32 = WINDOW;
	pub const WithdrawNotice: u32 = NOTICE;
	pub const MaxServedAge: u32 = SERVED_AGE;
	pub const UnbondingPeriod: u32 = UNBONDING;
	pub const MaxEndpointLength: u32 = MAX_ENDPOINT;
	pub const MaxEntriesPerBatch: u32 = MAX_ENTRIES;
	pub const MaxAdaptersPerBatch: u32 = MAX_ADAPTERS;
	pub const MaxPayersPerBatch: u32 = MAX_PAYERS;
	pub const MaxMatchedPerAdapter: u32 = MAX_MATCHED;
	pub const DisputeDeposit: u128 = DISPUTE_DEPOSIT;
}

/// An adapter as the model registry's test double knows it.
#[derive(Clone, Debug)]
pub struct MockAdapter {
	/// Its status.
	pub status: AdapterUse,
	/// Its prices: (first block in force, per 1k input, per 1k output), ascending by block.
	pub prices: Vec<(u32, u128, u128)>,
}

/// A settlement call as the test double records it: (source, operator, fees per adapter).
pub type SettleCall = (u64, u64, Vec<(AdapterId, u128)>);

thread_local! {
	static ADAPTERS: RefCell<BTreeMap<AdapterId, MockAdapter>> = const { RefCell::new(BTreeMap::new()) };
	static SETTLED: RefCell<Vec<SettleCall>> = const { RefCell::new(Vec::new()) };
	static MATCHED: RefCell<Vec<Vec<MatchedShare<u64>>>> = const { RefCell::new(Vec::new()) };
}

/// The model registry's test double.
pub struct MockAdapters;

impl MockAdapters {
	/// Registers `adapter`, active, at a price in force from block 0.
	pub fn add(adapter: AdapterId, per_1k_input: u128, per_1k_output: u128) {
		ADAPTERS.with(|a| {
			a.borrow_mut().insert(
				adapter,
				MockAdapter {
					status: AdapterUse::Active,
					prices: vec![(0, per_1k_input, per_1k_output)],
				},
			)
		});
	}

	/// Sets `adapter`'s status.
	pub fn set_status(adapter: AdapterId, status: AdapterUse) {
		ADAPTERS.with(|a| {
			if let Some(info) = a.borrow_mut().get_mut(&adapter) {
				info.status = status;
			}
		});
	}

	/// Schedules a price for `adapter`, in force from block `from`.
	pub fn set_price(adapter: AdapterId, from: u32, per_1k_input: u128, per_1k_output: u128) {
		ADAPTERS.with(|a| {
			if let Some(info) = a.borrow_mut().get_mut(&adapter) {
				info.prices.push((from, per_1k_input, per_1k_output));
				info.prices.sort_by_key(|(block, _, _)| *block);
			}
		});
	}
}

impl AdapterInspect<u64, u128, u32> for MockAdapters {
	fn adapter_terms(adapter: AdapterId, at: u32) -> Option<AdapterTerms<u64, u128>> {
		let info = ADAPTERS.with(|a| a.borrow().get(&adapter).cloned())?;
		let (_, per_1k_input, per_1k_output) =
			info.prices.iter().rev().find(|(from, _, _)| *from <= at).copied()?;
		Some(AdapterTerms {
			author: 500 + u64::from(adapter),
			base_model_owner: 600,
			per_1k_input,
			per_1k_output,
			status: info.status,
			training: Vec::new(),
		})
	}

	fn adapter_terms_over(
		adapter: AdapterId,
		first: u32,
		last: u32,
	) -> Option<AdapterTerms<u64, u128>> {
		let terms = Self::adapter_terms(adapter, first)?;
		let info = ADAPTERS.with(|a| a.borrow().get(&adapter).cloned())?;
		let (per_1k_input, per_1k_output) = info
			.prices
			.iter()
			.filter(|(from, _, _)| first < *from && *from <= last)
			.fold((terms.per_1k_input, terms.per_1k_output), |(i, o), (_, pi, po)| {
				(i.min(*pi), o.min(*po))
			});
		Some(AdapterTerms { per_1k_input, per_1k_output, ..terms })
	}
}

/// The settlement's test double: moves the fees from the source to [`SINK`] and records the call.
pub struct MockSettlement;

impl MockSettlement {
	/// The settlement calls so far.
	pub fn calls() -> Vec<SettleCall> {
		SETTLED.with(|s| s.borrow().clone())
	}

	/// The matched shares of each settlement call so far, in the calls' order.
	pub fn matched() -> Vec<Vec<MatchedShare<u64>>> {
		MATCHED.with(|m| m.borrow().clone())
	}

	/// The total settled so far.
	pub fn total() -> u128 {
		Self::calls().iter().flat_map(|(_, _, fees)| fees.iter().map(|(_, fee)| *fee)).sum()
	}
}

impl SettleFees<u64, u128> for MockSettlement {
	fn settle(
		source: &u64,
		operator: &u64,
		fees: &[(AdapterId, u128)],
		matched: &[MatchedShare<u64>],
	) -> DispatchResult {
		if fees.iter().any(|(_, fee)| *fee == 0) {
			return Err(DispatchError::Other("a zero fee was settled"));
		}
		if !fees.windows(2).all(|w| w[0].0 < w[1].0) {
			return Err(DispatchError::Other("fees are not ascending by adapter"));
		}
		let total: u128 = fees.iter().map(|(_, fee)| *fee).sum();
		<Balances as Mutate<u64>>::transfer(source, &SINK, total, Preservation::Preserve)?;
		SETTLED.with(|s| s.borrow_mut().push((*source, *operator, fees.to_vec())));
		MATCHED.with(|m| m.borrow_mut().push(matched.to_vec()));
		Ok(())
	}

	fn settle_weight(adapters: u32, matched: u32) -> Weight {
		Weight::from_parts(
			1_000_000u64
				.saturating_mul(adapters.into())
				.saturating_add(10_000u64.saturating_mul(matched.into())),
			100,
		)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64, u128, TestSignature> for MockAdapters {
	fn create_adapter(i: u32) -> AdapterId {
		let adapter = 1_000 + i;
		Self::add(adapter, 7, 11);
		adapter
	}

	fn fund(who: &u64, amount: u128) {
		let current = Balances::free_balance(who);
		if current < amount {
			Balances::set_balance(who, amount);
		}
	}

	fn payer(i: u32) -> u64 {
		10_000 + u64::from(i)
	}

	fn sign(payer: &u64, message: &[u8]) -> TestSignature {
		TestSignature(*payer, message.to_vec())
	}
}

impl pallet_usage::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type PalletId = UsagePalletId;
	type Adapters = MockAdapters;
	type Settlement = MockSettlement;
	type PayerSignature = TestSignature;
	type OperatorBond = OperatorBond;
	type DisputeSlash = DisputeSlash;
	type SlashBeneficiary = SlashBeneficiary;
	type ResolveOrigin = EnsureRoot<u64>;
	type DisputeWindow = DisputeWindow;
	type WithdrawNotice = WithdrawNotice;
	type MaxServedAge = MaxServedAge;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxEndpointLength = MaxEndpointLength;
	type MaxEntriesPerBatch = MaxEntriesPerBatch;
	type MaxAdaptersPerBatch = MaxAdaptersPerBatch;
	type MaxPayersPerBatch = MaxPayersPerBatch;
	type MaxMatchedPerAdapter = MaxMatchedPerAdapter;
	type DisputeDeposit = DisputeDeposit;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockAdapters;
}

/// Test externalities at block 1: funded accounts, the pot endowed by the pallet's genesis, and
/// no adapters.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("frame_system genesis builds");
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(ALICE, BALANCE),
			(BOB, BALANCE),
			(CAROL, BALANCE),
			(DAVE, 15),
			(OP, BALANCE),
			(OP2, BALANCE),
			(RELAYER, BALANCE),
			(SINK, ED),
			(TREASURY, ED),
		],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.expect("pallet_balances genesis builds");
	pallet_usage::GenesisConfig::<Test>::default()
		.assimilate_storage(&mut storage)
		.expect("pallet_usage genesis builds");
	ADAPTERS.with(|a| a.borrow_mut().clear());
	SETTLED.with(|s| s.borrow_mut().clear());
	MATCHED.with(|m| m.borrow_mut().clear());
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// [`new_test_ext`] with a keystore, for the benchmarks (they sign with `sp_io`'s keystore
/// host functions, as the benchmark CLI provides them).
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	use polkadot_sdk::sp_keystore::{testing::MemoryKeystore, KeystoreExt};
	let mut ext = new_test_ext();
	ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
	ext
}

/// Runs `test` in fresh externalities, then checks the pallet's invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Usage::do_try_state().expect("the pallet's invariants hold");
	});
}

/// Moves to block `n`.
pub fn run_to_block(n: u32) {
	System::set_block_number(n);
}
