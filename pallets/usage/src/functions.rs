//! What the features share: the pot (its account, and its endowment at genesis), the removal of
//! a batch once it is settled with no dispute open; and the pallet's invariants.

use super::*;
use frame_support::{
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{Inspect, Mutate},
		Get,
	},
};
use polkadot_sdk::sp_runtime::traits::{AccountIdConversion, Saturating};

impl<T: Config> Pallet<T> {
	/// The account that holds every escrow and every fee not yet settled.
	pub fn pot_account() -> T::AccountId {
		T::PalletId::get().into_account_truncating()
	}

	/// Makes the pot account exist for good: endows it with the existential deposit (minted)
	/// and gives it a provider reference. Run at genesis; a chain that adds this pallet later
	/// runs it once in a migration.
	pub fn ensure_pot() {
		let pot = Self::pot_account();
		let ed = T::Currency::minimum_balance();
		let balance = T::Currency::balance(&pot);
		if balance < ed {
			let _ = T::Currency::mint_into(&pot, ed.saturating_sub(balance));
		}
		frame_system::Pallet::<T>::inc_providers(&pot);
	}

	/// Store `info` as `operator`'s batch `sequence`, or, when it is settled and none of its
	/// disputes is open, remove the batch and its entries and close it in the operator's
	/// count of open batches.
	pub(crate) fn store_or_close(
		operator: &T::AccountId,
		sequence: Sequence,
		info: BatchInfo<T>,
	) -> DispatchResult {
		if info.settled && info.open_disputes == 0 {
			Batches::<T>::remove(operator, sequence);
			BatchEntries::<T>::remove(operator, sequence);
			BatchMatched::<T>::remove(operator, sequence);
			DisputedEntries::<T>::remove(operator, sequence);
			Operators::<T>::mutate(operator, |maybe| {
				if let Some(op) = maybe {
					op.open_batches = op.open_batches.saturating_sub(1);
				}
			});
		} else {
			Batches::<T>::insert(operator, sequence, info);
		}
		Ok(())
	}

	/// What the pot owes for a batch: its fees while it is unsettled (they will be settled or
	/// refunded), the fees of its open disputes once it is settled.
	#[cfg(any(feature = "try-runtime", test))]
	pub(crate) fn outstanding(info: &BatchInfo<T>) -> BalanceOf<T> {
		use polkadot_sdk::sp_runtime::traits::Zero;
		if info.settled {
			info.frozen
				.iter()
				.fold(Zero::zero(), |sum: BalanceOf<T>, (_, fee)| sum.saturating_add(*fee))
		} else {
			info.total_fee
		}
	}

	/// The pallet's invariants:
	/// - `Operators` and `OperatorKeys` index each other both ways;
	/// - each operator's held bond equals its recorded bond, and its count of open batches
	///   equals its batches in `Batches`, each with a sequence below its `NextSequence`;
	/// - each batch has its entries in `BatchEntries` (and each entry list its batch),
	///   `entry_count` of them; `fees_by_adapter` is ascending, within `MaxAdaptersPerBatch`,
	///   and sums to `total_fee`, which is the entries' fees less the refunded ones; each
	///   dispute names an entry of its payer, adapter and fee, at most once; a batch's matched
	///   shares (when it has any) belong to a stored batch and are well formed;
	/// - the pot's balance above its existential deposit covers every escrow balance and what
	///   the pot owes for every batch.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::BTreeMap;
		use frame_support::{
			ensure,
			traits::{
				fungible::InspectHold,
				tokens::{Fortitude, Preservation},
			},
		};
		use polkadot_sdk::sp_runtime::traits::Zero;

		let mut open = BTreeMap::<T::AccountId, u32>::new();
		let mut deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		let mut owed = BalanceOf::<T>::zero();

