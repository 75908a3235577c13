//! # Models pallet
//!
//! The registry of base models and the LoRA adapters trained on them: step 2 ("Publish") of the
//! Lineage path. An author registers a base model and adapters on it with their *lineage* (base
//! model, parent adapter, the datanet versions the adapter was trained on and their attribution
//! weights). The oracle serves only adapters that are registered and active and whose bytes hash
//! to the registered artifact hash; the usage and attribution pallets later split each fee by this
//! lineage (adapter author, base-model owner, datanets by attribution weight). The records that
//! fees depend on are therefore exact and, once written, immutable: only an adapter's status and
//! its price change, and a price change only takes effect after a delay.
//!
//! ## Terms
//!
//! - **Base model**: a set of weights (HF layout) identified by its *artifact hash*, with an
//!   architecture name (`"llama"`), an SPDX license id and a metadata URI. Its *owner* is the
//!   account that registered it. A model record never changes: there is no call to edit or
//!   deprecate one.
//! - **Adapter**: a LoRA adapter (PEFT layout) on one base model, with its rank, the modules it
//!   targets (`"q_proj"`, …), a price, a license, a metadata URI and its training lineage. Its
//!   *author* is the account that registered it.
//! - **Artifact hash**: the rule of [`lineage_primitives::artifact_hash`]: sha256 over each
//!   file's name and sha256, files sorted by name. One artifact hash registers once, across models
//!   and adapters ([`ArtifactIndex`]).
//! - **Parent** and **depth**: an adapter may continue training another adapter on the same base
//!   model (its parent). A root adapter has depth 0, a child its parent's depth + 1, at most
//!   [`Config::MaxLineageDepth`].
//! - **Training**: the frozen datanet versions ([`DatanetVersionRef`]) the adapter was trained on,
//!   each with an attribution weight ([`Perbill`]); the weights sum to exactly 100%. Versions
//!   exist only once frozen, as [`Config::Datanets`] reports.
//! - **Price**: what one use costs, per 1,000 input and per 1,000 output tokens, in the smallest
//!   unit of the native token. A new price takes effect [`Config::PriceChangeDelay`] blocks after
//!   it is set; [`Pallet::price_at`] gives the price in force at any block at most
//!   `PriceChangeDelay` blocks old (and at later blocks).
//! - **Status**: `Active` → `Deprecated` (by the author: still resolvable, new usage may be
//!   refused by other pallets) → `Revoked` (by governance: no longer usable, nor a parent).
//! - **Evaluation**: what the adapter's training run measured on its held-out split, base model
//!   against adapter (loss, token accuracy, exact match), with the sha-256 of the run's training
//!   manifest ([`Evaluation`]). The adapter's author posts it once, after registering the
//!   adapter; like the adapter record it never changes ([`Evaluations`]). The chain records it
//!   as posted: it does not (and cannot) recompute it, but the manifest hash ties it to the run's
//!   inputs, settings and results for anyone who reruns it.
//! - **Deposit**: registering holds [`Config::ModelDeposit`] or [`Config::AdapterDeposit`] from
//!   the caller, and posting an evaluation [`Config::EvaluationDeposit`], under [`HoldReason`],
//!   for as long as the record exists (records are never removed, since settled fees refer to
//!   them).
//!
//! ## Calls
//!
//! Any signed account:
//! - [`Pallet::register_model`]: register a base model; the caller becomes its owner.
//! - [`Pallet::register_adapter`]: register an adapter with its lineage; the caller becomes its
//!   author.
//!
//! The adapter's author:
//! - [`Pallet::deprecate_adapter`]: mark an active adapter deprecated.
//! - [`Pallet::set_price`]: schedule a new price, effective after [`Config::PriceChangeDelay`].
//! - [`Pallet::post_evaluation`]: post the adapter's evaluation, once, unless it is revoked.
//!
//! [`Config::RevokeOrigin`] (governance):
//! - [`Pallet::revoke_adapter`]: revoke an adapter that is not yet revoked.
//!
//! ## Reading
//!
//! - [`Pallet::lineage`]: an adapter with its base model and every ancestor up to its root, each
//!   with its training lineage; also served by the [`runtime_api::LineageApi`] runtime API.
//! - [`Pallet::price_at`]: the price of an adapter in force at a block.
//! - [`Evaluations`]: an adapter's evaluation, if its author posted one; also served by the
//!   [`runtime_api::LineageApi`] runtime API (`adapter_evaluation`).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod functions;
#[cfg(test)]
mod mock;
pub mod runtime_api;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
pub use lineage_primitives::{AdapterId, DatanetInspect, DatanetVersionRef, ModelId};
use polkadot_sdk::{
	frame_support::{
		self, traits::fungible, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_core::H256,
	sp_runtime::Perbill,
};
use scale_info::TypeInfo;

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// A price in the runtime's balance type.
pub type PriceOf<T> = Price<BalanceOf<T>>;
/// An architecture name, such as `llama`.
pub type ArchitectureOf<T> = BoundedVec<u8, <T as Config>::MaxArchitectureLength>;
/// An SPDX license id, such as `Apache-2.0`.
pub type LicenseOf<T> = BoundedVec<u8, <T as Config>::MaxLicenseLength>;
/// A metadata URI.
pub type UriOf<T> = BoundedVec<u8, <T as Config>::MaxUriLength>;
/// The name of a module an adapter targets, such as `q_proj`.
pub type ModuleNameOf<T> = BoundedVec<u8, <T as Config>::MaxModuleNameLength>;
/// The modules an adapter targets.
pub type TargetModulesOf<T> = BoundedVec<ModuleNameOf<T>, <T as Config>::MaxTargetModules>;
/// The datanet versions an adapter was trained on, with their attribution weights.
pub type TrainingOf<T> =
	BoundedVec<(DatanetVersionRef, Perbill), <T as Config>::MaxTrainingVersions>;
/// An adapter's lineage as this runtime reports it.
pub type AdapterLineageOf<T> = AdapterLineage<<T as frame_system::Config>::AccountId, BalanceOf<T>>;

/// The price of one use of an adapter, in the smallest unit of the native token.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub struct Price<Balance> {
	/// The price of 1,000 input (prompt) tokens.
	pub per_1k_input: Balance,
	/// The price of 1,000 output (generated) tokens.
	pub per_1k_output: Balance,
}

