//! Benchmarks for `pallet_datanets`, one per call, each in its worst case.

use super::*;
use crate::Pallet as Datanets;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::{Inspect, Mutate};
use frame_system::RawOrigin;
use polkadot_sdk::{frame_benchmarking, sp_runtime::Saturating};

const SEED: u32 = 0;

fn assert_last_event<T: Config>(event: <T as Config>::RuntimeEvent) {
	frame_system::Pallet::<T>::assert_last_event(event.into());
}

/// An account with enough balance for many datanet deposits.
fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who = account(name, index, SEED);
	let amount = T::DatanetDeposit::get()
		.saturating_add(T::Currency::minimum_balance())
		.saturating_mul(100u32.into());
	T::Currency::set_balance(&who, amount);
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

/// Submit `n` contributions (ids from `start`) with the longest URI and, in a curated datanet,
/// accept them as `curator`, so that `n` hashes wait in the unversioned list.
fn accept_many<T: Config>(
	datanet: DatanetId,
	curator: &T::AccountId,
	start: u32,
	n: u32,
) -> Result<(), BenchmarkError> {
	let contributor: T::AccountId = account("contributor", 0, SEED);
	let policy = crate::Datanets::<T>::get(datanet).ok_or("no datanet")?.policy;
	for i in start..start.saturating_add(n) {
		let id = Datanets::<T>::do_contribute(
			contributor.clone(),
			datanet,
			leaf(i),
			1_000,
			1_000,
			Some(longest(b'r')),
		)?;
		if policy == ContributionPolicy::Curated {
			Datanets::<T>::do_accept_contribution(curator, datanet, id, None)?;
		}
	}
	Ok(())
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

		assert_last_event::<T>(
			Event::DatanetClosed { datanet, released: T::DatanetDeposit::get() }.into(),
		);
		Ok(())
	}

	/// Worst case: an open datanet (the contribution is accepted at once) whose unversioned list
	/// has room for one more hash, and the longest URI.
	#[benchmark]
	fn contribute() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Open)?;
		let queued = T::MaxContributionsPerVersion::get().saturating_sub(1);
		accept_many::<T>(datanet, &owner, 0, queued)?;
		let caller: T::AccountId = whitelisted_caller();
		let content_hash = leaf(queued);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			datanet,
			content_hash,
			1_000,
			1_000,
			Some(longest(b'r')),
		);

		assert_last_event::<T>(
			Event::ContributionAccepted {
				datanet,
				contribution: queued,
				contributor: caller,
				quality: DEFAULT_QUALITY,
				weight: Datanets::<T>::contribution_weight(1_000, DEFAULT_QUALITY),
			}
			.into(),
		);
		Ok(())
	}

	/// Worst case: a curator (not the owner) accepts into an unversioned list that has room for
	/// one more hash.
	#[benchmark]
	fn accept_contribution() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;
		let queued = T::MaxContributionsPerVersion::get().saturating_sub(1);
		accept_many::<T>(datanet, &curator, 0, queued)?;
		let contributor: T::AccountId = account("contributor", 1, SEED);
		let contribution = Datanets::<T>::do_contribute(
			contributor.clone(),
			datanet,
			leaf(queued),
			1_000,
			1_000,
			Some(longest(b'r')),
		)?;
		let quality = T::MaxQuality::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(curator), datanet, contribution, Some(quality));

		assert_last_event::<T>(
			Event::ContributionAccepted {
				datanet,
				contribution,
				contributor,
				quality,
				weight: Datanets::<T>::contribution_weight(1_000, quality),
			}
			.into(),
		);
		Ok(())
	}

	/// Worst case: a curator (not the owner) rejects.
	#[benchmark]
	fn reject_contribution() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Curated)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;
		let contribution = Datanets::<T>::do_contribute(
			account("contributor", 0, SEED),
			datanet,
			leaf(0),
			1_000,
			1_000,
			Some(longest(b'r')),
		)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(curator), datanet, contribution, u8::MAX);

		assert_last_event::<T>(
			Event::ContributionRejected { datanet, contribution, reason: u8::MAX }.into(),
		);
		Ok(())
	}

	/// `n`: the number of contributions accepted since the last version.
	#[benchmark]
	fn freeze_version(
		n: Linear<1, { T::MaxContributionsPerVersion::get() }>,
	) -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let datanet = new_datanet::<T>(&owner, ContributionPolicy::Open)?;
		let curator = add_curators::<T>(&owner, datanet, T::MaxCurators::get())?;
		accept_many::<T>(datanet, &curator, 0, n)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(curator), datanet);

		let version = Datanets::<T>::version(datanet, 1).ok_or("not frozen")?;
		assert_eq!(version.contributions, n);
		assert_last_event::<T>(
			Event::VersionFrozen {
				datanet,
				version: 1,
				merkle_root: version.merkle_root,
				contributions: n,
				total_weight: version.total_weight,
			}
			.into(),
		);
		Ok(())
	}

	impl_benchmark_test_suite!(Datanets, crate::mock::new_test_ext(), crate::mock::Test);
}
