//! The pallet's types: the records it stores (operators, escrow, batches, disputes), their
//! aliases in the runtime's types, and the benchmarks' helper.

use super::*;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{
		traits::fungible, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
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
/// A payer's voucher, in the runtime's types.
pub type PayerVoucherOf<T> =
	PayerVoucher<<T as frame_system::Config>::AccountId, <T as Config>::PayerSignature>;
/// The vouchers beside a batch: one per distinct payer, ascending by payer.
pub type VouchersOf<T> = BoundedVec<PayerVoucherOf<T>, <T as Config>::MaxPayersPerBatch>;
/// One bit per entry of a batch, set once the entry has been disputed ([`DisputedEntries`]).
pub type DisputedBitsOf<T> = BoundedVec<u8, DisputedBytes<T>>;
/// A batch's matched shares, as [`BatchMatched`] stores them.
pub type MatchedOf<T> =
	BoundedVec<MatchedShare<<T as frame_system::Config>::AccountId>, MaxMatchedPerBatch<T>>;

/// The most matched shares of one batch: `MaxAdaptersPerBatch × MaxMatchedPerAdapter`.
pub struct MaxMatchedPerBatch<T>(core::marker::PhantomData<T>);

impl<T: Config> polkadot_sdk::frame_support::traits::Get<u32> for MaxMatchedPerBatch<T> {
	fn get() -> u32 {
		<T as Config>::MaxAdaptersPerBatch::get()
			.saturating_mul(<T as Config>::MaxMatchedPerAdapter::get())
	}
}

/// The bytes of a batch's dispute bitmap at most: one bit per entry of the largest batch.
pub struct DisputedBytes<T>(core::marker::PhantomData<T>);

impl<T: Config> polkadot_sdk::frame_support::traits::Get<u32> for DisputedBytes<T> {
	fn get() -> u32 {
		<T as Config>::MaxEntriesPerBatch::get().div_ceil(8)
	}
}

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

/// An open dispute of one entry of a batch, stored in [`Disputes`] until it is resolved. An
/// entry is disputed at most once ([`DisputedEntries`] remembers it after resolution).
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct Dispute<AccountId, Balance> {
	/// The entry's payer, who disputed it.
	pub payer: AccountId,
	/// The entry's adapter.
	pub adapter: AdapterId,
	/// The fee charged for the entry, frozen while the dispute is open.
	pub fee: Balance,
	/// The deposit held from the payer under [`HoldReason::DisputeDeposit`]: returned when the
	/// dispute is upheld, paid to the operator when it is rejected.
	pub deposit: Balance,
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
	/// The fees frozen by its open disputes, per adapter, ascending by adapter id (adapters with
	/// none left out).
	pub frozen: FeesByAdapterOf<T>,
	/// The number of its open disputes (its entries in [`Disputes`]).
	pub open_disputes: u32,
	/// The fees refunded to payers after upheld disputes.
	pub refunded: BalanceOf<T>,
	/// Whether [`Pallet::settle_batch`] has settled it.
	pub settled: bool,
}

/// Makes adapters exist and funds accounts for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Balance, Signature> {
	/// Makes an adapter exist that is registered, active and has a non-zero price, and returns
	/// its id; distinct `i` give distinct adapters.
	fn create_adapter(i: u32) -> AdapterId;
	/// Gives `who` a free balance of at least `amount`.
	fn fund(who: &AccountId, amount: Balance);
	/// The `i`th payer that can sign: distinct `i` give distinct accounts.
	fn payer(i: u32) -> AccountId;
	/// The signature of `payer` (one of [`BenchmarkHelper::payer`]'s) over `message`.
	fn sign(payer: &AccountId, message: &[u8]) -> Signature;
}
