//! # Datanets pallet
//!
//! The registry of *datanets*: curated datasets whose records are registered on chain so that
//! the models trained on them can cite them and their contributors can be paid.
//!
//! ## Overview
//!
//! This pallet is step 1 ("Contribute") of the path of one inference in Lineage. A contributor,
//! from a wallet, adds a record to a datanet: the record's content hash, size and token count go
//! on chain, with a deposit; the bytes stay off chain. A curator accepts it, giving it a
//! quality (and, if need be, the token count the record store measured). A datanet *version*
//! then freezes the records accepted since the previous version under one Merkle root, with the
//! weight each contributor has in it. Versions are immutable; they are what models cite in their
//! training lineage (`pallet-models`, through [`DatanetInspect`]), and the weights frozen in
//! them are what the attribution pallet pays contributors by, version by version (through
//! [`DatanetWeights`]).
//!
//! ## Terms
//!
//! - **Datanet**: a dataset with an owner, a name, a metadata URI, an SPDX license id and a
//!   [`ContributionPolicy`]. Its owner holds [`Config::DatanetDeposit`] for as long as it is
//!   stored, that is for ever: a closed datanet stays in storage, its versions citeable.
//! - **Curator**: an account that the owner allows to accept, reject and freeze. The owner may
//!   always do what a curator does. At most [`Config::MaxCurators`] per datanet.
//! - **Record** (contribution): one piece of data, at most [`Config::MaxRecordBytes`] bytes (on
//!   Lineage one IPFS raw block). On chain: its content hash (sha-256 of its bytes, `H256`), its
//!   size in bytes, its token count, an optional URI, its status and its deposit. Ids are
//!   `0, 1, 2, …` within a datanet, in order of arrival, never reused. A content hash appears at
//!   most once among a datanet's stored records.
//! - **Policy**: [`ContributionPolicy::Open`] datanets accept each record at once with quality
//!   100 and its declared token count; [`ContributionPolicy::Curated`] ones keep it `Pending`
//!   until a curator accepts or rejects it (or its contributor withdraws it).
//! - **Quality**: a multiplier in percent, within [`Config::MinQuality`] and
//!   [`Config::MaxQuality`], that a curator gives on acceptance (100 when not given).
//! - **Acceptance index**: accepted records are numbered `0, 1, 2, …` within a datanet in order
//!   of acceptance; [`AcceptedOrder`] lists them. Version `v` holds the indices
//!   `first_record .. first_record + records` of its [`VersionInfo`].
//! - **Open version**: the version being built, number `version_count + 1`: the records accepted
//!   since the last freeze, their weight, and the Merkle frontier of their content hashes
//!   ([`OpenVersions`]). Nothing about it is a list, so it has no bound to fill.
//! - **Version**: an immutable [`VersionInfo`] numbered `1, 2, …` within a datanet: the Merkle
//!   root of its records' content hashes (in acceptance order), how many records it has and the
//!   acceptance index of the first, its own weight and the weight frozen in versions `1..=v`.
//!
//! ## Weight
//!
//! A record's weight is `tokens × quality / 100` (u128, rounded down;
//! [`Pallet::contribution_weight`]). A token is at least one byte, so
//! `1 ≤ tokens ≤ size_bytes ≤ MaxRecordBytes` is enforced on [`Pallet::contribute`]: one record
//! weighs at most `MaxRecordBytes × MaxQuality / 100`, and that weight costs its deposit,
//! `ContributionDepositBase + ContributionDepositPerByte × size_bytes`, locked for as long as
//! the record is stored.
//!
//! Who establishes the token count:
//! - in a curated datanet, the curator, at acceptance: [`Pallet::accept_contribution`] takes
//!   `tokens: Option<u32>` (`1 ≤ tokens ≤ size_bytes`). The record store measures each pending
//!   record with the base model's tokenizer and shows the count to the curator; `None` keeps
//!   the count the contributor declared;
//! - in an open datanet, nobody checks: the declared count (bounded by the size) stands.
//!
//! Accepting a record credits its weight to its contributor in the *open* version
//! ([`ContributorWeights`]`(who, datanet, version_count + 1)`) and to the open version's
//! weight. Freezing fixes them: a frozen version's weights never change. The attribution pallet
//! sees only frozen weights: [`DatanetWeights::contributor_weight`] is 0 for a version not
//! frozen yet.
//!
//! ## Deposits
//!
//! Every item a caller makes the chain store is paid for by a held deposit:
//! - a datanet: [`Config::DatanetDeposit`] from its owner ([`HoldReason::DatanetDeposit`]). It
//!   is held as long as the datanet is stored, which is for ever (closing keeps the datanet, its
//!   versions and its records in storage and citeable, so it does not release the deposit).
//!   [`Pallet::transfer_ownership`] moves it to the new owner;
//! - a record: [`Pallet::contribution_deposit`] of its size from its contributor
//!   ([`HoldReason::ContributionDeposit`]), covering the record and its index entries. It is
//!   released when the contributor withdraws the record, and *slashed* to
//!   [`Config::Slashed`] (the treasury on Lineage) when a curator rejects it: spam costs the
//!   spammer. A frozen record stays for ever, and so does its deposit.
//!
//! ## Lifecycle of a record
//!
//! ```text
//!              (open datanet)
//!  contribute ──────────────────────────┐
//!      │ (curated)                      ▼
//!      └──► Pending ──accept──► Accepted, in the open version ──freeze──► Frozen, for ever
//!             │  │                      │
//!             │  │                      └──withdraw (closed datanet only)──┐
//!             │  └──reject──► removed, deposit slashed                     │
//!             └─────withdraw──► removed, deposit released ◄────────────────┘
//! ```
//!
//! A frozen record can never be withdrawn: versions are immutable. An accepted record of an
//! active datanet cannot be either: it will be frozen. Once a datanet is closed its open version
//! can never be frozen, so the contributors of its pending and accepted-but-unfrozen records may
//! withdraw them and get their deposits back.
//!
//! ### Merkle rule
//!
//! A version's root is [`lineage_primitives::merkle::version_root`] of its content hashes in
//! acceptance order, i.e. `binary_merkle_tree::merkle_root::<BlakeTwo256, _>`: each leaf is
//! the blake2-256 hash of the 32 bytes of one content hash; an inner node is the blake2-256 hash
//! of its two children concatenated; an odd last node is promoted unchanged. The chain builds it
//! one record at a time with a [`MerkleFrontier`] (O(log n) per acceptance at worst, O(log n) to
//! freeze), never holding the list. A proof for one record is
//! [`lineage_primitives::merkle::version_proof`] over the version's list, which clients read
//! from [`AcceptedOrder`] and [`Contributions`] ([`Pallet::version_records`]).
//!
//! ## Calls
//!
//! Anyone with a signed origin:
//! - [`Pallet::create_datanet`]: create a datanet, become its owner, hold the deposit.
//! - [`Pallet::contribute`]: submit a record to an active datanet, holding its deposit.
//!
//! The owner of a datanet:
//! - [`Pallet::add_curator`], [`Pallet::remove_curator`]: manage the curators.
//! - [`Pallet::transfer_ownership`]: hand the datanet (and its deposit) to another account.
//! - [`Pallet::close_datanet`]: stop the datanet. Its versions stay readable and citeable.
//!
//! A curator or the owner of a datanet:
//! - [`Pallet::accept_contribution`]: accept a pending record into the open version.
//! - [`Pallet::reject_contribution`]: remove a pending record, slashing its deposit.
//! - [`Pallet::freeze_version`]: freeze the open version.
//!
//! The contributor of a record:
//! - [`Pallet::withdraw_contribution`]: remove a pending record, or an accepted-but-unfrozen one
//!   of a closed datanet, and get its deposit back.
//!
//! ## For other pallets and clients
//!
//! The [`DatanetWeights`] implementation (frozen weights per version, for attribution), the
//! [`DatanetInspect`] implementation (whether a version is frozen, for the model registry),
//! [`Pallet::version`], [`Pallet::version_records`], [`Pallet::contribution_weight`] and
//! [`Pallet::contribution_deposit`].

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod functions;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::{fungible, Get},
	BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
