//! The logic behind the calls, the helpers other pallets and clients use, and the state
//! invariants.

use super::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult},
	traits::{
		fungible::{BalancedHold, MutateHold},
		tokens::{imbalance::Imbalance, Precision},
		DefensiveSaturating, OnUnbalanced,
	},
};
use polkadot_sdk::sp_runtime::Saturating;

/// What accepting a record will write, computed (and checked) before anything is written.
struct Acceptance {
	/// The open version with the record added.
	open: OpenVersion,
	/// The record's acceptance index.
	index: u32,
	/// The version it goes into (the open one).
	version: VersionId,
	/// Its weight.
	weight: u128,
	/// Its contributor's weight in `version` with it.
	contributor_weight: u128,
	/// The datanet's `accepted_count` with it.
	accepted_count: u32,
}

impl<T: Config> Pallet<T> {
	/// The weight of a record of `tokens` tokens accepted with `quality` percent:
	/// `tokens × quality / 100`, rounded down.
	pub fn contribution_weight(tokens: u32, quality: u16) -> u128 {
		u128::from(tokens).saturating_mul(u128::from(quality)) / 100
	}

	/// The deposit held for a record of `size_bytes` bytes:
	/// `ContributionDepositBase + ContributionDepositPerByte × size_bytes` (saturating; the
	/// integrity test checks that the largest record's deposit does not overflow).
	pub fn contribution_deposit(size_bytes: u32) -> BalanceOf<T> {
		T::ContributionDepositPerByte::get()
			.saturating_mul(size_bytes.into())
			.saturating_add(T::ContributionDepositBase::get())
	}

	/// The frozen `version` of `datanet`, if it exists.
	pub fn version(datanet: DatanetId, version: VersionId) -> Option<VersionInfoOf<T>> {
		Versions::<T>::get(datanet, version)
	}

	/// The content hashes of the records of the frozen `version` of `datanet`, in acceptance
	/// order: the list whose root is the version's `merkle_root` (empty if no such version).
	///
	/// Reads `2 × records` storage items: for clients, tests and benchmarks, not for calls.
	pub fn version_records(datanet: DatanetId, version: VersionId) -> Vec<H256> {
		let Some(info) = Versions::<T>::get(datanet, version) else { return Vec::new() };
		(info.first_record..info.first_record.saturating_add(info.records))
			.filter_map(|index| AcceptedOrder::<T>::get(datanet, index))
			.filter_map(|id| Contributions::<T>::get(datanet, id))
			.map(|record| record.content_hash)
			.collect()
	}

	/// The Merkle root of a list of content hashes, by the crate's Merkle rule
	/// ([`lineage_primitives::merkle::version_root`]).
	pub fn merkle_root(hashes: &[H256]) -> H256 {
		lineage_primitives::merkle::version_root(hashes)
	}

	/// The frozen versions in which `who` has weight, ascending by datanet then version, each
	/// weight read lazily. See [`DatanetWeights::contributor_versions`].
	pub(crate) fn frozen_contributor_versions(
		who: &T::AccountId,
	) -> impl Iterator<Item = (DatanetId, VersionId, u128)> {
		// The keys are hashed with `Twox64Concat`, so they come in no numeric order: sort them.
		let mut keys: Vec<(DatanetId, VersionId)> =
			ContributorWeights::<T>::iter_key_prefix((who,)).collect();
		keys.sort_unstable();
		let who = who.clone();
		// The version count of the datanet last looked at (the keys are grouped by datanet).
		let mut frozen: Option<(DatanetId, VersionId)> = None;
		keys.into_iter()
			.filter(move |(datanet, version)| {
				let count = match frozen {
					Some((d, count)) if d == *datanet => count,
					_ => {
						let count = <Self as DatanetWeights<T::AccountId>>::version_count(*datanet);
						frozen = Some((*datanet, count));
						count
					},
				};
				*version <= count
			})
			.filter_map(move |(datanet, version)| {
				ContributorWeights::<T>::get((&who, datanet, version))
					.map(|w| (datanet, version, w))
			})
	}

	/// The hold reason of datanet deposits.
	fn datanet_reason() -> T::RuntimeHoldReason {
		HoldReason::DatanetDeposit.into()
	}

	/// The hold reason of record deposits.
	fn contribution_reason() -> T::RuntimeHoldReason {
		HoldReason::ContributionDeposit.into()
	}

