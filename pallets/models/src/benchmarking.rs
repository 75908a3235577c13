//! Benchmarks for `pallet_models` (benchmarks v2), each at its worst case: strings at their
//! longest, the most target modules and training versions, a parent at the greatest depth, a
//! price change that folds an applied schedule, an evaluation that holds a deposit.

#![cfg(feature = "runtime-benchmarks")]

use super::*;
use crate::Pallet as Models;
use alloc::{vec, vec::Vec};
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::traits::{
		fungible::{Inspect, Mutate},
		EnsureOrigin, Get,
	},
	frame_system::RawOrigin,
	sp_runtime::traits::Saturating,
};

/// Gives `who` enough to pay every deposit a benchmark takes.
fn fund<T: Config>(who: &T::AccountId) {
	let amount = T::ModelDeposit::get()
		.saturating_add(T::AdapterDeposit::get())
		.saturating_add(T::EvaluationDeposit::get())
		.saturating_mul(1_000u32.into())
		.saturating_add(T::Currency::minimum_balance().saturating_mul(10u32.into()));
	T::Currency::set_balance(who, amount);
}

/// A byte string of `S` bytes: the longest allowed.
fn longest<S: Get<u32>>(fill: u8) -> Result<BoundedVec<u8, S>, BenchmarkError> {
	BoundedVec::try_from(vec![fill; S::get() as usize])
		.map_err(|_| BenchmarkError::Stop("a bound is not a length"))
}

/// A distinct artifact hash for each `(kind, n)`.
fn artifact(kind: u8, n: u32) -> H256 {
	H256::from_low_u64_be((u64::from(kind) << 32) | u64::from(n))
}

/// `m` distinct target modules, each of the longest name.
fn modules<T: Config>(m: u32) -> Result<TargetModulesOf<T>, BenchmarkError> {
	let mut all = Vec::new();
	for i in 0..m {
		let mut name = vec![b'm'; T::MaxModuleNameLength::get() as usize];
		for (slot, byte) in name.iter_mut().zip(i.to_le_bytes()) {
			*slot = byte;
		}
		all.push(BoundedVec::try_from(name).map_err(|_| BenchmarkError::Stop("module name"))?);
	}
	BoundedVec::try_from(all).map_err(|_| BenchmarkError::Stop("too many modules"))
}

/// `t` distinct frozen versions with weights summing to 100%.
fn training<T: Config>(t: u32) -> Result<TrainingOf<T>, BenchmarkError> {
	let one = Perbill::one().deconstruct();
	let share = one / t.max(1);
	let first = one.saturating_sub(share.saturating_mul(t.saturating_sub(1)));
	let all: Vec<_> = (0..t)
		.map(|i| {
			let weight = if i == 0 { first } else { share };
			(T::BenchmarkHelper::frozen_version(i), Perbill::from_parts(weight))
		})
		.collect();
	BoundedVec::try_from(all).map_err(|_| BenchmarkError::Stop("too many versions"))
}

fn some_price<T: Config>() -> PriceOf<T> {
	Price { per_1k_input: 1u32.into(), per_1k_output: 2u32.into() }
}

/// Registers a base model as `owner`.
fn setup_model<T: Config>(owner: &T::AccountId) -> Result<ModelId, BenchmarkError> {
	let model = NextModelId::<T>::get();
	Models::<T>::register_model(
		RawOrigin::Signed(owner.clone()).into(),
		artifact(0, model),
		longest::<T::MaxArchitectureLength>(b'a')?,
		longest::<T::MaxLicenseLength>(b'l')?,
		longest::<T::MaxUriLength>(b'u')?,
	)?;
	Ok(model)
}

/// Registers an adapter on `model` under `parent` as `author`.
fn setup_adapter<T: Config>(
	author: &T::AccountId,
	model: ModelId,
	parent: Option<AdapterId>,
) -> Result<AdapterId, BenchmarkError> {
	let adapter = NextAdapterId::<T>::get();
	Models::<T>::register_adapter(
		RawOrigin::Signed(author.clone()).into(),
		model,
		parent,
		artifact(1, adapter),
		T::MaxRank::get(),
		modules::<T>(1)?,
		some_price::<T>(),
		longest::<T::MaxLicenseLength>(b'l')?,
		longest::<T::MaxUriLength>(b'u')?,
		training::<T>(1)?,
	)?;
	Ok(adapter)
}

