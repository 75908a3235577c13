//! # Attribution pallet
//!
//! Where usage fees go: steps 6 ("Settle", its split) and 7 ("Claim") of the Lineage path. When
//! a usage batch's dispute window ends, the usage pallet charges the payer and hands the fees to
//! this pallet through [`SettleFees`]. Each adapter's fee is split by the governance-set
//! [`FeePolicy`] between the adapter's author, the owner of its base model, the datanets it was
//! trained on (by the adapter's attribution weights), the operator that served it, and the
//! treasury. The authors', owners' and operators' shares become claimable *credits*; each
//! datanet's share enters that datanet's *reward pool*, from which every contributor claims in
//! proportion to their accepted weight in the datanet, in O(1), however many contributors or
//! settlements there are.
//!
//! ## Terms
//!
//! - **Policy**: five [`Perbill`] shares (author, base-model owner, datanets, operator, treasury)
//!   summing to exactly 100%. Set at genesis (default [`FeePolicy::default`]: 40%, 15%, 30%, 10%,
//!   5%) and by [`Config::PolicyOrigin`] with [`Pallet::set_policy`]. A new policy applies to
//!   every later settlement.
//! - **Pot**: this pallet's account ([`Config::PalletId`]). Settlement moves each batch's fees
//!   into it; every credit and every pool balance is held there until claimed. It keeps the
//!   existential deposit it is given at genesis (payments out of it never take that).
//! - **Credit**: a claimable balance per account and [`Role`] ([`Credits`]); an account that is
//!   author, owner and operator at once has three.
//! - **Reward pool**: per datanet ([`Pools`]), a *reward per weight* accumulator scaled by
//!   [`PRECISION`] and the balance added to the pool and not yet claimed. Adding `part` to the
//!   pool of a datanet of total weight `W` adds `part × PRECISION / W` (rounded down) to the
//!   accumulator.
//! - **Checkpoint**: per contributor and datanet ([`Checkpoints`]), the accumulator value up to
//!   which the contributor has been accounted, and what they earned before it and have not
//!   claimed. A contributor of weight `w` is owed `unclaimed + w × (accumulator − paid) /
//!   PRECISION`. The datanet registry tells this pallet before a contributor's weight changes
//!   ([`OnContributorWeightChange`]), so that the earnings at the old weight are moved into
//!   `unclaimed` and the checkpoint is moved to the current accumulator: a contributor never earns
//!   from fees paid before their weight existed.
//! - **Dust**: what rounding leaves of a fee (the policy's shares and the attribution weights are
//!   applied rounding down). It goes to the treasury with the treasury's share and is counted in
//!   [`TotalDust`].
//!
//! ## Settlement
//!
//! [`SettleFees::settle`]`(source, operator, fees)`, for each `(adapter, fee)`:
//! 1. the adapter's terms come from [`Config::Adapters`]; an unknown adapter fails the whole
//!    call (`UnknownAdapter`), which changes nothing;
//! 2. `fee` is split by the policy, each share rounded down;
//! 3. the author's, the base-model owner's and the operator's shares are credited;
//! 4. the datanets' share is split across the adapter's training versions by their attribution
//!    weights (rounded down); the parts of several versions of one datanet go to the same pool;
//!    a part whose datanet has no weight (or whose accumulator cannot take it) goes to the
//!    treasury, as does the whole datanets' share of an adapter that cites no version;
//! 5. the treasury's share and the dust go to [`Config::TreasuryAccount`];
//! 6. [`Event::FeesSplit`] is emitted.
//!
//! The sum of the fees moves from `source` to the pot in one transfer, and the treasury's total in
//! one transfer from the pot; [`Event::DustCollected`] follows when there was dust. Settlement
//! costs O(adapters × training versions) and never touches contributors.
//!
//! ## Conservation
//!
//! Everything charged is paid out, claimable, or sent to the treasury:
//! `Σ charged = Σ claimed + Σ Credits + Σ pool balances + Σ sent to the treasury`, and the pot
//! holds `Σ Credits + Σ pool balances` above its existential deposit. Claims round down, so a
//! pool's balance always covers what its contributors may claim ([`Pallet::do_try_state`]).
//!
//! ## Calls
//!
//! Any signed account:
//! - [`Pallet::claim`]: claim one's rewards from a datanet's pool.
//! - [`Pallet::claim_credits`]: claim one's credits as author, base-model owner and operator.
//!
//! [`Config::PolicyOrigin`] (governance):
//! - [`Pallet::set_policy`]: replace the fee-split policy.
//!
//! ## For other pallets and clients
//!
//! - [`SettleFees`] (the usage pallet) and [`OnContributorWeightChange`] (the datanet registry).
//! - [`Pallet::pending_rewards`] and [`Pallet::policy`], also served by the
//!   [`runtime_api::AttributionApi`] runtime API.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod functions;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod proptests;
pub mod runtime_api;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
pub use lineage_primitives::{
	usage::{AdapterInspect, AdapterTerms, DatanetWeights, OnContributorWeightChange, SettleFees},
	AdapterId, DatanetId,
};
use polkadot_sdk::{
	frame_support::{
		self,
		traits::{fungible, tokens::Balance as BalanceT, Get},
		Deserialize, PalletId, Serialize,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_runtime::Perbill,
};
use scale_info::TypeInfo;

/// The scale of the reward-per-weight accumulators: `10^18`. A pool's accumulator grows by
/// `part × PRECISION / total_weight`, so the rounding loss per settlement is below
/// `total_weight / PRECISION` units for the whole datanet.
pub const PRECISION: u128 = 1_000_000_000_000_000_000;

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// A reward pool in the runtime's balance type.
pub type PoolOf<T> = Pool<BalanceOf<T>>;
/// A contributor's checkpoint in the runtime's balance type.
pub type CheckpointOf<T> = Checkpoint<BalanceOf<T>>;
/// Pending rewards in the runtime's balance type.
pub type PendingRewardsOf<T> = PendingRewards<BalanceOf<T>>;

/// How each fee is split. The five shares sum to exactly 100%.
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
	Serialize,
	Deserialize,
)]
#[serde(crate = "polkadot_sdk::frame_support::__private::serde")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeePolicy {
	/// The adapter's author.
	pub author: Perbill,
	/// The owner of the adapter's base model.
	pub base_owner: Perbill,
	/// The datanets the adapter was trained on, split by its attribution weights.
	pub datanets: Perbill,
	/// The operator that served the usage.
	pub operator: Perbill,
	/// The treasury.
	pub treasury: Perbill,
}

