//! A mock runtime: frame_system, pallet_balances, the real datanet and model registries (this
//! pallet reads the weights frozen in the datanet registry's versions) and this pallet.

use crate as pallet_attribution;
use core::cell::Cell;
use lineage_primitives::{AdapterId, DatanetId, DatanetVersionRef, ModelId};
use pallet_models::{Price, TrainingOf};
use polkadot_sdk::{
	frame_support::{
		self, assert_ok, derive_impl, parameter_types,
		traits::{
			fungible::{Inspect, InspectHold},
			ConstU128, ConstU16, ConstU32,
		},
		BoundedVec, PalletId,
	},
	frame_system::{self, EnsureRoot},
	pallet_balances,
	sp_core::H256,
	sp_io,
	sp_runtime::{BuildStorage, Perbill},
};

type Block = frame_system::mocking::MockBlockU32<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Datanets: pallet_datanets,
		Models: pallet_models,
		Attribution: pallet_attribution,
	}
);

/// The existential deposit: above 1, so that the pot's and the treasury's seeds matter.
pub const ED: u128 = 10;

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u128>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = u128;
	type ExistentialDeposit = ConstU128<ED>;
	type AccountStore = System;
}

/// The datanet deposit.
pub const DATANET_DEPOSIT: u128 = 100;
/// The fixed part of a record's deposit.
pub const RECORD_DEPOSIT_BASE: u128 = 2;
/// A record's deposit per byte (the mock's records have one byte per token).
pub const RECORD_DEPOSIT_PER_BYTE: u128 = 1;
/// The model and adapter deposits.
pub const MODEL_DEPOSIT: u128 = 100;
/// The most training versions of an adapter.
pub const MAX_TRAINING: u32 = 4;
/// The most matched shares a settlement is weighed for.
pub const MAX_MATCHED: u32 = 8;
/// The most versions of a datanet (the datanet registry's and this pallet's bound): the reward
/// index is 5 nodes deep.
pub const MAX_VERSIONS: u32 = 20;

impl pallet_datanets::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type DatanetDeposit = ConstU128<DATANET_DEPOSIT>;
	type ContributionDepositBase = ConstU128<RECORD_DEPOSIT_BASE>;
	type ContributionDepositPerByte = ConstU128<RECORD_DEPOSIT_PER_BYTE>;
	type Slashed = ();
	type MaxNameLength = ConstU32<16>;
	type MaxUriLength = ConstU32<32>;
	type MaxLicenseLength = ConstU32<16>;
	type MaxCurators = ConstU32<2>;
	type MaxContributionsPerDatanet = ConstU32<1_000>;
	type MaxVersionsPerDatanet = ConstU32<MAX_VERSIONS>;
	type MinQuality = ConstU16<10>;
	type MaxQuality = ConstU16<300>;
	type MaxRecordBytes = ConstU32<4_096>;
	type WeightInfo = ();
}

parameter_types! {
	pub const MaxTrainingVersions: u32 = MAX_TRAINING;
}

impl pallet_models::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type ModelDeposit = ConstU128<MODEL_DEPOSIT>;
	type AdapterDeposit = ConstU128<MODEL_DEPOSIT>;
	type EvaluationDeposit = ConstU128<MODEL_DEPOSIT>;
	type Datanets = Datanets;
	type RevokeOrigin = EnsureRoot<u64>;
	type MaxUriLength = ConstU32<32>;
	type MaxArchitectureLength = ConstU32<16>;
	type MaxLicenseLength = ConstU32<16>;
	type MaxTargetModules = ConstU32<2>;
	type MaxModuleNameLength = ConstU32<16>;
	type MaxTrainingVersions = MaxTrainingVersions;
	type MaxRank = ConstU32<64>;
	type MaxLineageDepth = ConstU32<2>;
	type PriceChangeDelay = ConstU32<10>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchHelper;
}

