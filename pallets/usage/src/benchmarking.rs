//! Benchmarks for `pallet_usage` (benchmarks v2), each at its worst case: the longest endpoint,
//! batches at their largest, disputes at their most, the paths that remove storage.
//!
//! Batches are signed with the keystore host functions (`sp_io::crypto::sr25519_*`), which the
//! benchmark CLI provides. `settle_batch` and `resolve_dispute_release` measure the pallet's own
//! work: their batches carry zero fees, so [`Config::Settlement`] is not called, and the calls
//! add [`SettleFees::settle_weight`] for it.

#![cfg(feature = "runtime-benchmarks")]

use super::*;
use crate::Pallet as Usage;
use alloc::{vec, vec::Vec};
use lineage_primitives::usage::{signing_payload, usage_fee};
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::{
		traits::{
			fungible::{Inspect, MutateHold},
			EnsureOrigin, Get,
		},
		BoundedVec,
	},
	frame_system::RawOrigin,
	sp_core::crypto::KeyTypeId,
	sp_io::crypto::{sr25519_generate, sr25519_sign},
	sp_runtime::{
		traits::{Saturating, UniqueSaturatedInto, Zero},
		Perbill,
	},
};

/// The keystore key type the benchmarks' operator keys are made under.
const KEY_TYPE: KeyTypeId = KeyTypeId(*b"lusg");

/// Tokens of each kind per benchmark entry.
const TOKENS: u64 = 10_000;

/// Gives `who` `amount` on top of ten existential deposits.
fn fund<T: Config>(who: &T::AccountId, amount: BalanceOf<T>) {
	let amount = amount.saturating_add(T::Currency::minimum_balance().saturating_mul(10u32.into()));
	T::BenchmarkHelper::fund(who, amount);
}

/// The longest endpoint URL.
fn longest_endpoint<T: Config>() -> Result<EndpointOf<T>, BenchmarkError> {
	BoundedVec::try_from(vec![b'e'; T::MaxEndpointLength::get() as usize])
		.map_err(|_| BenchmarkError::Stop("MaxEndpointLength is not a length"))
}

/// Registers `operator` with a new keystore key, and returns the key.
fn setup_operator<T: Config>(operator: &T::AccountId) -> Result<sr25519::Public, BenchmarkError> {
	let key = sr25519_generate(KEY_TYPE, None);
	fund::<T>(operator, T::OperatorBond::get().saturating_mul(10u32.into()));
	Usage::<T>::register_operator(
		RawOrigin::Signed(operator.clone()).into(),
		key,
		longest_endpoint::<T>()?,
	)?;
	Ok(key)
}

/// Deposits `amount` as `payer`'s escrow with `operator`.
fn setup_escrow<T: Config>(
	payer: &T::AccountId,
	operator: &T::AccountId,
	amount: BalanceOf<T>,
) -> Result<(), BenchmarkError> {
	fund::<T>(payer, amount);
	Usage::<T>::deposit_escrow(RawOrigin::Signed(payer.clone()).into(), operator.clone(), amount)?;
	Ok(())
}

/// Moves `blocks` blocks on.
fn advance<T: Config>(blocks: BlockNumberFor<T>) {
	let now = frame_system::Pallet::<T>::block_number();
	frame_system::Pallet::<T>::set_block_number(now.saturating_add(blocks));
}

/// A batch stored directly as `operator`'s next: `MaxEntriesPerBatch` entries of `payer`'s
/// over `adapters` adapter ids, each charged `fee`, with a full dispute bitmap (every entry but
/// the last marked disputed before) and, when `open_dispute` is set, that entry's dispute open
/// (its deposit held from `payer`) and its fee frozen beside a frozen fee for every adapter.
struct StoredBatch<T: Config> {
	operator: T::AccountId,
	payer: T::AccountId,
	adapters: u32,
	fee: BalanceOf<T>,
	open_dispute: Option<u32>,
	settled: bool,
	/// Matched shares stored with the batch (over its adapters).
	matched: u32,
}

