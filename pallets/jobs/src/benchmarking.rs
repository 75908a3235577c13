//! Benchmarks for `pallet_jobs` (benchmarks v2), each at its worst case: the longest prompt and
//! output, a fee settled through [`Config::Settlement`], a full expiry block.
//!
//! Fulfilments are signed with the keystore host functions (`sp_io::crypto::sr25519_*`), which
//! the benchmark CLI provides. `fulfil`'s measured weight includes one real settlement; the call
//! adds [`SettleFees::settle_weight`] on top, which over-counts it once (on the safe side).

#![cfg(feature = "runtime-benchmarks")]

use super::*;
use crate::{Jobs as JobRecords, Pallet as Jobs};
use alloc::{vec, vec::Vec};
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::traits::{fungible::Inspect, Get, Hooks},
	frame_system::RawOrigin,
	sp_core::crypto::KeyTypeId,
	sp_io::crypto::{sr25519_generate, sr25519_sign},
	sp_runtime::traits::{One, Saturating, Zero},
};

/// The keystore key type the benchmarks' operator keys are made under.
const KEY_TYPE: KeyTypeId = KeyTypeId(*b"ljob");

/// A fee ceiling larger than any benchmark's fee.
fn ceiling<T: Config>() -> BalanceOf<T> {
	T::Currency::minimum_balance().saturating_mul(1_000_000u32.into()).max(1_000_000_000u32.into())
}

/// Funds `who` for any number of jobs.
fn fund<T: Config>(who: &T::AccountId) {
	let amount = ceiling::<T>().saturating_mul(1_000u32.into());
	T::BenchmarkHelper::fund(who, amount);
}

/// A valid UTF-8 prompt of `len` bytes (at least one).
fn prompt<T: Config>(len: u32) -> Result<PromptOf<T>, BenchmarkError> {
	BoundedVec::try_from(vec![b'a'; len.max(1) as usize])
		.map_err(|_| BenchmarkError::Stop("prompt longer than MaxPromptLength"))
}

/// Requests a job of `requester`'s on `adapter` with a prompt of `len` bytes, expiring `ttl`
/// blocks from now.
fn setup_job<T: Config>(
	requester: &T::AccountId,
	adapter: AdapterId,
	len: u32,
	ttl: BlockNumberFor<T>,
) -> Result<JobId, BenchmarkError> {
	Ok(Jobs::<T>::do_request(
		requester.clone(),
		adapter,
		prompt::<T>(len)?,
		T::MaxOutputTokens::get(),
		SamplingParams::greedy(),
		ceiling::<T>(),
		ttl,
		None,
	)?)
}

/// A fulfilment of `job` by `operator` with an output of `len` bytes, signed with `key`.
fn signed_fulfilment<T: Config>(
	job: JobId,
	operator: &T::AccountId,
	key: &sr25519::Public,
	len: u32,
) -> Result<(FulfilmentOf<T>, sr25519::Signature), BenchmarkError> {
	let output: OutputOf<T> = BoundedVec::try_from(vec![b'o'; len as usize])
		.map_err(|_| BenchmarkError::Stop("output longer than MaxOutputLength"))?;
	let fulfilment = FulfilmentOf::<T> {
		job,
		operator: operator.clone(),
		// As many tokens as the bounds allow: a prompt of `MaxPromptLength` bytes (the benchmarks'
		// jobs), the output's bytes, and the template overhead.
		input_tokens: u64::from(T::MaxPromptLength::get())
			.saturating_add(u64::from(T::MaxOverheadTokens::get()))
			.min(1_000),
		output_tokens: u64::from(T::MaxOutputTokens::get())
			.min(u64::from(len).saturating_add(u64::from(T::MaxOverheadTokens::get()))),
		response_hash: response_hash(&output),
		output,
		// The matches' shape check is in-memory; their settlement is weighed by
		// `SettleFees::settle_weight`.
		matched: Vec::new(),
	};
	let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
	let signature = sr25519_sign(KEY_TYPE, key, &fulfilment_payload(&genesis, &fulfilment))
		.ok_or(BenchmarkError::Stop("the keystore cannot sign"))?;
	Ok((fulfilment, signature))
}

