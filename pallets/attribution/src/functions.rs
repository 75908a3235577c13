//! Settlement, claims, the read API and the state invariants.

use super::*;
use alloc::collections::btree_map::{BTreeMap, Entry};
use frame_support::{
	ensure,
	pallet_prelude::DispatchResult,
	traits::{
		fungible::{Inspect, Mutate},
		tokens::Preservation,
		Get,
	},
};
use polkadot_sdk::sp_runtime::{
	helpers_128bit::multiply_by_rational_with_rounding,
	traits::{AccountIdConversion, CheckedAdd, Saturating, Zero},
	Rounding, SaturatedConversion,
};

/// A pool as a settlement changes it, before it is written back.
struct StagedPool<Balance> {
	/// The pool, with this settlement's parts added.
	pool: Pool<Balance>,
	/// The datanet's total weight.
	total_weight: u128,
	/// Whether a part was added (only then is the pool written back).
	changed: bool,
}

impl<T: Config> Pallet<T> {
	/// The pot: this pallet's account, which holds every credit and pool balance.
	pub fn account_id() -> T::AccountId {
		T::PalletId::get().into_account_truncating()
	}

	/// The fee-split policy in force.
	pub fn policy() -> FeePolicy {
		Policy::<T>::get()
	}

	/// What `who` may claim now: per datanet it has a checkpoint in (its reward at its past
	/// weights and at its current weight since the checkpoint), and its credits per role.
	///
	/// Reads one checkpoint, pool and weight per datanet `who` has contributed to.
	pub fn pending_rewards(who: &T::AccountId) -> PendingRewardsOf<T> {
		match Self::pending_rewards_metered(who, || Ok::<(), core::convert::Infallible>(())) {
			Ok(rewards) => rewards,
			Err(never) => match never {},
		}
	}

	/// [`Pallet::pending_rewards`] for callers that pay per read (the contracts' precompile):
	/// `charge` runs before each datanet's reads (one checkpoint, one pool, one weight), and its
	/// error stops the walk and is returned.
	pub fn pending_rewards_metered<E>(
		who: &T::AccountId,
		mut charge: impl FnMut() -> Result<(), E>,
	) -> Result<PendingRewardsOf<T>, E> {
		let mut datanets: Vec<(DatanetId, BalanceOf<T>)> = Vec::new();
		for (datanet, checkpoint) in Checkpoints::<T>::iter_prefix(who) {
			charge()?;
			let pool = Pools::<T>::get(datanet);
			let weight = T::Datanets::contributor_weight(datanet, who);
			let owed = Self::owed(&checkpoint, &pool, weight).min(pool.balance);
			if !owed.is_zero() {
				datanets.push((datanet, owed));
			}
		}
		datanets.sort_by_key(|(datanet, _)| *datanet);
		Ok(PendingRewards {
			datanets,
			as_author: Credits::<T>::get(who, Role::Author),
			as_base_owner: Credits::<T>::get(who, Role::BaseOwner),
			as_operator: Credits::<T>::get(who, Role::Operator),
		})
	}

	/// What a contributor of `weight` with `checkpoint` is owed by `pool`: the unclaimed part
	/// plus `weight × (reward_per_weight − paid_per_weight) / PRECISION`, rounded down.
	pub(crate) fn owed(
		checkpoint: &CheckpointOf<T>,
		pool: &PoolOf<T>,
		weight: u128,
	) -> BalanceOf<T> {
		checkpoint.unclaimed.saturating_add(Self::accrued(
			weight,
			pool.reward_per_weight,
			checkpoint.paid_per_weight,
		))
	}

	/// `weight × (now − then) / PRECISION`, rounded down. It cannot exceed what was added to the
	/// pool (the weights of a datanet's contributors sum to its total weight), so the saturation
	/// is never reached in a consistent state; callers cap it at the pool's balance anyway.
	fn accrued(weight: u128, now: u128, then: u128) -> BalanceOf<T> {
		let delta = now.saturating_sub(then);
		if weight == 0 || delta == 0 {
			return Zero::zero();
		}
		multiply_by_rational_with_rounding(weight, delta, PRECISION, Rounding::Down)
			.unwrap_or(u128::MAX)
			.saturated_into()
	}

