//! Benchmarks for `pallet_datanets`, one per call, each in its worst case.

use super::*;
use crate::Pallet as Datanets;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::{Inspect, Mutate};
use frame_system::RawOrigin;
use lineage_primitives::merkle::MAX_LEVELS;
use polkadot_sdk::{frame_benchmarking, sp_runtime::Saturating};

const SEED: u32 = 0;

fn assert_last_event<T: Config>(event: <T as Config>::RuntimeEvent) {
	frame_system::Pallet::<T>::assert_last_event(event.into());
}

/// Fund `who` for many datanet deposits and many deposits of the largest record.
fn fund<T: Config>(who: &T::AccountId) {
	let amount = T::DatanetDeposit::get()
		.saturating_add(Datanets::<T>::contribution_deposit(T::MaxRecordBytes::get()))
		.saturating_add(T::Currency::minimum_balance())
		.saturating_mul(100u32.into());
	T::Currency::set_balance(who, amount);
}

/// A funded account.
fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who = account(name, index, SEED);
	fund::<T>(&who);
	who
}

/// A bounded vector of the greatest length.
fn longest<S: Get<u32>>(byte: u8) -> BoundedVec<u8, S> {
	BoundedVec::truncate_from(vec![byte; S::get() as usize])
}

/// A distinct content hash for each `i`.
fn leaf(i: u32) -> H256 {
	H256::from_low_u64_be(u64::from(i).saturating_add(1))
}

/// A datanet of `owner` with the longest name, URI and license.
fn new_datanet<T: Config>(
	owner: &T::AccountId,
	policy: ContributionPolicy,
) -> Result<DatanetId, BenchmarkError> {
	Ok(Datanets::<T>::do_create_datanet(
		owner.clone(),
		longest(b'n'),
		longest(b'u'),
		longest(b'l'),
		policy,
	)?)
}

/// Add the curators `curator/0 .. curator/(count - 1)` to `datanet`; returns the first.
fn add_curators<T: Config>(
	owner: &T::AccountId,
	datanet: DatanetId,
	count: u32,
) -> Result<T::AccountId, BenchmarkError> {
	for i in 0..count {
		Datanets::<T>::do_add_curator(owner, datanet, account("curator", i, SEED))?;
	}
	Ok(account("curator", 0, SEED))
}

/// Submit the largest record, with the longest URI, as `contributor`; returns its id.
fn contribute_largest<T: Config>(
	contributor: &T::AccountId,
	datanet: DatanetId,
	i: u32,
	tokens: u32,
) -> Result<ContributionId, BenchmarkError> {
	Ok(Datanets::<T>::do_contribute(
		contributor.clone(),
		datanet,
		leaf(i),
		T::MaxRecordBytes::get(),
		tokens,
		Some(longest(b'r')),
	)?)
}

/// Make the open version of `datanet` as deep as a datanet can make it: `2^k − 1` records with
/// `k` full frontier levels, the largest `k` with `2^k < MaxContributionsPerDatanet`, so that
/// the next push carries through every level (the longest carry) and the root combines `k`
/// nodes. Written directly, in place of the open version's records (which are not stored):
/// only the frontier's depth and the counters the calls check matter to the weight. Returns
/// the number of records.
fn deep_open_version<T: Config>(datanet: DatanetId) -> Result<u32, BenchmarkError> {
	let room = T::MaxContributionsPerDatanet::get().saturating_sub(1);
	let levels = 32u32
		.saturating_sub(room.leading_zeros())
		.saturating_sub(1)
		.min(MAX_LEVELS.saturating_sub(1));
	let leaves = if room == 0 { 0 } else { (1u32 << levels).saturating_sub(1) };
	let nodes = (0..levels).map(|l| Some(H256::repeat_byte(l as u8))).collect::<vec::Vec<_>>();
	let old = OpenVersions::<T>::get(datanet).records;
	OpenVersions::<T>::insert(
		datanet,
		OpenVersion {
			records: leaves,
			weight: u128::from(leaves),
			frontier: MerkleFrontier { leaves, nodes: BoundedVec::truncate_from(nodes) },
		},
	);
	crate::Datanets::<T>::try_mutate(datanet, |info| -> Result<(), BenchmarkError> {
		let info = info.as_mut().ok_or("no datanet")?;
		info.accepted_count = info.accepted_count.saturating_sub(old).saturating_add(leaves);
		info.live_count = info.live_count.saturating_sub(old).saturating_add(leaves);
		Ok(())
	})?;
	Ok(leaves)
}

