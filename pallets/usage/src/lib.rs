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
//! - **Matched shares**: a batch also carries, per adapter, what its answers' attribution
//!   credits ([`MatchedShare`]: `(adapter, datanet, version, contributor, share of the adapter's
//!   fee)`), at most [`Config::MaxMatchedPerAdapter`] per adapter, strictly ascending, each
//!   adapter's summing to at most 100%. This pallet checks their shape, keeps them with the batch
//!   ([`BatchMatched`]) and hands them to [`Config::Settlement`], which pays the contributors
//!   (after checking their weight) from the datanets' part of the fee.
//! - **Voucher**: a payer's own signature bounding what one operator may charge them. Every
//!   inference request a payer signs ([`lineage_primitives::payer`]) names a *spend limit*: the
//!   most the operator may have charged the payer in total once that request is paid. A batch
//!   carries one voucher per payer (the highest limit the oracle holds); the pallet checks its
//!   signature against the payer's account and refuses the batch (`SpendLimitExceeded`) if the
//!   payer's total charges with the operator ([`Spent`], which only grows) would pass the limit.
//!   So an operator can take from a payer at most what the payer signed for, and at most the
//!   payer's escrow; without a payer's signature it can take nothing.
//! - **Sequence**: each operator's batches are numbered 0, 1, 2, …; a batch must carry the
//!   operator's next number ([`NextSequence`]), so a batch is accepted once and none is skipped.
//!   Sequence numbers survive an operator's deregistration, so an operator that registers again
//!   (possibly with its old key) cannot have its old batches replayed.
//! - **Fee**: [`lineage_primitives::usage::usage_fee`] of an entry's tokens at the lowest price the
//!   adapter had in force over the blocks the batch says its records were served in
//!   ([`UsageBatch::served_from`]..=[`UsageBatch::served_to`], at most [`Config::MaxServedAge`]
//!   blocks old; [`AdapterInspect::adapter_terms_over`]): a price rise after serving never applies
//!   to usage served before it. Deprecated adapters
//!   are billable; revoked ones are not (`AdapterRevoked`).
//! - **Dispute window**: an accepted batch's charges are final [`Config::DisputeWindow`] blocks
//!   after its submission. Until then a payer may dispute any of its entries, once each, which
//!   freezes the entry's fee and holds [`Config::DisputeDeposit`] from the payer. Each entry's
//!   dispute has its own storage ([`Disputes`]), so no payer, nor a ring of sock-puppet payers,
//!   can use up dispute room others need. [`Config::ResolveOrigin`] later upholds it (the fee back
//!   into the payer's escrow, the deposit back to the payer, a slash of the operator's bond by
//!   [`Config::DisputeSlash`] to [`Config::SlashBeneficiary`]) or rejects it (the fee to
//!   settlement, the deposit to the operator).
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
//!
//! ## Code
//!
//! This file holds the config, storage, events, errors, hooks and the calls, each a thin call
//! that checks the origin and hands over to a `do_*` function of its feature: `features/`
//! `operators.rs`, `escrow.rs`, `batches.rs`, `disputes.rs` and `settlement.rs`. The records the
//! pallet stores are in `types.rs` (re-exported here); the pot, the removal of finished batches
//! and the invariants (`Pallet::do_try_state`) in `functions.rs`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod features;
mod functions;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
mod types;
pub mod weights;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

pub use lineage_primitives::{
	payer::PayerVoucher,
	usage::{
		AdapterInspect, AdapterTerms, AdapterUse, MatchedShare, Sequence, SettleFees, UsageBatch,
		UsageEntry,
	},
	AdapterId,
};
use polkadot_sdk::{
	frame_support::{self, traits::fungible, PalletId},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_core::{sr25519, H256},
	sp_runtime::traits::{IdentifyAccount, Verify},
};