impl Default for FeePolicy {
	/// The genesis default: 40% to the adapter's author (who did the work the user chose), 30% to
	/// the datanets (the data that made the adapter useful), 15% to the base model's owner, 10%
	/// to the operator (who also charges for compute off this split) and 5% to the treasury.
	fn default() -> Self {
		Self {
			author: Perbill::from_percent(40),
			base_owner: Perbill::from_percent(15),
			datanets: Perbill::from_percent(30),
			operator: Perbill::from_percent(10),
			treasury: Perbill::from_percent(5),
		}
	}
}

impl FeePolicy {
	/// Whether the five shares sum to exactly 100%.
	pub fn is_whole(&self) -> bool {
		let parts = [self.author, self.base_owner, self.datanets, self.operator, self.treasury];
		let sum = parts.iter().fold(0u64, |sum, p| sum.saturating_add(u64::from(p.deconstruct())));
		sum == u64::from(Perbill::one().deconstruct())
	}

	/// Split `fee` by the policy, each share rounded down; what rounding leaves is `dust`. The
	/// six amounts sum to `fee`.
	pub fn split<B: BalanceT>(&self, fee: B) -> FeeShares<B> {
		let author = self.author.mul_floor(fee);
		let base_owner = self.base_owner.mul_floor(fee);
		let datanets = self.datanets.mul_floor(fee);
		let operator = self.operator.mul_floor(fee);
		let treasury = self.treasury.mul_floor(fee);
		let dust = fee
			.saturating_sub(author)
			.saturating_sub(base_owner)
			.saturating_sub(datanets)
			.saturating_sub(operator)
			.saturating_sub(treasury);
		FeeShares { author, base_owner, datanets, operator, treasury, dust }
	}
}

/// One fee split by a [`FeePolicy`], before the datanets' share is split across datanets.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FeeShares<Balance> {
	/// The author's share.
	pub author: Balance,
	/// The base-model owner's share.
	pub base_owner: Balance,
	/// The datanets' share.
	pub datanets: Balance,
	/// The operator's share.
	pub operator: Balance,
	/// The treasury's share.
	pub treasury: Balance,
	/// What rounding left.
	pub dust: Balance,
}

/// The role a credit was earned in.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum Role {
	/// The author of an adapter.
	#[codec(index = 0)]
	Author,
	/// The owner of an adapter's base model.
	#[codec(index = 1)]
	BaseOwner,
	/// The operator that served the usage.
	#[codec(index = 2)]
	Operator,
}

impl Role {
	/// Every role.
	pub const ALL: [Role; 3] = [Role::Author, Role::BaseOwner, Role::Operator];
}

/// A datanet's reward pool.
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
pub struct Pool<Balance> {
	/// The rewards added per unit of weight, ever, scaled by [`PRECISION`]; never decreases.
	pub reward_per_weight: u128,
	/// What was added to the pool and not yet claimed.
	pub balance: Balance,
}