		for (operator, info) in Operators::<T>::iter() {
			ensure!(
				OperatorKeys::<T>::get(info.signing_key).as_ref() == Some(&operator),
				"an operator's signing key is not indexed to it"
			);
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::OperatorBond.into(), &operator)
					== info.bond,
				"an operator's held bond differs from its recorded bond"
			);
		}
		for (key, operator) in OperatorKeys::<T>::iter() {
			let info = Operators::<T>::get(&operator).ok_or("an indexed key has no operator")?;
			ensure!(info.signing_key == key, "an indexed key is not its operator's key");
		}

		for (operator, sequence, info) in Batches::<T>::iter() {
			ensure!(Operators::<T>::contains_key(&operator), "a batch's operator is missing");
			ensure!(
				sequence < NextSequence::<T>::get(&operator),
				"a batch's sequence is not below its operator's next one"
			);
			let count = open.entry(operator.clone()).or_default();
			*count = count.saturating_add(1);

			let charges = BatchEntries::<T>::get(&operator, sequence)
				.ok_or("a batch's entries are missing")?;
			ensure!(charges.len() as u32 == info.entry_count, "a batch's entry count is wrong");
			ensure!(
				info.fees_by_adapter.windows(2).all(|w| w[0].0 < w[1].0),
				"a batch's fees by adapter are not strictly ascending"
			);
			let by_adapter = info
				.fees_by_adapter
				.iter()
				.fold(BalanceOf::<T>::zero(), |sum, (_, fee)| sum.saturating_add(*fee));
			ensure!(
				by_adapter == info.total_fee,
				"a batch's fees by adapter do not sum to its fee"
			);
			let charged = charges
				.iter()
				.fold(BalanceOf::<T>::zero(), |sum, (_, _, fee)| sum.saturating_add(*fee));
			ensure!(
				charged.saturating_sub(info.refunded) == info.total_fee,
				"a batch's fee is not its entries' fees less the refunded ones"
			);
			let bits = DisputedEntries::<T>::get(&operator, sequence).unwrap_or_default();
			let mut open_count = 0u32;
			let mut frozen = BTreeMap::<AdapterId, BalanceOf<T>>::new();
			for (entry, dispute) in Disputes::<T>::iter_prefix((&operator, sequence)) {
				open_count = open_count.saturating_add(1);
				let (payer, adapter, fee) =
					charges.get(entry as usize).ok_or("a dispute names no entry of its batch")?;
				ensure!(
					*payer == dispute.payer && *adapter == dispute.adapter && *fee == dispute.fee,
					"a dispute does not match its entry"
				);
				ensure!(
					bits.get((entry / 8) as usize).is_some_and(|b| b & (1 << (entry % 8)) != 0),
					"an open dispute's entry is not marked disputed"
				);
				let sum = frozen.entry(dispute.adapter).or_default();
				*sum = sum.saturating_add(dispute.fee);
				let held = deposits.entry(dispute.payer.clone()).or_default();
				*held = held.saturating_add(dispute.deposit);
			}
			ensure!(open_count == info.open_disputes, "a batch's open dispute count is wrong");
			frozen.retain(|_, fee| !fee.is_zero());
			let recorded: BTreeMap<_, _> =
				info.frozen.iter().filter(|(_, fee)| !fee.is_zero()).cloned().collect();
			ensure!(frozen == recorded, "a batch's frozen fees differ from its open disputes'");
			ensure!(
				!info.settled || info.open_disputes > 0,
				"a settled batch with no open dispute is still stored"
			);
			owed = owed.saturating_add(Self::outstanding(&info));
		}
		for ((operator, sequence, _), _) in Disputes::<T>::iter() {
			ensure!(
				Batches::<T>::contains_key(&operator, sequence),
				"a dispute outlives its batch"
			);
		}
		for (operator, sequence, _) in DisputedEntries::<T>::iter() {
			ensure!(
				Batches::<T>::contains_key(&operator, sequence),
				"a batch's dispute bitmap outlives the batch"
			);
		}
		for (payer, deposit) in deposits {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::DisputeDeposit.into(), &payer) == deposit,
				"a payer's held dispute deposits differ from its open disputes'"
			);
		}
		for (operator, sequence, _) in BatchEntries::<T>::iter() {
			ensure!(
				Batches::<T>::contains_key(&operator, sequence),
				"a batch's entries outlive the batch"
			);
		}
		for (operator, sequence, matched) in BatchMatched::<T>::iter() {
			let info = Batches::<T>::get(&operator, sequence)
				.ok_or("a batch's matched shares outlive the batch")?;
			let adapters = info.fees_by_adapter.iter().map(|(adapter, _)| *adapter).collect();
			ensure!(
				!matched.is_empty() && Self::check_matched(&matched, &adapters).is_ok(),
				"a batch's matched shares are empty or malformed"
			);
		}
		for (operator, info) in Operators::<T>::iter() {
			ensure!(
				open.get(&operator).copied().unwrap_or_default() == info.open_batches,
				"an operator's open batch count differs from its batches"
			);
		}

		for (_, _, escrow) in Escrows::<T>::iter() {
			owed = owed.saturating_add(escrow.balance);
		}
		let pot = Self::pot_account();
		ensure!(
			T::Currency::reducible_balance(&pot, Preservation::Preserve, Fortitude::Polite) >= owed,
			"the pot holds less than the escrow and unsettled fees it owes"
		);
		Ok(())
	}
}
