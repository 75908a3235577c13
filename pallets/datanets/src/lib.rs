//! # Datanets pallet
//!
//! The registry of *datanets*: curated datasets whose contributions are recorded on chain so
//! that the models trained on them can cite them and their contributors can be paid.
//!
//! ## Overview
//!
//! This pallet is step 1 ("Contribute") of the path of one inference in Lineage. A contributor,
//! from a wallet, adds a record to a datanet: the content hash and size of the record go on
//! chain, the bytes stay off chain. A curator accepts it, giving it a quality. A datanet
//! *version* then freezes the contributions accepted since the previous version under one Merkle
//! root and the datanet's total weight. Versions are immutable; they are what models cite in
//! their training lineage (`pallet-models`, through [`DatanetInspect`]), and the weights recorded
//! here are what the attribution pallet pays contributors by, pro rata.
//!
//! ## Terms
//!
//! - **Datanet**: a dataset with an owner, a name, a metadata URI, an SPDX license id and a
//!   [`ContributionPolicy`]. Its owner holds [`Config::DatanetDeposit`] while it is active.
//! - **Curator**: an account that the owner allows to accept, reject and freeze. The owner may
//!   always do what a curator does. At most [`Config::MaxCurators`] per datanet.
//! - **Contribution**: one record: content hash (`H256`), size in bytes, token count, optional
//!   URI. Ids are `0, 1, 2, …` within a datanet, in order of arrival. A content hash appears at
//!   most once in a datanet (whatever its status).
//! - **Policy**: [`ContributionPolicy::Open`] datanets accept each contribution at once with the
//!   default quality (100%); [`ContributionPolicy::Curated`] ones keep it `Pending` until a curator
//!   accepts or rejects it.
//! - **Quality**: a multiplier in percent, within [`Config::MinQuality`] and
//!   [`Config::MaxQuality`], that a curator gives on acceptance (100 when not given).
//! - **Weight**: `tokens × quality / 100` (u128). Accepting a contribution adds its weight to its
//!   contributor's weight in the datanet ([`Pallet::contributor_weight`]) and to the datanet's
//!   total weight ([`Pallet::total_weight`]).
//! - **Version**: an immutable [`VersionInfo`] numbered `1, 2, …` within a datanet: the Merkle
//!   root of the content hashes accepted since the previous version (in acceptance order), how
//!   many there are, and the datanet's cumulative accepted count and total weight at freezing.
//!
//! ### Merkle rule
//!
//! The root is `binary_merkle_tree::merkle_root::<BlakeTwo256, _>(hashes)`: each leaf is the
//! blake2-256 hash of the 32 bytes of one content hash, taken in acceptance order; an inner
//! node is the blake2-256 hash of its two children concatenated; an odd last node is promoted
//! unchanged. Hashing the leaves keeps leaves (32-byte preimages) apart from inner nodes (64-byte
//! preimages). A proof for one contribution is `binary_merkle_tree::merkle_proof` over the same
//! list.
//!
//! ## Calls
//!
//! Anyone with a signed origin:
//! - [`Pallet::create_datanet`]: create a datanet, become its owner, hold the deposit.
//! - [`Pallet::contribute`]: submit a contribution to an active datanet.
//!
//! The owner of a datanet:
//! - [`Pallet::add_curator`], [`Pallet::remove_curator`]: manage the curators.
//! - [`Pallet::transfer_ownership`]: hand the datanet (and its deposit) to another account.
//! - [`Pallet::close_datanet`]: stop the datanet and release the deposit. Its versions stay
//!   readable and citeable; contributions accepted after the last version are in no version.
//!
//! A curator or the owner of a datanet:
//! - [`Pallet::accept_contribution`], [`Pallet::reject_contribution`]: decide on a pending
//!   contribution.
//! - [`Pallet::freeze_version`]: freeze the contributions accepted since the last version.
//!
//! ## For other pallets
//!
//! [`Pallet::contributor_weight`], [`Pallet::total_weight`], [`Pallet::version`], and the
//! [`DatanetInspect`] implementation.

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
	usage::{DatanetWeights, OnContributorWeightChange},
	ContributionId, DatanetId, DatanetInspect, DatanetVersionRef, VersionId,
};
use polkadot_sdk::{frame_support, frame_system, sp_core::H256};
use scale_info::TypeInfo;