/// A serving operator with a fresh keystore key.
fn setup_operator<T: Config>() -> (T::AccountId, sr25519::Public) {
	let operator: T::AccountId = account("operator", 0, 0);
	let key = sr25519_generate(KEY_TYPE, None);
	T::BenchmarkHelper::register_operator(&operator, key);
	(operator, key)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// A request with a prompt of `p` bytes, naming a serving operator.
	#[benchmark]
	fn request(p: Linear<1, { T::MaxPromptLength::get() }>) -> Result<(), BenchmarkError> {
		let adapter = T::BenchmarkHelper::create_adapter(0);
		let (operator, _) = setup_operator::<T>();
		let requester: T::AccountId = whitelisted_caller();
		fund::<T>(&requester);
		let ttl = T::MaxTtl::get();
		// The expiry block holds all but one job already.
		for _ in 1..T::MaxJobsPerBlock::get() {
			setup_job::<T>(&requester, adapter, 1, ttl)?;
		}
		let id = NextJobId::<T>::get();

		#[extrinsic_call]
		request(
			RawOrigin::Signed(requester.clone()),
			adapter,
			prompt::<T>(p)?,
			T::MaxOutputTokens::get(),
			SamplingParams::greedy(),
			ceiling::<T>(),
			ttl,
			Some(operator),
		);

		assert!(JobRecords::<T>::contains_key(id));
		Ok(())
	}

	/// A fulfilment with an output of `o` bytes, its fee settled.
	#[benchmark]
	fn fulfil(o: Linear<0, { T::MaxOutputLength::get() }>) -> Result<(), BenchmarkError> {
		let adapter = T::BenchmarkHelper::create_adapter(0);
		let (operator, key) = setup_operator::<T>();
		let requester: T::AccountId = account("requester", 0, 0);
		fund::<T>(&requester);
		let job = setup_job::<T>(&requester, adapter, T::MaxPromptLength::get(), T::MaxTtl::get())?;
		Jobs::<T>::do_claim(operator.clone(), job)?;
		let (fulfilment, signature) = signed_fulfilment::<T>(job, &operator, &key, o)?;
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		fulfil(RawOrigin::Signed(caller), fulfilment, signature);

		assert!(Outputs::<T>::contains_key(job));
		Ok(())
	}

	/// A claim on an open job whose previous claim has lapsed.
	#[benchmark]
	fn claim() -> Result<(), BenchmarkError> {
		let adapter = T::BenchmarkHelper::create_adapter(0);
		let (operator, _) = setup_operator::<T>();
		let requester: T::AccountId = account("requester", 0, 0);
		fund::<T>(&requester);
		let job = setup_job::<T>(&requester, adapter, T::MaxPromptLength::get(), T::MaxTtl::get())?;
		let until = frame_system::Pallet::<T>::block_number().saturating_add(T::ClaimPeriod::get());
		JobRecords::<T>::mutate(job, |j| {
			if let Some(j) = j {
				j.claim = Some((account("earlier", 0, 0), until));
			}
		});
		frame_system::Pallet::<T>::set_block_number(until);

		#[extrinsic_call]
		claim(RawOrigin::Signed(operator.clone()), job);

		assert_eq!(JobRecords::<T>::get(job).and_then(|j| j.claim).map(|c| c.0), Some(operator));
		Ok(())
	}

	/// Taking the longest output of a job listed in a full expiry block.
	#[benchmark]
	fn take_output() -> Result<(), BenchmarkError> {
		let adapter = T::BenchmarkHelper::create_adapter(0);
		let (operator, key) = setup_operator::<T>();
		let requester: T::AccountId = whitelisted_caller();
		fund::<T>(&requester);
		let ttl = T::MaxTtl::get();
		for _ in 1..T::MaxJobsPerBlock::get() {
			setup_job::<T>(&requester, adapter, 1, ttl)?;
		}
		let job = setup_job::<T>(&requester, adapter, T::MaxPromptLength::get(), ttl)?;
		let (fulfilment, signature) =
			signed_fulfilment::<T>(job, &operator, &key, T::MaxOutputLength::get())?;
		Jobs::<T>::do_claim(operator.clone(), job)?;
		Jobs::<T>::do_fulfil(fulfilment, signature)?;

		#[extrinsic_call]
		take_output(RawOrigin::Signed(requester), job);

		assert!(!JobRecords::<T>::contains_key(job));
		Ok(())
	}

	/// `on_initialize` expiring `n` jobs, each with the longest prompt and output (fulfilled
	/// outputs are removed too, pending jobs release two holds: both paths are measured by
	/// alternating them).
	#[benchmark]
	fn on_initialize_expire(
		n: Linear<0, { T::MaxJobsPerBlock::get() }>,
	) -> Result<(), BenchmarkError> {
		let adapter = T::BenchmarkHelper::create_adapter(0);
		let (operator, key) = setup_operator::<T>();
		let ttl = T::MinTtl::get();
		for i in 0..n {
			let requester: T::AccountId = account("requester", i, 0);
			fund::<T>(&requester);
			let job = setup_job::<T>(&requester, adapter, T::MaxPromptLength::get(), ttl)?;
			if i % 2 == 1 {
				let (fulfilment, signature) =
					signed_fulfilment::<T>(job, &operator, &key, T::MaxOutputLength::get())?;
				Jobs::<T>::do_claim(operator.clone(), job)?;
				Jobs::<T>::do_fulfil(fulfilment, signature)?;
			}
		}
		let at = frame_system::Pallet::<T>::block_number().saturating_add(ttl);
		frame_system::Pallet::<T>::set_block_number(at.saturating_sub(One::one()));

		#[block]
		{
			Jobs::<T>::on_initialize(at);
		}

		assert_eq!(JobRecords::<T>::iter().count(), 0);
		Ok(())
	}

	impl_benchmark_test_suite!(Jobs, crate::mock::new_bench_ext(), crate::mock::Test);
}