/// How far a contributor has been accounted in a datanet's pool.
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
pub struct Checkpoint<Balance> {
	/// The pool's accumulator when the contributor was last accounted.
	pub paid_per_weight: u128,
	/// What the contributor earned up to then and has not claimed.
	pub unclaimed: Balance,
}

/// What an account may claim now, as [`Pallet::pending_rewards`] reports it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Encode, Decode, TypeInfo)]
pub struct PendingRewards<Balance> {
	/// Per datanet the account has contributed to, its claimable reward (datanets with nothing
	/// to claim are left out), ascending by datanet id.
	pub datanets: Vec<(DatanetId, Balance)>,
	/// Its credit as adapter author.
	pub as_author: Balance,
	/// Its credit as base-model owner.
	pub as_base_owner: Balance,
	/// Its credit as operator.
	pub as_operator: Balance,
}

/// Makes what the benchmarks settle: an adapter whose training datanets have weight.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Registers an adapter trained on `t` frozen versions of `t` distinct datanets (weights
	/// summing to 100%), in each of which `contributor` has accepted weight, and returns it. The
	/// helper funds whatever deposits this takes.
	fn adapter_with_training(t: u32, contributor: &AccountId) -> AdapterId;
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::EnsureOrigin};
	use frame_system::pallet_prelude::*;

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

		/// The currency fees are paid in.
		type Currency: fungible::Mutate<Self::AccountId>;

		/// The id of this pallet's pot account.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// The model registry: an adapter's author, base-model owner and training lineage.
		type Adapters: AdapterInspect<Self::AccountId, BalanceOf<Self>, BlockNumberFor<Self>>;

		/// The datanet registry: contributors' weights.
		type Datanets: DatanetWeights<Self::AccountId>;

		/// The account that receives the treasury's share and the dust.
		type TreasuryAccount: Get<Self::AccountId>;

		/// The origin that may set the fee-split policy (governance; Root in the runtime).
		type PolicyOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The most training versions an adapter may cite (the model registry's own limit): the
		/// worst case settlement is weighed for.
		#[pallet::constant]
		type MaxTrainingVersions: Get<u32>;

		/// Weights of this pallet's calls and of settlement.
		type WeightInfo: WeightInfo;

		/// Makes adapters with weighted training datanets for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// The fee-split policy.
	#[pallet::storage]
	pub type Policy<T> = StorageValue<_, FeePolicy, ValueQuery>;

	/// Claimable credits, per account and role.
	#[pallet::storage]
	pub type Credits<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		Role,
		BalanceOf<T>,
		ValueQuery,
	>;

	/// The reward pool of each datanet that has received a share of a fee.
	#[pallet::storage]
	pub type Pools<T: Config> = StorageMap<_, Twox64Concat, DatanetId, PoolOf<T>, ValueQuery>;

	/// Each contributor's checkpoint in each datanet they have weight in.
	#[pallet::storage]
	pub type Checkpoints<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		DatanetId,
		CheckpointOf<T>,
	>;

	/// All the rounding dust ever sent to the treasury.
	#[pallet::storage]
	pub type TotalDust<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The fee-split policy; must be whole. [`FeePolicy::default`] when not given.
		pub policy: FeePolicy,
		/// Binds the config to the runtime (no data).
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		/// Sets the policy, and gives the pot and the treasury account a provider reference and
		/// (minting the difference) at least the existential deposit, so that they always exist
		/// and can receive any amount. Build it after the balances pallet's genesis.
		fn build(&self) {
			assert!(self.policy.is_whole(), "the genesis fee-split policy must sum to 100%");
			Policy::<T>::put(self.policy);
			Pallet::<T>::endow(&Pallet::<T>::account_id());
			Pallet::<T>::endow(&T::TreasuryAccount::get());
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Governance set a new fee-split policy.
		PolicySet {
			/// The new policy.
			policy: FeePolicy,
		},
		/// An adapter's fee was split; the five amounts sum to `fee`.
		FeesSplit {
			/// The adapter.
			adapter: AdapterId,
			/// The fee.
			fee: BalanceOf<T>,
			/// Credited to the adapter's author.
			author: BalanceOf<T>,
			/// Credited to the base model's owner.
			base_owner: BalanceOf<T>,
			/// Added to the reward pools of the adapter's training datanets.
			datanets: BalanceOf<T>,
			/// Credited to the operator.
			operator: BalanceOf<T>,
			/// Sent to the treasury: its share, this fee's rounding dust, and the datanets' parts
			/// that no pool could take.
			treasury: BalanceOf<T>,
		},
		/// A contributor claimed their reward from a datanet's pool.
		RewardClaimed {
			/// The contributor.
			who: T::AccountId,
			/// The datanet.
			datanet: DatanetId,
			/// The amount paid.
			amount: BalanceOf<T>,
		},
		/// An account claimed its credits (as author, base-model owner and operator).
		CreditsClaimed {
			/// The account.
			who: T::AccountId,
			/// The amount paid.
			amount: BalanceOf<T>,
		},
		/// A settlement's rounding dust went to the treasury.
		DustCollected {
			/// The dust.
			amount: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The policy's shares do not sum to exactly 100%.
		PolicyNotWhole,
		/// The adapter is not registered.
		UnknownAdapter,
		/// There is nothing to claim.
		NothingToClaim,
		/// An amount would overflow.
		Overflow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(FeePolicy::default().is_whole(), "the default policy must sum to 100%");
			assert!(T::MaxTrainingVersions::get() > 0, "MaxTrainingVersions must be non-zero");
			assert!(
				Pallet::<T>::account_id() != T::TreasuryAccount::get(),
				"the treasury must not be the pot"
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
		/// Replace the fee-split policy; it applies to every later settlement.
		///
		/// - Origin: [`Config::PolicyOrigin`] (governance).
		/// - Fails with `PolicyNotWhole` when the shares do not sum to exactly 100%.
		/// - Emits [`Event::PolicySet`].
		/// - Complexity: O(1); one write.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::set_policy())]
		pub fn set_policy(origin: OriginFor<T>, policy: FeePolicy) -> DispatchResult {
			T::PolicyOrigin::ensure_origin(origin)?;
			ensure!(policy.is_whole(), Error::<T>::PolicyNotWhole);
			Policy::<T>::put(policy);
			Self::deposit_event(Event::PolicySet { policy });
			Ok(())
		}

		/// Claim the caller's reward from `datanet`'s pool: what it earned at each of its past
		/// weights since it joined, and at its current weight since its last checkpoint, rounded
		/// down. Paid from the pot.
		///
		/// - Origin: signed, by the contributor.
		/// - Fails with `NothingToClaim`, or the currency's error when the payment cannot be made
		///   (such as an amount below the existential deposit to an account that does not exist).
		/// - Emits [`Event::RewardClaimed`].
		/// - Complexity: O(1); reads the weight, the pool and the checkpoint; one transfer.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::claim())]
		pub fn claim(origin: OriginFor<T>, datanet: DatanetId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_claim(who, datanet)
		}

		/// Claim all of the caller's credits: as adapter author, base-model owner and operator.
		/// Paid from the pot.
		///
		/// - Origin: signed.
		/// - Fails with `NothingToClaim`, or the currency's error when the payment cannot be made.
		/// - Emits [`Event::CreditsClaimed`].
		/// - Complexity: O(1); three credits read and removed; one transfer.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::claim_credits())]
		pub fn claim_credits(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_claim_credits(who)
		}
	}
}

/// Settles the usage pallet's fees: see the crate doc's "Settlement".
impl<T: Config> SettleFees<T::AccountId, BalanceOf<T>> for Pallet<T> {
	/// All or nothing: it runs in its own storage layer, so any error undoes all of it. Fails
	/// with `UnknownAdapter`, `Overflow`, or the currency's error when `source` cannot pay the sum
	/// and keep its existential deposit (or the treasury cannot receive its total).
	fn settle(
		source: &T::AccountId,
		operator: &T::AccountId,
		fees: &[(AdapterId, BalanceOf<T>)],
	) -> polkadot_sdk::sp_runtime::DispatchResult {
		frame_support::storage::with_storage_layer(|| Self::do_settle(source, operator, fees))
	}

	/// `adapters` times the weight of settling one adapter of `MaxTrainingVersions` versions.
	/// The fixed part (the two transfers, the policy and dust updates) is inside each adapter's
	/// term, so this bounds the weight from above; no adapters cost nothing.
	fn settle_weight(adapters: u32) -> polkadot_sdk::sp_runtime::Weight {
		T::WeightInfo::settle_adapter(T::MaxTrainingVersions::get())
			.saturating_mul(u64::from(adapters))
	}
}

/// Settles a contributor's earnings at their old weight before the datanet registry changes it.
impl<T: Config> OnContributorWeightChange<T::AccountId> for Pallet<T> {
	/// O(1): reads the pool, writes the checkpoint. Its weight is
	/// [`WeightInfo::on_weight_change`]; the runtime adds it to the datanet registry's weights of
	/// the calls that credit weight (`contribute`, `accept_contribution`).
	fn on_weight_change(datanet: DatanetId, who: &T::AccountId, old_weight: u128) {
		Self::checkpoint(datanet, who, old_weight)
	}
}