/// Where an adapter is in its life.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum AdapterStatus {
	/// Usable.
	Active,
	/// Marked by its author as superseded: still resolvable, but other pallets may refuse new
	/// usage of it.
	Deprecated,
	/// Revoked by governance: not to be used, and no parent of new adapters.
	Revoked,
}

/// What an artifact hash was registered as.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum ArtifactOwner {
	/// A base model.
	Model(ModelId),
	/// An adapter.
	Adapter(AdapterId),
}

/// A registered base model. Immutable once registered.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct ModelInfo<T: Config> {
	/// The account that registered the model.
	pub owner: T::AccountId,
	/// The hash of the model's files ([`lineage_primitives::artifact_hash`]).
	pub artifact_hash: H256,
	/// The architecture name, such as `llama`.
	pub architecture: ArchitectureOf<T>,
	/// The SPDX license id.
	pub license: LicenseOf<T>,
	/// Where the model's metadata (and files) can be found.
	pub metadata_uri: UriOf<T>,
	/// The deposit held from the owner.
	pub deposit: BalanceOf<T>,
	/// The block the model was registered in.
	pub registered_at: BlockNumberFor<T>,
}

/// A registered LoRA adapter. Only `status` and the price fields change after registration.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct AdapterInfo<T: Config> {
	/// The account that registered the adapter.
	pub author: T::AccountId,
	/// The base model the adapter applies to.
	pub base_model: ModelId,
	/// The adapter this one continued training from, on the same base model.
	pub parent: Option<AdapterId>,
	/// The hash of the adapter's PEFT files ([`lineage_primitives::artifact_hash`]).
	pub artifact_hash: H256,
	/// The LoRA rank, `1..=MaxRank`.
	pub rank: u32,
	/// The modules the adapter targets, distinct, at least one.
	pub target_modules: TargetModulesOf<T>,
	/// The price in force since `previous_price.0` (since registration when there is none),
	/// until `next_price.0`.
	pub price: PriceOf<T>,
	/// A price scheduled by [`Pallet::set_price`] and the block it takes (or took) effect at.
	pub next_price: Option<(BlockNumberFor<T>, PriceOf<T>)>,
	/// The price that was in force before block `.0`, when `price` took effect.
	pub previous_price: Option<(BlockNumberFor<T>, PriceOf<T>)>,
	/// The SPDX license id.
	pub license: LicenseOf<T>,
	/// Where the adapter's metadata (and files) can be found.
	pub metadata_uri: UriOf<T>,
	/// The frozen datanet versions the adapter was trained on, distinct, with attribution weights
	/// that sum to exactly 100%.
	pub training: TrainingOf<T>,
	/// Where the adapter is in its life.
	pub status: AdapterStatus,
	/// 0 without a parent, else the parent's depth + 1; at most `MaxLineageDepth`.
	pub depth: u32,
	/// The deposit held from the author.
	pub deposit: BalanceOf<T>,
	/// The block the adapter was registered in.
	pub registered_at: BlockNumberFor<T>,
}