/// Whether the last push onto the open version of `datanet` carried through every level: all
/// the pending nodes merged into one, at the top.
fn carried_all_the_way<T: Config>(datanet: DatanetId) -> bool {
	let frontier = OpenVersions::<T>::get(datanet).frontier;
	frontier.nodes.iter().filter(|node| node.is_some()).count() == 1
		&& frontier.nodes.last().is_some_and(Option::is_some)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_datanet() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("owner", 0);
		let datanet = NextDatanetId::<T>::get();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			longest(b'n'),
			longest(b'u'),
			longest(b'l'),
			ContributionPolicy::Curated,
		);

		assert_last_event::<T>(
			Event::DatanetCreated {
				datanet,
				owner: caller,
				policy: ContributionPolicy::Curated,
				deposit: T::DatanetDeposit::get(),
			}
			.into(),
		);
		Ok(())
	}

	#[benchmark]
	fn add_curator() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;
		add_curators::<T>(&owner, datanet, T::MaxCurators::get().saturating_sub(1))?;
		let curator: T::AccountId = account("new-curator", 0, SEED);

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), datanet, curator.clone());

		assert_last_event::<T>(Event::CuratorAdded { datanet, curator }.into());
		Ok(())
	}

	#[benchmark]
	fn remove_curator() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), datanet, curator.clone());

		assert_last_event::<T>(Event::CuratorRemoved { datanet, curator }.into());
		Ok(())
	}

	#[benchmark]
	fn transfer_ownership() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let new_owner = funded::<T>("owner", 1);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(owner.clone()), datanet, new_owner.clone());

		assert_last_event::<T>(
			Event::OwnershipTransferred {
				datanet,
				old_owner: owner,
				new_owner,
				deposit: T::DatanetDeposit::get(),
			}
			.into(),
		);
		Ok(())
	}

	#[benchmark]
	fn close_datanet() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), datanet);

		assert_last_event::<T>(Event::DatanetClosed { datanet }.into());
		Ok(())
	}

	/// Worst case: an open datanet (the record is accepted at once) whose open version's
	/// frontier needs the longest carry, the largest record with as many tokens as bytes, the
	/// longest URI, and a contributor who already has weight in the open version.
	#[benchmark]
	fn contribute() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Open)?;
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);
		let size = T::MaxRecordBytes::get();
		contribute_largest::<T>(&caller, datanet, 0, size)?;
		// The frontier's depth replaces that record's leaf: the next push carries all the way.
		deep_open_version::<T>(datanet)?;
		let contribution =
			crate::Datanets::<T>::get(datanet).ok_or("no datanet")?.contribution_count;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), datanet, leaf(1), size, size, Some(longest(b'r')));

		assert!(carried_all_the_way::<T>(datanet));
		assert_last_event::<T>(
			Event::ContributionAccepted {
				datanet,
				contribution,
				contributor: caller,
				quality: DEFAULT_QUALITY,
				tokens: size,
				weight: Datanets::<T>::contribution_weight(size, DEFAULT_QUALITY),
				version: 1,
			}
			.into(),
		);
		Ok(())
	}

	/// Worst case: a curator (not the owner) accepts the largest record with the highest
	/// quality and a token override, into an open version whose frontier needs the longest
	/// carry.
	#[benchmark]
	fn accept_contribution() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;
		let contributor = funded::<T>("contributor", 0);
		let contribution = contribute_largest::<T>(&contributor, datanet, 0, 1)?;
		deep_open_version::<T>(datanet)?;
		let quality = T::MaxQuality::get();
		let tokens = T::MaxRecordBytes::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(curator), datanet, contribution, Some(quality), Some(tokens));

		assert!(carried_all_the_way::<T>(datanet));
		assert_last_event::<T>(
			Event::ContributionAccepted {
				datanet,
				contribution,
				contributor,
				quality,
				tokens,
				weight: Datanets::<T>::contribution_weight(tokens, quality),
				version: 1,
			}
			.into(),
		);
		Ok(())
	}

	/// Worst case: a curator (not the owner) rejects the largest record; its deposit is slashed.
	#[benchmark]
	fn reject_contribution() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;
		let contributor = funded::<T>("contributor", 0);
		let contribution = contribute_largest::<T>(&contributor, datanet, 0, 1)?;
		let slashed = Datanets::<T>::contribution_deposit(T::MaxRecordBytes::get());

		#[extrinsic_call]
		_(RawOrigin::Signed(curator), datanet, contribution, u8::MAX);

		assert_last_event::<T>(
			Event::ContributionRejected {
				datanet,
				contribution,
				contributor,
				reason: u8::MAX,
				slashed,
			}
			.into(),
		);
		Ok(())
	}

	/// Worst case: a curator (not the owner) freezes an open version whose frontier has the
	/// most levels a datanet can give it.
	#[benchmark]
	fn freeze_version() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Open)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;
		let records = deep_open_version::<T>(datanet)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(curator), datanet);

		let version = Datanets::<T>::version(datanet, 1).ok_or("not frozen")?;
		assert_eq!(version.records, records);
		assert_last_event::<T>(
			Event::VersionFrozen {
				datanet,
				version: 1,
				merkle_root: version.merkle_root,
				records,
				weight: version.weight,
				total_weight: version.total_weight,
			}
			.into(),
		);
		Ok(())
	}

	/// Worst case: an accepted but unfrozen record of a closed datanet (its weight is taken back
	/// from the open version), the largest one.
	#[benchmark]
	fn withdraw_contribution() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Open)?;
		let contributor = funded::<T>("contributor", 0);
		let size = T::MaxRecordBytes::get();
		let contribution = contribute_largest::<T>(&contributor, datanet, 0, size)?;
		Datanets::<T>::do_close_datanet(&owner, datanet)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(contributor.clone()), datanet, contribution);

		assert!(!Contributions::<T>::contains_key(datanet, contribution));
		assert_last_event::<T>(
			Event::ContributionWithdrawn {
				datanet,
				contribution,
				contributor,
				released: Datanets::<T>::contribution_deposit(size),
			}
			.into(),
		);
		Ok(())
	}

	impl_benchmark_test_suite!(Datanets, crate::mock::new_test_ext(), crate::mock::Test);
}
