//! Settlement, claims, the read API and the state invariants.

use super::*;
use alloc::collections::btree_map::BTreeMap;
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

/// What a settlement adds to the datanets' pools and reward indexes, staged in memory so that
/// nothing is written before everything is computed, then written once per pool and per node.
pub(crate) struct StagedRewards<T: Config> {
	/// `W_v` of each (datanet, version) a part was attributed to, read on first use.
	weights: BTreeMap<(DatanetId, VersionId), u128>,
	/// Each pool a part was attributed to, read on first use, and whether a part was added.
	pools: BTreeMap<DatanetId, (PoolOf<T>, bool)>,
	/// The reward-index nodes raised, with their new values.
	nodes: BTreeMap<(DatanetId, VersionId), u128>,
}

impl<T: Config> StagedRewards<T> {
	/// Nothing staged.
	pub(crate) fn new() -> Self {
		Self { weights: BTreeMap::new(), pools: BTreeMap::new(), nodes: BTreeMap::new() }
	}

	/// Stage `part` for `version` of `datanet`: `acc_version += part × PRECISION / W_version`
	/// (rounded down) and the pool's balance `+= part`. Returns `false`, staging nothing, when
	/// the version cannot take it: `version` is 0 or above [`Config::MaxVersionsPerDatanet`],
	/// `W_version` is 0 (no weight frozen through it, or not frozen), the part is too small to
	/// raise `acc_version`, or the pool's sums would overflow.
	fn add_part(&mut self, datanet: DatanetId, version: VersionId, part: BalanceOf<T>) -> bool {
		if version == 0 || version > T::MaxVersionsPerDatanet::get() {
			return false;
		}
		let total = *self
			.weights
			.entry((datanet, version))
			.or_insert_with(|| T::Datanets::weight_through(datanet, version));
		if total == 0 {
			return false;
		}
		let Ok(amount) = TryInto::<u128>::try_into(part) else { return false };
		let Some(delta) =
			multiply_by_rational_with_rounding(amount, PRECISION, total, Rounding::Down)
		else {
			return false;
		};
		if delta == 0 {
			return false;
		}
		let (pool, changed) =
			self.pools.entry(datanet).or_insert_with(|| (Pools::<T>::get(datanet), false));
		// `Σ_v acc_v` bounds every node and every `S_u`: if it does not overflow, none of them
		// does.
		let Some(reward_per_weight) = pool.reward_per_weight.checked_add(delta) else {
			return false;
		};
		let Some(balance) = pool.balance.checked_add(&part) else { return false };
		if !Self::raise(&mut self.nodes, datanet, version, delta) {
			return false;
		}
		*pool = Pool { reward_per_weight, balance };
		*changed = true;
		true
	}

	/// Stage `acc_version += delta` in `datanet`'s reward index without touching its pool (the
	/// benchmark of one part's index writes uses it); see [`StagedRewards::raise`].
	#[cfg(feature = "runtime-benchmarks")]
	pub(crate) fn raise_index(
		&mut self,
		datanet: DatanetId,
		version: VersionId,
		delta: u128,
	) -> bool {
		Self::raise(&mut self.nodes, datanet, version, delta)
	}

	/// Stage `delta` added to each node of [`reward_index::add_path`]`(version)`, each read on
	/// first use; all of them or, when one would overflow, none.
	fn raise(
		nodes: &mut BTreeMap<(DatanetId, VersionId), u128>,
		datanet: DatanetId,
		version: VersionId,
		delta: u128,
	) -> bool {
		let mut raised: Vec<(VersionId, u128)> = Vec::new();
		for i in reward_index::add_path(version) {
			let node = nodes
				.get(&(datanet, i))
				.copied()
				.unwrap_or_else(|| RewardIndex::<T>::get(datanet, i));
			let Some(node) = node.checked_add(delta) else { return false };
			raised.push((i, node));
		}
		for (i, node) in raised {
			nodes.insert((datanet, i), node);
		}
		true
	}

	/// Write the staged pools and nodes.
	pub(crate) fn commit(self) {
		for (datanet, (pool, changed)) in self.pools {
			if changed {
				Pools::<T>::insert(datanet, pool);
			}
		}
		for ((datanet, i), node) in self.nodes {
			RewardIndex::<T>::insert(datanet, i, node);
		}
	}
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

	/// What `who` may claim now: per datanet version it has frozen weight in
	/// ([`DatanetWeights::contributor_versions`]), what it would get from [`Pallet::claim`], and
	/// its credits per role.
	///
	/// Per version: the version's item, the checkpoint, the version count, at most
	/// [`reward_index::depth`]`(MaxVersionsPerDatanet)` reward-index nodes and the pool.
	pub fn pending_rewards(who: &T::AccountId) -> PendingRewardsOf<T> {
		match Self::pending_rewards_metered(who, || Ok::<(), core::convert::Infallible>(())) {
			Ok(rewards) => rewards,
			Err(never) => match never {},
		}
	}