	/// Account `who`'s earnings in `datanet` at `weight` up to now, and move its checkpoint to
	/// the pool's current accumulator. Creates the checkpoint if there is none.
	pub(crate) fn checkpoint(datanet: DatanetId, who: &T::AccountId, weight: u128) {
		let reward_per_weight = Pools::<T>::get(datanet).reward_per_weight;
		Checkpoints::<T>::mutate(who, datanet, |maybe| {
			let checkpoint = maybe.get_or_insert_with(Default::default);
			let earned = Self::accrued(weight, reward_per_weight, checkpoint.paid_per_weight);
			checkpoint.unclaimed = checkpoint.unclaimed.saturating_add(earned);
			checkpoint.paid_per_weight = reward_per_weight;
		});
	}

	/// Give `who` a provider reference and at least the existential deposit (minting what is
	/// missing), so that it exists for good and can receive any amount. Genesis only.
	pub(crate) fn endow(who: &T::AccountId) {
		frame_system::Pallet::<T>::inc_providers(who);
		let minimum = T::Currency::minimum_balance();
		let balance = T::Currency::balance(who);
		if balance < minimum {
			let minted = T::Currency::mint_into(who, minimum.saturating_sub(balance));
			assert!(minted.is_ok(), "the existential deposit of a pallet account can be minted");
		}
	}

	/// Split `fees` and move them; see [`SettleFees::settle`]. Computes everything before its
	/// first write; [`SettleFees::settle`] runs it in a storage layer so a late failure (the
	/// treasury's transfer) undoes the rest.
	pub(crate) fn do_settle(
		source: &T::AccountId,
		operator: &T::AccountId,
		fees: &[(AdapterId, BalanceOf<T>)],
	) -> DispatchResult {
		if fees.is_empty() {
			return Ok(());
		}
		let policy = Policy::<T>::get();
		let now = frame_system::Pallet::<T>::block_number();
		let mut total = BalanceOf::<T>::zero();
		let mut to_treasury = BalanceOf::<T>::zero();
		let mut dust = BalanceOf::<T>::zero();
		let mut credits: BTreeMap<(T::AccountId, Role), BalanceOf<T>> = BTreeMap::new();
		let mut pools: BTreeMap<DatanetId, StagedPool<BalanceOf<T>>> = BTreeMap::new();
		let mut events = Vec::with_capacity(fees.len());

		for &(adapter, fee) in fees {
			let terms =
				T::Adapters::adapter_terms(adapter, now).ok_or(Error::<T>::UnknownAdapter)?;
			total = total.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
			let shares = policy.split(fee);

			// The datanets' share, by attribution weight, one part per datanet.
			let mut parts: BTreeMap<DatanetId, BalanceOf<T>> = BTreeMap::new();
			let mut attributed = BalanceOf::<T>::zero();
			for (version, weight) in terms.training.iter() {
				let part = weight.mul_floor(shares.datanets);
				attributed = attributed.saturating_add(part);
				let entry = parts.entry(version.datanet).or_default();
				*entry = entry.saturating_add(part);
			}
			let mut pooled = BalanceOf::<T>::zero();
			let mut unpooled = BalanceOf::<T>::zero();
			let mut fee_dust = shares.dust;
			if terms.training.is_empty() || attributed > shares.datanets {
				// No datanet to pay (or weights above 100%, which the model registry rules out):
				// the whole share goes to the treasury.
				unpooled = shares.datanets;
				parts.clear();
			} else {
				// The weights sum to 100%: what the rounding of the parts left is dust.
				fee_dust = fee_dust.saturating_add(shares.datanets.saturating_sub(attributed));
			}
			for (datanet, part) in parts {
				if part.is_zero() {
					continue;
				}
				if Self::stage_pool(&mut pools, datanet, part) {
					pooled = pooled.saturating_add(part);
				} else {
					unpooled = unpooled.saturating_add(part);
				}
			}

			for (who, role, amount) in [
				(terms.author, Role::Author, shares.author),
				(terms.base_model_owner, Role::BaseOwner, shares.base_owner),
				(operator.clone(), Role::Operator, shares.operator),
			] {
				if amount.is_zero() {
					continue;
				}
				let credit = credits.entry((who, role)).or_default();
				*credit = credit.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
			}

			let treasury = shares.treasury.saturating_add(fee_dust).saturating_add(unpooled);
			to_treasury = to_treasury.checked_add(&treasury).ok_or(Error::<T>::Overflow)?;
			dust = dust.saturating_add(fee_dust);
			events.push(Event::<T>::FeesSplit {
				adapter,
				fee,
				author: shares.author,
				base_owner: shares.base_owner,
				datanets: pooled,
				operator: shares.operator,
				treasury,
			});
		}

		let pot = Self::account_id();
		if !total.is_zero() {
			T::Currency::transfer(source, &pot, total, Preservation::Preserve)?;
		}
		for ((who, role), amount) in credits {
			Credits::<T>::try_mutate(&who, role, |credit| -> DispatchResult {
				*credit = credit.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
				Ok(())
			})?;
		}
		for (datanet, staged) in pools {
			if staged.changed {
				Pools::<T>::insert(datanet, staged.pool);
			}
		}
		if !to_treasury.is_zero() {
			T::Currency::transfer(
				&pot,
				&T::TreasuryAccount::get(),
				to_treasury,
				Preservation::Preserve,
			)?;
		}
		for event in events {
			Self::deposit_event(event);
		}
		if !dust.is_zero() {
			TotalDust::<T>::mutate(|total| total.saturating_accrue(dust));
			Self::deposit_event(Event::DustCollected { amount: dust });
		}
		Ok(())
	}