pub use lineage_primitives::{
	merkle::MerkleFrontier, usage::DatanetWeights, ContributionId, DatanetId, DatanetInspect,
	DatanetVersionRef, VersionId,
};
use polkadot_sdk::{frame_support, frame_system, sp_core::H256};
use scale_info::TypeInfo;

/// The quality (in percent) of a record accepted without an explicit quality, and of every
/// record of an open datanet.
pub const DEFAULT_QUALITY: u16 = 100;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// The credit of a slashed deposit, handed to [`Config::Slashed`].
pub type CreditOf<T> =
	fungible::Credit<<T as frame_system::Config>::AccountId, <T as Config>::Currency>;

/// Who may add records and how they are accepted.
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
pub enum ContributionPolicy {
	/// Every record is accepted on submission, with the default quality and its declared
	/// token count.
	Open,
	/// Records wait, `Pending`, for a curator (or the owner) to accept or reject them.
	Curated,
}

/// Whether a datanet still takes records.
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
pub enum DatanetStatus {
	/// Contributions, acceptances, rejections and freezes are allowed.
	Active,
	/// Closed by its owner: no more contributions, acceptances, rejections or freezes. Versions
	/// stay; the records of the open version may be withdrawn by their contributors.
	Closed,
}

/// A datanet, as stored in [`Datanets`].
///
/// The counters, for a datanet `d`:
/// - `contribution_count`: ids ever issued (the next id); rejected and withdrawn records keep
///   their ids;
/// - `live_count`: records stored in [`Contributions`] now, pending or accepted;
/// - `accepted_count`: accepted records stored now. In an active datanet no accepted record is
///   ever removed, so it is also the number ever accepted and the next acceptance index;
///   accepted records are removed only from closed datanets, which accept no more, so an
///   acceptance index is never reused;
/// - `frozen_count`: records in frozen versions (the sum of their `records`);
/// - `frozen_weight`: the weight frozen in all versions (the latest version's `total_weight`);
/// - `version_count`: frozen versions (the latest version number; 0 when none).
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct DatanetInfo<T: Config> {
	/// The owner: manages curators, transfers, closes; holds the deposit.
	pub owner: T::AccountId,
	/// A human-readable name (UTF-8 by convention, not checked).
	pub name: BoundedVec<u8, T::MaxNameLength>,
	/// Where the datanet's off-chain description lives (e.g. an `ipfs://` URI).
	pub metadata_uri: BoundedVec<u8, T::MaxUriLength>,
	/// The SPDX license id of the data, e.g. `CC-BY-4.0`.
	pub license: BoundedVec<u8, T::MaxLicenseLength>,
	/// How records are accepted.
	pub policy: ContributionPolicy,
	/// Active or closed.
	pub status: DatanetStatus,
	/// The deposit held from the owner, for as long as the datanet is stored.
	pub deposit: BalanceOf<T>,
	/// The number of entries in [`Curators`] for this datanet.
	pub curator_count: u32,
	/// The number of contribution ids ever issued; also the next id.
	pub contribution_count: u32,
	/// The number of records stored now (pending and accepted), at most
	/// [`Config::MaxContributionsPerDatanet`].
	pub live_count: u32,
	/// The number of accepted records stored now; in an active datanet also the number ever
	/// accepted and the next acceptance index.
	pub accepted_count: u32,
	/// The number of records in frozen versions.
	pub frozen_count: u32,
	/// The weight frozen in all versions.
	pub frozen_weight: u128,
	/// The number of frozen versions; also the latest version number (0: none yet).
	pub version_count: VersionId,
	/// The block in which the datanet was created.
	pub created_at: BlockNumberFor<T>,
}