	/// [`Pallet::pending_rewards`] for callers that pay per read (the contracts' precompile):
	/// `charge` runs before each step of the walk over `who`'s versions, that is before each
	/// version's reads (its item of [`DatanetWeights::contributor_versions`], its checkpoint, the
	/// datanet's version count, its reward-index walk and its pool) and once more before the
	/// read that ends the walk: `n` versions cost `n + 1` charges. Its error stops the walk and is
	/// returned. The three credits are read after the walk, uncharged.
	pub fn pending_rewards_metered<E>(
		who: &T::AccountId,
		mut charge: impl FnMut() -> Result<(), E>,
	) -> Result<PendingRewardsOf<T>, E> {
		let mut versions: Vec<(DatanetId, VersionId, BalanceOf<T>)> = Vec::new();
		// Each charge pays for the next step: the first for the walk's start and first item,
		// each later one for the next item (or the read that finds none).
		charge()?;
		for (datanet, version, weight) in T::Datanets::contributor_versions(who) {
			let owed = Self::owed(who, datanet, version, weight).0;
			if !owed.is_zero() {
				versions.push((datanet, version, owed));
			}
			charge()?;
		}
		versions.sort_by_key(|(datanet, version, _)| (*datanet, *version));
		Ok(PendingRewards {
			versions,
			as_author: Credits::<T>::get(who, Role::Author),
			as_base_owner: Credits::<T>::get(who, Role::BaseOwner),
			as_operator: Credits::<T>::get(who, Role::Operator),
			as_contributor: Credits::<T>::get(who, Role::Contributor),
		})
	}

	/// `S_version` of `datanet`: what one unit of weight frozen in `version` has earned, ever,
	/// scaled by [`PRECISION`]. Walks the reward index up to the datanet's frozen versions
	/// (capped at [`Config::MaxVersionsPerDatanet`], above which no node is written): one read
	/// of the version count and at most [`reward_index::depth`]`(MaxVersionsPerDatanet)` node
	/// reads. 0 for version 0 or a version not frozen.
	pub fn reward_suffix(datanet: DatanetId, version: VersionId) -> u128 {
		let bound = T::Datanets::version_count(datanet).min(T::MaxVersionsPerDatanet::get());
		Self::reward_suffix_within(datanet, version, bound)
	}

	/// `S_version` of `datanet` summing the nodes up to `bound`. Every sum is at most the pool's
	/// `Σ_v acc_v`, which settlement keeps from overflowing, so the saturation is never reached.
	pub(crate) fn reward_suffix_within(
		datanet: DatanetId,
		version: VersionId,
		bound: VersionId,
	) -> u128 {
		reward_index::suffix_path(version, bound)
			.fold(0u128, |sum, i| sum.saturating_add(RewardIndex::<T>::get(datanet, i)))
	}

	/// What `who`, of frozen weight `weight` in `version` of `datanet`, may claim for it now
	/// (never more than the pool holds), and `S_version`, the checkpoint a claim of it leaves.
	fn owed(
		who: &T::AccountId,
		datanet: DatanetId,
		version: VersionId,
		weight: u128,
	) -> (BalanceOf<T>, u128) {
		if weight == 0 {
			return (Zero::zero(), 0);
		}
		let suffix = Self::reward_suffix(datanet, version);
		let paid = Checkpoints::<T>::get((who, datanet, version)).unwrap_or_default();
		// Never more than the pool holds (a consistent state never needs the cap).
		let owed = Self::accrued(weight, suffix, paid).min(Pools::<T>::get(datanet).balance);
		(owed, suffix)
	}

