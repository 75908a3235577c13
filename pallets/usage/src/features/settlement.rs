//! Settlement: once a batch's dispute window has passed, its fees per adapter, less those frozen
//! by open disputes, go from the pot to [`Config::Settlement`] (the attribution pallet's split),
//! with the batch's matched shares.

use crate::*;
use alloc::vec::Vec;
use frame_support::{ensure, pallet_prelude::DispatchResultWithPostInfo};
use polkadot_sdk::sp_runtime::traits::{Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Settles `operator`'s batch `sequence`; returns the weight of the adapters actually
	/// settled. See [`Pallet::settle_batch`].
	pub(crate) fn do_settle_batch(
		operator: T::AccountId,
		sequence: Sequence,
	) -> DispatchResultWithPostInfo {
		let mut info = Batches::<T>::get(&operator, sequence).ok_or(Error::<T>::UnknownBatch)?;
		ensure!(!info.settled, Error::<T>::AlreadySettled);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now >= info.settles_at, Error::<T>::DisputeWindowOpen);

		let adapters = info.fees_by_adapter.len() as u32;
		let mut payable: Vec<(AdapterId, BalanceOf<T>)> = info.fees_by_adapter.to_vec();
		let mut frozen = BalanceOf::<T>::zero();
		for (adapter, fee) in info.frozen.iter() {
			frozen = frozen.saturating_add(*fee);
			if let Ok(i) = payable.binary_search_by_key(adapter, |(id, _)| *id) {
				payable[i].1 = payable[i].1.saturating_sub(*fee);
			}
		}
		payable.retain(|(_, fee)| !fee.is_zero());
		let settled =
			payable.iter().fold(BalanceOf::<T>::zero(), |sum, (_, fee)| sum.saturating_add(*fee));
		let matched = BatchMatched::<T>::get(&operator, sequence).unwrap_or_default();
		if !payable.is_empty() {
			T::Settlement::settle(&Self::pot_account(), &operator, &payable, &matched)?;
		}
		info.settled = true;
		Self::store_or_close(&operator, sequence, info)?;
		Self::deposit_event(Event::BatchSettled { operator, sequence, settled, frozen });
		let shares = matched.len() as u32;
		Ok(Some(
			T::WeightInfo::settle_batch(adapters, shares)
				.saturating_add(T::Settlement::settle_weight(payable.len() as u32, shares)),
		)
		.into())
	}
}
