//! The pallet's checks and state changes, its read API and its invariants.

use super::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult},
	traits::{fungible::MutateHold, tokens::Precision, Get},
};
use lineage_primitives::usage::{
	check_record_matches, usage_fee, AdapterUse, MatchError, MatchedShare,
};
use polkadot_sdk::sp_runtime::traits::{
	CheckedAdd, CheckedMul, Saturating, UniqueSaturatedInto, Verify, Zero,
};

impl<T: Config> Pallet<T> {
	/// The storage deposit a job with a prompt of `prompt_len` bytes holds: the base plus the
	/// per-byte deposit for the prompt and the longest output.
	pub fn deposit_for(prompt_len: u32) -> Option<BalanceOf<T>> {
		let bytes = prompt_len.checked_add(T::MaxOutputLength::get())?;
		T::JobDepositPerByte::get()
			.checked_mul(&BalanceOf::<T>::from(bytes))?
			.checked_add(&T::JobDepositBase::get())
	}

	/// Checks a request, holds its fee ceiling and deposit and stores the job; see
	/// [`Pallet::request`]. Returns the job's id.
	#[allow(clippy::too_many_arguments)]
	pub fn do_request(
		requester: T::AccountId,
		adapter: AdapterId,
		prompt: PromptOf<T>,
		max_output_tokens: u32,
		sampling: SamplingParams,
		max_fee: BalanceOf<T>,
		ttl: BlockNumberFor<T>,
		operator: Option<T::AccountId>,
	) -> Result<JobId, DispatchError> {
		ensure!(!prompt.is_empty(), Error::<T>::EmptyPrompt);
		ensure!(core::str::from_utf8(&prompt).is_ok(), Error::<T>::PromptNotUtf8);
		ensure!(
			(1..=T::MaxOutputTokens::get()).contains(&max_output_tokens),
			Error::<T>::BadMaxOutputTokens
		);
		ensure!(sampling.is_valid(), Error::<T>::BadSampling);
		ensure!(ttl >= T::MinTtl::get() && ttl <= T::MaxTtl::get(), Error::<T>::BadTtl);

		let now = frame_system::Pallet::<T>::block_number();
		let terms = T::Adapters::adapter_terms(adapter, now).ok_or(Error::<T>::UnknownAdapter)?;
		ensure!(terms.status != AdapterUse::Revoked, Error::<T>::AdapterRevoked);
		let least = usage_fee(
			1,
			1,
			terms.per_1k_input.unique_saturated_into(),
			terms.per_1k_output.unique_saturated_into(),
		)
		.ok_or(Error::<T>::Overflow)?;
		ensure!(
			UniqueSaturatedInto::<u128>::unique_saturated_into(max_fee) >= least,
			Error::<T>::FeeCeilingTooLow
		);
		if let Some(operator) = &operator {
			ensure!(T::Operators::serving_key(operator).is_some(), Error::<T>::OperatorNotServing);
		}

		let id = NextJobId::<T>::get();
		let next_id = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let expires_at = now.checked_add(&ttl).ok_or(Error::<T>::Overflow)?;
		Expiries::<T>::try_append(expires_at, id).map_err(|_| Error::<T>::ExpiryBlockFull)?;

		let deposit = Self::deposit_for(prompt.len() as u32).ok_or(Error::<T>::Overflow)?;
		T::Currency::hold(&HoldReason::JobFee.into(), &requester, max_fee)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		T::Currency::hold(&HoldReason::JobStorage.into(), &requester, deposit)
			.map_err(|_| Error::<T>::InsufficientBalance)?;

		NextJobId::<T>::put(next_id);
		Jobs::<T>::insert(
			id,
			Job::<T> {
				requester: requester.clone(),
				adapter,
				operator: operator.clone(),
				prompt,
				max_output_tokens,
				sampling,
				max_fee,
				deposit,
				requested_at: now,
				expires_at,
				claim: None,
				state: JobState::Pending,
			},
		);
		Self::deposit_event(Event::JobRequested {
			job: id,
			requester,
			adapter,
			operator,
			max_output_tokens,
			max_fee,
			expires_at,
		});
		Ok(id)
	}