impl<T: Config> AdapterInfo<T> {
	/// The price in force at `block`: `None` before the adapter was registered. Exact for every
	/// block at most `PriceChangeDelay` blocks before the current one, and for later blocks.
	pub fn price_at(&self, block: BlockNumberFor<T>) -> Option<PriceOf<T>> {
		if block < self.registered_at {
			return None;
		}
		if let Some((effective_at, next)) = self.next_price {
			if block >= effective_at {
				return Some(next);
			}
		}
		if let Some((since, previous)) = self.previous_price {
			if block < since {
				return Some(previous);
			}
		}
		Some(self.price)
	}

	/// For each of the two prices, the lowest in force at any block of `first..=last` (blocks
	/// before registration count as the registration block); exact over the same blocks as
	/// [`AdapterInfo::price_at`]. The price can only change at the blocks this record knows a
	/// change at (`previous_price.0`, `next_price.0`), so it is enough to look at `first` and
	/// at each of those inside the range.
	pub fn lowest_price_over(
		&self,
		first: BlockNumberFor<T>,
		last: BlockNumberFor<T>,
	) -> PriceOf<T> {
		let first = first.max(self.registered_at);
		let last = last.max(first);
		let changes = [self.previous_price.map(|(at, _)| at), self.next_price.map(|(at, _)| at)];
		let mut lowest = self.price_at(first).unwrap_or(self.price);
		for at in changes.into_iter().flatten().filter(|at| first < *at && *at <= last) {
			let price = self.price_at(at).unwrap_or(self.price);
			lowest.per_1k_input = lowest.per_1k_input.min(price.per_1k_input);
			lowest.per_1k_output = lowest.per_1k_output.min(price.per_1k_output);
		}
		lowest
	}
}

/// What a training run measured on its held-out split, posted by the adapter's author.
///
/// Each metric is measured twice on the same held-out records, for the base model alone and for
/// the base model with the adapter, so that the two can be compared. Immutable once posted.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub struct Evaluation {
	/// sha-256 of the training manifest's bytes (the run's inputs, settings and results).
	pub manifest_hash: H256,
	/// Held-out records scored.
	pub heldout_records: u32,
	/// Answer tokens scored on the held-out records.
	pub heldout_tokens: u32,
	/// Tokens the training run consumed (all epochs).
	pub trained_tokens: u64,
	/// Mean cross-entropy per answer token of the base model, in micro-nats (nats × 10^6).
	pub base_loss: u32,
	/// The same for the adapter.
	pub adapter_loss: u32,
	/// Share of answer tokens the base model predicts (greedy, teacher-forced).
	pub base_token_accuracy: Perbill,
	/// The same for the adapter.
	pub adapter_token_accuracy: Perbill,
	/// Share of held-out questions whose greedy answer equals the record's answer, base model.
	pub base_exact_match: Perbill,
	/// The same for the adapter.
	pub adapter_exact_match: Perbill,
}

