//! A mock runtime: frame_system, pallet_balances and this pallet, with test doubles for the model
//! registry (adapters with a price and status), the operator registry (accounts with a signing
//! key) and settlement (a sink that records each call).

use crate as pallet_jobs;
use core::cell::RefCell;
use lineage_primitives::{
	usage::{AdapterInspect, AdapterTerms, AdapterUse, MatchedShare, OperatorInspect, SettleFees},
	AdapterId,
};
use polkadot_sdk::{
	frame_support::{
		self, derive_impl, parameter_types,
		traits::{fungible::Mutate, tokens::Preservation, ConstU128, ConstU32, Hooks},
		weights::Weight,
	},
	frame_system, pallet_balances,
	sp_core::{sr25519, Pair},
	sp_io,
	sp_runtime::{BuildStorage, DispatchError, DispatchResult},
};
use std::collections::BTreeMap;

type Block = frame_system::mocking::MockBlockU32<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Jobs: pallet_jobs,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u128>;
}

/// The existential deposit.
pub const ED: u128 = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = u128;
	type AccountStore = System;
	type ExistentialDeposit = ConstU128<ED>;
}

/// Alice: a requester.
pub const ALICE: u64 = 1;
/// Bob: a requester.
pub const BOB: u64 = 2;
/// Poor: an account that can hold almost nothing.
pub const POOR: u64 = 3;
/// An operator.
pub const OP: u64 = 10;
/// Another operator.
pub const OP2: u64 = 11;
/// A relayer that submits fulfilments for operators.
pub const RELAYER: u64 = 20;
/// Where the mock settlement sends fees.
pub const SINK: u64 = 98;
/// The starting balance of the funded accounts.
pub const BALANCE: u128 = 1_000_000_000;
/// The adapter the tests use: 2_000 per 1k input tokens, 6_000 per 1k output tokens.
pub const ADAPTER: AdapterId = 7;
/// Its price per 1k input tokens.
pub const PER_1K_IN: u128 = 2_000;
/// Its price per 1k output tokens.
pub const PER_1K_OUT: u128 = 6_000;
/// The longest prompt.
pub const MAX_PROMPT: u32 = 64;
/// The longest output.
pub const MAX_OUTPUT: u32 = 128;
/// The tokens a fulfilment may count beyond one per byte of prompt or output.
pub const OVERHEAD_TOKENS: u32 = 16;
/// The most matches one fulfilment may carry.
pub const MAX_MATCHED: u32 = 3;
/// How long a claim on an open job lasts, in blocks.
pub const CLAIM_PERIOD: u32 = 5;
/// The deposit base.
pub const DEPOSIT_BASE: u128 = 100;
/// The deposit per byte.
pub const DEPOSIT_PER_BYTE: u128 = 1;

parameter_types! {
	pub const MinTtl: u32 = 2;
	pub const MaxTtl: u32 = 100;
}

/// A settlement call as the test double records it: (source, operator, fees per adapter).
pub type SettleCall = (u64, u64, Vec<(AdapterId, u128)>);

thread_local! {
	static ADAPTERS: RefCell<BTreeMap<AdapterId, (AdapterUse, u128, u128)>> = const { RefCell::new(BTreeMap::new()) };
	static OPERATORS: RefCell<BTreeMap<u64, sr25519::Public>> = const { RefCell::new(BTreeMap::new()) };
	static SETTLED: RefCell<Vec<SettleCall>> = const { RefCell::new(Vec::new()) };
	static MATCHED: RefCell<Vec<Vec<MatchedShare<u64>>>> = const { RefCell::new(Vec::new()) };
}

/// The model registry's test double.
pub struct MockAdapters;

impl MockAdapters {
	/// Registers `adapter`, active, at the given prices.
	pub fn add(adapter: AdapterId, per_1k_input: u128, per_1k_output: u128) {
		ADAPTERS.with(|a| {
			a.borrow_mut().insert(adapter, (AdapterUse::Active, per_1k_input, per_1k_output))
		});
	}

	/// Sets `adapter`'s status.
	pub fn set_status(adapter: AdapterId, status: AdapterUse) {
		ADAPTERS.with(|a| {
			if let Some(info) = a.borrow_mut().get_mut(&adapter) {
				info.0 = status;
			}
		});
	}
}

impl AdapterInspect<u64, u128, u32> for MockAdapters {
	fn adapter_terms(adapter: AdapterId, _at: u32) -> Option<AdapterTerms<u64, u128>> {
		let (status, per_1k_input, per_1k_output) =
			ADAPTERS.with(|a| a.borrow().get(&adapter).copied())?;
		Some(AdapterTerms {
			author: 500,
			base_model_owner: 600,
			per_1k_input,
			per_1k_output,
			status,
			training: Vec::new(),
		})
	}
}