	/// Checks a fulfilment and its signature, charges and settles the fee and stores the
	/// output; see [`Pallet::fulfil`].
	pub fn do_fulfil(fulfilment: FulfilmentOf<T>, signature: sr25519::Signature) -> DispatchResult {
		let id = fulfilment.job;
		let mut job = Jobs::<T>::get(id).ok_or(Error::<T>::UnknownJob)?;
		ensure!(job.state == JobState::Pending, Error::<T>::AlreadyFulfilled);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now < job.expires_at, Error::<T>::JobExpired);
		let operator = &fulfilment.operator;
		match (&job.operator, &job.claim) {
			(Some(asked), _) => ensure!(asked == operator, Error::<T>::WrongOperator),
			(None, Some((claimant, until))) if claimant == operator && now < *until => {},
			(None, _) => return Err(Error::<T>::NotClaimed.into()),
		}
		let key = T::Operators::serving_key(operator).ok_or(Error::<T>::OperatorNotServing)?;
		ensure!(fulfilment.input_tokens > 0, Error::<T>::ZeroInputTokens);
		let overhead = u64::from(T::MaxOverheadTokens::get());
		ensure!(
			fulfilment.input_tokens <= (job.prompt.len() as u64).saturating_add(overhead),
			Error::<T>::TooManyInputTokens
		);
		ensure!(
			fulfilment.output_tokens <= u64::from(job.max_output_tokens)
				&& fulfilment.output_tokens
					<= (fulfilment.output.len() as u64).saturating_add(overhead),
			Error::<T>::TooManyOutputTokens
		);
		ensure!(core::str::from_utf8(&fulfilment.output).is_ok(), Error::<T>::OutputNotUtf8);
		ensure!(
			fulfilment.response_hash == response_hash(&fulfilment.output),
			Error::<T>::ResponseHashMismatch
		);
		check_record_matches(&fulfilment.matched, T::MaxMatchedPerJob::get() as usize).map_err(
			|e| match e {
				MatchError::NotSorted => Error::<T>::MatchedNotSorted,
				MatchError::Zero => Error::<T>::ZeroMatchedShare,
				MatchError::TooMany => Error::<T>::TooManyMatched,
				MatchError::OverWhole => Error::<T>::MatchedOverWhole,
			},
		)?;
		let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
		let payload = fulfilment_payload(&genesis, &fulfilment);
		ensure!(signature.verify(payload.as_slice(), &key), Error::<T>::BadSignature);

		let terms =
			T::Adapters::adapter_terms(job.adapter, now).ok_or(Error::<T>::UnknownAdapter)?;
		ensure!(terms.status != AdapterUse::Revoked, Error::<T>::AdapterRevoked);
		let fee = usage_fee(
			fulfilment.input_tokens,
			fulfilment.output_tokens,
			terms.per_1k_input.unique_saturated_into(),
			terms.per_1k_output.unique_saturated_into(),
		)
		.and_then(|fee| BalanceOf::<T>::try_from(fee).ok())
		.ok_or(Error::<T>::Overflow)?;
		ensure!(fee <= job.max_fee, Error::<T>::FeeAboveCeiling);

		// Release the ceiling, then pay the fee from the requester into the split.
		T::Currency::release(
			&HoldReason::JobFee.into(),
			&job.requester,
			job.max_fee,
			Precision::Exact,
		)?;
		if !fee.is_zero() {
			// The answer's matches as shares of the job's fee (one request: its own parts).
			let matched: Vec<MatchedShare<T::AccountId>> = fulfilment
				.matched
				.iter()
				.map(|m| MatchedShare {
					adapter: job.adapter,
					datanet: m.datanet,
					version: m.version,
					contributor: m.contributor.clone(),
					share: m.share,
				})
				.collect();
			T::Settlement::settle(&job.requester, operator, &[(job.adapter, fee)], &matched)?;
		}