/// One adapter in a lineage, as [`Pallet::lineage`] reports it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct LineageNode<AccountId> {
	/// The adapter.
	pub adapter: AdapterId,
	/// Its author.
	pub author: AccountId,
	/// Its artifact hash.
	pub artifact_hash: H256,
	/// Its LoRA rank.
	pub rank: u32,
	/// The datanet versions it was trained on, with attribution weights summing to 100%.
	pub training: Vec<(DatanetVersionRef, Perbill)>,
	/// Its status.
	pub status: AdapterStatus,
}

/// An adapter's full lineage: what the usage and attribution pallets (and the oracle) need to
/// serve it and to split its fees.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct AdapterLineage<AccountId, Balance> {
	/// The adapter.
	pub adapter: AdapterId,
	/// Its base model.
	pub base_model: ModelId,
	/// The base model's owner.
	pub base_model_owner: AccountId,
	/// The base model's artifact hash.
	pub base_model_artifact: H256,
	/// The adapter's price in force now.
	pub price: Price<Balance>,
	/// The adapter's status.
	pub status: AdapterStatus,
	/// The adapter itself (`ancestors[0]`), then its parent, grandparent, … up to its root
	/// adapter: `depth + 1` nodes.
	pub ancestors: Vec<LineageNode<AccountId>>,
}

/// Makes frozen datanet versions exist for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper {
	/// Makes a frozen datanet version exist and returns it; distinct `i` give distinct versions.
	fn frozen_version(i: u32) -> DatanetVersionRef;
}

