//! Usage batches: the check of an operator-signed batch (sizes, operator, sequence, entry
//! order, signature, adapters) and of each payer's voucher, the charge of its fees to the
//! payers' escrow within their signed spend limits, two reads and two writes per payer; and the
//! batch's shape its weight is computed from.

use crate::*;
use alloc::{
	collections::{BTreeMap, BTreeSet},
	vec::Vec,
};
use frame_support::{ensure, pallet_prelude::DispatchResult, traits::Get};
use lineage_primitives::usage::{signing_payload, usage_fee};
use polkadot_sdk::sp_runtime::{
	traits::{CheckedAdd, CheckedSub, Saturating, UniqueSaturatedInto, Verify, Zero},
	Perbill,
};

impl<T: Config> Pallet<T> {
	/// The sequence number `who`'s next batch must carry.
	pub fn next_sequence(who: &T::AccountId) -> Sequence {
		NextSequence::<T>::get(who)
	}

	/// The shape of a batch for its weight: `(e, p, a)` for `e` entries, `p` runs of entries with
	/// one payer (the distinct payers when the entries are sorted, as they must be) and `a`
	/// distinct adapters. One pass, without storage access; counts saturate at `u32::MAX`.
	pub fn batch_shape(entries: &[UsageEntry<T::AccountId>]) -> (u32, u32, u32) {
		let mut payers = 0usize;
		let mut previous: Option<&T::AccountId> = None;
		let mut adapters = BTreeSet::new();
		for entry in entries {
			if previous != Some(&entry.payer) {
				payers = payers.saturating_add(1);
				previous = Some(&entry.payer);
			}
			adapters.insert(entry.adapter);
		}
		let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
		(count(entries.len()), count(payers), count(adapters.len()))
	}

	/// Checks the shape of a batch's matched shares: strictly ascending by key, each naming an
	/// adapter of the batch (`adapters`), none zero, at most `MaxMatchedPerAdapter` per adapter
	/// and summing to at most 100% per adapter. One pass, without storage access.
	pub(crate) fn check_matched(
		matched: &[MatchedShare<T::AccountId>],
		adapters: &BTreeSet<AdapterId>,
	) -> DispatchResult {
		let per_adapter = T::MaxMatchedPerAdapter::get() as usize;
		let mut previous: Option<&MatchedShare<T::AccountId>> = None;
		let (mut count, mut sum) = (0usize, 0u64);
		for share in matched {
			ensure!(adapters.contains(&share.adapter), Error::<T>::MatchedAdapterNotInBatch);
			ensure!(!share.share.is_zero(), Error::<T>::ZeroMatchedShare);
			if let Some(previous) = previous {
				ensure!(previous.key() < share.key(), Error::<T>::MatchedNotSorted);
			}
			if previous.is_none_or(|p| p.adapter != share.adapter) {
				(count, sum) = (0, 0);
			}
			count = count.saturating_add(1);
			sum = sum.saturating_add(u64::from(share.share.deconstruct()));
			ensure!(count <= per_adapter, Error::<T>::TooManyMatched);
			ensure!(sum <= u64::from(Perbill::one().deconstruct()), Error::<T>::MatchedOverWhole);
			previous = Some(share);
		}
		Ok(())
	}

