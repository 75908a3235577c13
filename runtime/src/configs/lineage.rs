//! Lineage's own pallets: the datanet and model registries (steps 1–2 of the path in the
//! README), usage proofs and escrow (steps 3, 5, 6), attribution (steps 6–7) and on-chain
//! inference jobs (the contracts' way to buy a completion).

#![warn(missing_docs)]

use crate::{
	currency::{deposit, UNIT},
	AccountId, Attribution, Balances, BlockNumber, Datanets, Models, Runtime, RuntimeEvent,
	RuntimeHoldReason, Usage,
};
use polkadot_sdk::{
	frame_support::{
		parameter_types,
		traits::{tokens::imbalance::ResolveTo, ConstU32},
		PalletId,
	},
	frame_system::EnsureRoot,
	sp_runtime::traits::AccountIdConversion,
};

parameter_types! {
	/// Held from a datanet's owner for the datanet's record, which stays (with its versions,
	/// which models cite) for good: closing the datanet does not release it.
	pub const DatanetDeposit: crate::Balance = 10 * UNIT;
	/// Held from a contributor per contribution for what it keeps in storage: the contribution,
	/// its content-hash index, its place in the acceptance order and its version weight.
	pub const ContributionDepositBase: crate::Balance = deposit(4, 400);
	/// Held from a contributor per byte of the record (kept off chain, in the record store): a
	/// stake against bad data, slashed to the treasury when a curator rejects the record.
	pub const ContributionDepositPerByte: crate::Balance = deposit(0, 10);
	/// The least quality multiplier a curator may give a contribution, in percent.
	pub const MinQuality: u16 = 10;
	/// The greatest quality multiplier a curator may give a contribution, in percent.
	pub const MaxQuality: u16 = 300;
	/// The most versions a datanet may freeze: a version a week for five years. Fee attribution
	/// walks a tree over a datanet's versions (9 nodes deep at 256), so this bounds what settling
	/// one adapter's fee costs.
	pub const MaxVersionsPerDatanet: u32 = 256;
	/// The most datanet versions an adapter may cite in its training lineage; each costs a walk
	/// of its datanet's reward index when the adapter's fees are split.
	pub const MaxTrainingVersions: u32 = 8;
	/// The most contributors one adapter's fee in a usage batch may pay by answer attribution
	/// (the oracle keeps the largest shares): each is one weight read and one credit at
	/// settlement.
	pub const MaxMatchedPerAdapter: u32 = 16;
	/// The most matched shares a batch carries (16 adapters × 16), what settlement is weighed
	/// for.
	pub const MaxMatchedPerBatch: u32 = 256;
	/// Held from a base model's owner for the model's record (kept for good: fees cite it).
	pub const ModelDeposit: crate::Balance = 10 * UNIT;
	/// Held from an adapter's author for the adapter's record.
	pub const AdapterDeposit: crate::Balance = UNIT;
	/// Held from an adapter's author for the adapter's evaluation: one fixed-size record (84
	/// bytes), kept for good like the adapter's.
	pub const EvaluationDeposit: crate::Balance = UNIT / 10;
	/// Blocks between an author's price change and the block it takes effect (a day at 6 s, 4 h
	/// of 1-second dev blocks). It is also how far back the registry knows every price exactly,
	/// so it bounds how late usage may be charged at the price it was served at
	/// (`MaxServedAge`): an oracle has this long to get a batch on chain after an outage.
	pub const PriceChangeDelay: BlockNumber = 14_400;
	/// Held from a payer for each dispute until it is resolved: returned when upheld, paid to
	/// the operator when rejected. One item of about 100 bytes, and at least a whole unit so
	/// that disputing every entry of a batch costs more than governance's time is worth.
	pub const DisputeDeposit: crate::Balance = UNIT + deposit(1, 100);

	/// The usage pallet's pot: payers' escrow and charged fees not yet settled.
	pub const UsagePalletId: PalletId = PalletId(*b"lin/usge");
	/// The attribution pallet's pot: credits and datanet reward pools not yet claimed.
	pub const AttributionPalletId: PalletId = PalletId(*b"lin/attr");
	/// The treasury: its policy share, rounding dust and slashed bonds. A keyless account that
	/// governance spends from (with `sudo` on this chain).
	pub TreasuryAccount: AccountId = PalletId(*b"lin/trsy").into_account_truncating();
	/// Held from an operator while it is registered.
	pub const OperatorBond: crate::Balance = 1_000 * UNIT;
	/// Slashed from an operator's bond for each dispute governance upholds.
	pub const DisputeSlash: crate::Balance = 100 * UNIT;
	/// Blocks during which a payer may dispute a charged entry. Short so that the dev chain
	/// (1 s blocks) settles in seconds; a production chain sets hours (600 blocks = 1 h at 6 s).
	pub const DisputeWindow: BlockNumber = 10;
	/// Blocks between a payer's withdrawal request and the block it may withdraw.
	pub const WithdrawNotice: BlockNumber = 20;
	/// Blocks between an operator's leaving and the block it may withdraw its bond.
	pub const UnbondingPeriod: BlockNumber = 20;

	/// A job's storage deposit: one item, plus the per-byte deposit for its prompt and its
	/// longest output (`JobDepositPerByte`).
	pub const JobDepositBase: crate::Balance = deposit(2, 128);
	/// A job's storage deposit per byte of prompt and of the longest output.
	pub const JobDepositPerByte: crate::Balance = deposit(0, 1);
	/// The shortest time to live of a job: an operator needs a few blocks to answer.
	pub const MinJobTtl: BlockNumber = 5;
	/// How long an operator's claim on an open job lasts (50 s of dev blocks, 5 min at 6 s).
	pub const JobClaimPeriod: BlockNumber = 50;
	/// The longest time to live of a job (a day of 1-second dev blocks, 6 days at 6 s).
	pub const MaxJobTtl: BlockNumber = 86_400;
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
	type ContributionDepositBase = ContributionDepositBase;
	type ContributionDepositPerByte = ContributionDepositPerByte;
	type Slashed = ResolveTo<TreasuryAccount, Balances>;
	/// Ten million records. Nothing iterates a datanet's contributions on chain (a version's
	/// Merkle root is built one record at a time), so this bounds ids, not any call's weight.
	type MaxContributionsPerDatanet = ConstU32<10_000_000>;
	type MaxVersionsPerDatanet = MaxVersionsPerDatanet;
	/// 256 KiB: one IPFS block, so each record has a raw CIDv1 any IPFS node can serve.
	type MaxRecordBytes = ConstU32<{ 256 * 1024 }>;
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
	type EvaluationDeposit = EvaluationDeposit;
	type Datanets = Datanets;
	type RevokeOrigin = EnsureRoot<crate::AccountId>;
	type MaxUriLength = ConstU32<256>;
	type MaxArchitectureLength = ConstU32<32>;
	type MaxLicenseLength = ConstU32<32>;
	type MaxTargetModules = ConstU32<16>;
	type MaxModuleNameLength = ConstU32<32>;
	type MaxTrainingVersions = MaxTrainingVersions;
	type MaxRank = ConstU32<256>;
	type MaxLineageDepth = ConstU32<16>;
	type PriceChangeDelay = PriceChangeDelay;
	type WeightInfo = pallet_models::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = benchmark_helpers::FreezeRealVersion;
}