// `register_adapter` takes each part of the record as its own argument, and the call macro
// generates constructors with the same arguments.
#[allow(clippy::too_many_arguments)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{fungible::MutateHold, EnsureOrigin},
	};
	use frame_system::pallet_prelude::*;
	use polkadot_sdk::sp_runtime::traits::{CheckedAdd, Zero};

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>>
			+ IsType<<Self as polkadot_sdk::frame_system::Config>::RuntimeEvent>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The currency deposits are held in.
		#[cfg(not(feature = "runtime-benchmarks"))]
		type Currency: fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;
		/// The currency deposits are held in (and benchmarks fund accounts with).
		#[cfg(feature = "runtime-benchmarks")]
		type Currency: fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ fungible::Mutate<Self::AccountId>;

		/// The deposit held from the owner for each registered model.
		#[pallet::constant]
		type ModelDeposit: Get<BalanceOf<Self>>;

		/// The deposit held from the author for each registered adapter.
		#[pallet::constant]
		type AdapterDeposit: Get<BalanceOf<Self>>;

		/// The deposit held from the author for each posted evaluation.
		#[pallet::constant]
		type EvaluationDeposit: Get<BalanceOf<Self>>;

		/// The datanet registry: which datanet versions exist (are frozen).
		type Datanets: DatanetInspect;

		/// The origin that may revoke adapters (governance; Root in the runtime).
		type RevokeOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The longest metadata URI, in bytes.
		#[pallet::constant]
		type MaxUriLength: Get<u32>;

		/// The longest architecture name, in bytes.
		#[pallet::constant]
		type MaxArchitectureLength: Get<u32>;

		/// The longest SPDX license id, in bytes.
		#[pallet::constant]
		type MaxLicenseLength: Get<u32>;

		/// The most modules one adapter may target.
		#[pallet::constant]
		type MaxTargetModules: Get<u32>;

		/// The longest target-module name, in bytes.
		#[pallet::constant]
		type MaxModuleNameLength: Get<u32>;

		/// The most datanet versions one adapter may cite in its training lineage.
		#[pallet::constant]
		type MaxTrainingVersions: Get<u32>;

		/// The highest LoRA rank.
		#[pallet::constant]
		type MaxRank: Get<u32>;

		/// The greatest adapter depth: the longest chain of parents above an adapter.
		#[pallet::constant]
		type MaxLineageDepth: Get<u32>;

		/// The number of blocks between setting a price and its taking effect.
		#[pallet::constant]
		type PriceChangeDelay: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Makes frozen datanet versions exist for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The deposit for a registered base model.
		#[codec(index = 0)]
		ModelDeposit,
		/// The deposit for a registered adapter.
		#[codec(index = 1)]
		AdapterDeposit,
		/// The deposit for a posted evaluation.
		#[codec(index = 2)]
		EvaluationDeposit,
	}

	/// The id the next registered model gets.
	#[pallet::storage]
	pub type NextModelId<T> = StorageValue<_, ModelId, ValueQuery>;

	/// The registered base models.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Twox64Concat, ModelId, ModelInfo<T>>;

	/// The id the next registered adapter gets.
	#[pallet::storage]
	pub type NextAdapterId<T> = StorageValue<_, AdapterId, ValueQuery>;

	/// The registered adapters.
	#[pallet::storage]
	pub type Adapters<T: Config> = StorageMap<_, Twox64Concat, AdapterId, AdapterInfo<T>>;

	/// What each registered artifact hash belongs to: one artifact registers once.
	#[pallet::storage]
	pub type ArtifactIndex<T> = StorageMap<_, Blake2_128Concat, H256, ArtifactOwner>;

	/// The evaluations adapters' authors posted: at most one per registered adapter, immutable.
	#[pallet::storage]
	pub type Evaluations<T> = StorageMap<_, Twox64Concat, AdapterId, Evaluation>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A base model was registered.
		ModelRegistered {
			/// Its id.
			model: ModelId,
			/// Its owner, who registered it.
			owner: T::AccountId,
			/// Its artifact hash.
			artifact_hash: H256,
		},
		/// An adapter was registered.
		AdapterRegistered {
			/// Its id.
			adapter: AdapterId,
			/// Its author, who registered it.
			author: T::AccountId,
			/// Its base model.
			base_model: ModelId,
			/// Its parent adapter, if any.
			parent: Option<AdapterId>,
			/// Its artifact hash.
			artifact_hash: H256,
		},
		/// An adapter was deprecated by its author.
		AdapterDeprecated {
			/// The adapter.
			adapter: AdapterId,
		},
		/// An adapter was revoked by governance.
		AdapterRevoked {
			/// The adapter.
			adapter: AdapterId,
		},
		/// An adapter's author scheduled a new price.
		PriceChangeScheduled {
			/// The adapter.
			adapter: AdapterId,
			/// The new price.
			price: PriceOf<T>,
			/// The first block at which the new price is in force.
			effective_at: BlockNumberFor<T>,
		},
		/// An adapter's author posted its evaluation.
		EvaluationPosted {
			/// The adapter.
			adapter: AdapterId,
			/// The sha-256 of the training manifest the evaluation comes from.
			manifest_hash: H256,
			/// The base model's mean loss per held-out answer token, in micro-nats.
			base_loss: u32,
			/// The adapter's mean loss per held-out answer token, in micro-nats.
			adapter_loss: u32,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The base model is not registered.
		UnknownModel,
		/// The adapter is not registered.
		UnknownAdapter,
		/// The parent adapter is not registered.
		UnknownParent,
		/// The parent adapter is on another base model.
		ParentOnOtherBase,
		/// The parent adapter is revoked.
		ParentRevoked,
		/// The parent's depth is already `MaxLineageDepth`.
		LineageTooDeep,
		/// A cited datanet version does not exist (is not frozen).
		UnknownVersion,
		/// A datanet version is cited twice.
		DuplicateVersion,
		/// The attribution weights do not sum to exactly 100% (or there are none).
		WeightsNotFull,
		/// The rank is 0 or above `MaxRank`.
		RankOutOfRange,
		/// The adapter targets no module.
		NoTargetModules,
		/// A target module is named twice.
		DuplicateTargetModule,
		/// The artifact hash is already registered, as a model or an adapter.
		DuplicateArtifact,
		/// The caller is not the adapter's author.
		NotAuthor,
		/// The adapter is not active.
		NotActive,
		/// The adapter is revoked.
		AlreadyRevoked,
		/// The adapter has an evaluation already: it never changes once posted.
		AlreadyEvaluated,
		/// The evaluation scored no held-out record or no answer token.
		EmptyEvaluation,
		/// An id or a block number would overflow.
		Overflow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxUriLength::get() > 0, "MaxUriLength must be non-zero");
			assert!(T::MaxArchitectureLength::get() > 0, "MaxArchitectureLength must be non-zero");
			assert!(T::MaxLicenseLength::get() > 0, "MaxLicenseLength must be non-zero");
			assert!(T::MaxTargetModules::get() > 0, "MaxTargetModules must be non-zero");
			assert!(T::MaxModuleNameLength::get() > 0, "MaxModuleNameLength must be non-zero");
			assert!(T::MaxTrainingVersions::get() > 0, "MaxTrainingVersions must be non-zero");
			assert!(
				T::MaxTrainingVersions::get() <= Perbill::one().deconstruct(),
				"MaxTrainingVersions above 10^9 leaves some version a zero weight"
			);
			assert!(T::MaxRank::get() > 0, "MaxRank must be non-zero");
			assert!(T::MaxLineageDepth::get() > 0, "MaxLineageDepth must be non-zero");
			assert!(
				T::MaxLineageDepth::get() < u32::MAX,
				"MaxLineageDepth + 1 lineage nodes must be countable"
			);
			assert!(
				!T::PriceChangeDelay::get().is_zero(),
				"PriceChangeDelay must be non-zero: payers must see a price before it applies"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(
			_n: BlockNumberFor<T>,
		) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a base model; the caller becomes its owner.
		///
		/// - Origin: signed, by the owner.
		/// - Holds [`Config::ModelDeposit`] from the caller.
		/// - Fails with `DuplicateArtifact` when `artifact_hash` is registered already, `Overflow`
		///   when model ids run out, or the currency's error when the deposit cannot be held.
		/// - Emits [`Event::ModelRegistered`].
		/// - Complexity: O(1); three storage writes and a hold.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_model())]
		pub fn register_model(
			origin: OriginFor<T>,
			artifact_hash: H256,
			architecture: ArchitectureOf<T>,
			license: LicenseOf<T>,
			metadata_uri: UriOf<T>,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			ensure!(
				!ArtifactIndex::<T>::contains_key(artifact_hash),
				Error::<T>::DuplicateArtifact
			);
			let model = NextModelId::<T>::get();
			let next = model.checked_add(1).ok_or(Error::<T>::Overflow)?;
			let deposit = T::ModelDeposit::get();
			Self::hold(HoldReason::ModelDeposit, &owner, deposit)?;

			Models::<T>::insert(
				model,
				ModelInfo::<T> {
					owner: owner.clone(),
					artifact_hash,
					architecture,
					license,
					metadata_uri,
					deposit,
					registered_at: frame_system::Pallet::<T>::block_number(),
				},
			);
			NextModelId::<T>::put(next);
			ArtifactIndex::<T>::insert(artifact_hash, ArtifactOwner::Model(model));
			Self::deposit_event(Event::ModelRegistered { model, owner, artifact_hash });
			Ok(())
		}

		/// Register a LoRA adapter on `base_model` with its lineage; the caller becomes its
		/// author.
		///
		/// - Origin: signed, by the author.
		/// - `parent`: an adapter on the same base model, not revoked, of depth below
		///   `MaxLineageDepth`.
		/// - `rank` in `1..=MaxRank`; `target_modules` distinct and at least one.
		/// - `training`: distinct frozen datanet versions whose weights sum to exactly 100%.
		/// - Holds [`Config::AdapterDeposit`] from the caller.
		/// - Emits [`Event::AdapterRegistered`].
		/// - Complexity: O(m + t·log t) for `m` target modules and `t` training versions: one
		///   datanet lookup per version, reads of the base model and the parent, three writes.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::register_adapter(
			target_modules.len() as u32,
			training.len() as u32,
		))]
		pub fn register_adapter(
			origin: OriginFor<T>,
			base_model: ModelId,
			parent: Option<AdapterId>,
			artifact_hash: H256,
			rank: u32,
			target_modules: TargetModulesOf<T>,
			price: PriceOf<T>,
			license: LicenseOf<T>,
			metadata_uri: UriOf<T>,
			training: TrainingOf<T>,
		) -> DispatchResult {
			let author = ensure_signed(origin)?;
			ensure!(rank > 0 && rank <= T::MaxRank::get(), Error::<T>::RankOutOfRange);
			Self::ensure_target_modules(&target_modules)?;
			Self::ensure_training(&training)?;
			ensure!(Models::<T>::contains_key(base_model), Error::<T>::UnknownModel);
			let depth = Self::child_depth(base_model, parent)?;
			ensure!(
				!ArtifactIndex::<T>::contains_key(artifact_hash),
				Error::<T>::DuplicateArtifact
			);
			let adapter = NextAdapterId::<T>::get();
			let next = adapter.checked_add(1).ok_or(Error::<T>::Overflow)?;
			let deposit = T::AdapterDeposit::get();
			Self::hold(HoldReason::AdapterDeposit, &author, deposit)?;

			Adapters::<T>::insert(
				adapter,
				AdapterInfo::<T> {
					author: author.clone(),
					base_model,
					parent,
					artifact_hash,
					rank,
					target_modules,
					price,
					next_price: None,
					previous_price: None,
					license,
					metadata_uri,
					training,
					status: AdapterStatus::Active,
					depth,
					deposit,
					registered_at: frame_system::Pallet::<T>::block_number(),
				},
			);
			NextAdapterId::<T>::put(next);
			ArtifactIndex::<T>::insert(artifact_hash, ArtifactOwner::Adapter(adapter));
			Self::deposit_event(Event::AdapterRegistered {
				adapter,
				author,
				base_model,
				parent,
				artifact_hash,
			});
			Ok(())
		}

		/// Mark an active adapter deprecated. It stays resolvable (its lineage and price still
		/// serve settlement); other pallets may refuse new usage of it.
		///
		/// - Origin: signed, by the adapter's author.
		/// - Fails with `UnknownAdapter`, `NotAuthor`, or `NotActive` when not active.
		/// - Emits [`Event::AdapterDeprecated`].
		/// - Complexity: O(1); one read and one write.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::deprecate_adapter())]
		pub fn deprecate_adapter(origin: OriginFor<T>, adapter: AdapterId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Adapters::<T>::try_mutate(adapter, |maybe| -> DispatchResult {
				let info = maybe.as_mut().ok_or(Error::<T>::UnknownAdapter)?;
				ensure!(info.author == who, Error::<T>::NotAuthor);
				ensure!(info.status == AdapterStatus::Active, Error::<T>::NotActive);
				info.status = AdapterStatus::Deprecated;
				Ok(())
			})?;
			Self::deposit_event(Event::AdapterDeprecated { adapter });
			Ok(())
		}

		/// Revoke an adapter (active or deprecated): it is no longer to be used, nor may new
		/// adapters name it as parent. Its record, and its deposit, stay.
		///
		/// - Origin: [`Config::RevokeOrigin`] (governance).
		/// - Fails with `UnknownAdapter` or `AlreadyRevoked`.
		/// - Emits [`Event::AdapterRevoked`].
		/// - Complexity: O(1); one read and one write.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::revoke_adapter())]
		pub fn revoke_adapter(origin: OriginFor<T>, adapter: AdapterId) -> DispatchResult {
			T::RevokeOrigin::ensure_origin(origin)?;
			Adapters::<T>::try_mutate(adapter, |maybe| -> DispatchResult {
				let info = maybe.as_mut().ok_or(Error::<T>::UnknownAdapter)?;
				ensure!(info.status != AdapterStatus::Revoked, Error::<T>::AlreadyRevoked);
				info.status = AdapterStatus::Revoked;
				Ok(())
			})?;
			Self::deposit_event(Event::AdapterRevoked { adapter });
			Ok(())
		}

		/// Schedule `price` to take effect [`Config::PriceChangeDelay`] blocks from now. A
		/// scheduled price that has taken effect already becomes the current price first; one
		/// that has not is replaced.
		///
		/// - Origin: signed, by the adapter's author; the adapter must not be revoked.
		/// - Fails with `UnknownAdapter`, `NotAuthor`, `AlreadyRevoked`, or `Overflow` when the
		///   effective block overflows.
		/// - Emits [`Event::PriceChangeScheduled`].
		/// - Complexity: O(1); one read and one write.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::set_price())]
		pub fn set_price(
			origin: OriginFor<T>,
			adapter: AdapterId,
			price: PriceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let effective_at =
				now.checked_add(&T::PriceChangeDelay::get()).ok_or(Error::<T>::Overflow)?;
			Adapters::<T>::try_mutate(adapter, |maybe| -> DispatchResult {
				let info = maybe.as_mut().ok_or(Error::<T>::UnknownAdapter)?;
				ensure!(info.author == who, Error::<T>::NotAuthor);
				ensure!(info.status != AdapterStatus::Revoked, Error::<T>::AlreadyRevoked);
				if let Some((at, scheduled)) = info.next_price.take() {
					if at <= now {
						info.previous_price = Some((at, info.price));
						info.price = scheduled;
					}
				}
				info.next_price = Some((effective_at, price));
				Ok(())
			})?;
			Self::deposit_event(Event::PriceChangeScheduled { adapter, price, effective_at });
			Ok(())
		}

		/// Post the evaluation of an adapter's training run: its held-out metrics, base model
		/// against adapter, and the hash of its training manifest. An adapter has at most one
		/// evaluation, and it never changes.
		///
		/// - Origin: signed, by the adapter's author; the adapter must not be revoked (a
		///   deprecated one may still be evaluated).
		/// - Holds [`Config::EvaluationDeposit`] from the caller.
		/// - Fails with `EmptyEvaluation` when it scored no held-out record or no answer token,
		///   `UnknownAdapter`, `NotAuthor`, `AlreadyRevoked`, `AlreadyEvaluated` when the adapter
		///   has an evaluation already, or the currency's error when the deposit cannot be held.
		/// - Emits [`Event::EvaluationPosted`].
		/// - Complexity: O(1); two reads, one write and a hold.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::post_evaluation())]
		pub fn post_evaluation(
			origin: OriginFor<T>,
			adapter: AdapterId,
			evaluation: Evaluation,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(
				evaluation.heldout_records > 0 && evaluation.heldout_tokens > 0,
				Error::<T>::EmptyEvaluation
			);
			let info = Adapters::<T>::get(adapter).ok_or(Error::<T>::UnknownAdapter)?;
			ensure!(info.author == who, Error::<T>::NotAuthor);
			ensure!(info.status != AdapterStatus::Revoked, Error::<T>::AlreadyRevoked);
			ensure!(!Evaluations::<T>::contains_key(adapter), Error::<T>::AlreadyEvaluated);
			Self::hold(HoldReason::EvaluationDeposit, &who, T::EvaluationDeposit::get())?;

			Evaluations::<T>::insert(adapter, evaluation);
			Self::deposit_event(Event::EvaluationPosted {
				adapter,
				manifest_hash: evaluation.manifest_hash,
				base_loss: evaluation.base_loss,
				adapter_loss: evaluation.adapter_loss,
			});
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Hold `amount` from `who` for `reason`; nothing when `amount` is zero.
		fn hold(reason: HoldReason, who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
			if amount.is_zero() {
				return Ok(());
			}
			T::Currency::hold(&reason.into(), who, amount)
		}
	}
}

