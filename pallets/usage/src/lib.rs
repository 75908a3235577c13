//! # Usage pallet
//!
//! Operators, payer escrow, signed usage proofs, disputes and settlement: steps 3 ("Fund"),
//! 5 ("Prove") and 6 ("Settle") of the Lineage path. A payer deposits into escrow for an
//! operator; the operator's oracle serves requests, aggregates them into a [`UsageBatch`] and
//! signs it with its registered key; this pallet checks the proof, debits each payer's escrow by
//! the fee of its usage at the adapter's price, and, once the dispute window has passed, hands the
//! fees per adapter to [`Config::Settlement`] (the attribution pallet), which splits them between
//! the adapter's author, the base-model owner, the datanets, the operator and the treasury.
//!
//! ## Terms
//!
//! - **Operator**: an account that runs an oracle. It registers with a *bond* (held under
//!   [`HoldReason::OperatorBond`]), an sr25519 *signing key* (one key serves one operator:
//!   [`OperatorKeys`]) and an *endpoint* URL. Only an active operator whose bond is at least
//!   [`Config::OperatorBond`] may have batches accepted; a bond below it (after a slash) refuses
//!   its proofs (`InsufficientBond`) until [`Pallet::bond_extra`] tops it up.
//! - **Escrow**: what a payer has set aside for one operator, a ledger entry in [`Escrows`]. The
//!   funds themselves lie in the pallet's *pot* account ([`Pallet::pot_account`], derived from
//!   [`Config::PalletId`]). An operator can never charge a payer more than the payer's escrow
//!   with it (`InsufficientEscrow`). A payer takes the unspent part back in two steps: a
//!   *withdrawal request*, then, [`Config::WithdrawNotice`] blocks later, the withdrawal. The
//!   operator may keep charging during the notice; the withdrawal pays what is left of the
//!   request.
//! - **Pot**: the account holding every escrow and every fee not yet settled. It is endowed
//!   with the existential deposit at genesis and given a provider reference, and every payment
//!   out of it preserves that existential deposit, so escrow of any size (below the existential
//!   deposit too) is accepted and the pot is never reaped.
//! - **Usage batch**: one [`UsageEntry`] per (payer, adapter) with the number of requests and the
//!   input and output tokens, strictly ascending by (payer, adapter), and the Merkle root of the
//!   individual usage records; signed by the operator's key over
//!   [`lineage_primitives::usage::signing_payload`] of the chain's genesis hash and the batch.
//! - **Sequence**: each operator's batches are numbered 0, 1, 2, …; a batch must carry the
//!   operator's next number ([`NextSequence`]), so a batch is accepted once and none is skipped.
//!   Sequence numbers survive an operator's deregistration, so an operator that registers again
//!   (possibly with its old key) cannot have its old batches replayed.
//! - **Fee**: [`lineage_primitives::usage::usage_fee`] of an entry's tokens at the adapter's price
//!   in force at the block of submission ([`AdapterInspect::adapter_terms`]). Deprecated adapters
//!   are billable; revoked ones are not (`AdapterRevoked`).
//! - **Dispute window**: an accepted batch's charges are final [`Config::DisputeWindow`] blocks
//!   after its submission. Until then a payer may dispute any of its entries, which freezes the
//!   entry's fee; [`Config::ResolveOrigin`] later refunds it (back into the payer's escrow, with a
//!   slash of the operator's bond by [`Config::DisputeSlash`] to [`Config::SlashBeneficiary`]) or
//!   releases it (to settlement).
//! - **Settlement**: after the window, anyone may settle a batch: its fees per adapter, less the
//!   frozen ones, go from the pot to [`Config::Settlement`]. A batch's storage is removed once it
//!   is settled and none of its disputes is open.
//!
//! ## Design
//!
//! - **Who submits.** [`Pallet::submit_usage`] is a signed extrinsic from any account: the
//!   operator's own or a relayer. The submitter pays the transaction fee, so batches cannot be
//!   spammed for free, and a batch's validity rests on the operator-key signature over it, not on
//!   who submits it. The call checks the cheap things first (batch size, operator state, sequence,
//!   entry order and counts) and only then verifies the signature and reads adapters and escrows.
//! - **Charging is a ledger debit.** Charging moves no currency: each distinct payer's escrow is
//!   read once and written once (entries are sorted by payer), each distinct adapter's terms are
//!   read once, and the batch is stored as two values ([`Batches`], [`BatchEntries`]): there are
//!   no per-entry storage writes. Currency moves only on deposit, withdrawal, settlement and
//!   slash.
//! - **Weights.** `submit_usage` is weighed as `WeightInfo::submit_usage(e, p, a)` for `e`
//!   entries, `p` runs of one payer (the distinct payers of a sorted batch, counted in one pass)
//!   and `a` distinct adapters, computed from the batch before dispatch. `settle_batch` declares
//!   its own weight plus [`SettleFees::settle_weight`] for `MaxAdaptersPerBatch` adapters and
//!   refunds down to the adapters actually settled.
//!
//! ## Calls
//!
//! Any signed account, as an operator:
//! - [`Pallet::register_operator`]: register with a signing key and an endpoint; holds
//!   [`Config::OperatorBond`].
//! - [`Pallet::rotate_key`]: replace the signing key (batches signed by the old key fail from then
//!   on).
//! - [`Pallet::set_endpoint`]: replace the endpoint URL.
//! - [`Pallet::bond_extra`]: hold more bond (to top it up after a slash).
//! - [`Pallet::leave`]: stop accepting batches; the bond unbonds after
//!   [`Config::UnbondingPeriod`].
//! - [`Pallet::withdraw_bond`]: after unbonding, with no open batch, release the bond and
//!   deregister.
//!
//! Any signed account, as a payer:
//! - [`Pallet::deposit_escrow`]: add to the escrow with an operator.
//! - [`Pallet::request_withdrawal`]: ask for (part of) the escrow back, after the notice.
//! - [`Pallet::withdraw_escrow`]: after the notice, take back what is left of the request.
//! - [`Pallet::dispute`]: freeze one of the payer's entries in a batch, within the window.
//!
//! Any signed account:
//! - [`Pallet::submit_usage`]: submit an operator-signed usage batch (the operator or a relayer).
//! - [`Pallet::settle_batch`]: settle a batch whose dispute window has passed.
//!
//! [`Config::ResolveOrigin`] (governance):
//! - [`Pallet::resolve_dispute`]: refund a disputed entry (and slash the operator) or release it.
//!
//! ## Reading
//!
//! - [`Pallet::escrow_of`]: a payer's escrow balance with an operator.
//! - [`Pallet::operator`]: an operator's record (key, endpoint, bond, status).
//! - [`Pallet::next_sequence`]: the sequence number an operator's next batch must carry.
//! - [`Pallet::pot_account`]: the account holding escrow and unsettled fees.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod functions;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
pub use lineage_primitives::{
	usage::{
		AdapterInspect, AdapterTerms, AdapterUse, Sequence, SettleFees, UsageBatch, UsageEntry,
	},
	AdapterId,
};
use polkadot_sdk::{
	frame_support::{
		self, traits::fungible, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PalletId,
		PartialEqNoBound,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_core::{sr25519, H256},
};
use scale_info::TypeInfo;

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// An operator's endpoint URL.
pub type EndpointOf<T> = BoundedVec<u8, <T as Config>::MaxEndpointLength>;
/// A payer's escrow with one operator, in the runtime's types.
pub type EscrowInfoOf<T> = EscrowInfo<BalanceOf<T>, BlockNumberFor<T>>;
/// One charged entry of a batch: the payer, the adapter and the fee charged.
pub type ChargeOf<T> = (<T as frame_system::Config>::AccountId, AdapterId, BalanceOf<T>);
/// The charged entries of a batch, in the batch's order.
pub type ChargesOf<T> = BoundedVec<ChargeOf<T>, <T as Config>::MaxEntriesPerBatch>;
/// A disputed entry, in the runtime's types.
pub type DisputeOf<T> = Dispute<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
/// The fees of a batch per adapter, ascending by adapter id.
pub type FeesByAdapterOf<T> =
	BoundedVec<(AdapterId, BalanceOf<T>), <T as Config>::MaxAdaptersPerBatch>;
/// The disputed entries of a batch, in the order they were disputed.
pub type DisputesOf<T> = BoundedVec<DisputeOf<T>, <T as Config>::MaxDisputesPerBatch>;

/// Where an operator is in its life.
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
pub enum OperatorStatus<BlockNumber> {
	/// Its batches are accepted.
	Active,
	/// It left at block `since`: its new batches are refused, and its bond may be withdrawn
	/// [`Config::UnbondingPeriod`] blocks later once none of its batches is open.
	Leaving {
		/// The block it left in.
		since: BlockNumber,
	},
}

/// A registered operator.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct OperatorInfo<T: Config> {
	/// The sr25519 key its batches are signed with.
	pub signing_key: sr25519::Public,
	/// Where its oracle serves requests.
	pub endpoint: EndpointOf<T>,
	/// The bond held from it under [`HoldReason::OperatorBond`] (less after a slash).
	pub bond: BalanceOf<T>,
	/// Whether it is active or leaving.
	pub status: OperatorStatus<BlockNumberFor<T>>,
	/// Its batches still in storage: not yet settled, or settled with a dispute still open.
	pub open_batches: u32,
	/// The block it registered in.
	pub registered_at: BlockNumberFor<T>,
}