impl<T: Config> StoredBatch<T> {
	fn store(self) -> Result<Sequence, BenchmarkError> {
		let entries = T::MaxEntriesPerBatch::get();
		let adapters = self.adapters.max(1);
		let charges: Vec<ChargeOf<T>> =
			(0..entries).map(|i| (self.payer.clone(), i % adapters, self.fee)).collect();
		let fees_by_adapter: Vec<(AdapterId, BalanceOf<T>)> = (0..adapters.min(entries))
			.map(|j| {
				let count = (entries - j).div_ceil(adapters);
				(j, self.fee.saturating_mul(count.into()))
			})
			.collect();
		let mut bits = vec![0xffu8; entries.div_ceil(8) as usize];
		if let Some(last) = bits.last_mut() {
			*last &= !(1u8 << ((entries - 1) % 8));
		}
		let now = frame_system::Pallet::<T>::block_number();
		let sequence = NextSequence::<T>::get(&self.operator);
		let mut frozen = Vec::new();
		if let Some(entry) = self.open_dispute {
			let deposit = T::DisputeDeposit::get();
			fund::<T>(&self.payer, deposit);
			T::Currency::hold(&HoldReason::DisputeDeposit.into(), &self.payer, deposit)?;
			Disputes::<T>::insert(
				(&self.operator, sequence, entry),
				Dispute {
					payer: self.payer.clone(),
					adapter: entry % adapters,
					fee: self.fee,
					deposit,
				},
			);
			frozen = (0..adapters.min(entries))
				.map(|j| (j, if j == entry % adapters { self.fee } else { Zero::zero() }))
				.collect();
		}
		Batches::<T>::insert(
			&self.operator,
			sequence,
			BatchInfo::<T> {
				submitted_at: now,
				settles_at: now.saturating_add(T::DisputeWindow::get()),
				records_root: H256::repeat_byte(1),
				entry_count: entries,
				total_fee: self.fee.saturating_mul(entries.into()),
				fees_by_adapter: BoundedVec::try_from(fees_by_adapter)
					.map_err(|_| BenchmarkError::Stop("too many adapters"))?,
				frozen: BoundedVec::try_from(frozen)
					.map_err(|_| BenchmarkError::Stop("too many adapters"))?,
				open_disputes: u32::from(self.open_dispute.is_some()),
				refunded: Zero::zero(),
				settled: self.settled,
			},
		);
		BatchEntries::<T>::insert(
			&self.operator,
			sequence,
			ChargesOf::<T>::try_from(charges)
				.map_err(|_| BenchmarkError::Stop("too many entries"))?,
		);
		DisputedEntries::<T>::insert(
			&self.operator,
			sequence,
			DisputedBitsOf::<T>::try_from(bits)
				.map_err(|_| BenchmarkError::Stop("bitmap longer than DisputedBytes"))?,
		);
		if self.matched > 0 {
			let ids: Vec<AdapterId> = (0..adapters.min(entries)).collect();
			BatchMatched::<T>::insert(
				&self.operator,
				sequence,
				MatchedOf::<T>::try_from(matched_shares::<T>(self.matched, &ids))
					.map_err(|_| BenchmarkError::Stop("more shares than MaxMatchedPerBatch"))?,
			);
		}
		NextSequence::<T>::insert(&self.operator, sequence.saturating_add(1));
		Operators::<T>::mutate(&self.operator, |maybe| {
			if let Some(info) = maybe {
				info.open_batches = info.open_batches.saturating_add(1);
			}
		});
		Ok(sequence)
	}
}