	/// Add `part` to `datanet`'s pool as staged in `pools` (read on first use). Returns `false`,
	/// changing nothing, when no pool can take it: the datanet has no weight, the part is too
	/// small to move the accumulator, or the accumulator or the balance would overflow.
	fn stage_pool(
		pools: &mut BTreeMap<DatanetId, StagedPool<BalanceOf<T>>>,
		datanet: DatanetId,
		part: BalanceOf<T>,
	) -> bool {
		let staged = match pools.entry(datanet) {
			Entry::Occupied(entry) => entry.into_mut(),
			Entry::Vacant(entry) => entry.insert(StagedPool {
				pool: Pools::<T>::get(datanet),
				total_weight: T::Datanets::total_weight(datanet),
				changed: false,
			}),
		};
		if staged.total_weight == 0 {
			return false;
		}
		let Ok(amount) = TryInto::<u128>::try_into(part) else { return false };
		let Some(delta) = multiply_by_rational_with_rounding(
			amount,
			PRECISION,
			staged.total_weight,
			Rounding::Down,
		) else {
			return false;
		};
		if delta == 0 {
			return false;
		}
		let Some(reward_per_weight) = staged.pool.reward_per_weight.checked_add(delta) else {
			return false;
		};
		let Some(balance) = staged.pool.balance.checked_add(&part) else { return false };
		staged.pool = Pool { reward_per_weight, balance };
		staged.changed = true;
		true
	}