/// Where a record stands. Rejected and withdrawn records are removed, so they have no status.
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
pub enum ContributionStatus {
	/// Submitted to a curated datanet, waiting for a curator.
	Pending,
	/// Accepted into version `version` with `quality` (percent) and `tokens`;
	/// `weight = tokens × quality / 100`.
	Accepted {
		/// The quality multiplier, in percent.
		quality: u16,
		/// The token count established at acceptance (by the curator, or as declared).
		tokens: u32,
		/// The weight credited to the contributor in `version`.
		weight: u128,
		/// The acceptance index: the record's position in [`AcceptedOrder`].
		index: u32,
		/// The version the record is, or will be, frozen in (the open version when accepted).
		version: VersionId,
	},
}

/// A record, as stored in [`Contributions`].
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct ContributionInfo<T: Config> {
	/// The account that submitted it, that its weight is credited to and its deposit held from.
	pub contributor: T::AccountId,
	/// The sha-256 hash of the record's bytes (kept off chain).
	pub content_hash: H256,
	/// The size of the record, in bytes: `1 ..= MaxRecordBytes`.
	pub size_bytes: u32,
	/// The number of tokens the contributor declared: `1 ..= size_bytes`.
	pub tokens: u32,
	/// Where the bytes can be fetched, if the contributor says.
	pub uri: Option<BoundedVec<u8, T::MaxUriLength>>,
	/// Pending or accepted.
	pub status: ContributionStatus,
	/// The deposit held from the contributor while the record is stored.
	pub deposit: BalanceOf<T>,
	/// The block in which it was submitted.
	pub submitted_at: BlockNumberFor<T>,
}