/// Alice: owns and curates the datanets.
pub const ALICE: u64 = 1;
/// Bob: owns the base models.
pub const BOB: u64 = 2;
/// Carol: authors adapters.
pub const CAROL: u64 = 3;
/// Dave: an operator.
pub const DAVE: u64 = 4;
/// The account fees are settled from (the usage pallet's escrow in the runtime).
pub const SOURCE: u64 = 5;
/// Eve: a contributor.
pub const EVE: u64 = 6;
/// Fred: a contributor.
pub const FRED: u64 = 7;
/// Gina: a contributor.
pub const GINA: u64 = 8;
/// An account that does not exist (no balance).
pub const NOBODY: u64 = 9;
/// The treasury.
pub const TREASURY: u64 = 100;
/// The starting balance of every account but [`NOBODY`] and [`TREASURY`].
pub const BALANCE: u128 = 1_000_000;
/// The starting balance of [`SOURCE`].
pub const SOURCE_BALANCE: u128 = 1_000_000_000_000_000;

parameter_types! {
	pub const AttributionPalletId: PalletId = PalletId(*b"lin/attr");
	pub const TreasuryAccount: u64 = TREASURY;
}

impl pallet_attribution::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type PalletId = AttributionPalletId;
	type Adapters = Models;
	type Datanets = Datanets;
	type TreasuryAccount = TreasuryAccount;
	type PolicyOrigin = EnsureRoot<u64>;
	type MaxTrainingVersions = MaxTrainingVersions;
	type MaxVersionsPerDatanet = ConstU32<MAX_VERSIONS>;
	type MaxMatched = ConstU32<MAX_MATCHED>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchHelper;
}

