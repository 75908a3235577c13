//! The logic behind the calls, the helpers other pallets use, and the state invariants.

use super::*;
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult},
	traits::{fungible::MutateHold, tokens::Precision},
};
use polkadot_sdk::{
	binary_merkle_tree,
	sp_runtime::{
		traits::{BlakeTwo256, Zero},
		SaturatedConversion,
	},
};

impl<T: Config> Pallet<T> {
	/// The weight of a contribution of `tokens` tokens accepted with `quality` percent:
	/// `tokens × quality / 100`, rounded down.
	pub fn contribution_weight(tokens: u64, quality: u16) -> u128 {
		u128::from(tokens).saturating_mul(u128::from(quality)).saturating_div(100)
	}

	/// The accepted weight of `who` in `datanet` (0 if none).
	pub fn contributor_weight(datanet: DatanetId, who: &T::AccountId) -> u128 {
		ContributorWeights::<T>::get(datanet, who)
	}

	/// The total accepted weight of `datanet` (0 if it does not exist).
	pub fn total_weight(datanet: DatanetId) -> u128 {
		Datanets::<T>::get(datanet).map(|info| info.total_weight).unwrap_or_default()
	}

	/// The frozen `version` of `datanet`, if it exists.
	pub fn version(datanet: DatanetId, version: VersionId) -> Option<VersionInfoOf<T>> {
		Versions::<T>::get(datanet, version)
	}

	/// The Merkle root of a list of content hashes, by the crate's Merkle rule.
	pub fn merkle_root(hashes: &[H256]) -> H256 {
		binary_merkle_tree::merkle_root::<BlakeTwo256, _>(hashes.iter())
	}

