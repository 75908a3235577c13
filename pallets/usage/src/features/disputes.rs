//! Disputes: a payer freezes the fee of one of its entries in a batch within the dispute
//! window; [`Config::ResolveOrigin`] refunds it into the payer's escrow (and slashes the
//! operator's bond) or releases it to settlement.

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult},
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
		Get,
	},
};
use polkadot_sdk::sp_runtime::traits::{CheckedAdd, Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Records `who`'s dispute of entry `entry_index` of `operator`'s batch `sequence`, freezing
	/// its fee and holding the deposit; see [`Pallet::dispute`].
	pub(crate) fn do_dispute(
		who: T::AccountId,
		operator: T::AccountId,
		sequence: Sequence,
		entry_index: u32,
	) -> DispatchResult {
		let mut info = Batches::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now < info.settles_at, Error::<T>::DisputeWindowClosed);
		let charges =
			BatchEntries::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
		let (payer, adapter, fee) =
			charges.get(entry_index as usize).cloned().ok_or(Error::<T>::UnknownEntry)?;
		ensure!(payer == who, Error::<T>::NotPayer);

		// Mark the entry in the batch's bitmap: disputed at most once.
		let mut bits = DisputedEntries::<T>::get(&operator, sequence).unwrap_or_default();
		let (byte, mask) = ((entry_index / 8) as usize, 1u8 << (entry_index % 8));
		if bits.len() <= byte {
			let len = info.entry_count.div_ceil(8) as usize;
			let mut grown = bits.into_inner();
			grown.resize(len, 0);
			bits = DisputedBitsOf::<T>::try_from(grown).map_err(|_| Error::<T>::UnknownEntry)?;
		}
		let flags = bits.get_mut(byte).ok_or(Error::<T>::UnknownEntry)?;
		ensure!(*flags & mask == 0, Error::<T>::AlreadyDisputed);
		*flags |= mask;

		let deposit = T::DisputeDeposit::get();
		if !deposit.is_zero() {
			T::Currency::hold(&HoldReason::DisputeDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientDeposit)?;
		}
		add_fee::<T>(&mut info.frozen, adapter, fee)?;
		info.open_disputes = info.open_disputes.checked_add(1).ok_or(Error::<T>::Overflow)?;
		Disputes::<T>::insert(
			(&operator, sequence, entry_index),
			Dispute { payer: payer.clone(), adapter, fee, deposit },
		);
		DisputedEntries::<T>::insert(&operator, sequence, bits);
		Batches::<T>::insert(&operator, sequence, info);
		Self::deposit_event(Event::DisputeOpened {
			operator,
			sequence,
			entry: entry_index,
			payer,
			fee,
			deposit,
		});
		Ok(())
	}

	/// Resolves the open dispute of entry `entry_index` of `operator`'s batch `sequence`: a
	/// refund (and slash) when `refund`, else a release; see [`Pallet::resolve_dispute`].
	pub(crate) fn do_resolve_dispute(
		operator: T::AccountId,
		sequence: Sequence,
		entry_index: u32,
		refund: bool,
	) -> DispatchResult {
		let mut info = Batches::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
		let Dispute { payer, adapter, fee, deposit } =
			Disputes::<T>::take((&operator, sequence, entry_index))
				.ok_or(Error::<T>::NotDisputed)?;
		info.open_disputes = info.open_disputes.saturating_sub(1);
		sub_fee::<T>(&mut info.frozen, adapter, fee);
		let mut slashed = Zero::zero();
		if refund {
			info.total_fee = info.total_fee.saturating_sub(fee);
			info.refunded = info.refunded.saturating_add(fee);
			if let Some((_, adapter_fee)) =
				info.fees_by_adapter.iter_mut().find(|(id, _)| *id == adapter)
			{
				*adapter_fee = adapter_fee.saturating_sub(fee);
			}
			if !fee.is_zero() {
				Escrows::<T>::try_mutate(&payer, &operator, |maybe| {
					let escrow = maybe.get_or_insert_with(Default::default);
					escrow.balance =
						escrow.balance.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
					Ok::<_, DispatchError>(())
				})?;
			}
			if !deposit.is_zero() {
				T::Currency::release(
					&HoldReason::DisputeDeposit.into(),
					&payer,
					deposit,
					Precision::BestEffort,
				)?;
			}
			slashed = Self::slash(&operator)?;
		} else {
			if info.settled && !fee.is_zero() {
				let matched: Vec<_> = BatchMatched::<T>::get(&operator, sequence)
					.unwrap_or_default()
					.into_iter()
					.filter(|share| share.adapter == adapter)
					.collect();
				T::Settlement::settle(
					&Self::pot_account(),
					&operator,
					&[(adapter, fee)],
					&matched,
				)?;
			}
			if !deposit.is_zero() {
				T::Currency::transfer_on_hold(
					&HoldReason::DisputeDeposit.into(),
					&payer,
					&operator,
					deposit,
					Precision::BestEffort,
					Restriction::Free,
					Fortitude::Force,
				)?;
			}
		}
		Self::store_or_close(&operator, sequence, info)?;
		Self::deposit_event(Event::DisputeResolved {
			operator,
			sequence,
			entry: entry_index,
			refunded: refund,
			slashed,
		});
		Ok(())
	}

	/// Slash the smaller of [`Config::DisputeSlash`] and `operator`'s bond to
	/// [`Config::SlashBeneficiary`]; returns what was slashed.
	fn slash(operator: &T::AccountId) -> Result<BalanceOf<T>, DispatchError> {
		let Some(mut info) = Operators::<T>::get(operator) else {
			// Unreachable: an operator with a batch in storage cannot deregister.
			return Ok(Zero::zero());
		};
		let amount = T::DisputeSlash::get().min(info.bond);
		if amount.is_zero() {
			return Ok(amount);
		}
		let slashed = T::Currency::transfer_on_hold(
			&HoldReason::OperatorBond.into(),
			operator,
			&T::SlashBeneficiary::get(),
			amount,
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		)?;
		info.bond = info.bond.saturating_sub(slashed);
		Operators::<T>::insert(operator, info);
		Ok(slashed)
	}
}

/// Adds `fee` to `adapter`'s amount in `fees` (ascending by adapter, inserted when absent).
fn add_fee<T: Config>(
	fees: &mut FeesByAdapterOf<T>,
	adapter: AdapterId,
	fee: BalanceOf<T>,
) -> DispatchResult {
	match fees.binary_search_by_key(&adapter, |(id, _)| *id) {
		Ok(i) => {
			let amount = &mut fees[i].1;
			*amount = amount.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
		},
		Err(i) => fees.try_insert(i, (adapter, fee)).map_err(|_| Error::<T>::TooManyAdapters)?,
	}
	Ok(())
}

/// Takes `fee` from `adapter`'s amount in `fees`, removing the adapter when nothing is left.
fn sub_fee<T: Config>(fees: &mut FeesByAdapterOf<T>, adapter: AdapterId, fee: BalanceOf<T>) {
	if let Ok(i) = fees.binary_search_by_key(&adapter, |(id, _)| *id) {
		let amount = &mut fees[i].1;
		*amount = amount.saturating_sub(fee);
		if amount.is_zero() {
			fees.remove(i);
		}
	}
}