/// Registers a model and a chain of adapters whose last one has depth `MaxLineageDepth - 1`.
fn setup_chain<T: Config>(author: &T::AccountId) -> Result<(ModelId, AdapterId), BenchmarkError> {
	let model = setup_model::<T>(author)?;
	let mut last = setup_adapter::<T>(author, model, None)?;
	for _ in 1..T::MaxLineageDepth::get() {
		last = setup_adapter::<T>(author, model, Some(last))?;
	}
	Ok((model, last))
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_model() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);
		let model = NextModelId::<T>::get();
		let hash = artifact(0, model);
		let architecture = longest::<T::MaxArchitectureLength>(b'a')?;
		let license = longest::<T::MaxLicenseLength>(b'l')?;
		let uri = longest::<T::MaxUriLength>(b'u')?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), hash, architecture, license, uri);

		assert_eq!(ArtifactIndex::<T>::get(hash), Some(ArtifactOwner::Model(model)));
		Ok(())
	}

	/// `m`: target modules; `t`: training versions. The parent is at the greatest depth.
	#[benchmark]
	fn register_adapter(
		m: Linear<1, { T::MaxTargetModules::get() }>,
		t: Linear<1, { T::MaxTrainingVersions::get() }>,
	) -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);
		let (model, parent) = setup_chain::<T>(&caller)?;
		let adapter = NextAdapterId::<T>::get();
		let hash = artifact(2, adapter);
		let target_modules = modules::<T>(m)?;
		let training = training::<T>(t)?;
		let license = longest::<T::MaxLicenseLength>(b'l')?;
		let uri = longest::<T::MaxUriLength>(b'u')?;

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			model,
			Some(parent),
			hash,
			T::MaxRank::get(),
			target_modules,
			some_price::<T>(),
			license,
			uri,
			training,
		);

		assert_eq!(Adapters::<T>::get(adapter).map(|a| a.depth), Some(T::MaxLineageDepth::get()));
		Ok(())
	}

	#[benchmark]
	fn deprecate_adapter() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);
		let model = setup_model::<T>(&caller)?;
		let adapter = setup_adapter::<T>(&caller, model, None)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), adapter);

		assert_eq!(Adapters::<T>::get(adapter).map(|a| a.status), Some(AdapterStatus::Deprecated));
		Ok(())
	}

	#[benchmark]
	fn revoke_adapter() -> Result<(), BenchmarkError> {
		let author: T::AccountId = account("author", 0, 0);
		fund::<T>(&author);
		let model = setup_model::<T>(&author)?;
		let adapter = setup_adapter::<T>(&author, model, None)?;
		let origin =
			T::RevokeOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, adapter);

		assert_eq!(Adapters::<T>::get(adapter).map(|a| a.status), Some(AdapterStatus::Revoked));
		Ok(())
	}

	/// A scheduled price has taken effect: it is folded in before the new one is scheduled.
	#[benchmark]
	fn set_price() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);
		let model = setup_model::<T>(&caller)?;
		let adapter = setup_adapter::<T>(&caller, model, None)?;
		Models::<T>::set_price(
			RawOrigin::Signed(caller.clone()).into(),
			adapter,
			Price { per_1k_input: 3u32.into(), per_1k_output: 4u32.into() },
		)?;
		let later =
			frame_system::Pallet::<T>::block_number().saturating_add(T::PriceChangeDelay::get());
		frame_system::Pallet::<T>::set_block_number(later);
		let price = Price { per_1k_input: 5u32.into(), per_1k_output: 6u32.into() };

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), adapter, price);

		let info = Adapters::<T>::get(adapter).ok_or(BenchmarkError::Stop("registered"))?;
		assert_eq!(info.price, Price { per_1k_input: 3u32.into(), per_1k_output: 4u32.into() });
		assert!(info.previous_price.is_some());
		Ok(())
	}

	/// The caller registered the adapter and pays the deposit (a hold whenever
	/// `EvaluationDeposit` is non-zero, as the runtime's is).
	#[benchmark]
	fn post_evaluation() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller);
		let model = setup_model::<T>(&caller)?;
		let adapter = setup_adapter::<T>(&caller, model, None)?;
		let evaluation = Evaluation {
			manifest_hash: artifact(3, adapter),
			heldout_records: 64,
			heldout_tokens: 4_096,
			trained_tokens: 1_000_000,
			base_loss: 2_300_000,
			adapter_loss: 1_100_000,
			base_token_accuracy: Perbill::from_percent(41),
			adapter_token_accuracy: Perbill::from_percent(67),
			base_exact_match: Perbill::from_percent(5),
			adapter_exact_match: Perbill::from_percent(48),
		};

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), adapter, evaluation);

		assert_eq!(Evaluations::<T>::get(adapter), Some(evaluation));
		Ok(())
	}

	impl_benchmark_test_suite!(Models, crate::mock::new_test_ext(), crate::mock::Test);
}