	/// Checks a usage batch and its signature, charges its fees to the payers' escrow and
	/// stores it; see [`Pallet::submit_usage`].
	pub(crate) fn do_submit_usage(
		batch: UsageBatch<T::AccountId>,
		signature: sr25519::Signature,
		vouchers: VouchersOf<T>,
	) -> DispatchResult {
		// Cheap checks first: sizes, the operator, the sequence, the entries' order.
		ensure!(!batch.entries.is_empty(), Error::<T>::EmptyBatch);
		ensure!(
			batch.entries.len() <= T::MaxEntriesPerBatch::get() as usize,
			Error::<T>::TooManyEntries
		);
		let operator = &batch.operator;
		let mut info = Operators::<T>::get(operator).ok_or(Error::<T>::NotOperator)?;
		ensure!(info.status == OperatorStatus::Active, Error::<T>::OperatorNotActive);
		ensure!(info.bond >= T::OperatorBond::get(), Error::<T>::InsufficientBond);
		let sequence = NextSequence::<T>::get(operator);
		ensure!(batch.sequence == sequence, Error::<T>::SequenceMismatch);
		let next_sequence = sequence.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let now = frame_system::Pallet::<T>::block_number();
		let served_from = BlockNumberFor::<T>::from(batch.served_from);
		let served_to = BlockNumberFor::<T>::from(batch.served_to);
		ensure!(served_from <= served_to && served_to <= now, Error::<T>::BadServedBlocks);
		ensure!(
			now.saturating_sub(served_from) <= T::MaxServedAge::get(),
			Error::<T>::ServedTooLongAgo
		);

		let mut adapter_ids = BTreeSet::new();
		let mut previous: Option<&UsageEntry<T::AccountId>> = None;
		let mut payer_runs = 0usize;
		for entry in &batch.entries {
			ensure!(
				entry.requests > 0 && (entry.input_tokens > 0 || entry.output_tokens > 0),
				Error::<T>::ZeroTokens
			);
			if let Some(previous) = previous {
				ensure!(previous.key() < entry.key(), Error::<T>::EntriesNotSorted);
			}
			if previous.is_none_or(|p| p.payer != entry.payer) {
				// One voucher per payer, in the entries' (ascending) payer order.
				ensure!(
					payer_runs < T::MaxPayersPerBatch::get() as usize,
					Error::<T>::TooManyPayers
				);
				let voucher = vouchers.get(payer_runs).ok_or(Error::<T>::VoucherMismatch)?;
				ensure!(voucher.payer == entry.payer, Error::<T>::VoucherMismatch);
				payer_runs = payer_runs.saturating_add(1);
			}
			previous = Some(entry);
			adapter_ids.insert(entry.adapter);
		}
		ensure!(vouchers.len() == payer_runs, Error::<T>::VoucherMismatch);
		ensure!(
			adapter_ids.len() <= T::MaxAdaptersPerBatch::get() as usize,
			Error::<T>::TooManyAdapters
		);
		Self::check_matched(&batch.matched, &adapter_ids)?;

		// The signature, over the genesis hash and the batch.
		let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
		let payload = signing_payload(&genesis, &batch);
		ensure!(signature.verify(payload.as_slice(), &info.signing_key), Error::<T>::BadSignature);

		// Each distinct adapter's lowest price over the serving blocks, read once: (per 1k
		// input, per 1k output, the fees charged for it so far).
		let mut adapters = BTreeMap::<AdapterId, (u128, u128, BalanceOf<T>)>::new();
		for adapter in adapter_ids {
			let terms = T::Adapters::adapter_terms_over(adapter, served_from, served_to)
				.ok_or(Error::<T>::UnknownAdapter)?;
			ensure!(terms.status != AdapterUse::Revoked, Error::<T>::AdapterRevoked);
			adapters.insert(
				adapter,
				(
					terms.per_1k_input.unique_saturated_into(),
					terms.per_1k_output.unique_saturated_into(),
					Zero::zero(),
				),
			);
		}

		// Charge each run of one payer's entries to its escrow, within the spend limit of the
		// payer's voucher: one signature check, two reads and two writes per payer.
		let entries = &batch.entries;
		let mut payer_vouchers = vouchers.iter();
		let mut charges = Vec::with_capacity(entries.len());
		let mut total_fee = BalanceOf::<T>::zero();
		let mut start = 0;
		while let Some(first) = entries.get(start) {
			let payer = &first.payer;
			let mut payer_fee = BalanceOf::<T>::zero();
			let mut end = start;
			while let Some(entry) = entries.get(end).filter(|e| e.payer == *payer) {
				let (per_1k_input, per_1k_output, adapter_fee) =
					adapters.get_mut(&entry.adapter).ok_or(Error::<T>::UnknownAdapter)?;
				let fee = usage_fee(
					entry.input_tokens,
					entry.output_tokens,
					*per_1k_input,
					*per_1k_output,
				)
				.and_then(|fee| BalanceOf::<T>::try_from(fee).ok())
				.ok_or(Error::<T>::Overflow)?;
				*adapter_fee = adapter_fee.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
				payer_fee = payer_fee.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
				charges.push((entry.payer.clone(), entry.adapter, fee));
				end = end.saturating_add(1);
			}
			let voucher = payer_vouchers.next().ok_or(Error::<T>::VoucherMismatch)?;
			ensure!(voucher.verify(genesis, operator.clone()), Error::<T>::BadVoucher);
			if !payer_fee.is_zero() {
				let spent = Spent::<T>::get(payer, operator)
					.checked_add(&payer_fee)
					.ok_or(Error::<T>::Overflow)?;
				let spent_total: u128 = spent.unique_saturated_into();
				ensure!(spent_total <= voucher.spend_limit, Error::<T>::SpendLimitExceeded);
				Spent::<T>::insert(payer, operator, spent);
				Escrows::<T>::try_mutate_exists(payer, operator, |maybe| -> DispatchResult {
					let escrow = maybe.as_mut().ok_or(Error::<T>::InsufficientEscrow)?;
					escrow.balance = escrow
						.balance
						.checked_sub(&payer_fee)
						.ok_or(Error::<T>::InsufficientEscrow)?;
					if escrow.balance.is_zero() && escrow.withdrawal.is_none() {
						*maybe = None;
					}
					Ok(())
				})?;
			}
			total_fee = total_fee.checked_add(&payer_fee).ok_or(Error::<T>::Overflow)?;
			start = end;
		}

		// Store the batch as two values.
		let fees_by_adapter: Vec<_> =
			adapters.into_iter().map(|(adapter, (_, _, fee))| (adapter, fee)).collect();
		let fees_by_adapter = FeesByAdapterOf::<T>::try_from(fees_by_adapter)
			.map_err(|_| Error::<T>::TooManyAdapters)?;
		let charges = ChargesOf::<T>::try_from(charges).map_err(|_| Error::<T>::TooManyEntries)?;
		let entry_count = charges.len() as u32;
		let settles_at = now.checked_add(&T::DisputeWindow::get()).ok_or(Error::<T>::Overflow)?;
		info.open_batches = info.open_batches.checked_add(1).ok_or(Error::<T>::Overflow)?;
		Batches::<T>::insert(
			operator,
			sequence,
			BatchInfo::<T> {
				submitted_at: now,
				settles_at,
				records_root: batch.records_root,
				entry_count,
				total_fee,
				fees_by_adapter,
				frozen: Default::default(),
				open_disputes: 0,
				refunded: Zero::zero(),
				settled: false,
			},
		);
		BatchEntries::<T>::insert(operator, sequence, charges);
		if !batch.matched.is_empty() {
			let matched = MatchedOf::<T>::try_from(batch.matched.clone())
				.map_err(|_| Error::<T>::TooManyMatched)?;
			BatchMatched::<T>::insert(operator, sequence, matched);
		}
		NextSequence::<T>::insert(operator, next_sequence);
		Operators::<T>::insert(operator, info);
		Self::deposit_event(Event::UsageSubmitted {
			operator: batch.operator,
			sequence,
			entries: entry_count,
			total_fee,
			records_root: batch.records_root,
		});
		Ok(())
	}
}