	/// Whether `who` may curate `datanet`: its owner or one of its curators.
	fn ensure_curator(
		info: &DatanetInfo<T>,
		datanet: DatanetId,
		who: &T::AccountId,
	) -> DispatchResult {
		ensure!(
			info.owner == *who || Curators::<T>::contains_key(datanet, who),
			Error::<T>::NotCurator
		);
		Ok(())
	}

	/// Whether `info` is active.
	fn ensure_active(info: &DatanetInfo<T>) -> DispatchResult {
		ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
		Ok(())
	}

	/// Whether `tokens` is a valid token count for a record of `size_bytes` bytes.
	fn ensure_tokens(tokens: u32, size_bytes: u32) -> DispatchResult {
		ensure!(tokens > 0, Error::<T>::ZeroTokens);
		ensure!(tokens <= size_bytes, Error::<T>::TooManyTokens);
		Ok(())
	}

	/// Create a datanet owned by `owner`; see [`Pallet::create_datanet`].
	pub(crate) fn do_create_datanet(
		owner: T::AccountId,
		name: BoundedVec<u8, T::MaxNameLength>,
		metadata_uri: BoundedVec<u8, T::MaxUriLength>,
		license: BoundedVec<u8, T::MaxLicenseLength>,
		policy: ContributionPolicy,
	) -> Result<DatanetId, DispatchError> {
		ensure!(!name.is_empty(), Error::<T>::EmptyName);
		let datanet = NextDatanetId::<T>::get();
		let next = datanet.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let deposit = T::DatanetDeposit::get();
		T::Currency::hold(&Self::datanet_reason(), &owner, deposit)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		NextDatanetId::<T>::put(next);
		Datanets::<T>::insert(
			datanet,
			DatanetInfo {
				owner: owner.clone(),
				name,
				metadata_uri,
				license,
				policy,
				status: DatanetStatus::Active,
				deposit,
				curator_count: 0,
				contribution_count: 0,
				live_count: 0,
				accepted_count: 0,
				frozen_count: 0,
				frozen_weight: 0,
				version_count: 0,
				created_at: frame_system::Pallet::<T>::block_number(),
			},
		);
		Self::deposit_event(Event::DatanetCreated { datanet, owner, policy, deposit });
		Ok(datanet)
	}

	/// Add a curator; see [`Pallet::add_curator`].
	pub(crate) fn do_add_curator(
		owner: &T::AccountId,
		datanet: DatanetId,
		curator: T::AccountId,
	) -> DispatchResult {
		Datanets::<T>::try_mutate(datanet, |maybe_info| -> DispatchResult {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			ensure!(info.owner == *owner, Error::<T>::NotOwner);
			Self::ensure_active(info)?;
			ensure!(!Curators::<T>::contains_key(datanet, &curator), Error::<T>::AlreadyCurator);
			ensure!(info.curator_count < T::MaxCurators::get(), Error::<T>::TooManyCurators);
			info.curator_count = info.curator_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
			Curators::<T>::insert(datanet, &curator, ());
			Ok(())
		})?;
		Self::deposit_event(Event::CuratorAdded { datanet, curator });
		Ok(())
	}

	/// Remove a curator; see [`Pallet::remove_curator`].
	pub(crate) fn do_remove_curator(
		owner: &T::AccountId,
		datanet: DatanetId,
		curator: T::AccountId,
	) -> DispatchResult {
		Datanets::<T>::try_mutate(datanet, |maybe_info| -> DispatchResult {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			ensure!(info.owner == *owner, Error::<T>::NotOwner);
			ensure!(Curators::<T>::contains_key(datanet, &curator), Error::<T>::UnknownCurator);
			info.curator_count.defensive_saturating_dec();
			Curators::<T>::remove(datanet, &curator);
			Ok(())
		})?;
		Self::deposit_event(Event::CuratorRemoved { datanet, curator });
		Ok(())
	}