		job.state = JobState::Fulfilled {
			operator: operator.clone(),
			input_tokens: fulfilment.input_tokens,
			output_tokens: fulfilment.output_tokens,
			fee,
			response_hash: fulfilment.response_hash,
			fulfilled_at: now,
		};
		Jobs::<T>::insert(id, job.clone());
		Outputs::<T>::insert(id, fulfilment.output);
		Self::deposit_event(Event::JobFulfilled {
			job: id,
			operator: fulfilment.operator,
			input_tokens: fulfilment.input_tokens,
			output_tokens: fulfilment.output_tokens,
			fee,
			refunded: job.max_fee.saturating_sub(fee),
			response_hash: fulfilment.response_hash,
		});
		Ok(())
	}

	/// Records `who`'s claim on the open job `id`; see [`Pallet::claim`].
	pub fn do_claim(who: T::AccountId, id: JobId) -> DispatchResult {
		let mut job = Jobs::<T>::get(id).ok_or(Error::<T>::UnknownJob)?;
		ensure!(job.state == JobState::Pending, Error::<T>::AlreadyFulfilled);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now < job.expires_at, Error::<T>::JobExpired);
		ensure!(job.operator.is_none(), Error::<T>::NotOpen);
		ensure!(T::Operators::serving_key(&who).is_some(), Error::<T>::OperatorNotServing);
		if let Some((_, until)) = &job.claim {
			ensure!(now >= *until, Error::<T>::AlreadyClaimed);
		}
		let until = now.checked_add(&T::ClaimPeriod::get()).ok_or(Error::<T>::Overflow)?;
		job.claim = Some((who.clone(), until));
		Jobs::<T>::insert(id, job);
		Self::deposit_event(Event::JobClaimed { job: id, operator: who, until });
		Ok(())
	}

	/// Removes a fulfilled job of `who`'s and releases its deposit; returns its output. See
	/// [`Pallet::take_output`].
	pub fn do_take_output(who: &T::AccountId, id: JobId) -> Result<OutputOf<T>, DispatchError> {
		let job = Jobs::<T>::get(id).ok_or(Error::<T>::UnknownJob)?;
		ensure!(job.requester == *who, Error::<T>::NotRequester);
		ensure!(matches!(job.state, JobState::Fulfilled { .. }), Error::<T>::NotFulfilled);
		let output = Outputs::<T>::take(id).ok_or(Error::<T>::NotFulfilled)?;
		Jobs::<T>::remove(id);
		Expiries::<T>::mutate_exists(job.expires_at, |ids| {
			if let Some(list) = ids {
				list.retain(|j| *j != id);
				if list.is_empty() {
					*ids = None;
				}
			}
		});
		Self::release_all(&job, HoldReason::JobStorage, job.deposit);
		Self::deposit_event(Event::OutputTaken { job: id, requester: job.requester });
		Ok(output)
	}

	/// Expires the jobs listed for block `now`: refunds pending ones, removes untaken outputs.
	/// Returns how many it expired.
	pub(crate) fn expire(now: BlockNumberFor<T>) -> u32 {
		let ids = Expiries::<T>::take(now);
		for id in ids.iter().copied() {
			let Some(job) = Jobs::<T>::take(id) else { continue };
			Self::release_all(&job, HoldReason::JobStorage, job.deposit);
			match job.state {
				JobState::Pending => {
					Self::release_all(&job, HoldReason::JobFee, job.max_fee);
					Self::deposit_event(Event::JobExpired {
						job: id,
						requester: job.requester,
						refunded: job.max_fee,
					});
				},
				JobState::Fulfilled { .. } => {
					Outputs::<T>::remove(id);
					Self::deposit_event(Event::OutputExpired { job: id, requester: job.requester });
				},
			}
		}
		ids.len() as u32
	}

	/// Releases `amount` held from `job`'s requester for `reason`. What this pallet holds is
	/// always there to release (the invariants check it); were it short, the rest is released.
	fn release_all(job: &Job<T>, reason: HoldReason, amount: BalanceOf<T>) {
		if !amount.is_zero() {
			let _ =
				T::Currency::release(&reason.into(), &job.requester, amount, Precision::BestEffort);
		}
	}

	/// The pallet's invariants:
	/// - each job is listed at its expiry block, which is in the future, and each listed id is a
	///   job (listed once);
	/// - fulfilled jobs, and only they, have an output;
	/// - each requester's holds equal the fee ceilings of its pending jobs and the deposits of
	///   its jobs;
	/// - job ids are below [`NextJobId`].
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::{BTreeMap, BTreeSet};
		use frame_support::traits::fungible::InspectHold;

		let now = frame_system::Pallet::<T>::block_number();
		let mut listed = BTreeSet::new();
		for (block, ids) in Expiries::<T>::iter() {
			ensure!(block > now, "jobs are listed to expire at a past block");
			for id in ids {
				ensure!(listed.insert(id), "a job is listed to expire twice");
				let job = Jobs::<T>::get(id).ok_or("a listed job does not exist")?;
				ensure!(
					job.expires_at == block,
					"a job is listed at another block than its expiry"
				);
			}
		}
		let mut held = BTreeMap::<T::AccountId, (BalanceOf<T>, BalanceOf<T>)>::new();
		for (id, job) in Jobs::<T>::iter() {
			ensure!(id < NextJobId::<T>::get(), "a job id is not below the next id");
			ensure!(listed.contains(&id), "a job is not listed at its expiry block");
			let pending = job.state == JobState::Pending;
			ensure!(
				Outputs::<T>::contains_key(id) != pending,
				"a job's output does not match its state"
			);
			let entry = held.entry(job.requester.clone()).or_default();
			if pending {
				entry.0 = entry.0.saturating_add(job.max_fee);
			}
			entry.1 = entry.1.saturating_add(job.deposit);
		}
		for (id, _) in Outputs::<T>::iter() {
			ensure!(Jobs::<T>::contains_key(id), "an output outlives its job");
		}
		for (who, (fees, deposits)) in held {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::JobFee.into(), &who) == fees,
				"a requester's held fee ceilings differ from its pending jobs'"
			);
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::JobStorage.into(), &who) == deposits,
				"a requester's held deposits differ from its jobs'"
			);
		}
		Ok(())
	}
}
