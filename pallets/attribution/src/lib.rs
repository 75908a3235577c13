//! # Attribution pallet
//!
//! Where usage fees go: steps 6 ("Settle", its split) and 7 ("Claim") of the Lineage path. When
//! a usage batch's dispute window ends, the usage pallet charges the payer and hands the fees to
//! this pallet through [`SettleFees`]. Each adapter's fee is split by the governance-set
//! [`FeePolicy`] between the adapter's author, the owner of its base model, the datanet versions
//! it was trained on (by the adapter's attribution weights), the operator that served it, and the
//! treasury. The authors', owners' and operators' shares become claimable *credits*; each
//! datanet version's part rewards the contributions frozen in that version *and the versions
//! before it* — never a contribution frozen later — in proportion to their weight. A contributor
//! claims per version in O(log versions), however many contributors or settlements there are.
//!
//! ## Terms
//!
//! - **Policy**: five [`Perbill`] shares (author, base-model owner, datanets, operator, treasury)
//!   summing to exactly 100%. Set at genesis (default [`FeePolicy::default`]: 40%, 15%, 30%, 10%,
//!   5%) and by [`Config::PolicyOrigin`] with [`Pallet::set_policy`]. A new policy applies to
//!   every later settlement. A sixth, `matched` (default 50%), is the part of the datanets'
//!   share that pays the contributors an answer's attribution matched rather than the lineage
//!   weights.
//! - **Pot**: this pallet's account ([`Config::PalletId`]). Settlement moves each batch's fees
//!   into it; every credit and every pool balance is held there until claimed. It keeps the
//!   existential deposit it is given at genesis (payments out of it never take that).
//! - **Credit**: a claimable balance per account and [`Role`] ([`Credits`]); an account that is
//!   author, owner and operator at once has three.
//! - **Frozen weight**: what the datanet registry ([`Config::Datanets`], [`DatanetWeights`])
//!   reports. A contribution's weight is credited to its datanet's open version and is frozen
//!   with it; frozen weights never change. `W_v` is the weight frozen in versions `1..=v` of a
//!   datanet ([`DatanetWeights::weight_through`]) and `w_{c,u}` the weight contributor `c` froze
//!   in exactly version `u` ([`DatanetWeights::contributor_weight`]). Weight not frozen yet earns
//!   nothing.
//! - **Reward per weight of a version**: `acc_v`, scaled by [`PRECISION`]. A part `F` of a fee
//!   attributed to version `v` of a datanet adds `F × PRECISION / W_v` (rounded down) to `acc_v`:
//!   it pays every unit of weight frozen in versions `1..=v` alike.
//! - **Reward index**: per datanet, a Fenwick (binary indexed) tree over its versions
//!   ([`RewardIndex`], [`reward_index`]) from which `S_u = Σ_{v ≥ u} acc_v` — what one unit of
//!   weight frozen in version `u` has earned, ever — is read, and by which `acc_v` is raised, each
//!   in O(log versions) node reads or writes.
//! - **Reward pool**: per datanet ([`Pools`]), the balance added to the datanet's versions and
//!   not yet claimed, and `Σ_v acc_v` (which is `S_1` and bounds every node and every `S_u`, so
//!   that none of their sums can overflow).
//! - **Checkpoint**: per contributor, datanet and version ([`Checkpoints`]), `S_u` at the
//!   contributor's last claim of that version (absent: 0). Contributor `c` is owed, for version
//!   `u`, `w_{c,u} × (S_u − checkpoint) / PRECISION`, rounded down. Models cite only frozen
//!   versions, so `S_u` is 0 until version `u` is frozen: freezing weight needs no checkpoint, and
//!   a contributor never earns from a fee attributed to a version before theirs.
//! - **Dust**: what rounding leaves of a fee (the policy's shares and the attribution weights are
//!   applied rounding down). It goes to the treasury with the treasury's share and is counted in
//!   [`TotalDust`].
//!
//! ## Settlement
//!
//! [`SettleFees::settle`]`(source, operator, fees, matched)`, for each `(adapter, fee)`:
//! 1. the adapter's terms come from [`Config::Adapters`]; an unknown adapter fails the whole
//!    call (`UnknownAdapter`), which changes nothing;
//! 2. `fee` is split by the policy, each share rounded down;
//! 3. the author's, the base-model owner's and the operator's shares are credited;
//! 4. the policy's `matched` part of the datanets' share pays the contributors the answers'
//!    attribution matched: each [`MatchedShare`] of the adapter, `(datanet, version,
//!    contributor, share)`, credits the contributor `share × matched part` (rounded down) as
//!    [`Role::Contributor`], when the adapter was trained on that version (it cites it) and
//!    the contributor has weight frozen in it; a share failing either check
//!    credits nobody, and what it would have paid stays in the datanets' share. So nobody earns
//!    by attribution from a datanet they did not contribute to, or one the adapter never saw;
//! 5. the rest of the datanets' share is split across the adapter's training versions by their
//!    attribution weights (rounded down; the parts of a version cited twice are summed); each part `F` of
//!    version `v` of datanet `d` raises `acc_v` of `d` by `F × PRECISION / W_v` (the
//!    `popcount(v)` reward-index nodes of `v`) and `d`'s pool balance by `F`. A part goes to the
//!    treasury instead when `W_v` is 0 (no weight frozen through `v`, or `v` not frozen), when it
//!    is too small to raise `acc_v`, when `v` is 0 or above [`Config::MaxVersionsPerDatanet`], or
//!    when the pool's sums would overflow; so does the whole datanets' share of an adapter that
//!    cites no version;
//! 6. the treasury's share and the dust go to [`Config::TreasuryAccount`];
//! 7. [`Event::FeesSplit`] is emitted, and [`Event::MatchedPaid`] per credited share.
//!
//! Everything is computed before the first write. The sum of the fees moves from `source` to the
//! pot in one transfer, and the treasury's total in one transfer from the pot;
//! [`Event::DustCollected`] follows when there was dust. Settlement costs O(adapters × training
//! versions × log versions + matched shares): it touches only the contributors a batch names
//! (bounded by the usage pallet), never loops over a datanet's contributors.
//!
//! ## Conservation
//!
//! Everything charged is paid out, claimable, or sent to the treasury:
//! `Σ charged = Σ claimed + Σ Credits + Σ pool balances + Σ sent to the treasury`, and the pot
//! holds `Σ Credits + Σ pool balances` above its existential deposit. A datanet's contributors
//! can never claim more than its pool holds: `Σ_c Σ_u w_{c,u} × S_u = Σ_v acc_v × W_v`, which is
//! at most `Σ F × PRECISION` since each `acc_v` delta is rounded down, and claims round down
//! too ([`Pallet::do_try_state`] checks it).
//!
//! ## Calls
//!
//! Any signed account:
//! - [`Pallet::claim`]: claim one's reward for one's weight in a datanet version.
//! - [`Pallet::claim_credits`]: claim one's credits as author, base-model owner, operator and
//!   matched contributor.
//!
//! [`Config::PolicyOrigin`] (governance):
//! - [`Pallet::set_policy`]: replace the fee-split policy.
//!
//! ## For other pallets and clients
//!
//! - [`SettleFees`] (the usage and jobs pallets).
//! - [`Pallet::pending_rewards`] (per version) and [`Pallet::policy`], also served by the
//!   [`runtime_api::AttributionApi`] runtime API; [`Pallet::pending_rewards_metered`] for callers
//!   that pay per read.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod functions;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod proptests;
pub mod reward_index;
pub mod runtime_api;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
pub use lineage_primitives::{
	usage::{AdapterInspect, AdapterTerms, DatanetWeights, MatchedShare, SettleFees},
	AdapterId, DatanetId, VersionId,
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

/// The scale of the rewards per weight: `10^18`. A part `F` for a version of cumulative weight
/// `W` adds `F × PRECISION / W` to the version's reward per weight, so the rounding loss per
/// part is below `W / PRECISION` units for all its contributors together.
pub const PRECISION: u128 = 1_000_000_000_000_000_000;

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// A reward pool in the runtime's balance type.
pub type PoolOf<T> = Pool<BalanceOf<T>>;
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
	/// The datanet versions the adapter was trained on, split by its attribution weights.
	pub datanets: Perbill,
	/// The operator that served the usage.
	pub operator: Perbill,
	/// The treasury.
	pub treasury: Perbill,
	/// The part of the datanets' share that pays the contributors an answer's attribution
	/// matched (in proportion to their matched shares); the rest of it, and all of it for an
	/// answer that matched nobody, follows the adapter's lineage weights. Not one of the five
	/// shares above: any value from 0% to 100%.
	pub matched: Perbill,
}

