//! Benchmarks for `pallet_attribution` (benchmarks v2), each at its worst case: settlement of
//! one adapter with `t` training versions in `t` distinct weighted datanets, with every share,
//! pool and credit non-zero and already stored; claims that read and write existing records.
//! `on_weight_change` is measured so that the runtime can add it to the datanet registry's
//! weights.

#![cfg(feature = "runtime-benchmarks")]

use super::*;
use crate::Pallet as Attribution;
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::traits::{
		fungible::{Inspect, Mutate},
		EnsureOrigin, Get,
	},
	frame_system::RawOrigin,
	sp_runtime::traits::{Saturating, Zero},
};

/// A fee large enough that every share and every datanet part is non-zero, and not round, so
/// that it leaves dust.
fn fee<T: Config>() -> BalanceOf<T> {
	T::Currency::minimum_balance()
		.saturating_mul(1_000_000u32.into())
		.max(1_000_000_000u32.into())
		.saturating_add(7u32.into())
}

/// Makes `who` exist with at least the existential deposit (the genesis does this for the pot
/// and the treasury).
fn ensure_exists<T: Config>(who: &T::AccountId) {
	let minimum = T::Currency::minimum_balance();
	if T::Currency::balance(who) < minimum {
		T::Currency::set_balance(who, minimum);
	}
}

/// An account holding ten times `fee` above its existential deposit.
fn funded_source<T: Config>(fee: BalanceOf<T>) -> T::AccountId {
	let source = account("source", 0, 0);
	T::Currency::set_balance(
		&source,
		fee.saturating_mul(10u32.into()).saturating_add(T::Currency::minimum_balance()),
	);
	source
}

/// An adapter of `t` training versions in whose datanets `contributor` has weight, one fee of it
/// already settled (so every pool and credit exists); returns the adapter and its first datanet.
fn settled<T: Config>(
	t: u32,
	contributor: &T::AccountId,
) -> Result<(AdapterId, DatanetId), BenchmarkError> {
	ensure_exists::<T>(&Attribution::<T>::account_id());
	ensure_exists::<T>(&T::TreasuryAccount::get());
	let adapter = T::BenchmarkHelper::adapter_with_training(t, contributor);
	let datanet = T::Adapters::adapter_terms(adapter, frame_system::Pallet::<T>::block_number())
		.and_then(|terms| terms.training.first().map(|(version, _)| version.datanet))
		.ok_or(BenchmarkError::Stop("the helper's adapter has a training version"))?;
	let fee = fee::<T>();
	let source = funded_source::<T>(fee);
	let operator: T::AccountId = account("operator", 0, 0);
	Attribution::<T>::settle(&source, &operator, &[(adapter, fee)])?;
	Ok((adapter, datanet))
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn set_policy() -> Result<(), BenchmarkError> {
		let origin =
			T::PolicyOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let policy = FeePolicy {
			author: Perbill::from_percent(50),
			base_owner: Perbill::from_percent(10),
			datanets: Perbill::from_percent(25),
			operator: Perbill::from_percent(10),
			treasury: Perbill::from_percent(5),
		};

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, policy);

		assert_eq!(Policy::<T>::get(), policy);
		Ok(())
	}

	/// The caller has a checkpoint with earnings at an older weight and more since.
	#[benchmark]
	fn claim() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		ensure_exists::<T>(&caller);
		let (_, datanet) = settled::<T>(1, &caller)?;
		let weight = T::Datanets::contributor_weight(datanet, &caller);
		Attribution::<T>::checkpoint(datanet, &caller, weight);
		let before = Pools::<T>::get(datanet).balance;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), datanet);

		assert!(Pools::<T>::get(datanet).balance < before);
		Ok(())
	}

	/// The caller holds a credit in every role.
	#[benchmark]
	fn claim_credits() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		ensure_exists::<T>(&caller);
		let pot = Attribution::<T>::account_id();
		let credit = fee::<T>();
		for role in Role::ALL {
			Credits::<T>::insert(&caller, role, credit);
		}
		T::Currency::set_balance(
			&pot,
			credit.saturating_mul(3u32.into()).saturating_add(T::Currency::minimum_balance()),
		);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		for role in Role::ALL {
			assert!(!Credits::<T>::contains_key(&caller, role));
		}
		Ok(())
	}

	/// `t`: the adapter's training versions, each in its own datanet with weight; the pools,
	/// credits and dust it adds to exist already.
	#[benchmark]
	fn settle_adapter(
		t: Linear<1, { T::MaxTrainingVersions::get() }>,
	) -> Result<(), BenchmarkError> {
		let contributor: T::AccountId = account("contributor", 0, 0);
		let (adapter, datanet) = settled::<T>(t, &contributor)?;
		let fee = fee::<T>();
		let source = funded_source::<T>(fee);
		let operator: T::AccountId = account("operator", 0, 0);
		let before = Pools::<T>::get(datanet).balance;

		#[block]
		{
			Attribution::<T>::settle(&source, &operator, &[(adapter, fee)])?;
		}

		assert!(Pools::<T>::get(datanet).balance > before);
		Ok(())
	}

	/// The contributor has a checkpoint and the pool has grown since.
	#[benchmark]
	fn on_weight_change() -> Result<(), BenchmarkError> {
		let contributor: T::AccountId = account("contributor", 0, 0);
		let (_, datanet) = settled::<T>(1, &contributor)?;
		let weight = T::Datanets::contributor_weight(datanet, &contributor);

		#[block]
		{
			<Attribution<T> as OnContributorWeightChange<T::AccountId>>::on_weight_change(
				datanet,
				&contributor,
				weight,
			);
		}

		let checkpoint = Checkpoints::<T>::get(&contributor, datanet)
			.ok_or(BenchmarkError::Stop("the contributor has a checkpoint"))?;
		assert_eq!(checkpoint.paid_per_weight, Pools::<T>::get(datanet).reward_per_weight);
		assert!(!checkpoint.unclaimed.is_zero());
		Ok(())
	}

	impl_benchmark_test_suite!(Attribution, crate::mock::new_test_ext(), crate::mock::Test);
}