impl pallet_usage::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type PalletId = UsagePalletId;
	type Adapters = Models;
	type Settlement = Attribution;
	type PayerSignature = lineage_primitives::Signature;
	type OperatorBond = OperatorBond;
	type DisputeSlash = DisputeSlash;
	type SlashBeneficiary = TreasuryAccount;
	type ResolveOrigin = EnsureRoot<AccountId>;
	type DisputeWindow = DisputeWindow;
	type WithdrawNotice = WithdrawNotice;
	/// As far back as the model registry keeps exact prices.
	type MaxServedAge = PriceChangeDelay;
	type UnbondingPeriod = UnbondingPeriod;
	type MaxEndpointLength = ConstU32<256>;
	/// 16,384 entries of ~41 bytes are ~670 KB, well inside a block's 3.75 MB normal length.
	type MaxEntriesPerBatch = ConstU32<16_384>;
	/// Settling a batch splits each adapter's fee over up to 8 training versions, each through a
	/// 9-node walk of its datanet's reward index: about 13 ms and 220 KB of proof per adapter at
	/// worst (`scripts/bench`), so 16 adapters keep `settle_batch` (charged for the worst case up
	/// front) near half a block (`runtime/tests/usage_capacity.rs`). The oracle cuts its batches
	/// to this.
	type MaxAdaptersPerBatch = ConstU32<16>;
	/// Each payer's voucher is ~200 bytes and one sr25519 check: 2,048 of them are ~400 KB.
	type MaxPayersPerBatch = ConstU32<2_048>;
	type MaxMatchedPerAdapter = MaxMatchedPerAdapter;
	type DisputeDeposit = DisputeDeposit;
	type WeightInfo = pallet_usage::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = benchmark_helpers::RealAdapters;
}

