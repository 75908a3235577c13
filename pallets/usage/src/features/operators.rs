//! Operators: registering with a bond, a signing key and an endpoint; rotating the key;
//! replacing the endpoint; topping the bond up; leaving, and, after unbonding, deregistering.
//! Also the operator registry's read API, and [`OperatorInspect`] for the pallets that need a
//! serving operator's key.

use crate::*;
use frame_support::{
	ensure,
	pallet_prelude::DispatchResult,
	traits::{fungible::MutateHold, tokens::Precision, Get},
};
use lineage_primitives::usage::OperatorInspect;
use polkadot_sdk::sp_runtime::traits::{CheckedAdd, Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Registers `operator` with `signing_key` and `endpoint`, holding [`Config::OperatorBond`]
	/// from it; see [`Pallet::register_operator`].
	pub(crate) fn do_register_operator(
		operator: T::AccountId,
		signing_key: sr25519::Public,
		endpoint: EndpointOf<T>,
	) -> DispatchResult {
		ensure!(!Operators::<T>::contains_key(&operator), Error::<T>::AlreadyOperator);
		ensure!(!OperatorKeys::<T>::contains_key(signing_key), Error::<T>::KeyInUse);
		let bond = T::OperatorBond::get();
		T::Currency::hold(&HoldReason::OperatorBond.into(), &operator, bond)?;
		Operators::<T>::insert(
			&operator,
			OperatorInfo::<T> {
				signing_key,
				endpoint: endpoint.clone(),
				bond,
				status: OperatorStatus::Active,
				open_batches: 0,
				registered_at: frame_system::Pallet::<T>::block_number(),
			},
		);
		OperatorKeys::<T>::insert(signing_key, &operator);
		Self::deposit_event(Event::OperatorRegistered { operator, signing_key, endpoint, bond });
		Ok(())
	}

	/// Replaces `operator`'s signing key with `new_key`; see [`Pallet::rotate_key`].
	pub(crate) fn do_rotate_key(
		operator: T::AccountId,
		new_key: sr25519::Public,
	) -> DispatchResult {
		let mut info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
		ensure!(!OperatorKeys::<T>::contains_key(new_key), Error::<T>::KeyInUse);
		let old_key = core::mem::replace(&mut info.signing_key, new_key);
		OperatorKeys::<T>::remove(old_key);
		OperatorKeys::<T>::insert(new_key, &operator);
		Operators::<T>::insert(&operator, info);
		Self::deposit_event(Event::SigningKeyRotated { operator, old_key, new_key });
		Ok(())
	}

	/// Replaces `operator`'s endpoint URL; see [`Pallet::set_endpoint`].
	pub(crate) fn do_set_endpoint(
		operator: T::AccountId,
		endpoint: EndpointOf<T>,
	) -> DispatchResult {
		Operators::<T>::try_mutate(&operator, |maybe| -> DispatchResult {
			let info = maybe.as_mut().ok_or(Error::<T>::NotOperator)?;
			info.endpoint = endpoint.clone();
			Ok(())
		})?;
		Self::deposit_event(Event::EndpointSet { operator, endpoint });
		Ok(())
	}

	/// Holds `amount` more as `operator`'s bond; see [`Pallet::bond_extra`].
	pub(crate) fn do_bond_extra(operator: T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
		info.bond = info.bond.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
		T::Currency::hold(&HoldReason::OperatorBond.into(), &operator, amount)?;
		let bond = info.bond;
		Operators::<T>::insert(&operator, info);
		Self::deposit_event(Event::BondIncreased { operator, amount, bond });
		Ok(())
	}

	/// Marks `operator` as leaving from now on; see [`Pallet::leave`].
	pub(crate) fn do_leave(operator: T::AccountId) -> DispatchResult {
		let now = frame_system::Pallet::<T>::block_number();
		let unbonds_at = now.checked_add(&T::UnbondingPeriod::get()).ok_or(Error::<T>::Overflow)?;
		Operators::<T>::try_mutate(&operator, |maybe| -> DispatchResult {
			let info = maybe.as_mut().ok_or(Error::<T>::NotOperator)?;
			ensure!(info.status == OperatorStatus::Active, Error::<T>::OperatorNotActive);
			info.status = OperatorStatus::Leaving { since: now };
			Ok(())
		})?;
		Self::deposit_event(Event::OperatorLeft { operator, unbonds_at });
		Ok(())
	}

	/// Releases `operator`'s bond and deregisters it; see [`Pallet::withdraw_bond`].
	pub(crate) fn do_withdraw_bond(operator: T::AccountId) -> DispatchResult {
		let info = Operators::<T>::get(&operator).ok_or(Error::<T>::NotOperator)?;
		let OperatorStatus::Leaving { since } = info.status else {
			return Err(Error::<T>::NotLeaving.into());
		};
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now >= since.saturating_add(T::UnbondingPeriod::get()), Error::<T>::StillUnbonding);
		ensure!(info.open_batches == 0, Error::<T>::OpenBatches);
		let released = T::Currency::release_all(
			&HoldReason::OperatorBond.into(),
			&operator,
			Precision::BestEffort,
		)?;
		Operators::<T>::remove(&operator);
		OperatorKeys::<T>::remove(info.signing_key);
		Self::deposit_event(Event::OperatorRemoved { operator, released });
		Ok(())
	}

	/// The record of operator `who`, if it is registered.
	pub fn operator(who: &T::AccountId) -> Option<OperatorInfo<T>> {
		Operators::<T>::get(who)
	}
}

impl<T: Config> OperatorInspect<T::AccountId> for Pallet<T> {
	fn serving_key(who: &T::AccountId) -> Option<sr25519::Public> {
		Operators::<T>::get(who)
			.filter(|info| {
				info.status == OperatorStatus::Active && info.bond >= T::OperatorBond::get()
			})
			.map(|info| info.signing_key)
	}
}