/// A payer's escrow with one operator: a ledger entry over funds that lie in the pot.
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
pub struct EscrowInfo<Balance, BlockNumber> {
	/// What the operator may still charge, and the payer withdraw.
	pub balance: Balance,
	/// A pending withdrawal request: the amount asked for and the block it unlocks at.
	pub withdrawal: Option<(Balance, BlockNumber)>,
}

/// Where a dispute is.
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
pub enum DisputeState {
	/// Awaiting [`Config::ResolveOrigin`]: the entry's fee is frozen.
	Open,
	/// Resolved for the payer: the fee went back to its escrow.
	Refunded,
	/// Resolved for the operator: the fee is (or will be) settled.
	Released,
}

/// A disputed entry of a batch. Resolved disputes stay recorded, so an entry is disputed at most
/// once.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct Dispute<AccountId, Balance> {
	/// The entry's index in the batch.
	pub entry: u32,
	/// The entry's adapter.
	pub adapter: AdapterId,
	/// The fee charged for the entry.
	pub fee: Balance,
	/// The entry's payer, who disputed it.
	pub payer: AccountId,
	/// Where the dispute is.
	pub state: DisputeState,
}

/// An accepted usage batch, until it is settled and none of its disputes is open. Its charged
/// entries are kept apart, in [`BatchEntries`].
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct BatchInfo<T: Config> {
	/// The block it was accepted in.
	pub submitted_at: BlockNumberFor<T>,
	/// The first block at which it may be settled (and may no longer be disputed):
	/// `submitted_at + DisputeWindow`.
	pub settles_at: BlockNumberFor<T>,
	/// The Merkle root of the usage records it aggregates.
	pub records_root: H256,
	/// The number of its entries.
	pub entry_count: u32,
	/// The fees charged, less those refunded after a dispute.
	pub total_fee: BalanceOf<T>,
	/// `total_fee` per adapter, ascending by adapter id.
	pub fees_by_adapter: FeesByAdapterOf<T>,
	/// Its disputed entries.
	pub disputed: DisputesOf<T>,
	/// Whether [`Pallet::settle_batch`] has settled it.
	pub settled: bool,
}