	/// Pay `who` its reward from `datanet`'s pool; see [`Pallet::claim`].
	pub(crate) fn do_claim(who: T::AccountId, datanet: DatanetId) -> DispatchResult {
		let weight = T::Datanets::contributor_weight(datanet, &who);
		let mut pool = Pools::<T>::get(datanet);
		let mut checkpoint = Checkpoints::<T>::get(&who, datanet).unwrap_or_default();
		let owed = Self::owed(&checkpoint, &pool, weight);
		// Never more than the pool holds (a consistent state never needs the cap).
		let amount = owed.min(pool.balance);
		ensure!(!amount.is_zero(), Error::<T>::NothingToClaim);
		T::Currency::transfer(&Self::account_id(), &who, amount, Preservation::Preserve)?;
		pool.balance = pool.balance.saturating_sub(amount);
		checkpoint.paid_per_weight = pool.reward_per_weight;
		checkpoint.unclaimed = owed.saturating_sub(amount);
		Pools::<T>::insert(datanet, pool);
		Checkpoints::<T>::insert(&who, datanet, checkpoint);
		Self::deposit_event(Event::RewardClaimed { who, datanet, amount });
		Ok(())
	}

	/// Pay `who` all its credits; see [`Pallet::claim_credits`].
	pub(crate) fn do_claim_credits(who: T::AccountId) -> DispatchResult {
		let mut amount = BalanceOf::<T>::zero();
		for role in Role::ALL {
			amount =
				amount.checked_add(&Credits::<T>::get(&who, role)).ok_or(Error::<T>::Overflow)?;
		}
		ensure!(!amount.is_zero(), Error::<T>::NothingToClaim);
		T::Currency::transfer(&Self::account_id(), &who, amount, Preservation::Preserve)?;
		for role in Role::ALL {
			Credits::<T>::remove(&who, role);
		}
		Self::deposit_event(Event::CreditsClaimed { who, amount });
		Ok(())
	}

	/// The invariants of the pallet's storage and its pot:
	///
	/// - the policy is whole;
	/// - no credit is zero (claimed credits are removed);
	/// - the pot covers every obligation: what it can pay while keeping its existential deposit
	///   is at least `Σ Credits + Σ pool balances` (equal unless someone sent the pot funds);
	/// - no checkpoint is ahead of its pool's accumulator;
	/// - each pool's balance covers what its contributors may claim: `Σ` over the datanet's
	///   checkpoints of `unclaimed + weight × (reward_per_weight − paid_per_weight) / PRECISION`
	///   (rounded down) is at most the pool's balance. Claims round down, so this holds however
	///   claims and settlements interleave.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use frame_support::traits::tokens::Fortitude;

		ensure!(Policy::<T>::get().is_whole(), "the policy does not sum to 100%");

		let mut obligations = BalanceOf::<T>::zero();
		for (_, _, credit) in Credits::<T>::iter() {
			ensure!(!credit.is_zero(), "a zero credit is stored");
			obligations = obligations.checked_add(&credit).ok_or("credits overflow")?;
		}
		let mut pools: BTreeMap<DatanetId, (PoolOf<T>, BalanceOf<T>)> = BTreeMap::new();
		for (datanet, pool) in Pools::<T>::iter() {
			obligations = obligations.checked_add(&pool.balance).ok_or("pools overflow")?;
			pools.insert(datanet, (pool, Zero::zero()));
		}
		let payable = T::Currency::reducible_balance(
			&Self::account_id(),
			Preservation::Preserve,
			Fortitude::Polite,
		);
		ensure!(payable >= obligations, "the pot does not cover the credits and pools");

		for (who, datanet, checkpoint) in Checkpoints::<T>::iter() {
			let (pool, claimable) = pools.entry(datanet).or_default();
			ensure!(
				checkpoint.paid_per_weight <= pool.reward_per_weight,
				"a checkpoint is ahead of its pool"
			);
			let weight = T::Datanets::contributor_weight(datanet, &who);
			let owed = Self::owed(&checkpoint, pool, weight);
			*claimable = claimable.checked_add(&owed).ok_or("claimable rewards overflow")?;
		}
		for (pool, claimable) in pools.values() {
			ensure!(*claimable <= pool.balance, "a pool does not cover its contributors' rewards");
		}
		Ok(())
	}
}