impl Default for FeePolicy {
	/// The genesis default: 40% to the adapter's author (who did the work the user chose), 30% to
	/// the datanets (the data that made the adapter useful), 15% to the base model's owner, 10%
	/// to the operator (who also charges for compute off this split) and 5% to the treasury. Half
	/// the datanets' share pays the contributors an answer matched, half the lineage weights: an
	/// answer traced to a record pays its contributor directly, while the data that shaped the
	/// adapter without being quoted keeps earning.
	fn default() -> Self {
		Self {
			author: Perbill::from_percent(40),
			base_owner: Perbill::from_percent(15),
			datanets: Perbill::from_percent(30),
			operator: Perbill::from_percent(10),
			treasury: Perbill::from_percent(5),
			matched: Perbill::from_percent(50),
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

/// One fee split by a [`FeePolicy`], before the datanets' share is split across versions.
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
	/// A contributor whose records an answer's attribution matched.
	#[codec(index = 3)]
	Contributor,
}

impl Role {
	/// Every role.
	pub const ALL: [Role; 4] = [Role::Author, Role::BaseOwner, Role::Operator, Role::Contributor];
}

/// A datanet's reward pool: one per datanet, for all its versions.
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
	/// `Σ_v acc_v`: the rewards per weight added to the datanet's versions, ever, summed over
	/// versions and scaled by [`PRECISION`]. It equals `S_1` of the reward index and bounds every
	/// node and every `S_u`, so that settlement can refuse a part that would overflow any of
	/// them with one check. Never decreases.
	pub reward_per_weight: u128,
	/// What was added to the datanet's versions and not yet claimed.
	pub balance: Balance,
}

/// What an account may claim now, as [`Pallet::pending_rewards`] reports it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Encode, Decode, TypeInfo)]
pub struct PendingRewards<Balance> {
	/// Per datanet version the account has frozen weight in, its claimable reward, as
	/// `(datanet, version, amount)`; versions with nothing to claim are left out; ascending by
	/// datanet then version.
	pub versions: Vec<(DatanetId, VersionId, Balance)>,
	/// Its credit as adapter author.
	pub as_author: Balance,
	/// Its credit as base-model owner.
	pub as_base_owner: Balance,
	/// Its credit as operator.
	pub as_operator: Balance,
	/// Its credit as a contributor whose records answers matched.
	pub as_contributor: Balance,
}

/// Makes what the benchmarks settle and claim from, in the runtime's registries.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Registers an adapter trained on `t` frozen versions of `t` distinct datanets (weights
	/// summing to 100%), in each of which `contributor` has frozen weight, and returns it. The
	/// helper funds whatever deposits this takes.
	fn adapter_with_training(t: u32, contributor: &AccountId) -> AdapterId;