/// The quality (in percent) of a contribution accepted without an explicit quality, and of every
/// contribution to an open datanet.
pub const DEFAULT_QUALITY: u16 = 100;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Who may add contributions and how they are accepted.
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
	/// Every contribution is accepted on submission, with the default quality.
	Open,
	/// Contributions wait, `Pending`, for a curator (or the owner) to accept or reject them.
	Curated,
}

/// Whether a datanet still takes contributions.
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
	/// Contributions, acceptances and freezes are allowed.
	Active,
	/// Closed by its owner: no more contributions, acceptances or freezes. Versions stay.
	Closed,
}

/// A datanet, as stored in [`Datanets`].
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
	/// How contributions are accepted.
	pub policy: ContributionPolicy,
	/// Active or closed.
	pub status: DatanetStatus,
	/// The deposit held from the owner (zero once closed).
	pub deposit: BalanceOf<T>,
	/// The number of entries in [`Curators`] for this datanet.
	pub curator_count: u32,
	/// The number of contributions ever submitted; also the next contribution id.
	pub contribution_count: u32,
	/// The number of accepted contributions.
	pub accepted_count: u32,
	/// The sum of the weights of the accepted contributions.
	pub total_weight: u128,
	/// The number of frozen versions; also the latest version number (0: none yet).
	pub version_count: VersionId,
	/// The block in which the datanet was created.
	pub created_at: BlockNumberFor<T>,
}

/// Where a contribution stands.
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
	/// Accepted with `quality` (percent); `weight = tokens × quality / 100`.
	Accepted {
		/// The quality multiplier, in percent.
		quality: u16,
		/// The weight the contribution added to its contributor and datanet.
		weight: u128,
	},
	/// Rejected by a curator, with a reason code of the datanet's own choosing.
	Rejected {
		/// The reason code.
		reason: u8,
	},
}

/// A contribution, as stored in [`Contributions`].
#[derive(
	Encode, Decode, MaxEncodedLen, TypeInfo, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct ContributionInfo<T: Config> {
	/// The account that submitted it, and that its weight is credited to.
	pub contributor: T::AccountId,
	/// The hash of the record's bytes (kept off chain).
	pub content_hash: H256,
	/// The size of the record, in bytes.
	pub size_bytes: u64,
	/// The number of tokens in the record.
	pub tokens: u64,
	/// Where the bytes can be fetched, if the contributor says.
	pub uri: Option<BoundedVec<u8, T::MaxUriLength>>,
	/// Pending, accepted or rejected.
	pub status: ContributionStatus,
	/// The block in which it was submitted.
	pub submitted_at: BlockNumberFor<T>,
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
	/// The Merkle root of the content hashes in this version (see the crate doc's Merkle rule).
	pub merkle_root: H256,
	/// The number of contributions in this version (accepted since the previous one).
	pub contributions: u32,
	/// The number of contributions accepted in the datanet up to and including this version.
	pub total_contributions: u32,
	/// The datanet's total accepted weight at freezing.
	pub total_weight: u128,
	/// The block in which the version was frozen.
	pub frozen_at: BlockNumber,
}