/// The benchmark helpers of this pallet and of the model registry, made with real calls (the
/// runtime's can be written the same way).
#[cfg(feature = "runtime-benchmarks")]
pub struct BenchHelper;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_models::BenchmarkHelper for BenchHelper {
	fn frozen_version(_i: u32) -> DatanetVersionRef {
		fund(ALICE, BALANCE);
		let datanet = new_datanet(pallet_datanets::ContributionPolicy::Open);
		contribute(datanet, ALICE, 100);
		freeze(datanet)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64> for BenchHelper {
	fn adapter_with_training(t: u32, contributor: &u64) -> AdapterId {
		fund(ALICE, BALANCE);
		fund(BOB, BALANCE);
		fund(CAROL, BALANCE);
		fund(*contributor, BALANCE);
		let versions: Vec<DatanetVersionRef> = (0..t)
			.map(|_| {
				let datanet = new_datanet(pallet_datanets::ContributionPolicy::Open);
				contribute(datanet, *contributor, 1_000);
				contribute(datanet, ALICE, 500);
				freeze(datanet)
			})
			.collect();
		let model = new_model(BOB);
		new_adapter(CAROL, model, even_training(&versions))
	}

	fn datanet_with_versions(versions: u32, contributor: &u64) -> DatanetId {
		fund(ALICE, BALANCE);
		fund(*contributor, BALANCE);
		datanet_with_versions(versions, *contributor)
	}

	fn adapter_with_contributors(m: u32) -> (AdapterId, DatanetId, u32, Vec<u64>) {
		fund(ALICE, BALANCE);
		fund(BOB, BALANCE);
		fund(CAROL, BALANCE);
		let datanet = new_datanet(pallet_datanets::ContributionPolicy::Open);
		let contributors: Vec<u64> = (0..m.max(1)).map(|i| 5_000 + u64::from(i)).collect();
		for who in &contributors {
			fund(*who, BALANCE);
			contribute(datanet, *who, 100);
		}
		let version = freeze(datanet);
		let model = new_model(BOB);
		let adapter = new_adapter(CAROL, model, even_training(&[version]));
		let take = usize::try_from(m).unwrap_or(usize::MAX);
		(adapter, datanet, version.version, contributors.into_iter().take(take).collect())
	}
}

thread_local! {
	static NEXT_HASH: Cell<u64> = const { Cell::new(1) };
}

/// A content or artifact hash never used before.
pub fn fresh_hash() -> H256 {
	NEXT_HASH.with(|n| {
		let next = n.get();
		n.set(next + 1);
		H256::from_low_u64_be(next)
	})
}

fn bounded<S: frame_support::traits::Get<u32>>(bytes: &[u8]) -> BoundedVec<u8, S> {
	BoundedVec::try_from(bytes.to_vec()).expect("fits its bound")
}

/// Makes `who`'s free balance `amount`.
pub fn fund(who: u64, amount: u128) {
	use frame_support::traits::fungible::Mutate;
	let held = Balances::total_balance_on_hold(&who);
	let _ = Balances::set_balance(&who, amount.saturating_add(held));
}

/// A datanet owned (and curated) by [`ALICE`].
pub fn new_datanet(policy: pallet_datanets::ContributionPolicy) -> DatanetId {
	let datanet = pallet_datanets::NextDatanetId::<Test>::get();
	assert_ok!(Datanets::create_datanet(
		RuntimeOrigin::signed(ALICE),
		bounded(b"data"),
		bounded(b"ipfs://data"),
		bounded(b"CC-BY-4.0"),
		policy,
	));
	datanet
}

/// The deposit a record of `tokens` tokens (and as many bytes) holds.
pub fn record_deposit(tokens: u32) -> u128 {
	RECORD_DEPOSIT_BASE + RECORD_DEPOSIT_PER_BYTE * u128::from(tokens)
}

/// `who` contributes a record of `tokens` tokens (and as many bytes) to an open `datanet`,
/// accepted at once with quality 100 into the open version: weight `tokens`, frozen with the
/// next [`freeze`].
pub fn contribute(datanet: DatanetId, who: u64, tokens: u32) {
	assert_ok!(Datanets::contribute(
		RuntimeOrigin::signed(who),
		datanet,
		fresh_hash(),
		tokens,
		tokens,
		None,
	));
}

/// `who` contributes a record of `tokens` tokens to a curated `datanet` and [`ALICE`] accepts it
/// with `quality` percent (weight `tokens × quality / 100`, frozen with the next [`freeze`]).
pub fn contribute_curated(datanet: DatanetId, who: u64, tokens: u32, quality: u16) {
	let contribution = pallet_datanets::Datanets::<Test>::get(datanet)
		.expect("the datanet exists")
		.contribution_count;
	assert_ok!(Datanets::contribute(
		RuntimeOrigin::signed(who),
		datanet,
		fresh_hash(),
		tokens,
		tokens,
		None,
	));
	assert_ok!(Datanets::accept_contribution(
		RuntimeOrigin::signed(ALICE),
		datanet,
		contribution,
		Some(quality),
		None,
	));
}

/// Freezes the next version of `datanet`.
pub fn freeze(datanet: DatanetId) -> DatanetVersionRef {
	assert_ok!(Datanets::freeze_version(RuntimeOrigin::signed(ALICE), datanet));
	let version =
		pallet_datanets::Datanets::<Test>::get(datanet).expect("the datanet exists").version_count;
	DatanetVersionRef { datanet, version }
}

/// An open datanet of `versions` frozen versions (at least one): `contributor` froze 1,000 in
/// version 1, [`ALICE`] 10 in each later one.
pub fn datanet_with_versions(versions: u32, contributor: u64) -> DatanetId {
	let datanet = new_datanet(pallet_datanets::ContributionPolicy::Open);
	contribute(datanet, contributor, 1_000);
	freeze(datanet);
	for _ in 1..versions {
		contribute(datanet, ALICE, 10);
		freeze(datanet);
	}
	datanet
}

/// A base model owned by `owner`.
pub fn new_model(owner: u64) -> ModelId {
	let model = pallet_models::NextModelId::<Test>::get();
	assert_ok!(Models::register_model(
		RuntimeOrigin::signed(owner),
		fresh_hash(),
		bounded(b"llama"),
		bounded(b"Apache-2.0"),
		bounded(b"ipfs://model"),
	));
	model
}

/// An adapter by `author` on `model` trained on `training`.
pub fn new_adapter(
	author: u64,
	model: ModelId,
	training: Vec<(DatanetVersionRef, Perbill)>,
) -> AdapterId {
	let adapter = pallet_models::NextAdapterId::<Test>::get();
	let training: TrainingOf<Test> = BoundedVec::try_from(training).expect("fits");
	assert_ok!(Models::register_adapter(
		RuntimeOrigin::signed(author),
		model,
		None,
		fresh_hash(),
		8,
		BoundedVec::try_from(vec![bounded(b"q_proj")]).expect("fits"),
		Price { per_1k_input: 1, per_1k_output: 2 },
		bounded(b"MIT"),
		bounded(b"ipfs://adapter"),
		training,
	));
	adapter
}

/// `versions` with weights as even as Perbill allows (the first takes the remainder).
pub fn even_training(versions: &[DatanetVersionRef]) -> Vec<(DatanetVersionRef, Perbill)> {
	let one = Perbill::one().deconstruct();
	let n = versions.len().max(1) as u32;
	let share = one / n;
	versions
		.iter()
		.enumerate()
		.map(|(i, v)| {
			let parts = if i == 0 { one - share * (n - 1) } else { share };
			(*v, Perbill::from_parts(parts))
		})
		.collect()
}

/// The pot.
pub fn pot() -> u64 {
	Attribution::account_id()
}

/// `who`'s free balance.
pub fn free(who: u64) -> u128 {
	Balances::balance(&who)
}

/// What the pot owes: every credit and every pool balance.
pub fn obligations() -> u128 {
	let credits: u128 = crate::Credits::<Test>::iter_values().sum();
	let pools: u128 = crate::Pools::<Test>::iter_values().map(|p| p.balance).sum();
	credits + pools
}

/// Test externalities at block 1: balances for everyone but [`NOBODY`] and [`TREASURY`], and
/// this pallet's genesis (default policy; pot and treasury endowed with the existential
/// deposit).
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("frame_system genesis builds");
	let mut balances: Vec<(u64, u128)> =
		[ALICE, BOB, CAROL, DAVE, EVE, FRED, GINA].iter().map(|a| (*a, BALANCE)).collect();
	balances.extend((10..40).map(|a| (a, BALANCE)));
	balances.push((SOURCE, SOURCE_BALANCE));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut storage)
		.expect("pallet_balances genesis builds");
	pallet_attribution::GenesisConfig::<Test>::default()
		.assimilate_storage(&mut storage)
		.expect("pallet_attribution genesis builds");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` in fresh externalities, then checks the pallet's invariants and that the pot
/// holds exactly its seed plus what it owes.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		let _ = check_state();
	});
}

/// The pallet's invariants, contributor by contributor too, and the pot's balance exactly its
/// seed plus what it owes. Returns what each contributor may claim, per `(who, datanet,
/// version)`.
pub fn check_state() -> std::collections::BTreeMap<(u64, DatanetId, u32), u128> {
	Attribution::do_try_state().expect("the pallet's invariants hold");
	let pending = check_contributors();
	assert_eq!(free(pot()), ED + obligations(), "the pot holds its seed and what it owes");
	pending
}

/// What [`Pallet::do_try_state`](crate::Pallet::do_try_state) cannot check without the list of
/// contributors, over every contributor the datanet registry knows (every account with an
/// entry in its `ContributorWeights`): the weights the contributors froze in each version sum
/// to that version's weight, and what they may claim from each datanet sums to at most its
/// pool's balance. Returns what each of them may claim, per `(who, datanet, version)`.
pub fn check_contributors() -> std::collections::BTreeMap<(u64, DatanetId, u32), u128> {
	use crate::DatanetWeights;
	use std::collections::{BTreeMap, BTreeSet};
	let contributors: BTreeSet<u64> =
		pallet_datanets::ContributorWeights::<Test>::iter_keys().map(|(who, _, _)| who).collect();
	let mut frozen: BTreeMap<(DatanetId, u32), u128> = BTreeMap::new();
	let mut claimable: BTreeMap<DatanetId, u128> = BTreeMap::new();
	let mut pending = BTreeMap::new();
	for who in contributors {
		for (datanet, version, weight) in
			<Datanets as DatanetWeights<u64>>::contributor_versions(&who)
		{
			assert_eq!(
				weight,
				<Datanets as DatanetWeights<u64>>::contributor_weight(datanet, version, &who)
			);
			*frozen.entry((datanet, version)).or_default() += weight;
		}
		for (datanet, version, owed) in Attribution::pending_rewards(&who).versions {
			*claimable.entry(datanet).or_default() += owed;
			pending.insert((who, datanet, version), owed);
		}
	}
	for datanet in 0..pallet_datanets::NextDatanetId::<Test>::get() {
		let versions = <Datanets as DatanetWeights<u64>>::version_count(datanet);
		let mut below = 0;
		for version in 1..=versions {
			let through = <Datanets as DatanetWeights<u64>>::weight_through(datanet, version);
			assert_eq!(
				frozen.get(&(datanet, version)).copied().unwrap_or_default(),
				through - below,
				"the contributors' weights in version {version} of datanet {datanet}"
			);
			below = through;
		}
		let pool = crate::Pools::<Test>::get(datanet).balance;
		let owed = claimable.get(&datanet).copied().unwrap_or_default();
		assert!(owed <= pool, "datanet {datanet}'s contributors may claim {owed} of {pool}");
	}
	pending
}
