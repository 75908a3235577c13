//! # Jobs pallet
//!
//! On-chain inference jobs: the way a dApp pays for a completion from a contract and gets the
//! answer back on chain. A *requester* (a wallet, or a contract through the Lineage precompile)
//! asks for a completion of a prompt by an adapter; a registered operator's oracle runs it and
//! submits the output with a signed [`Fulfilment`]; the pallet charges the adapter's price for
//! the tokens used, hands the fee to [`Config::Settlement`] (the attribution pallet's split,
//! the same path as settled usage batches) and keeps the output for the requester.
//!
//! ## Terms
//!
//! - **Job**: a prompt (UTF-8, at most [`Config::MaxPromptLength`] bytes), an adapter, the most
//!   output tokens, the sampling parameters, a *fee ceiling* and an optional operator (any
//!   serving operator when none). Ids are 0, 1, 2, … ([`NextJobId`]).
//! - **Holds**: at request, the fee ceiling is held from the requester under
//!   [`HoldReason::JobFee`] and a storage deposit (a base plus a per-byte part for the prompt and
//!   the longest output) under [`HoldReason::JobStorage`].
//! - **Fulfilment**: before the job expires, an operator that is serving (registered, active,
//!   bonded: [`OperatorInspect`]) answers with the output, the token counts and the output's
//!   sha256, signed by its key over [`fulfilment_payload`] (domain tag, genesis hash, the
//!   fulfilment). The fee is [`usage_fee`] of the tokens at the adapter's price in force; it
//!   must not exceed the ceiling (`FeeAboveCeiling`). The ceiling is released, the fee is
//!   settled from the requester, the rest stays with it.
//! - **Token bounds**: a byte-level tokenizer gives at most one token per byte, so a fulfilment
//!   may count at most the prompt's bytes plus [`Config::MaxOverheadTokens`] (the chat template's
//!   markers) input tokens, and at most the output's bytes plus that overhead output tokens
//!   (`TooManyInputTokens`, `TooManyOutputTokens`): an empty answer cannot take the ceiling.
//! - **Claims**: a job open to any operator is fulfilled only by the operator that claimed it
//!   ([`Pallet::claim`]), within [`Config::ClaimPeriod`] blocks of its claim. An operator claims
//!   before computing, so the answer it submits cannot be copied from the transaction pool by
//!   another operator under its own key (`NotClaimed`); a claim that lapses lets anyone claim
//!   again. A job naming its operator needs no claim.
//! - **Expiry**: each job expires `ttl` blocks after its request ([`Config::MinTtl`] ..=
//!   [`Config::MaxTtl`], chosen by the requester). At that block a pending job is refunded (fee
//!   ceiling and deposit released) and a fulfilled job whose output was not taken is removed
//!   (deposit released). At most [`Config::MaxJobsPerBlock`] jobs expire in one block; a request
//!   whose expiry block is full is refused (`ExpiryBlockFull`: pick another ttl).
//! - **Output**: readable by anyone ([`Outputs`]) until the requester takes it
//!   ([`Pallet::take_output`], which removes the job and releases the deposit) or it expires.
//!
//! ## Design
//!
//! - Jobs are settled when fulfilled, not after a dispute window as usage batches are: the
//!   output and its token counts are on chain for anyone to check, and the charge is bounded by
//!   the ceiling the requester chose.
//! - A fulfilment may be submitted by any signed account (the operator or a relayer); its
//!   validity rests on the operator key's signature, as with usage batches.
//! - Expiry runs in `on_initialize` over one bounded list per block ([`Expiries`]), so it costs a
//!   bounded, benchmarked weight and needs nobody to call it.
//!
//! ## Calls
//!
//! - [`Pallet::request`]: any signed account asks for a completion.
//! - [`Pallet::fulfil`]: any signed account submits an operator-signed fulfilment.
//! - [`Pallet::take_output`]: the requester takes a fulfilled job's output.
//! - [`Pallet::claim`]: a serving operator claims an open job before answering it.
//!
//! ## Reading
//!
//! - [`Jobs`]: a job's request and state; [`Outputs`]: a fulfilled job's output.
//! - [`Pallet::deposit_for`]: the storage deposit a prompt of some length holds.
//!
//! [`usage_fee`]: lineage_primitives::usage::usage_fee

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