/// Makes adapters exist and funds accounts for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Balance> {
	/// Makes an adapter exist that is registered, active and has a non-zero price, and returns
	/// its id; distinct `i` give distinct adapters.
	fn create_adapter(i: u32) -> AdapterId;
	/// Gives `who` a free balance of at least `amount`.
	fn fund(who: &AccountId, amount: Balance);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate, MutateHold},
			tokens::{Fortitude, Precision, Preservation, Restriction},
			BuildGenesisConfig, EnsureOrigin,
		},
	};
	use frame_system::pallet_prelude::*;
	use polkadot_sdk::sp_runtime::traits::{CheckedAdd, Saturating, Zero};

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

		/// The currency bonds are held in and escrow is paid in.
		type Currency: fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The id the pot account is derived from.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// The model registry: adapters' prices, status and lineage.
		type Adapters: AdapterInspect<Self::AccountId, BalanceOf<Self>, BlockNumberFor<Self>>;

		/// Where settled fees go (the attribution pallet's fee split).
		type Settlement: SettleFees<Self::AccountId, BalanceOf<Self>>;

		/// The bond held from each operator; proofs of an operator whose bond is below it are
		/// refused.
		#[pallet::constant]
		type OperatorBond: Get<BalanceOf<Self>>;

		/// What a refunded dispute slashes from the operator's bond (at most the whole bond).
		#[pallet::constant]
		type DisputeSlash: Get<BalanceOf<Self>>;

		/// Who receives slashed bonds (the treasury).
		type SlashBeneficiary: Get<Self::AccountId>;

		/// The origin that resolves disputes (governance; Root in the runtime).
		type ResolveOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The number of blocks after a batch's submission during which its payers may dispute
		/// it; it may be settled from then on.
		#[pallet::constant]
		type DisputeWindow: Get<BlockNumberFor<Self>>;

		/// The number of blocks between a withdrawal request and the withdrawal.
		#[pallet::constant]
		type WithdrawNotice: Get<BlockNumberFor<Self>>;

		/// The number of blocks between an operator's leaving and the release of its bond.
		#[pallet::constant]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;

		/// The longest endpoint URL, in bytes.
		#[pallet::constant]
		type MaxEndpointLength: Get<u32>;

		/// The most entries in one batch.
		#[pallet::constant]
		type MaxEntriesPerBatch: Get<u32>;

		/// The most distinct adapters in one batch.
		#[pallet::constant]
		type MaxAdaptersPerBatch: Get<u32>;

		/// The most disputed entries in one batch.
		#[pallet::constant]
		type MaxDisputesPerBatch: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Makes adapters exist and funds accounts for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, BalanceOf<Self>>;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// An operator's bond.
		#[codec(index = 0)]
		OperatorBond,
	}

	/// The registered operators.
	#[pallet::storage]
	pub type Operators<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, OperatorInfo<T>>;

	/// The operator each registered signing key belongs to: one key serves one operator.
	#[pallet::storage]
	pub type OperatorKeys<T: Config> =
		StorageMap<_, Blake2_128Concat, sr25519::Public, T::AccountId>;

	/// The sequence number each operator's next batch must carry. Kept after an operator
	/// deregisters, so its old batches can never be replayed.
	#[pallet::storage]
	pub type NextSequence<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Sequence, ValueQuery>;

	/// Escrow: payer, operator → the payer's escrow with the operator.
	#[pallet::storage]
	pub type Escrows<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		EscrowInfoOf<T>,
	>;

	/// Accepted batches until settled with no dispute open: operator, sequence → the batch.
	#[pallet::storage]
	pub type Batches<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, Sequence, BatchInfo<T>>;

	/// The charged entries of each batch in [`Batches`] (what disputes refer to): operator,
	/// sequence → (payer, adapter, fee) per entry, in the batch's order.
	#[pallet::storage]
	pub type BatchEntries<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, Sequence, ChargesOf<T>>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		#[serde(skip)]
		_config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			Pallet::<T>::ensure_pot();
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An operator registered.
		OperatorRegistered {
			/// The operator.
			operator: T::AccountId,
			/// Its signing key.
			signing_key: sr25519::Public,
			/// Its endpoint URL.
			endpoint: EndpointOf<T>,
			/// The bond held from it.
			bond: BalanceOf<T>,
		},
		/// An operator replaced its signing key.
		SigningKeyRotated {
			/// The operator.
			operator: T::AccountId,
			/// The key no longer valid.
			old_key: sr25519::Public,
			/// The key valid from now on.
			new_key: sr25519::Public,
		},
		/// An operator replaced its endpoint URL.
		EndpointSet {
			/// The operator.
			operator: T::AccountId,
			/// The new endpoint URL.
			endpoint: EndpointOf<T>,
		},
		/// An operator added to its bond.
		BondIncreased {
			/// The operator.
			operator: T::AccountId,
			/// The amount added.
			amount: BalanceOf<T>,
			/// The bond now.
			bond: BalanceOf<T>,
		},
		/// An operator left: its new batches are refused.
		OperatorLeft {
			/// The operator.
			operator: T::AccountId,
			/// The first block at which its bond may be withdrawn.
			unbonds_at: BlockNumberFor<T>,
		},
		/// An operator withdrew its bond and was deregistered.
		OperatorRemoved {
			/// The operator.
			operator: T::AccountId,
			/// The bond released.
			released: BalanceOf<T>,
		},
		/// A payer added to its escrow with an operator.
		EscrowDeposited {
			/// The payer.
			payer: T::AccountId,
			/// The operator.
			operator: T::AccountId,
			/// The amount deposited.
			amount: BalanceOf<T>,
			/// The escrow balance now.
			balance: BalanceOf<T>,
		},
		/// A payer asked for escrow back.
		WithdrawalRequested {
			/// The payer.
			payer: T::AccountId,
			/// The operator.
			operator: T::AccountId,
			/// The amount asked for.
			amount: BalanceOf<T>,
			/// The first block at which it may be withdrawn.
			unlocks_at: BlockNumberFor<T>,
		},
		/// A payer took escrow back.
		EscrowWithdrawn {
			/// The payer.
			payer: T::AccountId,
			/// The operator.
			operator: T::AccountId,
			/// The amount paid to the payer.
			amount: BalanceOf<T>,
		},
		/// A usage batch was accepted and its fees charged to the payers' escrow.
		UsageSubmitted {
			/// The operator.
			operator: T::AccountId,
			/// The batch's sequence number.
			sequence: Sequence,
			/// The number of its entries.
			entries: u32,
			/// The fees charged.
			total_fee: BalanceOf<T>,
			/// The Merkle root of its usage records.
			records_root: H256,
		},
		/// A payer disputed an entry of a batch: its fee is frozen.
		DisputeOpened {
			/// The batch's operator.
			operator: T::AccountId,
			/// The batch's sequence number.
			sequence: Sequence,
			/// The entry's index in the batch.
			entry: u32,
			/// The payer.
			payer: T::AccountId,
			/// The fee frozen.
			fee: BalanceOf<T>,
		},
		/// A dispute was resolved.
		DisputeResolved {
			/// The batch's operator.
			operator: T::AccountId,
			/// The batch's sequence number.
			sequence: Sequence,
			/// The entry's index in the batch.
			entry: u32,
			/// Whether the fee went back to the payer's escrow (else it is settled).
			refunded: bool,
			/// What was slashed from the operator's bond.
			slashed: BalanceOf<T>,
		},
		/// A batch's fees, less the frozen ones, were handed to settlement.
		BatchSettled {
			/// The batch's operator.
			operator: T::AccountId,
			/// The batch's sequence number.
			sequence: Sequence,
			/// The fees settled.
			settled: BalanceOf<T>,
			/// The fees still frozen by open disputes.
			frozen: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is not a registered operator.
		NotOperator,
		/// The account is a registered operator already.
		AlreadyOperator,
		/// The signing key serves another operator (or this one) already.
		KeyInUse,
		/// The operator is leaving.
		OperatorNotActive,
		/// The operator has not left.
		NotLeaving,
		/// The operator's unbonding period has not passed.
		StillUnbonding,
		/// The operator has batches not yet settled or with a dispute open.
		OpenBatches,
		/// The operator's bond is below `OperatorBond`.
		InsufficientBond,
		/// The amount is zero.
		ZeroAmount,
		/// The payer has no escrow with the operator.
		NoEscrow,
		/// The payer's escrow with the operator is smaller than the amount.
		InsufficientEscrow,
		/// The payer has no withdrawal request with the operator.
		NoWithdrawal,
		/// The withdrawal's notice period has not passed.
		WithdrawalLocked,
		/// The batch has no entry.
		EmptyBatch,
		/// The batch has more than `MaxEntriesPerBatch` entries.
		TooManyEntries,
		/// The batch names more than `MaxAdaptersPerBatch` distinct adapters.
		TooManyAdapters,
		/// The batch's sequence number is not the operator's next one (a replay or a gap).
		SequenceMismatch,
		/// An entry has no request or no token.
		ZeroTokens,
		/// The entries are not strictly ascending by (payer, adapter).
		EntriesNotSorted,
		/// The signature is not the operator's key's over the batch.
		BadSignature,
		/// An adapter is not registered.
		UnknownAdapter,
		/// An adapter is revoked.
		AdapterRevoked,
		/// There is no such batch (or it is settled with no dispute open).
		UnknownBatch,
		/// The batch has no entry at that index.
		UnknownEntry,
		/// The caller is not the entry's payer.
		NotPayer,
		/// The batch's dispute window has passed.
		DisputeWindowClosed,
		/// The entry has been disputed already.
		AlreadyDisputed,
		/// The batch has `MaxDisputesPerBatch` disputes already.
		TooManyDisputes,
		/// The entry has no open dispute.
		NotDisputed,
		/// The batch's dispute window has not passed.
		DisputeWindowOpen,
		/// The batch is settled already.
		AlreadySettled,
		/// A fee, a sum, a count, a sequence or a block number would overflow.
		Overflow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxEndpointLength::get() > 0, "MaxEndpointLength must be non-zero");
			assert!(T::MaxEntriesPerBatch::get() > 0, "MaxEntriesPerBatch must be non-zero");
			assert!(T::MaxAdaptersPerBatch::get() > 0, "MaxAdaptersPerBatch must be non-zero");
			assert!(T::MaxDisputesPerBatch::get() > 0, "MaxDisputesPerBatch must be non-zero");
			assert!(
				T::MaxAdaptersPerBatch::get() <= T::MaxEntriesPerBatch::get(),
				"MaxAdaptersPerBatch above MaxEntriesPerBatch can never be reached"
			);
			assert!(
				!T::DisputeWindow::get().is_zero(),
				"DisputeWindow must be non-zero: payers must be able to dispute"
			);
			assert!(
				!T::OperatorBond::get().is_zero(),
				"OperatorBond must be non-zero: a slash must have something to take"
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
		/// Register the caller as an operator with `signing_key` and `endpoint`.
		///
		/// - Origin: signed, by the operator.
		/// - Holds [`Config::OperatorBond`] from the caller.
		/// - Fails with `AlreadyOperator`, `KeyInUse` when the key serves an operator already,
		///   or the currency's error when the bond cannot be held.
		/// - Emits [`Event::OperatorRegistered`].
		/// - Complexity: O(1); three reads, two writes and a hold.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_operator())]
		pub fn register_operator(
			origin: OriginFor<T>,
			signing_key: sr25519::Public,
			endpoint: EndpointOf<T>,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			ensure!(!Operators::<T>::contains_key(&operator), Error::<T>::AlreadyOperator);
			ensure!(!OperatorKeys::<T>::contains_key(signing_key), Error::<T>::KeyInUse);
			let bond = T::OperatorBond::get();
			T::Currency::hold(&HoldReason::OperatorBond.into(), &operator, bond)?;
			Operators::<T>::insert(
				&operator,
				OperatorInfo::<T> {
					signing_key,
					endpoint: endpoint.clone(),
					bond,
					status: OperatorStatus::Active,
					open_batches: 0,
					registered_at: frame_system::Pallet::<T>::block_number(),
				},
			);
			OperatorKeys::<T>::insert(signing_key, &operator);
			Self::deposit_event(Event::OperatorRegistered {
				operator,
				signing_key,
				endpoint,
				bond,
			});
			Ok(())
		}

		/// Replace the caller's signing key with `new_key`. Batches signed by the old key are
		/// refused from now on (`BadSignature`): an oracle re-signs what it has not submitted.
		///
		/// - Origin: signed, by the operator.
		/// - Fails with `NotOperator`, or `KeyInUse` when `new_key` serves an operator already.
		/// - Emits [`Event::SigningKeyRotated`].
		/// - Complexity: O(1); two reads, three writes.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::rotate_key())]
		pub fn rotate_key(origin: OriginFor<T>, new_key: sr25519::Public) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			let mut info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
			ensure!(!OperatorKeys::<T>::contains_key(new_key), Error::<T>::KeyInUse);
			let old_key = core::mem::replace(&mut info.signing_key, new_key);
			OperatorKeys::<T>::remove(old_key);
			OperatorKeys::<T>::insert(new_key, &operator);
			Operators::<T>::insert(&operator, info);
			Self::deposit_event(Event::SigningKeyRotated { operator, old_key, new_key });
			Ok(())
		}

		/// Replace the caller's endpoint URL.
		///
		/// - Origin: signed, by the operator.
		/// - Fails with `NotOperator`.
		/// - Emits [`Event::EndpointSet`].
		/// - Complexity: O(1); one read, one write.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::set_endpoint())]
		pub fn set_endpoint(origin: OriginFor<T>, endpoint: EndpointOf<T>) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			Operators::<T>::try_mutate(&operator, |maybe| -> DispatchResult {
				let info = maybe.as_mut().ok_or(Error::<T>::NotOperator)?;
				info.endpoint = endpoint.clone();
				Ok(())
			})?;
			Self::deposit_event(Event::EndpointSet { operator, endpoint });
			Ok(())
		}

		/// Hold `amount` more as the caller's bond (to top it up after a slash).
		///
		/// - Origin: signed, by the operator.
		/// - Fails with `NotOperator`, `ZeroAmount`, `Overflow`, or the currency's error when
		///   the amount cannot be held.
		/// - Emits [`Event::BondIncreased`].
		/// - Complexity: O(1); one read, one write and a hold.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::bond_extra())]
		pub fn bond_extra(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let mut info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
			info.bond = info.bond.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
			T::Currency::hold(&HoldReason::OperatorBond.into(), &operator, amount)?;
			let bond = info.bond;
			Operators::<T>::insert(&operator, info);
			Self::deposit_event(Event::BondIncreased { operator, amount, bond });
			Ok(())
		}

		/// Leave: the caller's new batches are refused from now on; its open batches may still
		/// be disputed and settled, and payers may still withdraw their escrow. The bond may be
		/// withdrawn [`Config::UnbondingPeriod`] blocks later.
		///
		/// - Origin: signed, by the operator.
		/// - Fails with `NotOperator`, `OperatorNotActive` when it has left already, or
		///   `Overflow` when the unbonding block overflows.
		/// - Emits [`Event::OperatorLeft`].
		/// - Complexity: O(1); one read, one write.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::leave())]
		pub fn leave(origin: OriginFor<T>) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let unbonds_at =
				now.checked_add(&T::UnbondingPeriod::get()).ok_or(Error::<T>::Overflow)?;
			Operators::<T>::try_mutate(&operator, |maybe| -> DispatchResult {
				let info = maybe.as_mut().ok_or(Error::<T>::NotOperator)?;
				ensure!(info.status == OperatorStatus::Active, Error::<T>::OperatorNotActive);
				info.status = OperatorStatus::Leaving { since: now };
				Ok(())
			})?;
			Self::deposit_event(Event::OperatorLeft { operator, unbonds_at });
			Ok(())
		}

		/// Release the caller's bond and deregister it (its signing key is freed; its sequence
		/// number is kept).
		///
		/// - Origin: signed, by an operator that left at least [`Config::UnbondingPeriod`]
		///   blocks ago and has no open batch.
		/// - Fails with `NotOperator`, `NotLeaving`, `StillUnbonding` or `OpenBatches`.
		/// - Emits [`Event::OperatorRemoved`].
		/// - Complexity: O(1); one read, two removals and a release.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::withdraw_bond())]
		pub fn withdraw_bond(origin: OriginFor<T>) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			let info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
			let OperatorStatus::Leaving { since } = info.status else {
				return Err(Error::<T>::NotLeaving.into());
			};
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(
				now >= since.saturating_add(T::UnbondingPeriod::get()),
				Error::<T>::StillUnbonding
			);
			ensure!(info.open_batches == 0, Error::<T>::OpenBatches);
			let released = T::Currency::release_all(
				&HoldReason::OperatorBond.into(),
				&operator,
				Precision::BestEffort,
			)?;
			Operators::<T>::remove(&operator);
			OperatorKeys::<T>::remove(info.signing_key);
			Self::deposit_event(Event::OperatorRemoved { operator, released });
			Ok(())
		}

		/// Deposit `amount` into the caller's escrow with `operator`: it is transferred into the
		/// pot, and the operator may charge it for usage.
		///
		/// - Origin: signed, by the payer.
		/// - Fails with `ZeroAmount`, `NotOperator`, `OperatorNotActive`, `Overflow`, or the
		///   currency's error when the caller cannot pay (it is kept alive).
		/// - Emits [`Event::EscrowDeposited`].
		/// - Complexity: O(1); two reads, one write and a transfer.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::deposit_escrow())]
		pub fn deposit_escrow(
			origin: OriginFor<T>,
			operator: T::AccountId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			let payer = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
			ensure!(info.status == OperatorStatus::Active, Error::<T>::OperatorNotActive);
			let balance = Escrows::<T>::try_mutate(&payer, &operator, |maybe| {
				let escrow = maybe.get_or_insert_with(Default::default);
				escrow.balance = escrow.balance.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
				Ok::<_, DispatchError>(escrow.balance)
			})?;
			T::Currency::transfer(&payer, &Self::pot_account(), amount, Preservation::Preserve)?;
			Self::deposit_event(Event::EscrowDeposited { payer, operator, amount, balance });
			Ok(())
		}

		/// Ask for `amount` of the caller's escrow with `operator` back, withdrawable
		/// [`Config::WithdrawNotice`] blocks from now. Replaces a previous request. The operator
		/// may still charge the escrow during the notice.
		///
		/// - Origin: signed, by the payer.
		/// - Fails with `ZeroAmount`, `NoEscrow`, `InsufficientEscrow` when `amount` exceeds the
		///   escrow, or `Overflow` when the unlocking block overflows.
		/// - Emits [`Event::WithdrawalRequested`].
		/// - Complexity: O(1); one read, one write.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::request_withdrawal())]
		pub fn request_withdrawal(
			origin: OriginFor<T>,
			operator: T::AccountId,
			amount: BalanceOf<T>,
		) -> DispatchResult {
			let payer = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			let unlocks_at = frame_system::Pallet::<T>::block_number()
				.checked_add(&T::WithdrawNotice::get())
				.ok_or(Error::<T>::Overflow)?;
			Escrows::<T>::try_mutate(&payer, &operator, |maybe| -> DispatchResult {
				let escrow = maybe.as_mut().ok_or(Error::<T>::NoEscrow)?;
				ensure!(amount <= escrow.balance, Error::<T>::InsufficientEscrow);
				escrow.withdrawal = Some((amount, unlocks_at));
				Ok(())
			})?;
			Self::deposit_event(Event::WithdrawalRequested { payer, operator, amount, unlocks_at });
			Ok(())
		}

		/// Take back what is left of the caller's withdrawal request with `operator`: the smaller
		/// of the amount requested and the escrow balance, paid from the pot. The escrow entry is
		/// removed when nothing is left in it.
		///
		/// - Origin: signed, by the payer, once the request's notice has passed.
		/// - Fails with `NoEscrow`, `NoWithdrawal`, `WithdrawalLocked`, or the currency's error
		///   when the payer cannot receive the amount.
		/// - Emits [`Event::EscrowWithdrawn`].
		/// - Complexity: O(1); one read, one write and a transfer.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::withdraw_escrow())]
		pub fn withdraw_escrow(origin: OriginFor<T>, operator: T::AccountId) -> DispatchResult {
			let payer = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut escrow = Escrows::<T>::get(&payer, &operator).ok_or(Error::<T>::NoEscrow)?;
			let (requested, unlocks_at) = escrow.withdrawal.ok_or(Error::<T>::NoWithdrawal)?;
			ensure!(now >= unlocks_at, Error::<T>::WithdrawalLocked);
			let amount = requested.min(escrow.balance);
			escrow.balance = escrow.balance.saturating_sub(amount);
			escrow.withdrawal = None;
			if escrow.balance.is_zero() {
				Escrows::<T>::remove(&payer, &operator);
			} else {
				Escrows::<T>::insert(&payer, &operator, escrow);
			}
			if !amount.is_zero() {
				T::Currency::transfer(
					&Self::pot_account(),
					&payer,
					amount,
					Preservation::Preserve,
				)?;
			}
			Self::deposit_event(Event::EscrowWithdrawn { payer, operator, amount });
			Ok(())
		}

		/// Submit a usage batch signed by its operator's key, and charge its fees to the payers'
		/// escrow with the operator.
		///
		/// - Origin: signed, by anyone (the operator or a relayer), who pays the transaction fee.
		/// - `batch`: the operator's next sequence number; 1 to `MaxEntriesPerBatch` entries,
		///   strictly ascending by (payer, adapter), each with at least one request and one
		///   token, over at most `MaxAdaptersPerBatch` distinct adapters.
		/// - `signature`: by the operator's registered key over
		///   [`lineage_primitives::usage::signing_payload`]`(genesis hash, batch)`.
		/// - Each entry costs [`lineage_primitives::usage::usage_fee`] at its adapter's price in
		///   force now; each payer's fees are debited from its escrow with the operator.
		/// - Fails, cheap checks first, with `EmptyBatch`, `TooManyEntries`, `NotOperator`,
		///   `OperatorNotActive`, `InsufficientBond`, `SequenceMismatch` (a replay or a gap),
		///   `ZeroTokens`, `EntriesNotSorted`, `TooManyAdapters`, then `BadSignature`, then
		///   `UnknownAdapter`, `AdapterRevoked`, `InsufficientEscrow` or `Overflow`.
		/// - Emits [`Event::UsageSubmitted`].
		/// - Complexity: O(e + a·log a) for `e` entries and `a` distinct adapters, with one read
		///   per distinct adapter, one read and one write per distinct payer (`p`), and the batch
		///   stored as two values: weighed as `submit_usage(e, p, a)`.
		#[pallet::call_index(9)]
		#[pallet::weight({
			let (e, p, a) = Pallet::<T>::batch_shape(&batch.entries);
			T::WeightInfo::submit_usage(e, p, a)
		})]
		pub fn submit_usage(
			origin: OriginFor<T>,
			batch: UsageBatch<T::AccountId>,
			signature: sr25519::Signature,
		) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_submit_usage(batch, signature)
		}

		/// Dispute entry `entry_index` of `operator`'s batch `sequence`: its fee is frozen until
		/// [`Config::ResolveOrigin`] resolves the dispute.
		///
		/// - Origin: signed, by the entry's payer, before the batch's dispute window closes.
		/// - Fails with `UnknownBatch`, `DisputeWindowClosed`, `UnknownEntry`, `NotPayer`,
		///   `AlreadyDisputed` (also once resolved) or `TooManyDisputes`.
		/// - Emits [`Event::DisputeOpened`].
		/// - Complexity: O(d) for `d` disputes of the batch; reads the batch and its entries,
		///   writes the batch.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::dispute())]
		pub fn dispute(
			origin: OriginFor<T>,
			operator: T::AccountId,
			sequence: Sequence,
			entry_index: u32,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut info =
				Batches::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(now < info.settles_at, Error::<T>::DisputeWindowClosed);
			let charges =
				BatchEntries::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
			let (payer, adapter, fee) =
				charges.get(entry_index as usize).cloned().ok_or(Error::<T>::UnknownEntry)?;
			ensure!(payer == who, Error::<T>::NotPayer);
			ensure!(
				!info.disputed.iter().any(|d| d.entry == entry_index),
				Error::<T>::AlreadyDisputed
			);
			info.disputed
				.try_push(Dispute {
					entry: entry_index,
					adapter,
					fee,
					payer: payer.clone(),
					state: DisputeState::Open,
				})
				.map_err(|_| Error::<T>::TooManyDisputes)?;
			Batches::<T>::insert(&operator, sequence, info);
			Self::deposit_event(Event::DisputeOpened {
				operator,
				sequence,
				entry: entry_index,
				payer,
				fee,
			});
			Ok(())
		}

		/// Settle `operator`'s batch `sequence`: hand its fees per adapter, less those frozen by
		/// open disputes, from the pot to [`Config::Settlement`]. The batch's storage is removed
		/// when no dispute of it is open; otherwise it stays until the last is resolved.
		///
		/// - Origin: signed, by anyone, once the batch's dispute window has passed.
		/// - Fails with `UnknownBatch`, `AlreadySettled`, `DisputeWindowOpen`, or the
		///   settlement's error (nothing changes then).
		/// - Emits [`Event::BatchSettled`].
		/// - Complexity: O(a + d) for `a` adapters and `d` disputes, plus the settlement of `a`
		///   adapters; the weight of the adapters not settled is refunded.
		#[pallet::call_index(11)]
		#[pallet::weight(
			T::WeightInfo::settle_batch(T::MaxAdaptersPerBatch::get())
				.saturating_add(T::Settlement::settle_weight(T::MaxAdaptersPerBatch::get()))
		)]
		pub fn settle_batch(
			origin: OriginFor<T>,
			operator: T::AccountId,
			sequence: Sequence,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			Self::do_settle_batch(operator, sequence)
		}

		/// Resolve the open dispute of entry `entry_index` of `operator`'s batch `sequence`.
		///
		/// - `refund`: the fee goes back into the payer's escrow with the operator, and the
		///   operator's bond is slashed by the smaller of [`Config::DisputeSlash`] and the bond,
		///   to [`Config::SlashBeneficiary`].
		/// - otherwise (release): the fee is settled now if the batch is settled already, else it
		///   is unfrozen and [`Pallet::settle_batch`] includes it.
		/// - Origin: [`Config::ResolveOrigin`] (governance).
		/// - Fails with `UnknownBatch`, `NotDisputed`, or the currency's or the settlement's
		///   error.
		/// - Emits [`Event::DisputeResolved`].
		/// - Complexity: O(a + d); a refund also writes the escrow and the operator and moves
		///   held funds, a release of a settled batch settles one adapter.
		#[pallet::call_index(12)]
		#[pallet::weight(if *refund {
			T::WeightInfo::resolve_dispute_refund()
		} else {
			T::WeightInfo::resolve_dispute_release()
				.saturating_add(T::Settlement::settle_weight(1))
		})]
		pub fn resolve_dispute(
			origin: OriginFor<T>,
			operator: T::AccountId,
			sequence: Sequence,
			entry_index: u32,
			refund: bool,
		) -> DispatchResult {
			T::ResolveOrigin::ensure_origin(origin)?;
			let mut info =
				Batches::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
			let dispute = info
				.disputed
				.iter_mut()
				.find(|d| d.entry == entry_index && d.state == DisputeState::Open)
				.ok_or(Error::<T>::NotDisputed)?;
			let (payer, adapter, fee) = (dispute.payer.clone(), dispute.adapter, dispute.fee);
			let mut slashed = Zero::zero();
			if refund {
				dispute.state = DisputeState::Refunded;
				info.total_fee = info.total_fee.saturating_sub(fee);
				if let Some((_, adapter_fee)) =
					info.fees_by_adapter.iter_mut().find(|(id, _)| *id == adapter)
				{
					*adapter_fee = adapter_fee.saturating_sub(fee);
				}
				if !fee.is_zero() {
					Escrows::<T>::try_mutate(&payer, &operator, |maybe| {
						let escrow = maybe.get_or_insert_with(Default::default);
						escrow.balance =
							escrow.balance.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
						Ok::<_, DispatchError>(())
					})?;
				}
				slashed = Self::slash(&operator)?;
			} else {
				dispute.state = DisputeState::Released;
				if info.settled && !fee.is_zero() {
					T::Settlement::settle(&Self::pot_account(), &operator, &[(adapter, fee)])?;
				}
			}
			Self::store_or_close(&operator, sequence, info)?;
			Self::deposit_event(Event::DisputeResolved {
				operator,
				sequence,
				entry: entry_index,
				refunded: refund,
				slashed,
			});
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Slash the smaller of [`Config::DisputeSlash`] and `operator`'s bond to
		/// [`Config::SlashBeneficiary`]; returns what was slashed.
		fn slash(operator: &T::AccountId) -> Result<BalanceOf<T>, DispatchError> {
			let Some(mut info) = Operators::<T>::get(operator) else {
				// Unreachable: an operator with a batch in storage cannot deregister.
				return Ok(Zero::zero());
			};
			let amount = T::DisputeSlash::get().min(info.bond);
			if amount.is_zero() {
				return Ok(amount);
			}
			let slashed = T::Currency::transfer_on_hold(
				&HoldReason::OperatorBond.into(),
				operator,
				&T::SlashBeneficiary::get(),
				amount,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)?;
			info.bond = info.bond.saturating_sub(slashed);
			Operators::<T>::insert(operator, info);
			Ok(slashed)
		}

		/// Store `info` as `operator`'s batch `sequence`, or, when it is settled and none of its
		/// disputes is open, remove the batch and its entries and close it in the operator's
		/// count of open batches.
		pub(crate) fn store_or_close(
			operator: &T::AccountId,
			sequence: Sequence,
			info: BatchInfo<T>,
		) -> DispatchResult {
			if info.settled && !info.disputed.iter().any(|d| d.state == DisputeState::Open) {
				Batches::<T>::remove(operator, sequence);
				BatchEntries::<T>::remove(operator, sequence);
				Operators::<T>::mutate(operator, |maybe| {
					if let Some(op) = maybe {
						op.open_batches = op.open_batches.saturating_sub(1);
					}
				});
			} else {
				Batches::<T>::insert(operator, sequence, info);
			}
			Ok(())
		}

		/// Settle a batch; see [`Pallet::settle_batch`].
		pub(crate) fn do_settle_batch(
			operator: T::AccountId,
			sequence: Sequence,
		) -> DispatchResultWithPostInfo {
			let mut info =
				Batches::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
			ensure!(!info.settled, Error::<T>::AlreadySettled);
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(now >= info.settles_at, Error::<T>::DisputeWindowOpen);

			let adapters = info.fees_by_adapter.len() as u32;
			let mut payable: Vec<(AdapterId, BalanceOf<T>)> = info.fees_by_adapter.to_vec();
			let mut frozen = BalanceOf::<T>::zero();
			for dispute in info.disputed.iter().filter(|d| d.state == DisputeState::Open) {
				frozen = frozen.saturating_add(dispute.fee);
				if let Ok(i) = payable.binary_search_by_key(&dispute.adapter, |(id, _)| *id) {
					payable[i].1 = payable[i].1.saturating_sub(dispute.fee);
				}
			}
			payable.retain(|(_, fee)| !fee.is_zero());
			let settled = payable
				.iter()
				.fold(BalanceOf::<T>::zero(), |sum, (_, fee)| sum.saturating_add(*fee));
			if !payable.is_empty() {
				T::Settlement::settle(&Self::pot_account(), &operator, &payable)?;
			}
			info.settled = true;
			Self::store_or_close(&operator, sequence, info)?;
			Self::deposit_event(Event::BatchSettled { operator, sequence, settled, frozen });
			Ok(Some(
				T::WeightInfo::settle_batch(adapters)
					.saturating_add(T::Settlement::settle_weight(payable.len() as u32)),
			)
			.into())
		}

		/// Makes the pot account exist for good: endows it with the existential deposit (minted)
		/// and gives it a provider reference. Run at genesis; a chain that adds this pallet later
		/// runs it once in a migration.
		pub fn ensure_pot() {
			let pot = Self::pot_account();
			let ed = T::Currency::minimum_balance();
			let balance = T::Currency::balance(&pot);
			if balance < ed {
				let _ = T::Currency::mint_into(&pot, ed.saturating_sub(balance));
			}
			frame_system::Pallet::<T>::inc_providers(&pot);
		}
	}
}