impl<T: Config>
	lineage_primitives::usage::AdapterInspect<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>
	for Pallet<T>
{
	fn adapter_terms(
		adapter: AdapterId,
		at: BlockNumberFor<T>,
	) -> Option<lineage_primitives::usage::AdapterTerms<T::AccountId, BalanceOf<T>>> {
		Self::adapter_terms_over(adapter, at, at)
	}

	fn adapter_terms_over(
		adapter: AdapterId,
		first: BlockNumberFor<T>,
		last: BlockNumberFor<T>,
	) -> Option<lineage_primitives::usage::AdapterTerms<T::AccountId, BalanceOf<T>>> {
		use lineage_primitives::usage::{AdapterTerms, AdapterUse};
		let info = Adapters::<T>::get(adapter)?;
		let base_model_owner = Models::<T>::get(info.base_model)?.owner;
		let price = info.lowest_price_over(first, last);
		Some(AdapterTerms {
			author: info.author,
			base_model_owner,
			per_1k_input: price.per_1k_input,
			per_1k_output: price.per_1k_output,
			status: match info.status {
				AdapterStatus::Active => AdapterUse::Active,
				AdapterStatus::Deprecated => AdapterUse::Deprecated,
				AdapterStatus::Revoked => AdapterUse::Revoked,
			},
			training: info.training.into_inner(),
		})
	}
}