/// The pallet: its config, storage, events, errors, hooks and calls.
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{BuildGenesisConfig, EnsureOrigin},
	};
	use frame_system::pallet_prelude::*;
	use polkadot_sdk::sp_runtime::traits::Zero;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	/// The usage pallet: operators, escrow, usage batches, disputes and settlement.
	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// The pallet's configuration: its currency, the registry and settlement it works with, its
	/// amounts, periods and limits.
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

		/// The signature on a payer's voucher ([`PayerVoucher`]): it verifies against the
		/// payer's account (`MultiSignature` in the runtime, so any wallet key type signs).
		type PayerSignature: Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>
			+ Parameter;

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

		/// The most blocks between the first block a batch's records were served in
		/// ([`UsageBatch::served_from`]) and the batch's submission. At most as far back as the
		/// registry knows every price exactly (the model registry's `PriceChangeDelay`), so
		/// that each fee is the price in force when it was served.
		#[pallet::constant]
		type MaxServedAge: Get<BlockNumberFor<Self>>;

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

		/// The most distinct payers in one batch (each carries a voucher, checked with one
		/// signature verification).
		#[pallet::constant]
		type MaxPayersPerBatch: Get<u32>;

		/// The most matched shares ([`MatchedShare`]) one adapter's fee in a batch may carry:
		/// the contributors its answers' attribution credits, the largest first. A batch carries
		/// at most `MaxAdaptersPerBatch × MaxMatchedPerAdapter` ([`MaxMatchedPerBatch`]).
		#[pallet::constant]
		type MaxMatchedPerAdapter: Get<u32>;

		/// What a payer deposits to dispute an entry, held under [`HoldReason::DisputeDeposit`]:
		/// returned when the dispute is upheld, paid to the operator when it is rejected, so
		/// that disputes cost their storage and governance's time unless they are right.
		#[pallet::constant]
		type DisputeDeposit: Get<BalanceOf<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Makes adapters exist and funds accounts for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<
			Self::AccountId,
			BalanceOf<Self>,
			Self::PayerSignature,
		>;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// An operator's bond.
		#[codec(index = 0)]
		OperatorBond,
		/// A payer's deposit for an open dispute.
		#[codec(index = 1)]
		DisputeDeposit,
	}

	/// The registered operators.
	#[pallet::storage]
	pub type Operators<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, OperatorInfo<T>>;

	/// The operator each registered signing key belongs to: one key serves one operator.
	#[pallet::storage]
	pub type OperatorKeys<T: Config> =
		StorageMap<_, Blake2_128Concat, sr25519::Public, T::AccountId>;

	/// What each operator has charged each payer in total, over all its batches, keyed by
	/// (payer, operator): a batch may charge a payer only while this stays within the spend
	/// limit the payer signed ([`PayerVoucher::spend_limit`]). It only grows (a refunded
	/// dispute returns funds to escrow, not spend room) and is never removed, so an old voucher
	/// can never be spent twice.
	#[pallet::storage]
	pub type Spent<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		BalanceOf<T>,
		ValueQuery,
	>;

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

	/// The matched shares of each batch in [`Batches`] that carries any: operator, sequence →
	/// the shares, ascending by (adapter, datanet, version, contributor). Settlement (and the
	/// release of a disputed entry after it) passes them to [`Config::Settlement`].
	#[pallet::storage]
	pub type BatchMatched<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, Sequence, MatchedOf<T>>;

	/// The open disputes: operator, sequence, entry index → the dispute. Each entry of a batch
	/// has its own key, so there are no shared dispute slots one payer (or a ring of them)
	/// could fill for the others; each dispute holds a deposit from its payer.
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Twox64Concat, Sequence>,
			NMapKey<Twox64Concat, u32>,
		),
		DisputeOf<T>,
	>;

	/// Which entries of each batch in [`Batches`] have been disputed (one bit per entry, entry
	/// `i` in bit `i % 8` of byte `i / 8`), open or resolved, so an entry is disputed at most
	/// once. Removed with its batch.
	#[pallet::storage]
	pub type DisputedEntries<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		Sequence,
		DisputedBitsOf<T>,
	>;

	/// The pallet's genesis: nothing to configure; it makes the pot exist
	/// ([`Pallet::ensure_pot`]).
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

	/// The pallet's events.
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
			/// The deposit held from the payer.
			deposit: BalanceOf<T>,
		},
		/// A dispute was resolved.
		DisputeResolved {
			/// The batch's operator.
			operator: T::AccountId,
			/// The batch's sequence number.
			sequence: Sequence,
			/// The entry's index in the batch.
			entry: u32,
			/// Whether the dispute was upheld: the fee went back to the payer's escrow and the
			/// deposit to the payer. Otherwise the fee is settled and the deposit paid to the
			/// operator.
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

	/// The pallet's errors.
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
		/// The batch names more than `MaxPayersPerBatch` distinct payers.
		TooManyPayers,
		/// The batch's sequence number is not the operator's next one (a replay or a gap).
		SequenceMismatch,
		/// The batch's serving blocks are not `served_from <= served_to <= now`.
		BadServedBlocks,
		/// The batch's first record was served more than `MaxServedAge` blocks ago: its price
		/// then is no longer known exactly.
		ServedTooLongAgo,
		/// An entry has no request or no token.
		ZeroTokens,
		/// The entries are not strictly ascending by (payer, adapter).
		EntriesNotSorted,
		/// The matched shares are not strictly ascending by (adapter, datanet, version,
		/// contributor).
		MatchedNotSorted,
		/// A matched share names an adapter with no entry in the batch.
		MatchedAdapterNotInBatch,
		/// A matched share is zero.
		ZeroMatchedShare,
		/// An adapter has more than `MaxMatchedPerAdapter` matched shares.
		TooManyMatched,
		/// An adapter's matched shares sum to more than 100% of its fee.
		MatchedOverWhole,
		/// The signature is not the operator's key's over the batch.
		BadSignature,
		/// The vouchers are not one per payer of the batch, ascending by payer (a payer in the
		/// entries has none, or a voucher names a payer with no entry).
		VoucherMismatch,
		/// A payer's voucher is not signed by the payer for this operator and chain.
		BadVoucher,
		/// A payer's charges would exceed the spend limit their voucher signs.
		SpendLimitExceeded,
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
		/// The entry has been disputed already (an entry is disputed at most once).
		AlreadyDisputed,
		/// The payer cannot hold the dispute deposit.
		InsufficientDeposit,
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
			assert!(T::MaxPayersPerBatch::get() > 0, "MaxPayersPerBatch must be non-zero");
			assert!(
				T::MaxPayersPerBatch::get() <= T::MaxEntriesPerBatch::get(),
				"MaxPayersPerBatch above MaxEntriesPerBatch can never be reached"
			);
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
			Self::do_register_operator(operator, signing_key, endpoint)
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
			Self::do_rotate_key(operator, new_key)
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
			Self::do_set_endpoint(operator, endpoint)
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
			Self::do_bond_extra(operator, amount)
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
			Self::do_leave(operator)
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
			Self::do_withdraw_bond(operator)
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
			Self::do_deposit_escrow(payer, operator, amount)
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
			Self::do_request_withdrawal(payer, operator, amount)
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
			Self::do_withdraw_escrow(payer, operator)
		}

		/// Submit a usage batch signed by its operator's key, and charge its fees to the payers'
		/// escrow with the operator.
		///
		/// - Origin: signed, by anyone (the operator or a relayer), who pays the transaction fee.
		/// - `batch`: the operator's next sequence number; 1 to `MaxEntriesPerBatch` entries,
		///   strictly ascending by (payer, adapter), each with at least one request and one
		///   token, over at most `MaxAdaptersPerBatch` distinct adapters and
		///   `MaxPayersPerBatch` distinct payers.
		/// - `signature`: by the operator's registered key over
		///   [`lineage_primitives::usage::signing_payload`]`(genesis hash, batch)`.
		/// - `vouchers`: one per distinct payer of the entries, ascending by payer: a request
		///   authorisation the payer signed for this operator and chain
		///   ([`lineage_primitives::payer`]), whose spend limit bounds what the operator may have
		///   charged the payer in total ([`Spent`]).
		/// - `batch.served_from ..= batch.served_to`: the blocks its records were served in, at
		///   most [`Config::MaxServedAge`] blocks ago and none in the future.
		/// - Each entry costs [`lineage_primitives::usage::usage_fee`] at the lowest price its
		///   adapter had in force over the serving blocks (each of the two prices on its own), so
		///   a later price rise never applies to usage served before it; each payer's fees are
		///   debited from its escrow with the operator.
		/// - Fails, cheap checks first, with `EmptyBatch`, `TooManyEntries`, `NotOperator`,
		///   `OperatorNotActive`, `InsufficientBond`, `SequenceMismatch` (a replay or a gap),
		///   `BadServedBlocks`, `ServedTooLongAgo`, `ZeroTokens`, `EntriesNotSorted`,
		///   `TooManyPayers`, `VoucherMismatch`, `TooManyAdapters`, `MatchedNotSorted`,
		///   `MatchedAdapterNotInBatch`, `ZeroMatchedShare`, `TooManyMatched`, `MatchedOverWhole`,
		///   then
		///   `BadSignature`, then `UnknownAdapter`, `AdapterRevoked`, then per payer
		///   `BadVoucher`, `SpendLimitExceeded`, `InsufficientEscrow` or `Overflow`.
		/// - Emits [`Event::UsageSubmitted`].
		/// - `batch.matched`: per adapter, the contributors its answers' attribution credits
		///   ([`MatchedShare`]), at most [`Config::MaxMatchedPerAdapter`] each, summing to at
		///   most 100% of the adapter's fee; stored with the batch for its settlement. Checked
		///   here only for shape: whether a contributor may be paid (weight frozen in a version
		///   the adapter was trained on) is the settlement's check.
		/// - Complexity: O(e + a·log a + m) for `e` entries, `a` distinct adapters and `m`
		///   matched shares, with one read per distinct adapter, one signature check and two
		///   reads and writes per distinct payer (`p`), and the batch stored as two values (three
		///   with matched shares): weighed as `submit_usage(e, p, a, m)`.
		#[pallet::call_index(9)]
		#[pallet::weight({
			let (e, p, a) = Pallet::<T>::batch_shape(&batch.entries);
			let m = u32::try_from(batch.matched.len()).unwrap_or(u32::MAX);
			T::WeightInfo::submit_usage(e, p, a, m)
		})]
		pub fn submit_usage(
			origin: OriginFor<T>,
			batch: UsageBatch<T::AccountId>,
			signature: sr25519::Signature,
			vouchers: VouchersOf<T>,
		) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_submit_usage(batch, signature, vouchers)
		}

		/// Dispute entry `entry_index` of `operator`'s batch `sequence`: its fee is frozen until
		/// [`Config::ResolveOrigin`] resolves the dispute, and [`Config::DisputeDeposit`] is held
		/// from the caller until then. Every entry can be disputed by its payer, whatever other
		/// payers dispute: there is no per-batch dispute limit to exhaust.
		///
		/// - Origin: signed, by the entry's payer, before the batch's dispute window closes.
		/// - Fails with `UnknownBatch`, `DisputeWindowClosed`, `UnknownEntry`, `NotPayer`,
		///   `AlreadyDisputed` (also once resolved), `InsufficientDeposit` or `Overflow`.
		/// - Emits [`Event::DisputeOpened`].
		/// - Complexity: O(a) for the batch's `a` adapters; reads the batch, its entries and its
		///   dispute bitmap, writes them and the dispute, and holds the deposit.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::dispute())]
		pub fn dispute(
			origin: OriginFor<T>,
			operator: T::AccountId,
			sequence: Sequence,
			entry_index: u32,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_dispute(who, operator, sequence, entry_index)
		}

		/// Settle `operator`'s batch `sequence`: hand its fees per adapter, less those frozen by
		/// open disputes, from the pot to [`Config::Settlement`]. The batch's storage is removed
		/// when no dispute of it is open; otherwise it stays until the last is resolved.
		///
		/// - Origin: signed, by anyone, once the batch's dispute window has passed.
		/// - Fails with `UnknownBatch`, `AlreadySettled`, `DisputeWindowOpen`, or the
		///   settlement's error (nothing changes then).
		/// - Emits [`Event::BatchSettled`].
		/// - Complexity: O(a + m) for `a` adapters and `m` matched shares, plus the settlement of
		///   `a` adapters with `m` shares; the weight of what was not settled is refunded.
		#[pallet::call_index(11)]
		#[pallet::weight(
			T::WeightInfo::settle_batch(T::MaxAdaptersPerBatch::get(), MaxMatchedPerBatch::<T>::get())
				.saturating_add(T::Settlement::settle_weight(
					T::MaxAdaptersPerBatch::get(),
					MaxMatchedPerBatch::<T>::get(),
				))
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
		/// - `refund` (upheld): the fee goes back into the payer's escrow with the operator, the
		///   payer's deposit is released, and the operator's bond is slashed by the smaller of
		///   [`Config::DisputeSlash`] and the bond, to [`Config::SlashBeneficiary`].
		/// - otherwise (release, rejected): the payer's deposit is paid to the operator, and the
		///   fee is settled now if the batch is settled already, else it is unfrozen and
		///   [`Pallet::settle_batch`] includes it.
		/// - Origin: [`Config::ResolveOrigin`] (governance).
		/// - Fails with `UnknownBatch`, `NotDisputed`, or the currency's or the settlement's
		///   error.
		/// - Emits [`Event::DisputeResolved`].
		/// - Complexity: O(a) for the batch's `a` adapters; removes the dispute, moves the
		///   deposit; a refund also writes the escrow and the operator and moves held bond, a
		///   release of a settled batch settles one adapter.
		#[pallet::call_index(12)]
		#[pallet::weight(if *refund {
			T::WeightInfo::resolve_dispute_refund()
		} else {
			T::WeightInfo::resolve_dispute_release()
				.saturating_add(T::Settlement::settle_weight(1, T::MaxMatchedPerAdapter::get()))
		})]
		pub fn resolve_dispute(
			origin: OriginFor<T>,
			operator: T::AccountId,
			sequence: Sequence,
			entry_index: u32,
			refund: bool,
		) -> DispatchResult {
			T::ResolveOrigin::ensure_origin(origin)?;
			Self::do_resolve_dispute(operator, sequence, entry_index, refund)
		}
	}
}