/// The operator registry's test double.
pub struct MockOperators;

impl MockOperators {
	/// Makes `who` a serving operator with `key`.
	pub fn add(who: u64, key: sr25519::Public) {
		OPERATORS.with(|o| o.borrow_mut().insert(who, key));
	}

	/// Makes `who` stop serving.
	pub fn remove(who: u64) {
		OPERATORS.with(|o| o.borrow_mut().remove(&who));
	}
}

impl OperatorInspect<u64> for MockOperators {
	fn serving_key(who: &u64) -> Option<sr25519::Public> {
		OPERATORS.with(|o| o.borrow().get(who).copied())
	}
}

/// The settlement's test double: moves the fees from the source to [`SINK`] and records the call.
pub struct MockSettlement;

impl MockSettlement {
	/// The settlement calls so far: (source, operator, fees per adapter).
	pub fn calls() -> Vec<SettleCall> {
		SETTLED.with(|s| s.borrow().clone())
	}

	/// The matched shares of each settlement call so far.
	pub fn matched() -> Vec<Vec<MatchedShare<u64>>> {
		MATCHED.with(|m| m.borrow().clone())
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
		let total: u128 = fees.iter().map(|(_, fee)| *fee).sum();
		<Balances as Mutate<u64>>::transfer(source, &SINK, total, Preservation::Preserve)?;
		SETTLED.with(|s| s.borrow_mut().push((*source, *operator, fees.to_vec())));
		MATCHED.with(|m| m.borrow_mut().push(matched.to_vec()));
		Ok(())
	}

	fn settle_weight(adapters: u32, _matched: u32) -> Weight {
		Weight::from_parts(1_000_000u64.saturating_mul(adapters.into()), 100)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64, u128> for MockAdapters {
	fn create_adapter(i: u32) -> AdapterId {
		let adapter = 1_000 + i;
		Self::add(adapter, PER_1K_IN, PER_1K_OUT);
		adapter
	}

	fn register_operator(who: &u64, key: sr25519::Public) {
		MockOperators::add(*who, key);
	}

	fn fund(who: &u64, amount: u128) {
		Balances::set_balance(who, amount);
	}
}

impl pallet_jobs::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type Adapters = MockAdapters;
	type Operators = MockOperators;
	type Settlement = MockSettlement;
	type MaxPromptLength = ConstU32<MAX_PROMPT>;
	type MaxOutputLength = ConstU32<MAX_OUTPUT>;
	type MaxOutputTokens = ConstU32<64>;
	type MinTtl = MinTtl;
	type MaxTtl = MaxTtl;
	type MaxJobsPerBlock = ConstU32<4>;
	type JobDepositBase = ConstU128<DEPOSIT_BASE>;
	type JobDepositPerByte = ConstU128<DEPOSIT_PER_BYTE>;
	type MaxOverheadTokens = ConstU32<OVERHEAD_TOKENS>;
	type MaxMatchedPerJob = ConstU32<MAX_MATCHED>;
	type ClaimPeriod = ConstU32<CLAIM_PERIOD>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockAdapters;
}

/// The signing key pair of operator [`OP`].
pub fn op_pair() -> sr25519::Pair {
	sr25519::Pair::from_string("//LineageJobsOp", None).expect("a valid dev seed")
}

/// The signing key pair of operator [`OP2`].
pub fn op2_pair() -> sr25519::Pair {
	sr25519::Pair::from_string("//LineageJobsOp2", None).expect("a valid dev seed")
}

/// Test externalities at block 1: funded accounts, adapter [`ADAPTER`], operators [`OP`] and
/// [`OP2`] serving.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("frame_system genesis builds");
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(ALICE, BALANCE),
			(BOB, BALANCE),
			(POOR, 50),
			(OP, BALANCE),
			(OP2, BALANCE),
			(RELAYER, BALANCE),
			(SINK, ED),
		],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.expect("pallet_balances genesis builds");
	ADAPTERS.with(|a| a.borrow_mut().clear());
	OPERATORS.with(|o| o.borrow_mut().clear());
	SETTLED.with(|s| s.borrow_mut().clear());
	MATCHED.with(|m| m.borrow_mut().clear());
	MockAdapters::add(ADAPTER, PER_1K_IN, PER_1K_OUT);
	MockOperators::add(OP, op_pair().public());
	MockOperators::add(OP2, op2_pair().public());
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
		Jobs::do_try_state().expect("the pallet's invariants hold");
	});
}

/// Moves block by block to block `n`, running the pallet's `on_initialize` at each.
pub fn run_to_block(n: u32) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Jobs::on_initialize(next);
	}
}