	/// `weight × (now − then) / PRECISION`, rounded down. Over a datanet's contributors and
	/// versions it sums to at most what was added to the datanet's pool (see the crate doc's
	/// "Conservation"), so the saturation is never reached in a consistent state; callers cap it
	/// at the pool's balance anyway.
	pub(crate) fn accrued(weight: u128, now: u128, then: u128) -> BalanceOf<T> {
		let delta = now.saturating_sub(then);
		if weight == 0 || delta == 0 {
			return Zero::zero();
		}
		multiply_by_rational_with_rounding(weight, delta, PRECISION, Rounding::Down)
			.unwrap_or(u128::MAX)
			.saturated_into()
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
		matched: &[MatchedShare<T::AccountId>],
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
		let mut rewards = StagedRewards::<T>::new();
		let mut events = Vec::with_capacity(fees.len());
		let mut matched_events = Vec::new();

		for &(adapter, fee) in fees {
			let terms =
				T::Adapters::adapter_terms(adapter, now).ok_or(Error::<T>::UnknownAdapter)?;
			total = total.checked_add(&fee).ok_or(Error::<T>::Overflow)?;
			let shares = policy.split(fee);

			// The matched part of the datanets' share, to the contributors the answers matched
			// (each checked: weight frozen in a version the adapter was trained on).
			let matched_part = policy.matched.mul_floor(shares.datanets);
			let mut paid_matched = BalanceOf::<T>::zero();
			for share in matched.iter().filter(|m| m.adapter == adapter) {
				let amount = share.share.mul_floor(matched_part);
				if amount.is_zero() || !Self::may_match(&terms, share) {
					continue;
				}
				let Some(paid) = paid_matched.checked_add(&amount).filter(|p| *p <= matched_part)
				else {
					// Shares over 100% (the usage pallet refuses them): the rest credits nobody.
					break;
				};
				paid_matched = paid;
				let credit =
					credits.entry((share.contributor.clone(), Role::Contributor)).or_default();
				*credit = credit.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
				matched_events.push(Event::<T>::MatchedPaid {
					adapter,
					datanet: share.datanet,
					version: share.version,
					contributor: share.contributor.clone(),
					amount,
				});
			}
			let by_weight = shares.datanets.saturating_sub(paid_matched);

			// The rest of the datanets' share, by attribution weight, one part per version.
			let mut parts: BTreeMap<(DatanetId, VersionId), BalanceOf<T>> = BTreeMap::new();
			let mut attributed = BalanceOf::<T>::zero();
			for (version, weight) in terms.training.iter() {
				let part = weight.mul_floor(by_weight);
				attributed = attributed.saturating_add(part);
				let entry = parts.entry((version.datanet, version.version)).or_default();
				*entry = entry.saturating_add(part);
			}
			let mut pooled = BalanceOf::<T>::zero();
			let mut unpooled = BalanceOf::<T>::zero();
			let mut fee_dust = shares.dust;
			if terms.training.is_empty() || attributed > by_weight {
				// No version to pay (or weights above 100%, which the model registry rules out):
				// the whole share goes to the treasury.
				unpooled = by_weight;
				parts.clear();
			} else {
				// The weights sum to 100%: what the rounding of the parts left is dust.
				fee_dust = fee_dust.saturating_add(by_weight.saturating_sub(attributed));
			}
			for ((datanet, version), part) in parts {
				if part.is_zero() {
					continue;
				}
				if rewards.add_part(datanet, version, part) {
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
				matched: paid_matched,
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
		rewards.commit();
		if !to_treasury.is_zero() {
			T::Currency::transfer(
				&pot,
				&T::TreasuryAccount::get(),
				to_treasury,
				Preservation::Preserve,
			)?;
		}
		for event in events.into_iter().chain(matched_events) {
			Self::deposit_event(event);
		}
		if !dust.is_zero() {
			TotalDust::<T>::mutate(|total| total.saturating_accrue(dust));
			Self::deposit_event(Event::DustCollected { amount: dust });
		}
		Ok(())
	}

	/// Whether `share` may be paid from the fee of the adapter of `terms`: the adapter was
	/// trained on version `share.version` of `share.datanet` (its records, the ones the oracle
	/// searches, are the records frozen in that version), and the contributor has weight frozen
	/// in it. One read of the datanet registry.
	fn may_match(
		terms: &AdapterTerms<T::AccountId, BalanceOf<T>>,
		share: &MatchedShare<T::AccountId>,
	) -> bool {
		terms.training.iter().any(|(v, _)| v.datanet == share.datanet && v.version == share.version)
			&& T::Datanets::contributor_weight(share.datanet, share.version, &share.contributor) > 0
	}

	/// Pay `who` its reward for `version` of `datanet`; see [`Pallet::claim`].
	pub(crate) fn do_claim(
		who: T::AccountId,
		datanet: DatanetId,
		version: VersionId,
	) -> DispatchResult {
		let weight = T::Datanets::contributor_weight(datanet, version, &who);
		let (amount, suffix) = Self::owed(&who, datanet, version, weight);
		ensure!(!amount.is_zero(), Error::<T>::NothingToClaim);
		T::Currency::transfer(&Self::account_id(), &who, amount, Preservation::Preserve)?;
		Pools::<T>::mutate(datanet, |pool| pool.balance = pool.balance.saturating_sub(amount));
		Checkpoints::<T>::insert((&who, datanet, version), suffix);
		Self::deposit_event(Event::RewardClaimed { who, datanet, version, amount });
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

	/// The invariants of the pallet's storage and its pot. Self-contained: it reads this
	/// pallet's storage and asks [`Config::Datanets`] only per datanet and version and per
	/// checkpoint, never needing the list of a datanet's contributors.
	///
	/// - the policy is whole;
	/// - no credit is zero (claimed credits are removed);
	/// - the pot covers every obligation: what it can pay while keeping its existential deposit
	///   is at least `Σ Credits + Σ pool balances` (equal unless someone sent the pot funds);
	/// - every reward-index node belongs to a datanet with a pool and to one of its frozen
	///   versions (at most [`Config::MaxVersionsPerDatanet`]);
	/// - each pool's `reward_per_weight` is `S_1` of its reward index (both are `Σ_v acc_v`);
	/// - no checkpoint is ahead of its version's `S_u`;
	/// - each pool's balance covers what its contributors may claim, in aggregate and exactly:
	///   `(Σ_u w_u × S_u − Σ_checkpoints w_{c,u} × checkpoint) / PRECISION ≤ balance`, where
	///   `w_u = W_u − W_{u−1}` is the weight frozen in exactly version `u` (which is `Σ_c
	///   w_{c,u}`), computed without rounding (in 512 bits). Each contributor's claim rounds its
	///   own term down, so the sum of what they may claim is at most this; and it holds in every
	///   consistent state (see the crate doc's "Conservation"). Costs O(versions × log versions)
	///   per datanet plus O(log versions) per checkpoint. That `Σ_c w_{c,u} = w_u` is the datanet
	///   registry's invariant; the mock's tests also check each contributor's claim against the
	///   pool, contributor by contributor.
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use frame_support::traits::tokens::Fortitude;
		use polkadot_sdk::sp_core::U512;

		ensure!(Policy::<T>::get().is_whole(), "the policy does not sum to 100%");

		let mut obligations = BalanceOf::<T>::zero();
		for (_, _, credit) in Credits::<T>::iter() {
			ensure!(!credit.is_zero(), "a zero credit is stored");
			obligations = obligations.checked_add(&credit).ok_or("credits overflow")?;
		}
		for pool in Pools::<T>::iter_values() {
			obligations = obligations.checked_add(&pool.balance).ok_or("pools overflow")?;
		}
		let payable = T::Currency::reducible_balance(
			&Self::account_id(),
			Preservation::Preserve,
			Fortitude::Polite,
		);
		ensure!(payable >= obligations, "the pot does not cover the credits and pools");

		let max = T::MaxVersionsPerDatanet::get();
		let bound = |datanet| T::Datanets::version_count(datanet).min(max);
		for (datanet, i, _) in RewardIndex::<T>::iter() {
			ensure!(Pools::<T>::contains_key(datanet), "a reward-index node without a pool");
			ensure!(i >= 1 && i <= bound(datanet), "a reward-index node above the frozen versions");
		}

		let product = |a: u128, b: u128| U512::from(a).saturating_mul(U512::from(b));
		let mut paid: BTreeMap<DatanetId, U512> = BTreeMap::new();
		for ((who, datanet, version), checkpoint) in Checkpoints::<T>::iter() {
			ensure!(
				checkpoint <= Self::reward_suffix(datanet, version),
				"a checkpoint is ahead of its version's reward"
			);
			let weight = T::Datanets::contributor_weight(datanet, version, &who);
			let sum = paid.entry(datanet).or_default();
			*sum = sum.checked_add(product(weight, checkpoint)).ok_or("checkpoints overflow")?;
		}

		for (datanet, pool) in Pools::<T>::iter() {
			let versions = bound(datanet);
			ensure!(
				Self::reward_suffix_within(datanet, 1, versions) == pool.reward_per_weight,
				"a pool's reward per weight is not the sum of its versions'"
			);
			let mut earned = U512::zero();
			let mut below = 0u128;
			for version in 1..=versions {
				let through = T::Datanets::weight_through(datanet, version);
				let frozen = through.checked_sub(below).ok_or("a cumulative weight decreases")?;
				below = through;
				let suffix = Self::reward_suffix_within(datanet, version, versions);
				earned = earned.checked_add(product(frozen, suffix)).ok_or("rewards overflow")?;
			}
			let owed = earned
				.checked_sub(paid.remove(&datanet).unwrap_or_default())
				.ok_or("checkpoints account for more than the versions earned")?;
			let balance: u128 = pool.balance.saturated_into();
			ensure!(
				owed / U512::from(PRECISION) <= U512::from(balance),
				"a pool does not cover its contributors' rewards"
			);
		}
		// A checkpoint in a datanet without a pool is at most its S_u, which is 0 there.
		Ok(())
	}
}