	/// The hold reason of datanet deposits.
	fn hold_reason() -> T::RuntimeHoldReason {
		HoldReason::DatanetDeposit.into()
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
		T::Currency::hold(&Self::hold_reason(), &owner, deposit)
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
				accepted_count: 0,
				total_weight: 0,
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
			ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
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
			info.curator_count = info.curator_count.saturating_sub(1);
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
			ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
			ensure!(info.owner != new_owner, Error::<T>::AlreadyOwner);
			let reason = Self::hold_reason();
			T::Currency::hold(&reason, &new_owner, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			T::Currency::release(&reason, &info.owner, info.deposit, Precision::BestEffort)?;
			info.deposit = deposit;
			Ok::<_, DispatchError>(core::mem::replace(&mut info.owner, new_owner.clone()))
		})?;
		Self::deposit_event(Event::OwnershipTransferred { datanet, old_owner, new_owner, deposit });
		Ok(())
	}

	/// Close a datanet and release its deposit; see [`Pallet::close_datanet`].
	pub(crate) fn do_close_datanet(owner: &T::AccountId, datanet: DatanetId) -> DispatchResult {
		let released = Datanets::<T>::try_mutate(datanet, |maybe_info| {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			ensure!(info.owner == *owner, Error::<T>::NotOwner);
			ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
			let released = T::Currency::release(
				&Self::hold_reason(),
				&info.owner,
				info.deposit,
				Precision::BestEffort,
			)?;
			info.deposit = Zero::zero();
			info.status = DatanetStatus::Closed;
			Ok::<_, DispatchError>(released)
		})?;
		Self::deposit_event(Event::DatanetClosed { datanet, released });
		Ok(())
	}

	/// Submit a contribution; see [`Pallet::contribute`]. Returns its id.
	pub(crate) fn do_contribute(
		contributor: T::AccountId,
		datanet: DatanetId,
		content_hash: H256,
		size_bytes: u64,
		tokens: u64,
		uri: Option<BoundedVec<u8, T::MaxUriLength>>,
	) -> Result<ContributionId, DispatchError> {
		ensure!(size_bytes > 0, Error::<T>::ZeroSize);
		ensure!(tokens > 0, Error::<T>::ZeroTokens);
		let (contribution, accepted) = Datanets::<T>::try_mutate(datanet, |maybe_info| {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
			ensure!(
				!ContentIndex::<T>::contains_key(datanet, content_hash),
				Error::<T>::DuplicateContent
			);
			let contribution = info.contribution_count;
			ensure!(
				contribution < T::MaxContributionsPerDatanet::get(),
				Error::<T>::TooManyContributions
			);
			info.contribution_count = contribution.checked_add(1).ok_or(Error::<T>::Overflow)?;
			let status = match info.policy {
				ContributionPolicy::Open => {
					let weight = Self::credit(
						datanet,
						info,
						&contributor,
						content_hash,
						tokens,
						DEFAULT_QUALITY,
					)?;
					ContributionStatus::Accepted { quality: DEFAULT_QUALITY, weight }
				},
				ContributionPolicy::Curated => ContributionStatus::Pending,
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
					submitted_at: frame_system::Pallet::<T>::block_number(),
				},
			);
			ContentIndex::<T>::insert(datanet, content_hash, contribution);
			Ok::<_, DispatchError>((contribution, status))
		})?;
		Self::deposit_event(Event::ContributionSubmitted {
			datanet,
			contribution,
			contributor: contributor.clone(),
			content_hash,
			size_bytes,
			tokens,
		});
		if let ContributionStatus::Accepted { quality, weight } = accepted {
			Self::deposit_event(Event::ContributionAccepted {
				datanet,
				contribution,
				contributor,
				quality,
				weight,
			});
		}
		Ok(contribution)
	}

	/// Accept a pending contribution; see [`Pallet::accept_contribution`].
	pub(crate) fn do_accept_contribution(
		who: &T::AccountId,
		datanet: DatanetId,
		contribution: ContributionId,
		quality: Option<u16>,
	) -> DispatchResult {
		let quality = quality.unwrap_or(DEFAULT_QUALITY);
		ensure!(
			T::MinQuality::get() <= quality && quality <= T::MaxQuality::get(),
			Error::<T>::QualityOutOfBounds
		);
		let (contributor, weight) = Datanets::<T>::try_mutate(datanet, |maybe_info| {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			Self::ensure_curator(info, datanet, who)?;
			ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
			Contributions::<T>::try_mutate(datanet, contribution, |maybe_contribution| {
				let record = maybe_contribution.as_mut().ok_or(Error::<T>::UnknownContribution)?;
				ensure!(record.status == ContributionStatus::Pending, Error::<T>::NotPending);
				let weight = Self::credit(
					datanet,
					info,
					&record.contributor,
					record.content_hash,
					record.tokens,
					quality,
				)?;
				record.status = ContributionStatus::Accepted { quality, weight };
				Ok::<_, DispatchError>((record.contributor.clone(), weight))
			})
		})?;
		Self::deposit_event(Event::ContributionAccepted {
			datanet,
			contribution,
			contributor,
			quality,
			weight,
		});
		Ok(())
	}

	/// Reject a pending contribution; see [`Pallet::reject_contribution`].
	pub(crate) fn do_reject_contribution(
		who: &T::AccountId,
		datanet: DatanetId,
		contribution: ContributionId,
		reason: u8,
	) -> DispatchResult {
		let info = Datanets::<T>::get(datanet).ok_or(Error::<T>::UnknownDatanet)?;
		Self::ensure_curator(&info, datanet, who)?;
		ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
		Contributions::<T>::try_mutate(datanet, contribution, |maybe_contribution| {
			let record = maybe_contribution.as_mut().ok_or(Error::<T>::UnknownContribution)?;
			ensure!(record.status == ContributionStatus::Pending, Error::<T>::NotPending);
			record.status = ContributionStatus::Rejected { reason };
			Ok::<_, DispatchError>(())
		})?;
		Self::deposit_event(Event::ContributionRejected { datanet, contribution, reason });
		Ok(())
	}

	/// Freeze the next version; see [`Pallet::freeze_version`]. Returns the number of
	/// contributions frozen.
	pub(crate) fn do_freeze_version(
		who: &T::AccountId,
		datanet: DatanetId,
	) -> Result<u32, DispatchError> {
		let (version, info) = Datanets::<T>::try_mutate(datanet, |maybe_info| {
			let info = maybe_info.as_mut().ok_or(Error::<T>::UnknownDatanet)?;
			Self::ensure_curator(info, datanet, who)?;
			ensure!(info.status == DatanetStatus::Active, Error::<T>::DatanetClosed);
			let hashes = Unversioned::<T>::get(datanet);
			ensure!(!hashes.is_empty(), Error::<T>::NothingToFreeze);
			ensure!(
				info.version_count < T::MaxVersionsPerDatanet::get(),
				Error::<T>::TooManyVersions
			);
			let version = info.version_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
			let record = VersionInfo {
				merkle_root: Self::merkle_root(&hashes),
				contributions: hashes.len().saturated_into(),
				total_contributions: info.accepted_count,
				total_weight: info.total_weight,
				frozen_at: frame_system::Pallet::<T>::block_number(),
			};
			Versions::<T>::insert(datanet, version, record);
			Unversioned::<T>::remove(datanet);
			info.version_count = version;
			Ok::<_, DispatchError>((version, record))
		})?;
		Self::deposit_event(Event::VersionFrozen {
			datanet,
			version,
			merkle_root: info.merkle_root,
			contributions: info.contributions,
			total_weight: info.total_weight,
		});
		Ok(info.contributions)
	}

	/// Accept `content_hash` into `datanet` (whose record is `info`) with `quality`: credit
	/// the weight of `tokens` to `contributor` and the datanet and queue the hash for the next
	/// version. Checks everything before writing. Returns the weight credited.
	fn credit(
		datanet: DatanetId,
		info: &mut DatanetInfo<T>,
		contributor: &T::AccountId,
		content_hash: H256,
		tokens: u64,
		quality: u16,
	) -> Result<u128, DispatchError> {
		let weight = Self::contribution_weight(tokens, quality);
		let old_weight = ContributorWeights::<T>::get(datanet, contributor);
		let contributor_weight = old_weight.checked_add(weight).ok_or(Error::<T>::Overflow)?;
		let total_weight = info.total_weight.checked_add(weight).ok_or(Error::<T>::Overflow)?;
		let accepted_count = info.accepted_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
		Unversioned::<T>::try_append(datanet, content_hash).map_err(|_| Error::<T>::VersionFull)?;
		T::OnWeightChange::on_weight_change(datanet, contributor, old_weight);
		ContributorWeights::<T>::insert(datanet, contributor, contributor_weight);
		info.total_weight = total_weight;
		info.accepted_count = accepted_count;
		Ok(weight)
	}

	/// The invariants between the pallet's storage items (and the held deposits):
	///
	/// - every datanet id is below [`NextDatanetId`]; no item refers to an unknown datanet;
	/// - `curator_count` is the number of [`Curators`] entries, at most `MaxCurators`;
	/// - `contribution_count` is the number of [`Contributions`], all with ids below it, and
	///   [`ContentIndex`] maps each one's content hash back to it and has no other entry;
	/// - `accepted_count` is the number of accepted contributions; the sum of their weights, and
	///   the sum of [`ContributorWeights`], are both `total_weight`;
	/// - [`Unversioned`] holds at most `accepted_count` hashes, and the latest version's
	///   `total_contributions` plus the unversioned length is `accepted_count`;
	/// - versions are exactly `1..=version_count`;
	/// - an active datanet's deposit is held from its owner (for each account, the held amount
	///   is the sum of the deposits of the active datanets it owns); a closed one has none.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::InspectHold;
		use polkadot_sdk::sp_runtime::Saturating;

		let next = NextDatanetId::<T>::get();
		let mut held: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		for (datanet, info) in Datanets::<T>::iter() {
			ensure!(datanet < next, "datanet id at or above NextDatanetId");

			let curators: u32 = Curators::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(curators == info.curator_count, "curator_count does not match Curators");
			ensure!(info.curator_count <= T::MaxCurators::get(), "too many curators");

			let mut contributions = 0u32;
			let mut accepted = 0u32;
			let mut weight = 0u128;
			for (id, record) in Contributions::<T>::iter_prefix(datanet) {
				ensure!(id < info.contribution_count, "contribution id at or above the count");
				ensure!(
					ContentIndex::<T>::get(datanet, record.content_hash) == Some(id),
					"ContentIndex does not point back to the contribution"
				);
				if let ContributionStatus::Accepted { weight: w, .. } = record.status {
					accepted.saturating_inc();
					weight.saturating_accrue(w);
				}
				contributions.saturating_inc();
			}
			ensure!(
				contributions == info.contribution_count,
				"contribution_count does not match Contributions"
			);
			let indexed: u32 = ContentIndex::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(indexed == contributions, "ContentIndex has entries without contributions");
			ensure!(accepted == info.accepted_count, "accepted_count does not match Contributions");
			ensure!(weight == info.total_weight, "accepted weights do not sum to total_weight");
			let credited = ContributorWeights::<T>::iter_prefix_values(datanet)
				.fold(0u128, |sum, w| sum.saturating_add(w));
			ensure!(credited == info.total_weight, "ContributorWeights do not sum to total_weight");

			let unversioned: u32 =
				Unversioned::<T>::decode_len(datanet).unwrap_or_default().saturated_into();
			ensure!(unversioned <= info.accepted_count, "more unversioned than accepted");
			let versions: u32 = Versions::<T>::iter_prefix(datanet).count().saturated_into();
			ensure!(versions == info.version_count, "version_count does not match Versions");
			for version in 1..=info.version_count {
				ensure!(Versions::<T>::contains_key(datanet, version), "a version is missing");
			}
			let frozen = Versions::<T>::get(datanet, info.version_count)
				.map(|v| v.total_contributions)
				.unwrap_or_default();
			ensure!(
				frozen.saturating_add(unversioned) == info.accepted_count,
				"frozen plus unversioned is not accepted_count"
			);

			match info.status {
				DatanetStatus::Active => {
					held.entry(info.owner.clone()).or_default().saturating_accrue(info.deposit)
				},
				DatanetStatus::Closed => {
					ensure!(info.deposit.is_zero(), "a closed datanet keeps a deposit")
				},
			}
		}
		for (owner, deposits) in held {
			ensure!(
				T::Currency::balance_on_hold(&Self::hold_reason(), &owner) == deposits,
				"held deposits do not match the active datanets' deposits"
			);
		}

		for (datanet, _) in Curators::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "curator of an unknown datanet");
		}
		for (datanet, _) in Contributions::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "contribution to an unknown datanet");
		}
		for (datanet, _) in ContributorWeights::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "weight in an unknown datanet");
		}
		for datanet in Unversioned::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "unversioned list of an unknown datanet");
		}
		for (datanet, _) in Versions::<T>::iter_keys() {
			ensure!(Datanets::<T>::contains_key(datanet), "version of an unknown datanet");
		}
		Ok(())
	}
}
