//! Escrow: a payer's deposits for an operator, its withdrawal requests and, after the notice,
//! its withdrawals. The funds lie in the pot ([`Pallet::pot_account`]); [`Escrows`] is the
//! ledger over them.

use crate::*;
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult},
	traits::{fungible::Mutate, tokens::Preservation, Get},
};
use polkadot_sdk::sp_runtime::traits::{CheckedAdd, Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Transfers `amount` from `payer` into the pot and adds it to `payer`'s escrow with
	/// `operator`; see [`Pallet::deposit_escrow`].
	pub(crate) fn do_deposit_escrow(
		payer: T::AccountId,
		operator: T::AccountId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
		ensure!(info.status == OperatorStatus::Active, Error::<T>::OperatorNotActive);
		let balance = Escrows::<T>::try_mutate(&payer, &operator, |maybe| {
			let escrow = maybe.get_or_insert_with(Default::default);
			escrow.balance = escrow.balance.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
			Ok::<_, DispatchError>(escrow.balance)
		})?;
		T::Currency::transfer(&payer, &Self::pot_account(), amount, Preservation::Preserve)?;
		Self::deposit_event(Event::EscrowDeposited { payer, operator, amount, balance });
		Ok(())
	}

	/// Records `payer`'s request for `amount` of its escrow with `operator` back, after the
	/// notice; see [`Pallet::request_withdrawal`].
	pub(crate) fn do_request_withdrawal(
		payer: T::AccountId,
		operator: T::AccountId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let unlocks_at = frame_system::Pallet::<T>::block_number()
			.checked_add(&T::WithdrawNotice::get())
			.ok_or(Error::<T>::Overflow)?;
		Escrows::<T>::try_mutate(&payer, &operator, |maybe| -> DispatchResult {
			let escrow = maybe.as_mut().ok_or(Error::<T>::NoEscrow)?;
			ensure!(amount <= escrow.balance, Error::<T>::InsufficientEscrow);
			escrow.withdrawal = Some((amount, unlocks_at));
			Ok(())
		})?;
		Self::deposit_event(Event::WithdrawalRequested { payer, operator, amount, unlocks_at });
		Ok(())
	}

	/// Pays `payer` what is left of its withdrawal request with `operator` from the pot; see
	/// [`Pallet::withdraw_escrow`].
	pub(crate) fn do_withdraw_escrow(
		payer: T::AccountId,
		operator: T::AccountId,
	) -> DispatchResult {
		let now = frame_system::Pallet::<T>::block_number();
		let mut escrow = Escrows::<T>::get(&payer, &operator).ok_or(Error::<T>::NoEscrow)?;
		let (requested, unlocks_at) = escrow.withdrawal.ok_or(Error::<T>::NoWithdrawal)?;
		ensure!(now >= unlocks_at, Error::<T>::WithdrawalLocked);
		let amount = requested.min(escrow.balance);
		escrow.balance = escrow.balance.saturating_sub(amount);
		escrow.withdrawal = None;
		if escrow.balance.is_zero() {
			Escrows::<T>::remove(&payer, &operator);
		} else {
			Escrows::<T>::insert(&payer, &operator, escrow);
		}
		if !amount.is_zero() {
			T::Currency::transfer(&Self::pot_account(), &payer, amount, Preservation::Preserve)?;
		}
		Self::deposit_event(Event::EscrowWithdrawn { payer, operator, amount });
		Ok(())
	}

	/// `payer`'s escrow balance with `operator` (0 when it has none).
	pub fn escrow_of(payer: &T::AccountId, operator: &T::AccountId) -> BalanceOf<T> {
		Escrows::<T>::get(payer, operator).map(|e| e.balance).unwrap_or_default()
	}
}
