//! Benchmarks for `pallet_attribution` (benchmarks v2), each at its worst case:
//!
//! - `claim`: a version whose reward-index walk is the longest there is (version 1 of a datanet
//!   with the largest power of two of versions not above `MaxVersionsPerDatanet`), every node of
//!   the walk, the checkpoint and the pool stored;
//! - `claim_credits`: a credit in every role;
//! - `settle_adapter(t)`: one adapter with `t` training versions in `t` distinct weighted
//!   datanets, with every share, pool and credit non-zero and already stored. Each of its
//!   versions is version 1, whose part raises one reward-index node;
//! - `reward_index_add(n)`: the reward-index writes of one part whose version raises `n` nodes
//!   (`popcount(version)`), every node stored. Settlement's weight adds it at the index's full
//!   depth for every training version ([`SettleFees::settle_weight`]), which bounds the nodes
//!   `settle_adapter` does not measure.

#![cfg(feature = "runtime-benchmarks")]

use super::*;
use crate::{functions::StagedRewards, Pallet as Attribution};
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::traits::{
		fungible::{Inspect, Mutate},
		EnsureOrigin, Get,
	},
	frame_system::RawOrigin,
	sp_runtime::{
		traits::{Saturating, Zero},
		SaturatedConversion,
	},
};

/// A fee large enough that every share and every version's part is non-zero, and not round, so
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
	Attribution::<T>::settle(&source, &operator, &[(adapter, fee)], &[])?;
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
			matched: Perbill::from_percent(60),
		};

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, policy);

		assert_eq!(Policy::<T>::get(), policy);
		Ok(())
	}

	/// The caller claims version 1 of a datanet with the longest reward-index walk from it;
	/// every node of the walk holds a reward, and the caller's checkpoint is stored.
	#[benchmark]
	fn claim() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		ensure_exists::<T>(&caller);
		let pot = Attribution::<T>::account_id();
		ensure_exists::<T>(&pot);
		let max = T::MaxVersionsPerDatanet::get();
		let depth = reward_index::depth(max);
		let datanet =
			T::BenchmarkHelper::datanet_with_versions(1 << depth.saturating_sub(1), &caller);
		let walk: Vec<VersionId> =
			reward_index::suffix_path(1, T::Datanets::version_count(datanet).min(max)).collect();
		if walk.len() != depth as usize {
			return Err(BenchmarkError::Stop("the helper's datanet has too few versions"));
		}
		let weight = T::Datanets::contributor_weight(datanet, 1, &caller);
		if weight == 0 {
			return Err(BenchmarkError::Stop("the caller has no weight in version 1"));
		}
		// One existential deposit's worth per unit of weight on each node of the walk.
		let per_node =
			PRECISION.saturating_mul(T::Currency::minimum_balance().saturated_into::<u128>());
		for i in &walk {
			RewardIndex::<T>::insert(datanet, i, per_node);
		}
		let suffix = per_node.saturating_mul(u128::from(depth));
		Checkpoints::<T>::insert((&caller, datanet, 1), 0);
		let owed = Attribution::<T>::accrued(weight, suffix, 0);
		Pools::<T>::insert(datanet, Pool { reward_per_weight: suffix, balance: owed });
		T::Currency::set_balance(&pot, T::Currency::balance(&pot).saturating_add(owed));

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), datanet, 1);

		assert!(Pools::<T>::get(datanet).balance.is_zero());
		assert_eq!(Checkpoints::<T>::get((&caller, datanet, 1)), Some(suffix));
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
			credit
				.saturating_mul((Role::ALL.len() as u32).into())
				.saturating_add(T::Currency::minimum_balance()),
		);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		for role in Role::ALL {
			assert!(!Credits::<T>::contains_key(&caller, role));
		}
		Ok(())
	}

	/// `t`: the adapter's training versions, each version 1 of its own datanet with weight; the
	/// pools, reward-index nodes, credits and dust it adds to exist already.
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
			Attribution::<T>::settle(&source, &operator, &[(adapter, fee)], &[])?;
		}

		assert!(Pools::<T>::get(datanet).balance > before);
		Ok(())
	}

	/// `m`: matched shares of one adapter's fee, each crediting a distinct contributor with
	/// frozen weight in the adapter's one training version (each share checked, credited and
	/// announced).
	#[benchmark]
	fn settle_matched(m: Linear<0, { T::MaxMatched::get() }>) -> Result<(), BenchmarkError> {
		let (adapter, datanet, version, contributors) =
			T::BenchmarkHelper::adapter_with_contributors(m);
		let share = Perbill::from_rational(1, m.max(1));
		let matched: Vec<MatchedShare<T::AccountId>> = contributors
			.iter()
			.map(|who| MatchedShare { adapter, datanet, version, contributor: who.clone(), share })
			.collect();
		ensure_exists::<T>(&Attribution::<T>::account_id());
		ensure_exists::<T>(&T::TreasuryAccount::get());
		let fee = fee::<T>();
		let operator: T::AccountId = account("operator", 0, 0);
		// Settled once before, so the pool and every credit exist (read, then written).
		let source = funded_source::<T>(fee);
		Attribution::<T>::settle(&source, &operator, &[(adapter, fee)], &matched)?;
		let source = funded_source::<T>(fee);

		#[block]
		{
			Attribution::<T>::settle(&source, &operator, &[(adapter, fee)], &matched)?;
		}

		for who in &contributors {
			assert!(Credits::<T>::contains_key(who, Role::Contributor));
		}
		Ok(())
	}

	/// `n`: the reward-index nodes one part raises (its version's set bits), each stored.
	#[benchmark]
	fn reward_index_add(
		n: Linear<1, { reward_index::depth(T::MaxVersionsPerDatanet::get()) }>,
	) -> Result<(), BenchmarkError> {
		let datanet = DatanetId::MAX;
		let version = VersionId::MAX >> VersionId::BITS.saturating_sub(n);
		for i in reward_index::add_path(version) {
			RewardIndex::<T>::insert(datanet, i, PRECISION);
		}

		#[block]
		{
			let mut staged = StagedRewards::<T>::new();
			if staged.raise_index(datanet, version, PRECISION) {
				staged.commit();
			}
		}

		assert_eq!(reward_index::add_path(version).count(), n as usize);
		for i in reward_index::add_path(version) {
			assert_eq!(RewardIndex::<T>::get(datanet, i), PRECISION.saturating_mul(2));
		}
		Ok(())
	}

	impl_benchmark_test_suite!(Attribution, crate::mock::new_test_ext(), crate::mock::Test);
}