use codec::{Decode, Encode, MaxEncodedLen};
pub use lineage_primitives::{
	jobs::{fulfilment_payload, response_hash, Fulfilment, JobId, SamplingParams},
	usage::{AdapterInspect, OperatorInspect, SettleFees},
	AdapterId,
};
use polkadot_sdk::{
	frame_support::{
		self, traits::fungible, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_core::{sr25519, H256},
};
use scale_info::TypeInfo;

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;
/// A job's prompt.
pub type PromptOf<T> = BoundedVec<u8, <T as Config>::MaxPromptLength>;
/// A fulfilled job's output.
pub type OutputOf<T> = BoundedVec<u8, <T as Config>::MaxOutputLength>;
/// A fulfilment in the runtime's types.
pub type FulfilmentOf<T> = Fulfilment<<T as frame_system::Config>::AccountId, OutputOf<T>>;
/// The jobs expiring at one block.
pub type ExpiringOf<T> = BoundedVec<JobId, <T as Config>::MaxJobsPerBlock>;

/// Where a job is.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub enum JobState<T: Config> {
	/// Waiting for an operator.
	Pending,
	/// Answered: the output is in [`Outputs`].
	Fulfilled {
		/// The operator that answered.
		operator: T::AccountId,
		/// The prompt's tokens.
		input_tokens: u64,
		/// The tokens generated.
		output_tokens: u64,
		/// The fee charged (and settled).
		fee: BalanceOf<T>,
		/// sha256 of the output.
		response_hash: H256,
		/// The block it was answered in.
		fulfilled_at: BlockNumberFor<T>,
	},
}

/// An on-chain inference job.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Job<T: Config> {
	/// Who asked (and pays, and may take the output).
	pub requester: T::AccountId,
	/// The adapter asked for.
	pub adapter: AdapterId,
	/// The operator asked for; any serving operator when `None`.
	pub operator: Option<T::AccountId>,
	/// The prompt, UTF-8: one user message of the adapter's chat.
	pub prompt: PromptOf<T>,
	/// The most tokens to generate.
	pub max_output_tokens: u32,
	/// How to sample.
	pub sampling: SamplingParams,
	/// The most the job may cost, held from the requester under [`HoldReason::JobFee`] while it
	/// is pending.
	pub max_fee: BalanceOf<T>,
	/// The storage deposit held from the requester under [`HoldReason::JobStorage`].
	pub deposit: BalanceOf<T>,
	/// The block it was requested in.
	pub requested_at: BlockNumberFor<T>,
	/// The block at which it expires (refunded when pending, its output removed when not taken).
	pub expires_at: BlockNumberFor<T>,
	/// For a job open to any operator: the operator that claimed it ([`Pallet::claim`]) and the
	/// block its claim lapses at. Only a live claim's operator may fulfil an open job, so an
	/// answer seen in the transaction pool cannot be copied by another operator.
	pub claim: Option<(T::AccountId, BlockNumberFor<T>)>,
	/// Pending or fulfilled.
	pub state: JobState<T>,
}

/// Sets up what the benchmarks need from the other pallets.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Balance> {
	/// Makes a priced, active adapter exist and returns it.
	fn create_adapter(i: u32) -> AdapterId;
	/// Makes `who` a serving operator with signing key `key`.
	fn register_operator(who: &AccountId, key: sr25519::Public);
	/// Sets `who`'s free balance to `amount`.
	fn fund(who: &AccountId, amount: Balance);
}