/// The version record of a runtime.
pub type VersionInfoOf<T> = VersionInfo<BlockNumberFor<T>>;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
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

		/// The currency the datanet deposit is held in.
		type Currency: fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The deposit held from a datanet's owner while the datanet is active.
		#[pallet::constant]
		type DatanetDeposit: Get<BalanceOf<Self>>;

		/// The longest datanet name, in bytes.
		#[pallet::constant]
		type MaxNameLength: Get<u32>;

		/// The longest URI (datanet metadata, contribution location), in bytes.
		#[pallet::constant]
		type MaxUriLength: Get<u32>;

		/// The longest license id (an SPDX id such as `CC-BY-4.0`), in bytes.
		#[pallet::constant]
		type MaxLicenseLength: Get<u32>;

		/// The most curators a datanet may have.
		#[pallet::constant]
		type MaxCurators: Get<u32>;

		/// The most contributions (of any status) a datanet may ever receive.
		#[pallet::constant]
		type MaxContributionsPerDatanet: Get<u32>;

		/// The most contributions one version may hold: the bound of the accepted-but-unfrozen
		/// list, [`Unversioned`].
		#[pallet::constant]
		type MaxContributionsPerVersion: Get<u32>;

		/// The most versions a datanet may freeze.
		#[pallet::constant]
		type MaxVersionsPerDatanet: Get<u32>;

		/// The lowest quality a curator may give, in percent (at least 1, at most 100).
		#[pallet::constant]
		type MinQuality: Get<u16>;

		/// The highest quality a curator may give, in percent (at least 100).
		#[pallet::constant]
		type MaxQuality: Get<u16>;

		/// Told before a contributor's weight changes (the attribution pallet settles the
		/// contributor's rewards at the old weight). `()` when nothing listens.
		type OnWeightChange: OnContributorWeightChange<Self::AccountId>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The deposit of an active datanet, held from its owner.
		DatanetDeposit,
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

	/// The contributions of each datanet, by id.
	#[pallet::storage]
	pub type Contributions<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		DatanetId,
		Twox64Concat,
		ContributionId,
		ContributionInfo<T>,
	>;

	/// The contribution of each content hash within a datanet (every status).
	#[pallet::storage]
	pub type ContentIndex<T: Config> =
		StorageDoubleMap<_, Twox64Concat, DatanetId, Blake2_128Concat, H256, ContributionId>;

	/// The accepted weight of each contributor within a datanet.
	#[pallet::storage]
	pub type ContributorWeights<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		DatanetId,
		Blake2_128Concat,
		T::AccountId,
		u128,
		ValueQuery,
	>;

	/// The content hashes accepted since the datanet's last version, in acceptance order.
	#[pallet::storage]
	pub type Unversioned<T: Config> = StorageMap<
		_,
		Twox64Concat,
		DatanetId,
		BoundedVec<H256, T::MaxContributionsPerVersion>,
		ValueQuery,
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
			/// How it accepts contributions.
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
		/// A datanet was closed and its deposit released.
		DatanetClosed {
			/// The datanet.
			datanet: DatanetId,
			/// The deposit released to the owner.
			released: BalanceOf<T>,
		},
		/// A contribution was submitted (to an open datanet, `ContributionAccepted` follows).
		ContributionSubmitted {
			/// The datanet.
			datanet: DatanetId,
			/// The contribution's id within the datanet.
			contribution: ContributionId,
			/// Who submitted it.
			contributor: T::AccountId,
			/// The hash of its bytes.
			content_hash: H256,
			/// Its size, in bytes.
			size_bytes: u64,
			/// Its token count.
			tokens: u64,
		},
		/// A contribution was accepted and its weight credited.
		ContributionAccepted {
			/// The datanet.
			datanet: DatanetId,
			/// The contribution.
			contribution: ContributionId,
			/// Who is credited.
			contributor: T::AccountId,
			/// The quality given, in percent.
			quality: u16,
			/// The weight credited: `tokens × quality / 100`.
			weight: u128,
		},
		/// A pending contribution was rejected.
		ContributionRejected {
			/// The datanet.
			datanet: DatanetId,
			/// The contribution.
			contribution: ContributionId,
			/// The curator's reason code.
			reason: u8,
		},
		/// A datanet version was frozen.
		VersionFrozen {
			/// The datanet.
			datanet: DatanetId,
			/// The new version number (1, 2, …).
			version: VersionId,
			/// The Merkle root of the content hashes in the version.
			merkle_root: H256,
			/// The number of contributions in the version.
			contributions: u32,
			/// The datanet's total accepted weight at freezing.
			total_weight: u128,
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
		/// The content hash was already submitted to the datanet.
		DuplicateContent,
		/// The datanet has received the most contributions it may receive.
		TooManyContributions,
		/// The contribution has no bytes.
		ZeroSize,
		/// The contribution has no tokens.
		ZeroTokens,
		/// The datanet has no contribution with this id.
		UnknownContribution,
		/// The contribution is not pending.
		NotPending,
		/// The quality is outside `[MinQuality, MaxQuality]`.
		QualityOutOfBounds,
		/// The next version is full: freeze a version first.
		VersionFull,
		/// No contribution was accepted since the last version.
		NothingToFreeze,
		/// The datanet has frozen the most versions it may freeze.
		TooManyVersions,
		/// A counter or a weight would overflow.
		Overflow,
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
			assert!(
				T::MaxContributionsPerVersion::get() > 0,
				"MaxContributionsPerVersion must be non-zero"
			);
			assert!(
				T::MaxContributionsPerVersion::get() <= T::MaxContributionsPerDatanet::get(),
				"MaxContributionsPerVersion must not exceed MaxContributionsPerDatanet"
			);
			assert!(T::MaxVersionsPerDatanet::get() > 0, "MaxVersionsPerDatanet must be non-zero");
			assert!(T::MinQuality::get() > 0, "MinQuality must be non-zero");
			assert!(
				T::MinQuality::get() <= DEFAULT_QUALITY && DEFAULT_QUALITY <= T::MaxQuality::get(),
				"MinQuality <= 100 <= MaxQuality must hold"
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
		/// Create a datanet owned by the caller, holding [`Config::DatanetDeposit`] from it.
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

		/// Close an active `datanet` and release its deposit. It takes no more contributions,
		/// acceptances or freezes; its versions stay readable and citeable. Contributions accepted
		/// after its last version stay accepted (and weighted) but are in no version: freeze
		/// first to include them.
		///
		/// Origin: signed, the datanet's owner. Emits [`Event::DatanetClosed`].
		/// Complexity: O(1); one release.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::close_datanet())]
		pub fn close_datanet(origin: OriginFor<T>, datanet: DatanetId) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_close_datanet(&owner, datanet)
		}

		/// Submit a contribution to an active `datanet`: the hash of its bytes, its size, its
		/// token count and, optionally, where the bytes can be fetched. An open datanet accepts it
		/// at once with quality 100 (it must fit in the next version); a curated one keeps it
		/// pending.
		///
		/// Origin: signed (the contributor). Emits [`Event::ContributionSubmitted`], and for an
		/// open datanet [`Event::ContributionAccepted`]. Complexity: O(1) (appending to the
		/// unversioned list, of at most [`Config::MaxContributionsPerVersion`] hashes).
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::contribute())]
		pub fn contribute(
			origin: OriginFor<T>,
			datanet: DatanetId,
			content_hash: H256,
			size_bytes: u64,
			tokens: u64,
			uri: Option<BoundedVec<u8, T::MaxUriLength>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_contribute(who, datanet, content_hash, size_bytes, tokens, uri).map(|_| ())
		}

		/// Accept a pending contribution with `quality` percent (100 when `None`), crediting
		/// `tokens × quality / 100` to its contributor and to the datanet, and queueing its hash
		/// for the next version.
		///
		/// Origin: signed, a curator or the owner; the datanet must be active.
		/// Emits [`Event::ContributionAccepted`]. Complexity: O(1).
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::accept_contribution())]
		pub fn accept_contribution(
			origin: OriginFor<T>,
			datanet: DatanetId,
			contribution: ContributionId,
			quality: Option<u16>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_accept_contribution(&who, datanet, contribution, quality)
		}

		/// Reject a pending contribution with a `reason` code. Its content hash stays taken.
		///
		/// Origin: signed, a curator or the owner; the datanet must be active.
		/// Emits [`Event::ContributionRejected`]. Complexity: O(1).
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

		/// Freeze the contributions accepted since the last version into the next version of
		/// `datanet`: their Merkle root (see the crate doc), their count, and the datanet's
		/// cumulative accepted count and total weight. Fails when nothing new was accepted.
		///
		/// Origin: signed, a curator or the owner; the datanet must be active.
		/// Emits [`Event::VersionFrozen`]. Complexity: O(n), n = the number of contributions
		/// accepted since the last version (at most [`Config::MaxContributionsPerVersion`]); the
		/// weight is charged for the maximum and refunded down to n.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::freeze_version(T::MaxContributionsPerVersion::get()))]
		pub fn freeze_version(
			origin: OriginFor<T>,
			datanet: DatanetId,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let n = Self::do_freeze_version(&who, datanet)?;
			Ok(Some(T::WeightInfo::freeze_version(n)).into())
		}
	}
}

impl<T: Config> DatanetInspect for Pallet<T> {
	fn is_frozen_version(version: &DatanetVersionRef) -> bool {
		Versions::<T>::contains_key(version.datanet, version.version)
	}
}

impl<T: Config> DatanetWeights<T::AccountId> for Pallet<T> {
	fn total_weight(datanet: DatanetId) -> u128 {
		Self::total_weight(datanet)
	}

	fn contributor_weight(datanet: DatanetId, who: &T::AccountId) -> u128 {
		Self::contributor_weight(datanet, who)
	}
}