/// The version a datanet is building, as stored in [`OpenVersions`]: the records accepted since
/// its last freeze.
#[derive(
	Clone,
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
pub struct OpenVersion {
	/// The number of records accepted into it (and still stored).
	pub records: u32,
	/// The sum of their weights.
	pub weight: u128,
	/// The Merkle frontier over their content hashes, in acceptance order. Withdrawing a record
	/// of a closed datanet's open version leaves it as is: that version is never frozen.
	pub frontier: MerkleFrontier,
}

/// A frozen, immutable datanet version, as stored in [`Versions`].
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
pub struct VersionInfo<BlockNumber> {
	/// The Merkle root of the content hashes of its records (see the crate doc's Merkle rule).
	pub merkle_root: H256,
	/// The number of records in this version.
	pub records: u32,
	/// The acceptance index of its first record: it holds the indices
	/// `first_record .. first_record + records` of [`AcceptedOrder`].
	pub first_record: u32,
	/// The weight of this version's own records.
	pub weight: u128,
	/// The weight frozen in versions `1..=v` of the datanet.
	pub total_weight: u128,
	/// The block in which the version was frozen.
	pub frozen_at: BlockNumber,
}

/// The version record of a runtime.
pub type VersionInfoOf<T> = VersionInfo<BlockNumberFor<T>>;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::OnUnbalanced};
	use frame_system::pallet_prelude::*;
	use polkadot_sdk::sp_runtime::traits::{CheckedAdd, CheckedMul};

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

		/// The currency deposits are held in (and slashed from).
		type Currency: fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ fungible::BalancedHold<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The deposit held from a datanet's owner for as long as the datanet is stored.
		#[pallet::constant]
		type DatanetDeposit: Get<BalanceOf<Self>>;

		/// The part of a record's deposit that does not depend on its size: it pays for the
		/// record's storage items. Should be non-zero on a live chain.
		#[pallet::constant]
		type ContributionDepositBase: Get<BalanceOf<Self>>;

		/// The part of a record's deposit per byte of the record: it makes weight (at most one
		/// token per byte) cost locked funds.
		#[pallet::constant]
		type ContributionDepositPerByte: Get<BalanceOf<Self>>;

		/// Where the deposits of rejected records go (on Lineage the treasury).
		type Slashed: OnUnbalanced<CreditOf<Self>>;

		/// The longest datanet name, in bytes.
		#[pallet::constant]
		type MaxNameLength: Get<u32>;

		/// The longest URI (datanet metadata, record location), in bytes.
		#[pallet::constant]
		type MaxUriLength: Get<u32>;

		/// The longest license id (an SPDX id such as `CC-BY-4.0`), in bytes.
		#[pallet::constant]
		type MaxLicenseLength: Get<u32>;

		/// The most curators a datanet may have.
		#[pallet::constant]
		type MaxCurators: Get<u32>;

		/// The most records (pending and accepted) a datanet may store at once.
		#[pallet::constant]
		type MaxContributionsPerDatanet: Get<u32>;

		/// The most versions a datanet may freeze.
		#[pallet::constant]
		type MaxVersionsPerDatanet: Get<u32>;

		/// The lowest quality a curator may give, in percent (at least 1, at most 100).
		#[pallet::constant]
		type MinQuality: Get<u16>;

		/// The highest quality a curator may give, in percent (at least 100).
		#[pallet::constant]
		type MaxQuality: Get<u16>;

		/// The largest record, in bytes (and so the most tokens one record may have).
		#[pallet::constant]
		type MaxRecordBytes: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The deposit of a datanet, held from its owner.
		DatanetDeposit,
		/// The deposit of a record, held from its contributor.
		ContributionDeposit,
	}

	/// The id the next datanet will get.
	#[pallet::storage]
	pub type NextDatanetId<T: Config> = StorageValue<_, DatanetId, ValueQuery>;

	/// The datanets, by id.
	#[pallet::storage]
	pub type Datanets<T: Config> = StorageMap<_, Twox64Concat, DatanetId, DatanetInfo<T>>;

	/// The curators of each datanet.
	#[pallet::storage]
	pub type Curators<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatanetId, Blake2_128Concat, T::AccountId, ()>;

	/// The stored records of each datanet (pending and accepted), by id.
	#[pallet::storage]
	pub type Contributions<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		DatanetId,
		Twox64Concat,
		ContributionId,
		ContributionInfo<T>,
	>;

	/// The record of each content hash within a datanet (one entry per stored record).
	#[pallet::storage]
	pub type ContentIndex<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatanetId, Blake2_128Concat, H256, ContributionId>;

	/// The version each datanet is building: the records accepted since its last freeze.
	#[pallet::storage]
	pub type OpenVersions<T: Config> =
		StorageMap<_, Twox64Concat, DatanetId, OpenVersion, ValueQuery>;

	/// The accepted records of each datanet by acceptance index: version `v` holds the indices
	/// `first_record .. first_record + records` of its [`VersionInfo`], the open version those
	/// from the datanet's `frozen_count` on.
	#[pallet::storage]
	pub type AcceptedOrder<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatanetId, Twox64Concat, u32, ContributionId>;

	/// The weight `who` has in version `version` of `datanet` (no zero entries). Accepting
	/// credits the open version; once frozen, an entry never changes.
	#[pallet::storage]
	pub type ContributorWeights<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Twox64Concat, DatanetId>,
			NMapKey<Twox64Concat, VersionId>,
		),
		u128,
	>;

	/// The frozen versions of each datanet, numbered from 1.
	#[pallet::storage]
	pub type Versions<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatanetId, Twox64Concat, VersionId, VersionInfoOf<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A datanet was created and its owner's deposit held.
		DatanetCreated {
			/// The new datanet.
			datanet: DatanetId,
			/// Its owner (the caller).
			owner: T::AccountId,
			/// How it accepts records.
			policy: ContributionPolicy,
			/// The deposit held from the owner.
			deposit: BalanceOf<T>,
		},
		/// A curator was added to a datanet.
		CuratorAdded {
			/// The datanet.
			datanet: DatanetId,
			/// The new curator.
			curator: T::AccountId,
		},
		/// A curator was removed from a datanet.
		CuratorRemoved {
			/// The datanet.
			datanet: DatanetId,
			/// The former curator.
			curator: T::AccountId,
		},
		/// A datanet changed hands; the deposit moved with it.
		OwnershipTransferred {
			/// The datanet.
			datanet: DatanetId,
			/// The former owner, whose deposit was released.
			old_owner: T::AccountId,
			/// The new owner, from whom the deposit is now held.
			new_owner: T::AccountId,
			/// The deposit now held from the new owner.
			deposit: BalanceOf<T>,
		},
		/// A datanet was closed (its deposit stays held: the datanet stays stored).
		DatanetClosed {
			/// The datanet.
			datanet: DatanetId,
		},
		/// A record was submitted and its deposit held (to an open datanet,
		/// `ContributionAccepted` follows).
		ContributionSubmitted {
			/// The datanet.
			datanet: DatanetId,
			/// The record's id within the datanet.
			contribution: ContributionId,
			/// Who submitted it.
			contributor: T::AccountId,
			/// The sha-256 hash of its bytes.
			content_hash: H256,
			/// Its size, in bytes.
			size_bytes: u32,
			/// Its declared token count.
			tokens: u32,
			/// The deposit held from the contributor.
			deposit: BalanceOf<T>,
		},
		/// A record was accepted into the open version and its weight credited there.
		ContributionAccepted {
			/// The datanet.
			datanet: DatanetId,
			/// The record.
			contribution: ContributionId,
			/// Who is credited.
			contributor: T::AccountId,
			/// The quality given, in percent.
			quality: u16,
			/// The token count established.
			tokens: u32,
			/// The weight credited: `tokens × quality / 100`.
			weight: u128,
			/// The version it will be frozen in (the open one).
			version: VersionId,
		},
		/// A pending record was rejected and removed; its deposit was slashed.
		ContributionRejected {
			/// The datanet.
			datanet: DatanetId,
			/// The record.
			contribution: ContributionId,
			/// Who had submitted it.
			contributor: T::AccountId,
			/// The curator's reason code.
			reason: u8,
			/// The amount slashed to [`Config::Slashed`].
			slashed: BalanceOf<T>,
		},
		/// A datanet version was frozen.
		VersionFrozen {
			/// The datanet.
			datanet: DatanetId,
			/// The new version number (1, 2, …).
			version: VersionId,
			/// The Merkle root of the content hashes in the version.
			merkle_root: H256,
			/// The number of records in the version.
			records: u32,
			/// The version's own weight.
			weight: u128,
			/// The weight frozen in versions `1..=version`.
			total_weight: u128,
		},
		/// A record was withdrawn by its contributor and removed; its deposit was released.
		ContributionWithdrawn {
			/// The datanet.
			datanet: DatanetId,
			/// The record.
			contribution: ContributionId,
			/// Its contributor (the caller).
			contributor: T::AccountId,
			/// The deposit released.
			released: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No datanet has this id.
		UnknownDatanet,
		/// The caller is not the datanet's owner.
		NotOwner,
		/// The caller is neither a curator nor the owner of the datanet.
		NotCurator,
		/// The datanet is closed.
		DatanetClosed,
		/// The account is already a curator of the datanet.
		AlreadyCurator,
		/// The account is not a curator of the datanet.
		UnknownCurator,
		/// The datanet has the most curators it may have.
		TooManyCurators,
		/// The new owner is already the owner.
		AlreadyOwner,
		/// The deposit could not be held: the account cannot afford it.
		InsufficientBalance,
		/// The datanet's name is empty.
		EmptyName,
		/// A stored record of the datanet has this content hash.
		DuplicateContent,
		/// The datanet stores the most records it may store.
		TooManyContributions,
		/// The record has no bytes.
		ZeroSize,
		/// The record has no tokens.
		ZeroTokens,
		/// The datanet has no stored record with this id.
		UnknownContribution,
		/// The record is not pending.
		NotPending,
		/// The quality is outside `[MinQuality, MaxQuality]`.
		QualityOutOfBounds,
		/// The open version's Merkle frontier is full.
		VersionFull,
		/// No record was accepted since the last version.
		NothingToFreeze,
		/// The datanet has frozen the most versions it may freeze: it takes no more records.
		TooManyVersions,
		/// A counter or a weight would overflow.
		Overflow,
		/// The record is larger than [`Config::MaxRecordBytes`].
		RecordTooLarge,
		/// The record has more tokens than bytes.
		TooManyTokens,
		/// The caller did not submit this record.
		NotContributor,
		/// The record cannot be withdrawn: it is frozen, or accepted in an active datanet (it
		/// will be frozen).
		NotWithdrawable,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxNameLength::get() > 0, "MaxNameLength must be non-zero");
			assert!(T::MaxUriLength::get() > 0, "MaxUriLength must be non-zero");
			assert!(T::MaxLicenseLength::get() > 0, "MaxLicenseLength must be non-zero");
			assert!(T::MaxCurators::get() > 0, "MaxCurators must be non-zero");
			assert!(
				T::MaxContributionsPerDatanet::get() > 0,
				"MaxContributionsPerDatanet must be non-zero"
			);
			assert!(T::MaxVersionsPerDatanet::get() > 0, "MaxVersionsPerDatanet must be non-zero");
			assert!(T::MaxRecordBytes::get() > 0, "MaxRecordBytes must be non-zero");
			assert!(T::MinQuality::get() > 0, "MinQuality must be non-zero");
			assert!(
				T::MinQuality::get() <= DEFAULT_QUALITY && DEFAULT_QUALITY <= T::MaxQuality::get(),
				"MinQuality <= 100 <= MaxQuality must hold"
			);
			let largest = BalanceOf::<T>::from(T::MaxRecordBytes::get());
			assert!(
				T::ContributionDepositPerByte::get()
					.checked_mul(&largest)
					.and_then(|d| d.checked_add(&T::ContributionDepositBase::get()))
					.is_some(),
				"the deposit of the largest record must not overflow"
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
		/// Create a datanet owned by the caller, holding [`Config::DatanetDeposit`] from it for
		/// as long as the datanet is stored.
		///
		/// - `name`: a non-empty name; `metadata_uri`: where the description lives; `license`:
		///   an SPDX id; `policy`: open or curated.
		///
		/// Origin: signed (becomes the owner). Emits [`Event::DatanetCreated`].
		/// Complexity: O(1); one hold.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::create_datanet())]
		pub fn create_datanet(
			origin: OriginFor<T>,
			name: BoundedVec<u8, T::MaxNameLength>,
			metadata_uri: BoundedVec<u8, T::MaxUriLength>,
			license: BoundedVec<u8, T::MaxLicenseLength>,
			policy: ContributionPolicy,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_create_datanet(who, name, metadata_uri, license, policy).map(|_| ())
		}

		/// Make `who` a curator of `datanet`.
		///
		/// Origin: signed, the datanet's owner; the datanet must be active.
		/// Emits [`Event::CuratorAdded`]. Complexity: O(1).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::add_curator())]
		pub fn add_curator(
			origin: OriginFor<T>,
			datanet: DatanetId,
			who: T::AccountId,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_add_curator(&owner, datanet, who)
		}

		/// Remove `who` from the curators of `datanet` (also allowed once closed).
		///
		/// Origin: signed, the datanet's owner. Emits [`Event::CuratorRemoved`].
		/// Complexity: O(1).
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::remove_curator())]
		pub fn remove_curator(
			origin: OriginFor<T>,
			datanet: DatanetId,
			who: T::AccountId,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_remove_curator(&owner, datanet, who)
		}

		/// Hand an active `datanet` to `new_owner`. The deposit moves: [`Config::DatanetDeposit`]
		/// is held from the new owner (the call fails if it cannot be), then the old owner's
		/// deposit is released. Curators stay.
		///
		/// Origin: signed, the datanet's owner. Emits [`Event::OwnershipTransferred`].
		/// Complexity: O(1); one hold, one release.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::transfer_ownership())]
		pub fn transfer_ownership(
			origin: OriginFor<T>,
			datanet: DatanetId,
			new_owner: T::AccountId,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_transfer_ownership(&owner, datanet, new_owner)
		}

		/// Close an active `datanet`. It takes no more records, acceptances, rejections or
		/// freezes; its versions stay readable and citeable.
		///
		/// The datanet deposit stays held: the datanet, its versions and their records stay in
		/// storage (models cite them), so what the deposit pays for is not freed. The open
		/// version will never be frozen: the contributors of its records, and of pending ones,
		/// may withdraw them ([`Pallet::withdraw_contribution`]) and get their deposits back.
		///
		/// Origin: signed, the datanet's owner. Emits [`Event::DatanetClosed`].
		/// Complexity: O(1).
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::close_datanet())]
		pub fn close_datanet(origin: OriginFor<T>, datanet: DatanetId) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_close_datanet(&owner, datanet)
		}

		/// Submit a record to an active `datanet`: the sha-256 hash of its bytes, its size
		/// (`1 ..= MaxRecordBytes`), its token count (`1 ..= size_bytes`) and, optionally, where
		/// the bytes can be fetched. Holds [`Pallet::contribution_deposit`] of `size_bytes` from
		/// the caller. An open datanet accepts it at once into the open version, with quality
		/// 100 and the declared token count; a curated one keeps it pending. Once the datanet has
		/// frozen [`Config::MaxVersionsPerDatanet`] versions it takes no more records
		/// ([`Error::TooManyVersions`]): its open version could never be frozen.
		///
		/// Origin: signed (the contributor). Emits [`Event::ContributionSubmitted`], and for an
		/// open datanet [`Event::ContributionAccepted`]. Complexity: O(log n) at worst, O(1)
		/// amortised (one push onto the open version's Merkle frontier, n the records in it);
		/// one hold.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::contribute())]
		pub fn contribute(
			origin: OriginFor<T>,
			datanet: DatanetId,
			content_hash: H256,
			size_bytes: u32,
			tokens: u32,
			uri: Option<BoundedVec<u8, T::MaxUriLength>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_contribute(who, datanet, content_hash, size_bytes, tokens, uri).map(|_| ())
		}

		/// Accept a pending record into the open version of `datanet` with `quality` percent
		/// (100 when `None`) and `tokens` (`1 ..= size_bytes`, as measured by the record store;
		/// the declared count when `None`), crediting `tokens × quality / 100` to its
		/// contributor in the open version and to the open version's weight. Fails with
		/// [`Error::TooManyVersions`] once the datanet has frozen its last version.
		///
		/// Origin: signed, a curator or the owner; the datanet must be active.
		/// Emits [`Event::ContributionAccepted`]. Complexity: O(log n) at worst, O(1) amortised
		/// (one push onto the open version's Merkle frontier).
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::accept_contribution())]
		pub fn accept_contribution(
			origin: OriginFor<T>,
			datanet: DatanetId,
			contribution: ContributionId,
			quality: Option<u16>,
			tokens: Option<u32>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_accept_contribution(&who, datanet, contribution, quality, tokens)
		}

		/// Reject a pending record with a `reason` code: remove it (its content hash becomes
		/// free again) and slash its deposit to [`Config::Slashed`].
		///
		/// Origin: signed, a curator or the owner; the datanet must be active.
		/// Emits [`Event::ContributionRejected`]. Complexity: O(1); one slash.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::reject_contribution())]
		pub fn reject_contribution(
			origin: OriginFor<T>,
			datanet: DatanetId,
			contribution: ContributionId,
			reason: u8,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reject_contribution(&who, datanet, contribution, reason)
		}

		/// Freeze the open version of `datanet` into version `version_count + 1`: its Merkle
		/// root (computed from the frontier), its record count, its first acceptance index, its
		/// weight and the weight frozen in all versions up to it. Its contributors' weights in it
		/// become final. Fails when nothing was accepted since the last version.
		///
		/// Origin: signed, a curator or the owner; the datanet must be active.
		/// Emits [`Event::VersionFrozen`]. Complexity: O(log n) (the frontier's root, at most 32
		/// hashes), so charged as O(1).
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::freeze_version())]
		pub fn freeze_version(origin: OriginFor<T>, datanet: DatanetId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_freeze_version(&who, datanet)
		}

		/// Withdraw a record of the caller's and release its deposit. Allowed for a pending
		/// record (active or closed datanet), and for an accepted record not yet frozen of a
		/// closed datanet (whose open version can never be frozen): its weight is taken back
		/// from the open version. A frozen record can never be withdrawn (versions are
		/// immutable), nor can an accepted record of an active datanet (it will be frozen).
		///
		/// Origin: signed, the record's contributor. Emits [`Event::ContributionWithdrawn`].
		/// Complexity: O(1); one release.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::withdraw_contribution())]
		pub fn withdraw_contribution(
			origin: OriginFor<T>,
			datanet: DatanetId,
			contribution: ContributionId,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw_contribution(&who, datanet, contribution)
		}
	}
}