// `request` takes each part of the job as its own argument (as wallets and the precompile pass
// them), and the call macro generates constructors with the same arguments.
/// The pallet: its config, storage, events, errors, hooks and calls.
#[allow(clippy::too_many_arguments)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use polkadot_sdk::sp_runtime::traits::Zero;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	/// The jobs pallet: on-chain inference jobs, requested, fulfilled by a serving operator,
	/// taken or expired.
	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// The pallet's configuration: its currency, the registries and settlement it works with,
	/// its limits, time-to-live bounds and deposits.
	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>>
			+ IsType<<Self as polkadot_sdk::frame_system::Config>::RuntimeEvent>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The currency fees and deposits are held and paid in.
		type Currency: fungible::Inspect<Self::AccountId>
			+ fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The model registry: adapters' prices and status.
		type Adapters: AdapterInspect<Self::AccountId, BalanceOf<Self>, BlockNumberFor<Self>>;

		/// The operator registry: who may fulfil, with which key.
		type Operators: OperatorInspect<Self::AccountId>;

		/// Where fees go (the attribution pallet's fee split).
		type Settlement: SettleFees<Self::AccountId, BalanceOf<Self>>;

		/// The longest prompt, in bytes.
		#[pallet::constant]
		type MaxPromptLength: Get<u32>;

		/// The longest output, in bytes.
		#[pallet::constant]
		type MaxOutputLength: Get<u32>;

		/// The most output tokens a job may ask for.
		#[pallet::constant]
		type MaxOutputTokens: Get<u32>;

		/// The shortest time to live a job may ask for, in blocks.
		#[pallet::constant]
		type MinTtl: Get<BlockNumberFor<Self>>;

		/// The longest time to live a job may ask for, in blocks.
		#[pallet::constant]
		type MaxTtl: Get<BlockNumberFor<Self>>;

		/// The most jobs that may expire at one block.
		#[pallet::constant]
		type MaxJobsPerBlock: Get<u32>;

		/// The storage deposit's base, per job.
		#[pallet::constant]
		type JobDepositBase: Get<BalanceOf<Self>>;

		/// The storage deposit per byte of prompt and of the longest output.
		#[pallet::constant]
		type JobDepositPerByte: Get<BalanceOf<Self>>;

		/// The most tokens the oracle's chat template (its system and role markers) and the end
		/// of sequence add beyond one token per byte. A byte-level tokenizer gives at most one
		/// token per byte, so a fulfilment may count at most `prompt bytes + MaxOverheadTokens`
		/// input tokens and `output bytes + MaxOverheadTokens` output tokens: an operator cannot
		/// inflate the token counts of a short prompt or an empty answer to take the ceiling.
		#[pallet::constant]
		type MaxOverheadTokens: Get<u32>;

		/// How long an operator's claim on an open job lasts, in blocks: it must fulfil within
		/// it, else another operator may claim the job.
		#[pallet::constant]
		type ClaimPeriod: Get<BlockNumberFor<Self>>;

		/// The most contributors one answer's attribution may credit in a fulfilment
		/// ([`lineage_primitives::jobs::Fulfilment::matched`]): the oracle keeps the largest.
		#[pallet::constant]
		type MaxMatchedPerJob: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Makes adapters and operators exist for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, BalanceOf<Self>>;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A pending job's fee ceiling.
		#[codec(index = 0)]
		JobFee,
		/// A job's storage deposit (its prompt and output).
		#[codec(index = 1)]
		JobStorage,
	}

	/// The id the next job gets.
	#[pallet::storage]
	pub type NextJobId<T: Config> = StorageValue<_, JobId, ValueQuery>;

	/// The jobs not yet taken or expired.
	#[pallet::storage]
	pub type Jobs<T: Config> = StorageMap<_, Twox64Concat, JobId, Job<T>>;

	/// The output of each fulfilled job in [`Jobs`].
	#[pallet::storage]
	pub type Outputs<T: Config> = StorageMap<_, Twox64Concat, JobId, OutputOf<T>>;

	/// The jobs expiring at each block.
	#[pallet::storage]
	pub type Expiries<T: Config> =
		StorageMap<_, Twox64Concat, BlockNumberFor<T>, ExpiringOf<T>, ValueQuery>;

	/// The pallet's events.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A completion was requested: operators' oracles run it.
		JobRequested {
			/// The job.
			job: JobId,
			/// Who asked.
			requester: T::AccountId,
			/// The adapter.
			adapter: AdapterId,
			/// The operator asked for (any when `None`).
			operator: Option<T::AccountId>,
			/// The most tokens to generate.
			max_output_tokens: u32,
			/// The fee ceiling held.
			max_fee: BalanceOf<T>,
			/// The block at which it expires.
			expires_at: BlockNumberFor<T>,
		},
		/// An operator answered a job: its fee was charged and split, the rest released.
		JobFulfilled {
			/// The job.
			job: JobId,
			/// The operator.
			operator: T::AccountId,
			/// The prompt's tokens.
			input_tokens: u64,
			/// The tokens generated.
			output_tokens: u64,
			/// The fee charged.
			fee: BalanceOf<T>,
			/// What of the ceiling went back to the requester.
			refunded: BalanceOf<T>,
			/// sha256 of the output.
			response_hash: H256,
		},
		/// An operator claimed an open job: only it may fulfil the job until `until`.
		JobClaimed {
			/// The job.
			job: JobId,
			/// The operator.
			operator: T::AccountId,
			/// The block its claim lapses at.
			until: BlockNumberFor<T>,
		},
		/// The requester took a job's output; the job is removed and its deposit released.
		OutputTaken {
			/// The job.
			job: JobId,
			/// The requester.
			requester: T::AccountId,
		},
		/// No operator answered a job in time: its fee ceiling and deposit went back.
		JobExpired {
			/// The job.
			job: JobId,
			/// The requester.
			requester: T::AccountId,
			/// The fee ceiling released.
			refunded: BalanceOf<T>,
		},
		/// A fulfilled job's output was not taken in time: it is removed, its deposit released.
		OutputExpired {
			/// The job.
			job: JobId,
			/// The requester.
			requester: T::AccountId,
		},
	}

	/// The pallet's errors.
	#[pallet::error]
	pub enum Error<T> {
		/// The prompt is empty.
		EmptyPrompt,
		/// The prompt is not UTF-8.
		PromptNotUtf8,
		/// The most output tokens must be 1 ..= `MaxOutputTokens`.
		BadMaxOutputTokens,
		/// The temperature must be at most 2.000 and top-p within 0.001 ..= 1.000.
		BadSampling,
		/// The time to live must be `MinTtl ..= MaxTtl` blocks.
		BadTtl,
		/// No adapter has this id.
		UnknownAdapter,
		/// The adapter was revoked: it is no longer served.
		AdapterRevoked,
		/// The operator (the one a request asks for, or the one a fulfilment names) is not
		/// serving: it is not registered, has left, or its bond is below the operator bond
		/// ([`OperatorInspect::serving_key`] has no key for it).
		OperatorNotServing,
		/// The fee ceiling does not cover even one input and one output token at the adapter's
		/// price.
		FeeCeilingTooLow,
		/// As many jobs as allowed already expire at that block: choose another ttl.
		ExpiryBlockFull,
		/// The requester cannot hold the fee ceiling and the storage deposit.
		InsufficientBalance,
		/// No job has this id (never requested, taken or expired).
		UnknownJob,
		/// The job was fulfilled already.
		AlreadyFulfilled,
		/// The job asked for another operator.
		WrongOperator,
		/// The job has expired.
		JobExpired,
		/// A fulfilment must count at least one input token.
		ZeroInputTokens,
		/// More output tokens than the job allows, or than the output's bytes and
		/// `MaxOverheadTokens` can hold.
		TooManyOutputTokens,
		/// More input tokens than the prompt's bytes and `MaxOverheadTokens` can hold.
		TooManyInputTokens,
		/// The job is open to any operator and the fulfilment's operator holds no live claim on
		/// it: claim it first ([`Pallet::claim`]).
		NotClaimed,
		/// Another operator's claim on the job is live.
		AlreadyClaimed,
		/// The job names its operator: only it may fulfil, no claim is needed.
		NotOpen,
		/// The output is not UTF-8.
		OutputNotUtf8,
		/// The response hash is not the sha256 of the output.
		ResponseHashMismatch,
		/// The fulfilment's matches are not strictly ascending by (datanet, version,
		/// contributor).
		MatchedNotSorted,
		/// A match of the fulfilment is zero.
		ZeroMatchedShare,
		/// The fulfilment names more than `MaxMatchedPerJob` matches.
		TooManyMatched,
		/// The fulfilment's matches sum to more than 100%.
		MatchedOverWhole,
		/// The signature is not the operator key's over the fulfilment.
		BadSignature,
		/// The fee for the tokens exceeds the job's ceiling.
		FeeAboveCeiling,
		/// Only the requester may take the output.
		NotRequester,
		/// The job has no output yet.
		NotFulfilled,
		/// An amount or id overflowed.
		Overflow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let expired = Self::expire(now);
			T::WeightInfo::on_initialize_expire(expired)
		}

		fn integrity_test() {
			assert!(T::MaxPromptLength::get() > 0, "MaxPromptLength must be non-zero");
			assert!(T::MaxOutputLength::get() > 0, "MaxOutputLength must be non-zero");
			assert!(
				T::MaxOutputTokens::get() > 0,
				"MaxOutputTokens must be non-zero: a job must be able to ask for a token"
			);
			assert!(
				T::MaxJobsPerBlock::get() > 0,
				"MaxJobsPerBlock must be non-zero: no job could be requested"
			);
			assert!(
				!T::MinTtl::get().is_zero(),
				"MinTtl must be non-zero: a job listed at the block it is requested in never expires"
			);
			assert!(
				T::MinTtl::get() <= T::MaxTtl::get(),
				"MinTtl above MaxTtl leaves no valid ttl"
			);
			assert!(
				!T::ClaimPeriod::get().is_zero(),
				"ClaimPeriod must be non-zero: a claim must last long enough to fulfil"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(
			_: BlockNumberFor<T>,
		) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Ask for a completion of `prompt` by `adapter`; see the pallet's documentation. The job
		/// gets the next id ([`NextJobId`]) and expires `ttl` blocks from now.
		///
		/// - Origin: signed, by the requester (a wallet, or a contract through the precompile).
		/// - `prompt`: UTF-8, 1 to `MaxPromptLength` bytes; `max_output_tokens` in
		///   `1..=MaxOutputTokens`; `sampling` valid ([`SamplingParams::is_valid`]); `ttl` in
		///   `MinTtl..=MaxTtl`; `operator`: a serving operator, or `None` for any.
		/// - `max_fee`: the fee ceiling, at least the fee of one input and one output token at
		///   the adapter's price in force now.
		/// - Holds `max_fee` under [`HoldReason::JobFee`] and the storage deposit
		///   ([`Pallet::deposit_for`]) under [`HoldReason::JobStorage`] from the caller.
		/// - Fails with `EmptyPrompt`, `PromptNotUtf8`, `BadMaxOutputTokens`, `BadSampling`,
		///   `BadTtl`, `UnknownAdapter`, `AdapterRevoked`, `FeeCeilingTooLow`,
		///   `OperatorNotServing` (the operator asked for), `ExpiryBlockFull` when
		///   `MaxJobsPerBlock` jobs expire at that block already, `InsufficientBalance` when the
		///   holds cannot be made, or `Overflow`.
		/// - Emits [`Event::JobRequested`].
		/// - Complexity: O(p) for a prompt of `p` bytes (its UTF-8 check); reads the adapter's
		///   terms, the operator asked for, the next id and the expiry block's list, writes the
		///   job, the next id and the list, and makes two holds: weighed as `request(p)`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::request(prompt.len() as u32))]
		pub fn request(
			origin: OriginFor<T>,
			adapter: AdapterId,
			prompt: PromptOf<T>,
			max_output_tokens: u32,
			sampling: SamplingParams,
			max_fee: BalanceOf<T>,
			ttl: BlockNumberFor<T>,
			operator: Option<T::AccountId>,
		) -> DispatchResult {
			let requester = ensure_signed(origin)?;
			Self::do_request(
				requester,
				adapter,
				prompt,
				max_output_tokens,
				sampling,
				max_fee,
				ttl,
				operator,
			)
			.map(|_| ())
		}

		/// Submit an operator's answer to a pending job, signed by the operator's key over
		/// [`fulfilment_payload`]`(genesis hash, fulfilment)`. Charges the fee for the tokens
		/// ([`lineage_primitives::usage::usage_fee`] at the adapter's price in force now),
		/// releases the fee ceiling, settles the fee from the requester through
		/// [`Config::Settlement`] and stores the output.
		///
		/// - Origin: signed, by anyone (the operator or a relayer), who pays the transaction fee.
		/// - `fulfilment`: the job, the operator (the one the job asked for; for an open job, the
		///   one holding a live claim), at least one and at most `prompt bytes +
		///   MaxOverheadTokens` input tokens, at most the job's `max_output_tokens` and at most
		///   `output bytes + MaxOverheadTokens` output tokens, the output (UTF-8) and its sha256.
		/// - Fails with `UnknownJob`, `AlreadyFulfilled`, `JobExpired`, `WrongOperator`,
		///   `NotClaimed`, `OperatorNotServing`, `ZeroInputTokens`, `TooManyInputTokens`,
		///   `TooManyOutputTokens`, `OutputNotUtf8`, `ResponseHashMismatch`,
		///   `MatchedNotSorted`, `ZeroMatchedShare`, `TooManyMatched`, `MatchedOverWhole`, then
		///   `BadSignature`, then `UnknownAdapter`,
		///   `AdapterRevoked`, `Overflow`, `FeeAboveCeiling`, or the currency's or the
		///   settlement's error.
		/// - Emits [`Event::JobFulfilled`].
		/// - Complexity: O(o) for an output of `o` bytes (its UTF-8 check, its hash and the
		///   signature's payload); reads the job, the operator's key and the adapter's terms,
		///   writes the job and its output, releases a hold and settles one adapter: weighed as
		///   `fulfil(o)` plus [`SettleFees::settle_weight`] of one adapter with
		///   `MaxMatchedPerJob` matched shares.
		/// - `fulfilment.matched`: the contributors the answer's attribution credits, each with
		///   the part of the answer their records cover; settlement pays them the policy's
		///   matched part of the fee's datanets share (after checking their frozen weight).
		#[pallet::call_index(1)]
		#[pallet::weight(
			T::WeightInfo::fulfil(fulfilment.output.len() as u32)
				.saturating_add(T::Settlement::settle_weight(1, T::MaxMatchedPerJob::get()))
		)]
		pub fn fulfil(
			origin: OriginFor<T>,
			fulfilment: FulfilmentOf<T>,
			signature: sr25519::Signature,
		) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_fulfil(fulfilment, signature)
		}

		/// Take a fulfilled job's output: removes the job and its output and releases its
		/// deposit. (A contract takes it through the precompile, which returns the output.)
		///
		/// - Origin: signed, by the job's requester.
		/// - Fails with `UnknownJob` (never requested, taken or expired), `NotRequester` or
		///   `NotFulfilled`.
		/// - Emits [`Event::OutputTaken`].
		/// - Complexity: O(m) for the `m` jobs (at most `MaxJobsPerBlock`) expiring at the job's
		///   block; reads and removes the job and its output, rewrites that block's list and
		///   releases a hold.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::take_output())]
		pub fn take_output(origin: OriginFor<T>, job: JobId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_take_output(&who, job).map(|_| ())
		}

		/// Claim an open job (one that names no operator) for the caller, a serving operator:
		/// for [`Config::ClaimPeriod`] blocks only the caller may fulfil it. An operator claims
		/// before it computes the answer, so the answer it then submits cannot be copied from
		/// the transaction pool by another operator; a claim that lapses unfulfilled lets any
		/// operator claim the job again.
		///
		/// - Origin: signed, by the operator's account.
		/// - Fails with `UnknownJob`, `AlreadyFulfilled`, `JobExpired`, `NotOpen` when the job
		///   names its operator, `OperatorNotServing`, `AlreadyClaimed` while another
		///   operator's (or the caller's own) claim is live, or `Overflow`.
		/// - Emits [`Event::JobClaimed`].
		/// - Complexity: O(1); reads the job and the operator's key, writes the job.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::claim())]
		pub fn claim(origin: OriginFor<T>, job: JobId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_claim(who, job)
		}
	}
}