	/// Transfer a datanet and its deposit; see [`Pallet::transfer_ownership`].
	pub(crate) fn do_transfer_ownership(
		owner: &T::AccountId,
		datanet: DatanetId,
		new_owner: T::AccountId,
	) -> DispatchResult {
		let deposit = T::DatanetDeposit::get();
		let old_owner = Datanets::<T>::try_mutate(datanet, |maybe_info| {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			ensure!(info.owner == *owner, Error::<T>::NotOwner);
			Self::ensure_active(info)?;
			ensure!(info.owner != new_owner, Error::<T>::AlreadyOwner);
			let reason = Self::datanet_reason();
			T::Currency::hold(&reason, &new_owner, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			T::Currency::release(&reason, &info.owner, info.deposit, Precision::BestEffort)?;
			info.deposit = deposit;
			Ok::<_, DispatchError>(core::mem::replace(&mut info.owner, new_owner.clone()))
		})?;
		Self::deposit_event(Event::OwnershipTransferred { datanet, old_owner, new_owner, deposit });
		Ok(())
	}

	/// Close a datanet, keeping its deposit held; see [`Pallet::close_datanet`].
	pub(crate) fn do_close_datanet(owner: &T::AccountId, datanet: DatanetId) -> DispatchResult {
		Datanets::<T>::try_mutate(datanet, |maybe_info| -> DispatchResult {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			ensure!(info.owner == *owner, Error::<T>::NotOwner);
			Self::ensure_active(info)?;
			info.status = DatanetStatus::Closed;
			Ok(())
		})?;
		Self::deposit_event(Event::DatanetClosed { datanet });
		Ok(())
	}

	/// Submit a record; see [`Pallet::contribute`]. Returns its id.
	pub(crate) fn do_contribute(
		contributor: T::AccountId,
		datanet: DatanetId,
		content_hash: H256,
		size_bytes: u32,
		tokens: u32,
		uri: Option<BoundedVec<u8, T::MaxUriLength>>,
	) -> Result<ContributionId, DispatchError> {
		ensure!(size_bytes > 0, Error::<T>::ZeroSize);
		ensure!(size_bytes <= T::MaxRecordBytes::get(), Error::<T>::RecordTooLarge);
		Self::ensure_tokens(tokens, size_bytes)?;
		let mut info = Datanets::<T>::get(datanet).ok_or(Error::<T>::UnknownDatanet)?;
		Self::ensure_active(&info)?;
		// Its open version could never be frozen: a record would lock its deposit for nothing.
		ensure!(info.version_count < T::MaxVersionsPerDatanet::get(), Error::<T>::TooManyVersions);
		ensure!(
			!ContentIndex::<T>::contains_key(datanet, content_hash),
			Error::<T>::DuplicateContent
		);
		ensure!(
			info.live_count < T::MaxContributionsPerDatanet::get(),
			Error::<T>::TooManyContributions
		);
		let contribution = info.contribution_count;
		info.contribution_count = contribution.checked_add(1).ok_or(Error::<T>::Overflow)?;
		info.live_count = info.live_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let acceptance = match info.policy {
			ContributionPolicy::Open => Some(Self::prepare_acceptance(
				datanet,
				&info,
				&contributor,
				content_hash,
				tokens,
				DEFAULT_QUALITY,
			)?),
			ContributionPolicy::Curated => None,
		};
		let deposit = Self::contribution_deposit(size_bytes);
		T::Currency::hold(&Self::contribution_reason(), &contributor, deposit)
			.map_err(|_| Error::<T>::InsufficientBalance)?;

		let status = match &acceptance {
			Some(a) => ContributionStatus::Accepted {
				quality: DEFAULT_QUALITY,
				tokens,
				weight: a.weight,
				index: a.index,
				version: a.version,
			},
			None => ContributionStatus::Pending,
		};
		Contributions::<T>::insert(
			datanet,
			contribution,
			ContributionInfo {
				contributor: contributor.clone(),
				content_hash,
				size_bytes,
				tokens,
				uri,
				status,
				deposit,
				submitted_at: frame_system::Pallet::<T>::block_number(),
			},
		);
		ContentIndex::<T>::insert(datanet, content_hash, contribution);
		Self::deposit_event(Event::ContributionSubmitted {
			datanet,
			contribution,
			contributor: contributor.clone(),
			content_hash,
			size_bytes,
			tokens,
			deposit,
		});
		if let Some(acceptance) = acceptance {
			Self::apply_acceptance(
				datanet,
				&mut info,
				contribution,
				contributor,
				DEFAULT_QUALITY,
				tokens,
				acceptance,
			);
		}
		Datanets::<T>::insert(datanet, info);
		Ok(contribution)
	}

	/// Accept a pending record; see [`Pallet::accept_contribution`].
	pub(crate) fn do_accept_contribution(
		who: &T::AccountId,
		datanet: DatanetId,
		contribution: ContributionId,
		quality: Option<u16>,
		tokens: Option<u32>,
	) -> DispatchResult {
		let quality = quality.unwrap_or(DEFAULT_QUALITY);
		ensure!(
			T::MinQuality::get() <= quality && quality <= T::MaxQuality::get(),
			Error::<T>::QualityOutOfBounds
		);
		let mut info = Datanets::<T>::get(datanet).ok_or(Error::<T>::UnknownDatanet)?;
		Self::ensure_curator(&info, datanet, who)?;
		Self::ensure_active(&info)?;
		ensure!(info.version_count < T::MaxVersionsPerDatanet::get(), Error::<T>::TooManyVersions);
		let mut record = Contributions::<T>::get(datanet, contribution)
			.ok_or(Error::<T>::UnknownContribution)?;
		ensure!(record.status == ContributionStatus::Pending, Error::<T>::NotPending);
		let tokens = tokens.unwrap_or(record.tokens);
		Self::ensure_tokens(tokens, record.size_bytes)?;
		let acceptance = Self::prepare_acceptance(
			datanet,
			&info,
			&record.contributor,
			record.content_hash,
			tokens,
			quality,
		)?;
		record.status = ContributionStatus::Accepted {
			quality,
			tokens,
			weight: acceptance.weight,
			index: acceptance.index,
			version: acceptance.version,
		};
		let contributor = record.contributor.clone();
		Contributions::<T>::insert(datanet, contribution, record);
		Self::apply_acceptance(
			datanet,
			&mut info,
			contribution,
			contributor,
			quality,
			tokens,
			acceptance,
		);
		Datanets::<T>::insert(datanet, info);
		Ok(())
	}

	/// Reject a pending record and slash its deposit; see [`Pallet::reject_contribution`].
	pub(crate) fn do_reject_contribution(
		who: &T::AccountId,
		datanet: DatanetId,
		contribution: ContributionId,
		reason: u8,
	) -> DispatchResult {
		let mut info = Datanets::<T>::get(datanet).ok_or(Error::<T>::UnknownDatanet)?;
		Self::ensure_curator(&info, datanet, who)?;
		Self::ensure_active(&info)?;
		let record = Contributions::<T>::get(datanet, contribution)
			.ok_or(Error::<T>::UnknownContribution)?;
		ensure!(record.status == ContributionStatus::Pending, Error::<T>::NotPending);
		let (credit, _missing) = <T::Currency as BalancedHold<T::AccountId>>::slash(
			&Self::contribution_reason(),
			&record.contributor,
			record.deposit,
		);
		let slashed = credit.peek();
		T::Slashed::on_unbalanced(credit);
		Contributions::<T>::remove(datanet, contribution);
		ContentIndex::<T>::remove(datanet, record.content_hash);
		info.live_count.defensive_saturating_dec();
		Datanets::<T>::insert(datanet, info);
		Self::deposit_event(Event::ContributionRejected {
			datanet,
			contribution,
			contributor: record.contributor,
			reason,
			slashed,
		});
		Ok(())
	}

	/// Freeze the open version; see [`Pallet::freeze_version`].
	pub(crate) fn do_freeze_version(who: &T::AccountId, datanet: DatanetId) -> DispatchResult {
		let mut info = Datanets::<T>::get(datanet).ok_or(Error::<T>::UnknownDatanet)?;
		Self::ensure_curator(&info, datanet, who)?;
		Self::ensure_active(&info)?;
		ensure!(info.version_count < T::MaxVersionsPerDatanet::get(), Error::<T>::TooManyVersions);
		let open = OpenVersions::<T>::get(datanet);
		ensure!(open.records > 0, Error::<T>::NothingToFreeze);
		let version = info.version_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let total_weight =
			info.frozen_weight.checked_add(open.weight).ok_or(Error::<T>::Overflow)?;
		let frozen_count =
			info.frozen_count.checked_add(open.records).ok_or(Error::<T>::Overflow)?;
		let record = VersionInfo {
			merkle_root: open.frontier.root(),
			records: open.records,
			// In an active datanet the records of versions `1..version` are exactly the first
			// `frozen_count` accepted ones.
			first_record: info.frozen_count,
			weight: open.weight,
			total_weight,
			frozen_at: frame_system::Pallet::<T>::block_number(),
		};
		Versions::<T>::insert(datanet, version, record);
		OpenVersions::<T>::remove(datanet);
		info.version_count = version;
		info.frozen_count = frozen_count;
		info.frozen_weight = total_weight;
		Datanets::<T>::insert(datanet, info);
		Self::deposit_event(Event::VersionFrozen {
			datanet,
			version,
			merkle_root: record.merkle_root,
			records: record.records,
			weight: record.weight,
			total_weight,
		});
		Ok(())
	}

	/// Withdraw a record and release its deposit; see [`Pallet::withdraw_contribution`].
	pub(crate) fn do_withdraw_contribution(
		who: &T::AccountId,
		datanet: DatanetId,
		contribution: ContributionId,
	) -> DispatchResult {
		let mut info = Datanets::<T>::get(datanet).ok_or(Error::<T>::UnknownDatanet)?;
		let record = Contributions::<T>::get(datanet, contribution)
			.ok_or(Error::<T>::UnknownContribution)?;
		ensure!(record.contributor == *who, Error::<T>::NotContributor);
		if let ContributionStatus::Accepted { weight, index, version, .. } = record.status {
			// Only the open version of a closed datanet gives records back: it is never frozen.
			ensure!(
				info.status == DatanetStatus::Closed && version > info.version_count,
				Error::<T>::NotWithdrawable
			);
			// The frontier keeps the record's leaf: a closed datanet's open version is never
			// frozen, so its frontier is never used again.
			OpenVersions::<T>::mutate(datanet, |open| {
				open.records.defensive_saturating_dec();
				open.weight.defensive_saturating_reduce(weight);
			});
			ContributorWeights::<T>::mutate_exists((who, datanet, version), |entry| {
				let left = entry.unwrap_or_default().defensive_saturating_sub(weight);
				*entry = (left > 0).then_some(left);
			});
			AcceptedOrder::<T>::remove(datanet, index);
			info.accepted_count.defensive_saturating_dec();
		}
		let released = T::Currency::release(
			&Self::contribution_reason(),
			who,
			record.deposit,
			Precision::BestEffort,
		)?;
		Contributions::<T>::remove(datanet, contribution);
		ContentIndex::<T>::remove(datanet, record.content_hash);
		info.live_count.defensive_saturating_dec();
		Datanets::<T>::insert(datanet, info);
		Self::deposit_event(Event::ContributionWithdrawn {
			datanet,
			contribution,
			contributor: record.contributor,
			released,
		});
		Ok(())
	}

	/// What accepting `content_hash` of `contributor` into the open version of `datanet`
	/// (whose record is `info`) with `tokens` and `quality` will write. Checks every bound and
	/// overflow, writes nothing.
	fn prepare_acceptance(
		datanet: DatanetId,
		info: &DatanetInfo<T>,
		contributor: &T::AccountId,
		content_hash: H256,
		tokens: u32,
		quality: u16,
	) -> Result<Acceptance, DispatchError> {
		let weight = Self::contribution_weight(tokens, quality);
		let version = info.version_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
		// In an active datanet no accepted record was ever removed: the count is the next index.
		let index = info.accepted_count;
		let accepted_count = index.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let mut open = OpenVersions::<T>::get(datanet);
		open.records = open.records.checked_add(1).ok_or(Error::<T>::Overflow)?;
		open.weight = open.weight.checked_add(weight).ok_or(Error::<T>::Overflow)?;
		// Freezing adds the open version's weight to the frozen weight: it must fit.
		info.frozen_weight.checked_add(open.weight).ok_or(Error::<T>::Overflow)?;
		open.frontier.push(&content_hash).map_err(|_| Error::<T>::VersionFull)?;
		let contributor_weight = ContributorWeights::<T>::get((contributor, datanet, version))
			.unwrap_or_default()
			.checked_add(weight)
			.ok_or(Error::<T>::Overflow)?;
		Ok(Acceptance { open, index, version, weight, contributor_weight, accepted_count })
	}

	/// Write `acceptance` of record `contribution` (of `contributor`, accepted with `quality`
	/// and `tokens`) into `datanet`, whose record `info` the caller stores, and emit
	/// [`Event::ContributionAccepted`]. The record's own status is the caller's to write.
	fn apply_acceptance(
		datanet: DatanetId,
		info: &mut DatanetInfo<T>,
		contribution: ContributionId,
		contributor: T::AccountId,
		quality: u16,
		tokens: u32,
		acceptance: Acceptance,
	) {
		let Acceptance { open, index, version, weight, contributor_weight, accepted_count } =
			acceptance;
		OpenVersions::<T>::insert(datanet, open);
		AcceptedOrder::<T>::insert(datanet, index, contribution);
		if contributor_weight > 0 {
			ContributorWeights::<T>::insert((&contributor, datanet, version), contributor_weight);
		}
		info.accepted_count = accepted_count;
		Self::deposit_event(Event::ContributionAccepted {
			datanet,
			contribution,
			contributor,
			quality,
			tokens,
			weight,
			version,
		});
	}

	/// The invariants between the pallet's storage items (and the held deposits). For each
	/// datanet `d`:
	///
	/// - `d` is below [`NextDatanetId`]; no item refers to an unknown datanet;
	/// - `curator_count` is the number of [`Curators`] entries, at most `MaxCurators`;
	/// - `live_count` is the number of stored [`Contributions`], all with ids below
	///   `contribution_count`, with `1 ≤ tokens ≤ size_bytes`; [`ContentIndex`] maps each one's
	///   content hash back to it and has no other entry;
	/// - `accepted_count` is the number of accepted records; [`AcceptedOrder`] has exactly one
	///   entry per accepted record, at the record's acceptance index, which is below the number
	///   ever accepted (`frozen_count` plus the open frontier's leaves); each record's weight is
	///   `tokens × quality / 100` and its version at most `version_count + 1`; a frozen record's
	///   index lies in its version's range;
	/// - versions are exactly `1..=version_count`, their ranges follow each other from 0,
	///   `frozen_count` is the sum of their records, `frozen_weight` of their weights, and each
	///   `total_weight` is the running sum (so the latest is `frozen_weight`);
	/// - each version's records are its accepted records, and its weight their sum; the open
	///   version (`version_count + 1`) likewise in [`OpenVersions`]; `accepted_count` is
	///   `frozen_count` plus the open version's records; in an active datanet the frontier has
	///   exactly the open version's records as leaves (in a closed one at least as many);
	/// - [`ContributorWeights`] has exactly one entry, non-zero, per (contributor, datanet,
	///   version) with accepted weight, equal to the sum of that contributor's records' weights
	///   there;
	/// - each account holds, as [`HoldReason::DatanetDeposit`], the sum of the deposits of the
	///   datanets it owns, and as [`HoldReason::ContributionDeposit`] the sum of the deposits of
	///   its stored records.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::InspectHold;
		use polkadot_sdk::sp_runtime::SaturatedConversion;

		let next = NextDatanetId::<T>::get();
		let mut datanet_held: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut record_held: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		// (who, datanet, version) → the weight of who's records there.
		let mut weights: BTreeMap<(T::AccountId, DatanetId, VersionId), u128> = BTreeMap::new();
		for (datanet, info) in Datanets::<T>::iter() {
			ensure!(datanet < next, "datanet id at or above NextDatanetId");
			datanet_held.entry(info.owner.clone()).or_default().saturating_accrue(info.deposit);

			let curators: u32 = Curators::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(curators == info.curator_count, "curator_count does not match Curators");
			ensure!(info.curator_count <= T::MaxCurators::get(), "too many curators");

			// Versions, and the open one after them: per version, (records, weight).
			let versions: u32 = Versions::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(versions == info.version_count, "version_count does not match Versions");
			let open_version = info.version_count.saturating_add(1);
			let open = OpenVersions::<T>::get(datanet);
			let accepted_ever = info.frozen_count.saturating_add(open.frontier.leaves);
			let mut per_version: BTreeMap<VersionId, (u32, u128)> = BTreeMap::new();

			let mut live = 0u32;
			let mut accepted = 0u32;
			for (id, record) in Contributions::<T>::iter_prefix(datanet) {
				live.saturating_inc();
				ensure!(id < info.contribution_count, "contribution id at or above the count");
				ensure!(
					ContentIndex::<T>::get(datanet, record.content_hash) == Some(id),
					"ContentIndex does not point back to the record"
				);
				ensure!(
					0 < record.tokens && record.tokens <= record.size_bytes,
					"declared tokens outside 1..=size_bytes"
				);
				record_held
					.entry(record.contributor.clone())
					.or_default()
					.saturating_accrue(record.deposit);
				let ContributionStatus::Accepted { quality, tokens, weight, index, version } =
					record.status
				else {
					continue;
				};
				accepted.saturating_inc();
				ensure!(
					0 < tokens && tokens <= record.size_bytes,
					"established tokens outside 1..=size_bytes"
				);
				ensure!(
					weight == Self::contribution_weight(tokens, quality),
					"weight is not tokens × quality / 100"
				);
				ensure!(index < accepted_ever, "acceptance index at or above the accepted ever");
				ensure!(
					AcceptedOrder::<T>::get(datanet, index) == Some(id),
					"AcceptedOrder does not point back to the record"
				);
				ensure!(0 < version && version <= open_version, "record in no possible version");
				if let Some(v) = Versions::<T>::get(datanet, version) {
					ensure!(
						v.first_record <= index && index < v.first_record.saturating_add(v.records),
						"frozen record outside its version's range"
					);
				} else {
					ensure!(index >= info.frozen_count, "open record among the frozen indices");
				}
				let entry = per_version.entry(version).or_default();
				entry.0.saturating_inc();
				entry.1.saturating_accrue(weight);
				weights
					.entry((record.contributor, datanet, version))
					.or_default()
					.saturating_accrue(weight);
			}
			ensure!(live == info.live_count, "live_count does not match Contributions");
			ensure!(
				info.live_count <= T::MaxContributionsPerDatanet::get(),
				"more records than MaxContributionsPerDatanet"
			);
			let indexed: u32 = ContentIndex::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(indexed == live, "ContentIndex has entries without records");
			ensure!(accepted == info.accepted_count, "accepted_count does not match Contributions");
			let ordered: u32 = AcceptedOrder::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(ordered == accepted, "AcceptedOrder has entries without accepted records");

			let (mut records, mut weight) = (0u32, 0u128);
			for number in 1..=info.version_count {
				let v = Versions::<T>::get(datanet, number).ok_or("a version is missing")?;
				ensure!(v.first_record == records, "version ranges do not follow each other");
				ensure!(v.records > 0, "an empty version");
				records.saturating_accrue(v.records);
				weight.saturating_accrue(v.weight);
				ensure!(v.total_weight == weight, "total_weight is not the running sum");
				ensure!(
					per_version.get(&number).copied().unwrap_or_default() == (v.records, v.weight),
					"a version's records or weight do not match its accepted records"
				);
			}
			ensure!(records == info.frozen_count, "frozen_count is not the sum of the versions");
			ensure!(weight == info.frozen_weight, "frozen_weight is not the sum of the versions");
			ensure!(
				per_version.get(&open_version).copied().unwrap_or_default()
					== (open.records, open.weight),
				"the open version's records or weight do not match its accepted records"
			);
			ensure!(
				info.frozen_count.saturating_add(open.records) == info.accepted_count,
				"frozen plus open records is not accepted_count"
			);
			match info.status {
				DatanetStatus::Active => ensure!(
					open.frontier.leaves == open.records,
					"the open frontier's leaves are not the open records"
				),
				DatanetStatus::Closed => ensure!(
					open.frontier.leaves >= open.records,
					"the open frontier has fewer leaves than open records"
				),
			}
		}

		let mut entries = 0usize;
		for ((who, datanet, version), weight) in ContributorWeights::<T>::iter() {
			entries.saturating_inc();
			ensure!(weight > 0, "a zero ContributorWeights entry");
			ensure!(
				weights.get(&(who, datanet, version)) == Some(&weight),
				"ContributorWeights does not match the accepted records"
			);
		}
		let credited = weights.values().filter(|w| **w > 0).count();
		ensure!(entries == credited, "accepted weight missing from ContributorWeights");

		for (owner, deposits) in datanet_held {
			ensure!(
				T::Currency::balance_on_hold(&Self::datanet_reason(), &owner) == deposits,
				"held datanet deposits do not match the owned datanets' deposits"
			);
		}
		for (contributor, deposits) in record_held {
			ensure!(
				T::Currency::balance_on_hold(&Self::contribution_reason(), &contributor)
					== deposits,
				"held record deposits do not match the stored records' deposits"
			);
		}

		for (datanet, _) in Curators::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "curator of an unknown datanet");
		}
		for (datanet, _) in Contributions::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "record of an unknown datanet");
		}
		for (datanet, _) in ContentIndex::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "content index of an unknown datanet");
		}
		for (datanet, _) in AcceptedOrder::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "accepted order of an unknown datanet");
		}
		for datanet in OpenVersions::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "open version of an unknown datanet");
		}
		for (datanet, _) in Versions::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "version of an unknown datanet");
		}
		Ok(())
	}
}