impl pallet_jobs::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type Adapters = Models;
	type Operators = Usage;
	type Settlement = Attribution;
	/// A long chat message (the oracle's context is 2,048 tokens).
	type MaxPromptLength = ConstU32<4_096>;
	/// 512 tokens of text.
	type MaxOutputLength = ConstU32<4_096>;
	type MaxOutputTokens = ConstU32<512>;
	type MinTtl = MinJobTtl;
	type MaxTtl = MaxJobTtl;
	type MaxJobsPerBlock = ConstU32<64>;
	type JobDepositBase = JobDepositBase;
	type JobDepositPerByte = JobDepositPerByte;
	/// SmolLM2's chat template wraps a job's message in its default system prompt and the
	/// role markers: about 30 tokens (and one end of sequence); 64 leaves room for templates
	/// of other base models without letting an operator inflate a job's counts by much.
	type MaxOverheadTokens = ConstU32<64>;
	/// Long enough to claim, generate up to 512 tokens on a CPU and have the answer included.
	type ClaimPeriod = JobClaimPeriod;
	/// As many as one adapter's fee in a usage batch.
	type MaxMatchedPerJob = MaxMatchedPerAdapter;
	type WeightInfo = pallet_jobs::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = benchmark_helpers::RealAdapters;
}

impl pallet_attribution::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type PalletId = AttributionPalletId;
	type Adapters = Models;
	type Datanets = Datanets;
	type TreasuryAccount = TreasuryAccount;
	type PolicyOrigin = EnsureRoot<AccountId>;
	/// As many as an adapter may cite (`pallet_models::Config::MaxTrainingVersions`).
	type MaxTrainingVersions = MaxTrainingVersions;
	type MaxVersionsPerDatanet = MaxVersionsPerDatanet;
	/// The usage pallet's `MaxAdaptersPerBatch × MaxMatchedPerAdapter`.
	type MaxMatched = MaxMatchedPerBatch;
	type WeightInfo = pallet_attribution::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = benchmark_helpers::RealAdapters;
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

	/// Registers real base models and adapters (through pallet-models, on real frozen
	/// datanet versions) for the usage and attribution benchmarks.
	pub struct RealAdapters;

	impl RealAdapters {
		/// A funded account for benchmark set-up.
		fn funded(name: &'static str, i: u32) -> AccountId {
			let who: AccountId = polkadot_sdk::frame_benchmarking::account(name, i, 0);
			let _ = Balances::set_balance(&who, 1_000_000 * UNIT);
			who
		}

		/// Creates an open datanet owned by a funded account (`owners` plus the datanet's id
		/// names it); returns the datanet and its owner's origin.
		fn open_datanet(owners: u32) -> (u32, RuntimeOrigin) {
			let datanet = pallet_datanets::NextDatanetId::<Runtime>::get();
			let origin = RuntimeOrigin::signed(Self::funded("datanet-owner", owners + datanet));
			let _ = Datanets::create_datanet(
				origin.clone(),
				BoundedVec::truncate_from(b"bench".to_vec()),
				BoundedVec::new(),
				BoundedVec::new(),
				pallet_datanets::ContributionPolicy::Open,
			);
			(datanet, origin)
		}

		/// Registers a base model and an adapter on it trained on `training`; returns the
		/// adapter.
		fn adapter(
			i: u32,
			training: alloc::vec::Vec<(DatanetVersionRef, polkadot_sdk::sp_runtime::Perbill)>,
		) -> lineage_primitives::AdapterId {
			let author = Self::funded("adapter-author", i);
			let origin = RuntimeOrigin::signed(author);
			let model = pallet_models::NextModelId::<Runtime>::get();
			let _ = Models::register_model(
				origin.clone(),
				H256::from_low_u64_be(u64::from(i) + 1_000_000),
				BoundedVec::truncate_from(b"llama".to_vec()),
				BoundedVec::truncate_from(b"Apache-2.0".to_vec()),
				BoundedVec::new(),
			);
			let adapter = pallet_models::NextAdapterId::<Runtime>::get();
			let _ = Models::register_adapter(
				origin,
				model,
				None,
				H256::from_low_u64_be(u64::from(i) + 2_000_000),
				8,
				BoundedVec::truncate_from(alloc::vec![BoundedVec::truncate_from(
					b"q_proj".to_vec()
				)]),
				pallet_models::Price { per_1k_input: UNIT / 100, per_1k_output: UNIT / 50 },
				BoundedVec::truncate_from(b"Apache-2.0".to_vec()),
				BoundedVec::new(),
				BoundedVec::truncate_from(training),
			);
			adapter
		}
	}

	impl pallet_usage::BenchmarkHelper<AccountId, crate::Balance, lineage_primitives::Signature>
		for RealAdapters
	{
		fn create_adapter(i: u32) -> lineage_primitives::AdapterId {
			let version = <FreezeRealVersion as pallet_models::BenchmarkHelper>::frozen_version(i);
			Self::adapter(i, alloc::vec![(version, polkadot_sdk::sp_runtime::Perbill::one())])
		}

		fn fund(who: &AccountId, amount: crate::Balance) {
			let _ = Balances::set_balance(who, amount);
		}

		fn payer(i: u32) -> AccountId {
			// A raw hex seed (no mnemonic to stretch), so thousands of payers are quick to make.
			let seed = alloc::format!("0x{:064x}", u64::from(i) + 1).into_bytes();
			AccountId::from(polkadot_sdk::sp_io::crypto::sr25519_generate(PAYER_KEY, Some(seed)))
		}

		fn sign(payer: &AccountId, message: &[u8]) -> lineage_primitives::Signature {
			let public = polkadot_sdk::sp_core::sr25519::Public::from_raw(*payer.as_ref());
			polkadot_sdk::sp_io::crypto::sr25519_sign(PAYER_KEY, &public, message)
				.map(Into::into)
				.unwrap_or_else(|| {
					polkadot_sdk::sp_core::sr25519::Signature::from_raw([0; 64]).into()
				})
		}
	}

	/// The keystore key type the usage benchmarks' payer keys are made under.
	const PAYER_KEY: polkadot_sdk::sp_core::crypto::KeyTypeId =
		polkadot_sdk::sp_core::crypto::KeyTypeId(*b"lpay");

	impl pallet_jobs::BenchmarkHelper<AccountId, crate::Balance> for RealAdapters {
		fn create_adapter(i: u32) -> lineage_primitives::AdapterId {
			<Self as pallet_usage::BenchmarkHelper<
				AccountId,
				crate::Balance,
				lineage_primitives::Signature,
			>>::create_adapter(i)
		}

		fn register_operator(who: &AccountId, key: polkadot_sdk::sp_core::sr25519::Public) {
			let _ = Balances::set_balance(who, 10 * OperatorBond::get());
			let _ = Usage::register_operator(
				RuntimeOrigin::signed(who.clone()),
				key,
				BoundedVec::truncate_from(b"http://bench".to_vec()),
			);
		}

		fn fund(who: &AccountId, amount: crate::Balance) {
			let _ = Balances::set_balance(who, amount);
		}
	}

	impl pallet_attribution::BenchmarkHelper<AccountId> for RealAdapters {
		fn adapter_with_training(t: u32, contributor: &AccountId) -> lineage_primitives::AdapterId {
			let _ = Balances::set_balance(contributor, 1_000_000 * UNIT);
			let mut training = alloc::vec::Vec::new();
			let share = polkadot_sdk::sp_runtime::Perbill::from_rational(1, t.max(1));
			let mut left = polkadot_sdk::sp_runtime::Perbill::one();
			for j in 0..t {
				let datanet = Self::datanet_with_versions(1, contributor);
				let weight = if j + 1 == t { left } else { share };
				left = polkadot_sdk::sp_runtime::Saturating::saturating_sub(left, weight);
				training.push((DatanetVersionRef { datanet, version: 1 }, weight));
			}
			Self::adapter(pallet_models::NextAdapterId::<Runtime>::get() + 20_000, training)
		}

		fn datanet_with_versions(versions: u32, contributor: &AccountId) -> u32 {
			let _ = Balances::set_balance(contributor, 1_000_000 * UNIT);
			let (datanet, origin) = Self::open_datanet(10_000);
			for v in 0..versions {
				let hash = H256::from_low_u64_be((u64::from(datanet) << 32) + u64::from(v) + 1);
				let _ = Datanets::contribute(
					RuntimeOrigin::signed(contributor.clone()),
					datanet,
					hash,
					1_000,
					1_000,
					None,
				);
				let _ = Datanets::freeze_version(origin.clone(), datanet);
			}
			datanet
		}

		fn adapter_with_contributors(
			m: u32,
		) -> (lineage_primitives::AdapterId, u32, u32, alloc::vec::Vec<AccountId>) {
			let (datanet, origin) = Self::open_datanet(30_000);
			let mut contributors = alloc::vec::Vec::new();
			for i in 0..m.max(1) {
				let who = Self::funded("matched-contributor", i);
				let hash = H256::from_low_u64_be((u64::from(datanet) << 32) + u64::from(i) + 1);
				let _ = Datanets::contribute(
					RuntimeOrigin::signed(who.clone()),
					datanet,
					hash,
					1_000,
					1_000,
					None,
				);
				contributors.push(who);
			}
			let _ = Datanets::freeze_version(origin, datanet);
			contributors.truncate(m as usize);
			let version = DatanetVersionRef { datanet, version: 1 };
			let adapter = Self::adapter(
				pallet_models::NextAdapterId::<Runtime>::get() + 40_000,
				alloc::vec![(version, polkadot_sdk::sp_runtime::Perbill::one())],
			);
			(adapter, datanet, 1, contributors)
		}
	}
}