/// `m` matched shares over adapters `adapters` (at most `MaxMatchedPerAdapter` each, so
/// fewer than `m` when the adapters cannot carry them all), ascending by key, each of a
/// distinct contributor and a small share (summing to at most 100% per adapter).
fn matched_shares<T: Config>(m: u32, adapters: &[AdapterId]) -> Vec<MatchedShare<T::AccountId>> {
	let per_adapter = T::MaxMatchedPerAdapter::get();
	let mut shares = Vec::new();
	for (j, adapter) in adapters.iter().enumerate() {
		for k in 0..per_adapter {
			let i = (j as u32).saturating_mul(per_adapter).saturating_add(k);
			if i >= m {
				break;
			}
			shares.push(MatchedShare {
				adapter: *adapter,
				datanet: 1,
				version: 1,
				contributor: account("contributor", i, 0),
				share: Perbill::from_rational(1, per_adapter.max(1)),
			});
		}
	}
	shares.sort_by(|x, y| x.key().cmp(&y.key()));
	shares
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_operator() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		fund::<T>(&caller, T::OperatorBond::get());
		let key = sr25519_generate(KEY_TYPE, None);
		let endpoint = longest_endpoint::<T>()?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), key, endpoint);

		assert_eq!(OperatorKeys::<T>::get(key), Some(caller));
		Ok(())
	}

	#[benchmark]
	fn rotate_key() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		setup_operator::<T>(&caller)?;
		let new_key = sr25519_generate(KEY_TYPE, None);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), new_key);

		assert_eq!(OperatorKeys::<T>::get(new_key), Some(caller));
		Ok(())
	}

	#[benchmark]
	fn set_endpoint() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		setup_operator::<T>(&caller)?;
		let endpoint: EndpointOf<T> =
			BoundedVec::try_from(vec![b'f'; T::MaxEndpointLength::get() as usize])
				.map_err(|_| BenchmarkError::Stop("MaxEndpointLength is not a length"))?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), endpoint.clone());

		assert_eq!(Operators::<T>::get(&caller).map(|o| o.endpoint), Some(endpoint));
		Ok(())
	}

	#[benchmark]
	fn bond_extra() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		setup_operator::<T>(&caller)?;
		let amount = T::OperatorBond::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), amount);

		assert_eq!(
			Operators::<T>::get(&caller).map(|o| o.bond),
			Some(T::OperatorBond::get().saturating_add(amount))
		);
		Ok(())
	}

	#[benchmark]
	fn leave() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		setup_operator::<T>(&caller)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(Operators::<T>::get(&caller)
			.is_some_and(|o| matches!(o.status, OperatorStatus::Leaving { .. })));
		Ok(())
	}

	#[benchmark]
	fn withdraw_bond() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		let key = setup_operator::<T>(&caller)?;
		Usage::<T>::leave(RawOrigin::Signed(caller.clone()).into())?;
		advance::<T>(T::UnbondingPeriod::get());

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(Operators::<T>::get(&caller).is_none());
		assert!(OperatorKeys::<T>::get(key).is_none());
		Ok(())
	}

	#[benchmark]
	fn deposit_escrow() -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		let caller: T::AccountId = whitelisted_caller();
		let amount = T::Currency::minimum_balance().saturating_mul(100u32.into()).max(1u32.into());
		fund::<T>(&caller, amount);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), operator.clone(), amount);

		assert_eq!(Usage::<T>::escrow_of(&caller, &operator), amount);
		Ok(())
	}

	/// A previous request is replaced.
	#[benchmark]
	fn request_withdrawal() -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		let caller: T::AccountId = whitelisted_caller();
		let amount = T::Currency::minimum_balance().saturating_mul(100u32.into()).max(2u32.into());
		setup_escrow::<T>(&caller, &operator, amount)?;
		Usage::<T>::request_withdrawal(
			RawOrigin::Signed(caller.clone()).into(),
			operator.clone(),
			1u32.into(),
		)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), operator.clone(), amount);

		assert!(Escrows::<T>::get(&caller, &operator)
			.and_then(|e| e.withdrawal)
			.is_some_and(|(requested, _)| requested == amount));
		Ok(())
	}

	/// The whole escrow: it is paid out and the entry removed.
	#[benchmark]
	fn withdraw_escrow() -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		let caller: T::AccountId = whitelisted_caller();
		let amount = T::Currency::minimum_balance().saturating_mul(100u32.into()).max(1u32.into());
		setup_escrow::<T>(&caller, &operator, amount)?;
		Usage::<T>::request_withdrawal(
			RawOrigin::Signed(caller.clone()).into(),
			operator.clone(),
			amount,
		)?;
		advance::<T>(T::WithdrawNotice::get());

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), operator.clone());

		assert!(Escrows::<T>::get(&caller, &operator).is_none());
		Ok(())
	}

	/// `e` entries over `p` payers and `a` adapters, each entry charged, each payer with escrow
	/// to pay them.
	///
	/// The ranges are chosen so that every point the bencher runs (one component swept, the
	/// others at their maximum) is a valid batch as given, with no clamping: the regression sees
	/// the real `e`, `p` and `a` of each run, so a payer's escrow read and write is charged per
	/// payer and not once more per entry. With `E = MaxEntriesPerBatch`, `A = MaxAdaptersPerBatch`:
	/// `e ∈ [E/4, E]`, `p ∈ [⌈E/A⌉, E/4]`, `a ∈ [4, A]`; then `p ≤ e ≤ p·a` at every point.
	/// Entry `i` is payer `i mod p` on adapter `(i mod p + i div p) mod a`: distinct pairs, every
	/// payer and (as `p ≥ a`) every adapter used. `m` matched shares, at most
	/// `MaxMatchedPerAdapter` per adapter: at the smallest `a` fewer than `m` fit, which only
	/// overstates `a`'s slope (the regression sees the larger `m` at the larger `a`).
	#[benchmark]
	fn submit_usage(
		e: Linear<{ T::MaxEntriesPerBatch::get() / 4 }, { T::MaxEntriesPerBatch::get() }>,
		p: Linear<
			{ T::MaxEntriesPerBatch::get().div_ceil(T::MaxAdaptersPerBatch::get()) },
			{ T::MaxPayersPerBatch::get() },
		>,
		a: Linear<
			{ T::MaxEntriesPerBatch::get().div_ceil(T::MaxPayersPerBatch::get()) },
			{ T::MaxAdaptersPerBatch::get() },
		>,
		m: Linear<0, { MaxMatchedPerBatch::<T>::get() }>,
	) -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		let key = setup_operator::<T>(&operator)?;
		if !(p <= e && e <= p.saturating_mul(a) && a <= p) {
			return Err(BenchmarkError::Stop("the component ranges allow no such batch"));
		}

		let now = frame_system::Pallet::<T>::block_number();
		let mut adapters = Vec::new();
		for i in 0..a {
			let adapter = T::BenchmarkHelper::create_adapter(i);
			let terms = T::Adapters::adapter_terms(adapter, now)
				.ok_or(BenchmarkError::Stop("the helper's adapter does not exist"))?;
			let prices: (u128, u128) = (
				terms.per_1k_input.unique_saturated_into(),
				terms.per_1k_output.unique_saturated_into(),
			);
			adapters.push((adapter, prices));
		}
		let payers: Vec<T::AccountId> = (0..p).map(T::BenchmarkHelper::payer).collect();

		let mut owed = vec![0u128; p as usize];
		let mut entries = Vec::with_capacity(e as usize);
		for i in 0..e {
			let payer = (i % p) as usize;
			let (adapter, (per_1k_input, per_1k_output)) = adapters[((i % p + i / p) % a) as usize];
			let fee = usage_fee(TOKENS, TOKENS, per_1k_input, per_1k_output)
				.ok_or(BenchmarkError::Stop("fee overflow"))?;
			owed[payer] = owed[payer].saturating_add(fee);
			entries.push(UsageEntry {
				payer: payers[payer].clone(),
				adapter,
				requests: 1,
				input_tokens: TOKENS,
				output_tokens: TOKENS,
			});
		}
		entries.sort_by(|x, y| x.key().cmp(&y.key()));
		let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
		let mut vouchers = Vec::with_capacity(p as usize);
		for (payer, owed) in payers.iter().zip(owed) {
			let amount = BalanceOf::<T>::try_from(owed.max(1))
				.map_err(|_| BenchmarkError::Stop("fee beyond the balance type"))?;
			setup_escrow::<T>(payer, &operator, amount)?;
			// Worst case: the payer was charged before, and signed with a wallet (`<Bytes>`).
			Spent::<T>::insert(payer, &operator, BalanceOf::<T>::from(1u32));
			let mut voucher = PayerVoucher {
				payer: payer.clone(),
				timestamp_ms: 1,
				nonce: 1,
				spend_limit: owed.saturating_add(1),
				target_sha256: [1; 32],
				body_sha256: [2; 32],
				wrapped: true,
				signature: T::BenchmarkHelper::sign(payer, &[]),
			};
			let message = voucher.authorization(genesis, operator.clone()).wrapped_message();
			voucher.signature = T::BenchmarkHelper::sign(payer, &message);
			vouchers.push(voucher);
		}
		vouchers.sort_by(|x, y| x.payer.cmp(&y.payer));
		let vouchers = VouchersOf::<T>::try_from(vouchers)
			.map_err(|_| BenchmarkError::Stop("more payers than MaxEntriesPerBatch"))?;

		// Served over the whole age allowed: the price is looked up over every block of it.
		let served_to: u32 = now.unique_saturated_into();
		let served_from = served_to.saturating_sub(T::MaxServedAge::get().unique_saturated_into());
		let batch = UsageBatch {
			operator: operator.clone(),
			sequence: 0,
			served_from,
			served_to,
			entries,
			records_root: H256::repeat_byte(1),
			matched: matched_shares::<T>(
				m,
				&adapters.iter().map(|(adapter, _)| *adapter).collect::<Vec<_>>(),
			),
		};
		let signature = sr25519_sign(KEY_TYPE, &key, &signing_payload(&genesis, &batch))
			.ok_or(BenchmarkError::Stop("the keystore cannot sign"))?;
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), batch, signature, vouchers);

		assert_eq!(NextSequence::<T>::get(&operator), 1);
		assert_eq!(Batches::<T>::get(&operator, 0).map(|b| b.entry_count), Some(e));
		assert_eq!(
			Batches::<T>::get(&operator, 0).map(|b| b.fees_by_adapter.len() as u32),
			Some(a)
		);
		Ok(())
	}

	/// The largest batch's entries and its full dispute bitmap are read; the last entry is
	/// disputed beside a frozen fee for every adapter; the deposit is held.
	#[benchmark]
	fn dispute() -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		let caller: T::AccountId = whitelisted_caller();
		let sequence = StoredBatch::<T> {
			operator: operator.clone(),
			payer: caller.clone(),
			adapters: T::MaxAdaptersPerBatch::get(),
			fee: 1u32.into(),
			open_dispute: Some(0),
			settled: false,
			matched: 0,
		}
		.store()?;
		// After the stored batch's own dispute holds a deposit from the caller (funding may set
		// the free balance rather than add to it): the free balance for this one's.
		fund::<T>(&caller, T::DisputeDeposit::get());
		let entry = T::MaxEntriesPerBatch::get() - 1;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), operator.clone(), sequence, entry);

		assert_eq!(Batches::<T>::get(&operator, sequence).map(|b| b.open_disputes), Some(2));
		Ok(())
	}

	/// `a` adapters and `m` matched shares, no open dispute: the batch, its entries, its matched
	/// shares and its dispute bitmap are removed. Its fees are zero, so the settlement (weighed
	/// apart) is not called.
	#[benchmark]
	fn settle_batch(
		a: Linear<1, { T::MaxAdaptersPerBatch::get() }>,
		m: Linear<0, { MaxMatchedPerBatch::<T>::get() }>,
	) -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		let payer: T::AccountId = account("payer", 0, 0);
		let sequence = StoredBatch::<T> {
			operator: operator.clone(),
			payer,
			adapters: a,
			fee: Zero::zero(),
			open_dispute: None,
			settled: false,
			matched: m,
		}
		.store()?;
		advance::<T>(T::DisputeWindow::get());
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), operator.clone(), sequence);

		assert!(Batches::<T>::get(&operator, sequence).is_none());
		Ok(())
	}

	/// The last open dispute of a settled batch, upheld: the escrow is credited, the deposit
	/// released, the bond slashed, the batch removed.
	#[benchmark]
	fn resolve_dispute_refund() -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		fund::<T>(&T::SlashBeneficiary::get(), Zero::zero());
		let payer: T::AccountId = account("payer", 0, 0);
		setup_escrow::<T>(&payer, &operator, 1u32.into())?;
		let entry = T::MaxEntriesPerBatch::get() - 1;
		let sequence = StoredBatch::<T> {
			operator: operator.clone(),
			payer: payer.clone(),
			adapters: T::MaxAdaptersPerBatch::get(),
			fee: 1u32.into(),
			open_dispute: Some(entry),
			settled: true,
			matched: 0,
		}
		.store()?;
		let origin =
			T::ResolveOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		resolve_dispute(origin as T::RuntimeOrigin, operator.clone(), sequence, entry, true);

		assert!(Batches::<T>::get(&operator, sequence).is_none());
		assert_eq!(Usage::<T>::escrow_of(&payer, &operator), 2u32.into());
		Ok(())
	}

	/// The last open dispute of a settled batch, rejected: the deposit goes to the operator, the
	/// batch is removed. Its fee is zero, so the settlement (weighed apart) is not called.
	#[benchmark]
	fn resolve_dispute_release() -> Result<(), BenchmarkError> {
		let operator: T::AccountId = account("operator", 0, 0);
		setup_operator::<T>(&operator)?;
		let payer: T::AccountId = account("payer", 0, 0);
		let entry = T::MaxEntriesPerBatch::get() - 1;
		let sequence = StoredBatch::<T> {
			operator: operator.clone(),
			payer,
			adapters: T::MaxAdaptersPerBatch::get(),
			fee: Zero::zero(),
			open_dispute: Some(entry),
			settled: true,
			matched: MaxMatchedPerBatch::<T>::get(),
		}
		.store()?;
		let origin =
			T::ResolveOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		resolve_dispute(origin as T::RuntimeOrigin, operator.clone(), sequence, entry, false);

		assert!(Batches::<T>::get(&operator, sequence).is_none());
		Ok(())
	}

	impl_benchmark_test_suite!(Usage, crate::mock::new_bench_ext(), crate::mock::Test);
}
