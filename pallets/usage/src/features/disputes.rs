//! Disputes: a payer freezes the fee of one of its entries in a batch within the dispute
//! window; [`Config::ResolveOrigin`] refunds it into the payer's escrow (and slashes the
//! operator's bond) or releases it to settlement.

use crate::*;
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
	/// its fee; see [`Pallet::dispute`].
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
		ensure!(!info.disputed.iter().any(|d| d.entry == entry_index), Error::<T>::AlreadyDisputed);
		info.disputed
			.try_push(Dispute {
				entry: entry_index,
				adapter,
				fee,
				payer: payer.clone(),
				state: DisputeState::Open,
			})
			.map_err(|_| Error::<T>::TooManyDisputes)?;
		Batches::<T>::insert(&operator, sequence, info);
		Self::deposit_event(Event::DisputeOpened {
			operator,
			sequence,
			entry: entry_index,
			payer,
			fee,
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
		let dispute = info
			.disputed
			.iter_mut()
			.find(|d| d.entry == entry_index && d.state == DisputeState::Open)
			.ok_or(Error::<T>::NotDisputed)?;
		let (payer, adapter, fee) = (dispute.payer.clone(), dispute.adapter, dispute.fee);
		let mut slashed = Zero::zero();
		if refund {
			dispute.state = DisputeState::Refunded;
			info.total_fee = info.total_fee.saturating_sub(fee);
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
			slashed = Self::slash(&operator)?;
		} else {
			dispute.state = DisputeState::Released;
			if info.settled && !fee.is_zero() {
				T::Settlement::settle(&Self::pot_account(), &operator, &[(adapter, fee)])?;
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