	/// Creates a datanet with `versions` frozen versions (`1 ≤ versions ≤`
	/// [`Config::MaxVersionsPerDatanet`]), `contributor` having frozen weight in version 1 and
	/// every version having weight frozen through it, and returns it. The helper funds whatever
	/// deposits this takes; it may write the datanet registry's storage directly when real calls
	/// are too slow. The `claim` benchmark asks for the largest power of two not above
	/// `MaxVersionsPerDatanet`: the fewest versions for the longest reward-index walk.
	fn datanet_with_versions(versions: u32, contributor: &AccountId) -> DatanetId;

	/// Registers an adapter trained on one frozen version of a new datanet in which `m`
	/// distinct contributors have frozen weight, and returns it with that version and the
	/// contributors (what `m` matched shares of the adapter's fee may credit).
	fn adapter_with_contributors(
		m: u32,
	) -> (AdapterId, DatanetId, VersionId, alloc::vec::Vec<AccountId>);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::EnsureOrigin};
	use frame_system::pallet_prelude::*;

	/// The in-code storage version. Still 0: no chain runs the per-datanet layout this pallet
	/// had before per-version rewards (the dev chain starts from genesis).
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

		/// The datanet registry: the weights frozen in each datanet version.
		type Datanets: DatanetWeights<Self::AccountId>;

		/// The account that receives the treasury's share and the dust.
		type TreasuryAccount: Get<Self::AccountId>;

		/// The origin that may set the fee-split policy (governance; Root in the runtime).
		type PolicyOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The most training versions an adapter may cite (the model registry's own limit): the
		/// worst case settlement is weighed for.
		#[pallet::constant]
		type MaxTrainingVersions: Get<u32>;

		/// The most versions a datanet may have (the datanet registry's own limit). It bounds
		/// the reward index: a walk reads or writes at most
		/// [`reward_index::depth`]`(MaxVersionsPerDatanet)` nodes, the depth claims and
		/// settlement are weighed for. Parts for a version above it go to the treasury.
		#[pallet::constant]
		type MaxVersionsPerDatanet: Get<u32>;

		/// The most matched shares one settlement is weighed for (the usage pallet's bound on a
		/// batch's matched shares).
		#[pallet::constant]
		type MaxMatched: Get<u32>;

		/// Weights of this pallet's calls and of settlement.
		type WeightInfo: WeightInfo;

		/// Makes adapters and datanets with frozen weight for the benchmarks.
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

	/// The reward pool of each datanet that has received a part of a fee.
	#[pallet::storage]
	pub type Pools<T: Config> = StorageMap<_, Twox64Concat, DatanetId, PoolOf<T>, ValueQuery>;

	/// The reward index of each datanet: the nodes of a Fenwick tree over its versions (see
	/// [`reward_index`]), node `i` holding `Σ acc_v` for `v` in `[i, i + lowbit(i))`. Absent
	/// nodes are 0; only nodes of frozen versions are ever written.
	#[pallet::storage]
	pub type RewardIndex<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatanetId, Twox64Concat, VersionId, u128, ValueQuery>;

	/// Per contributor, datanet and version, `S_u` of that version at the contributor's last
	/// claim of it. Absent: 0 (never claimed).
	#[pallet::storage]
	pub type Checkpoints<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Twox64Concat, DatanetId>,
			NMapKey<Twox64Concat, VersionId>,
		),
		u128,
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
			/// Added to the rewards of the adapter's training versions.
			datanets: BalanceOf<T>,
			/// Credited to the contributors the answers matched (part of the datanets' share;
			/// see [`Event::MatchedPaid`]).
			matched: BalanceOf<T>,
			/// Credited to the operator.
			operator: BalanceOf<T>,
			/// Sent to the treasury: its share, this fee's rounding dust, and the versions'
			/// parts that no version could take.
			treasury: BalanceOf<T>,
		},
		/// Part of an adapter's fee was credited to a contributor whose records its answers
		/// matched (claimed with [`Pallet::claim_credits`]).
		MatchedPaid {
			/// The adapter.
			adapter: AdapterId,
			/// The datanet of the matched records.
			datanet: DatanetId,
			/// The version they are frozen in.
			version: VersionId,
			/// The contributor.
			contributor: T::AccountId,
			/// The amount credited.
			amount: BalanceOf<T>,
		},
		/// A contributor claimed their reward for their weight in a datanet version.
		RewardClaimed {
			/// The contributor.
			who: T::AccountId,
			/// The datanet.
			datanet: DatanetId,
			/// The version.
			version: VersionId,
			/// The amount paid.
			amount: BalanceOf<T>,
		},
		/// An account claimed its credits (as author, base-model owner, operator and matched
		/// contributor).
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
			assert!(T::MaxVersionsPerDatanet::get() > 0, "MaxVersionsPerDatanet must be non-zero");
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

		/// Claim the caller's reward for its weight frozen in `version` of `datanet`: what the
		/// fees attributed to that version and the later ones paid that weight since the
		/// caller's last claim of it, rounded down. Paid from the pot.
		///
		/// - Origin: signed, by the contributor.
		/// - Fails with `NothingToClaim` (no weight frozen in that version, or nothing earned
		///   since the last claim), or the currency's error when the payment cannot be made (such
		///   as an amount below the existential deposit to an account that does not exist).
		/// - Emits [`Event::RewardClaimed`].
		/// - Complexity: O(log versions): reads the caller's weight, the datanet's version count,
		///   at most [`reward_index::depth`]`(MaxVersionsPerDatanet)` reward-index nodes, the
		///   checkpoint and the pool; writes the checkpoint and the pool; one transfer.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::claim())]
		pub fn claim(
			origin: OriginFor<T>,
			datanet: DatanetId,
			version: VersionId,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_claim(who, datanet, version)
		}

		/// Claim all of the caller's credits: as adapter author, base-model owner, operator and
		/// contributor whose records answers matched.
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
		matched: &[MatchedShare<T::AccountId>],
	) -> polkadot_sdk::sp_runtime::DispatchResult {
		frame_support::storage::with_storage_layer(|| {
			Self::do_settle(source, operator, fees, matched)
		})
	}

	/// `adapters` times the weight of settling one adapter of `MaxTrainingVersions` versions:
	/// [`WeightInfo::settle_adapter`] (measured on versions whose reward index takes one node)
	/// plus, per version, [`WeightInfo::reward_index_add`] at the index's full depth
	/// ([`reward_index::depth`]`(MaxVersionsPerDatanet)` nodes read and written). The fixed part
	/// (the two transfers, the policy and dust updates) is inside each adapter's term, so this
	/// bounds the weight from above; no adapters cost nothing. `matched` shares add
	/// [`WeightInfo::settle_matched`]`(matched)` less its `settle_matched(0)` intercept (one
	/// adapter's settlement, already counted): per share, a contributor's weight read, a credit
	/// written and an event.
	fn settle_weight(adapters: u32, matched: u32) -> polkadot_sdk::sp_runtime::Weight {
		if adapters == 0 {
			return polkadot_sdk::sp_runtime::Weight::zero();
		}
		let versions = T::MaxTrainingVersions::get();
		let depth = reward_index::depth(T::MaxVersionsPerDatanet::get());
		let shares =
			T::WeightInfo::settle_matched(matched).saturating_sub(T::WeightInfo::settle_matched(0));
		T::WeightInfo::settle_adapter(versions)
			.saturating_add(
				T::WeightInfo::reward_index_add(depth).saturating_mul(u64::from(versions)),
			)
			.saturating_mul(u64::from(adapters))
			.saturating_add(shares)
	}
}