impl<T: Config> DatanetInspect for Pallet<T> {
	fn is_frozen_version(version: &DatanetVersionRef) -> bool {
		Versions::<T>::contains_key(version.datanet, version.version)
	}
}

impl<T: Config> DatanetWeights<T::AccountId> for Pallet<T> {
	fn version_count(datanet: DatanetId) -> VersionId {
		Datanets::<T>::get(datanet).map(|info| info.version_count).unwrap_or_default()
	}

	fn weight_through(datanet: DatanetId, version: VersionId) -> u128 {
		Versions::<T>::get(datanet, version).map(|v| v.total_weight).unwrap_or_default()
	}

	fn contributor_weight(datanet: DatanetId, version: VersionId, who: &T::AccountId) -> u128 {
		// Versions `1..=version_count` are exactly the frozen ones: a weight in the open version
		// (`version_count + 1`) may still grow, or be withdrawn from a closed datanet.
		if Versions::<T>::contains_key(datanet, version) {
			ContributorWeights::<T>::get((who, datanet, version)).unwrap_or_default()
		} else {
			0
		}
	}

	fn contributor_versions(
		who: &T::AccountId,
	) -> impl Iterator<Item = (DatanetId, VersionId, u128)> {
		Self::frozen_contributor_versions(who)
	}
}
