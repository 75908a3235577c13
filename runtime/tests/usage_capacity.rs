//! How many usage entries one block carries, from the runtime's generated weights (the figures
//! `scripts/bench` measured) and its block limits: the goal is at least 10,000 entries in
//! one block of the normal dispatch class.
//!
//! An entry is one (payer, adapter) pair; its cost is small (`e`), a distinct payer costs one
//! voucher signature check and its escrow and spend reads and writes (`p`), a distinct adapter
//! two reads (`a`). Run with `--nocapture` to print the table.

use lineage_runtime::{configs::RuntimeBlockWeights, Runtime};
use pallet_usage::WeightInfo;
use polkadot_sdk::{
	frame_support::{dispatch::DispatchClass, traits::Get},
	sp_weights::Weight,
};

type UsageWeights = pallet_usage::weights::SubstrateWeight<Runtime>;

/// The most a normal-class extrinsic may weigh.
fn max_normal_extrinsic() -> Weight {
	RuntimeBlockWeights::get()
		.get(DispatchClass::Normal)
		.max_extrinsic
		.expect("the normal class has an extrinsic limit")
}

/// The most entries in batches of `entries_per_payer` entries per payer over `adapters` adapters
/// that fit in one block's normal class (whole batches of at most `MaxEntriesPerBatch`, then
/// one partial batch), each with at most `MaxPayersPerBatch` payers.
fn entries_per_block(entries_per_payer: u32, adapters: u32) -> (u32, Weight) {
	let limit = max_normal_extrinsic();
	let max_payers: u32 = <Runtime as pallet_usage::Config>::MaxPayersPerBatch::get();
	let max_entries: u32 = <Runtime as pallet_usage::Config>::MaxEntriesPerBatch::get();
	let max_batch = max_entries.min(max_payers.saturating_mul(entries_per_payer));
	let per_adapter = <Runtime as pallet_usage::Config>::MaxMatchedPerAdapter::get();
	// Every adapter with its most matched shares.
	let weight = |e: u32| {
		let a = adapters.min(e);
		UsageWeights::submit_usage(e, e.div_ceil(entries_per_payer), a, a * per_adapter)
	};
	// The largest single batch that fits.
	let (mut lo, mut hi) = (0u32, max_batch);
	while lo < hi {
		let mid = (lo + hi).div_ceil(2);
		if weight(mid).all_lte(limit) {
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	let block = RuntimeBlockWeights::get()
		.get(DispatchClass::Normal)
		.max_total
		.expect("the normal class has a total limit");
	let one = weight(lo);
	// Whole batches of `lo` entries while the block's normal total allows.
	let batches_by_time = block.ref_time() / one.ref_time().max(1);
	let batches_by_proof = block.proof_size() / one.proof_size().max(1);
	let batches = batches_by_time.min(batches_by_proof).max(1) as u32;
	(lo.saturating_mul(batches), one)
}

#[test]
fn at_least_ten_thousand_entries_fit_in_one_block() {
	let limit = max_normal_extrinsic();
	println!(
		"normal-class extrinsic limit: {:.3} s ref time, {} KiB proof",
		limit.ref_time() as f64 / 1e12,
		limit.proof_size() / 1024
	);
	println!("entries/payer  adapters  entries/block  one batch: ref ms, proof KiB");
	let mut typical = 0;
	for (per_payer, adapters) in [(1, 64), (4, 64), (16, 64), (64, 64), (16, 16)] {
		let (entries, one) = entries_per_block(per_payer, adapters);
		println!(
			"{per_payer:>13}  {adapters:>8}  {entries:>13}  {:>9.1}, {:>9}",
			one.ref_time() as f64 / 1e9,
			one.proof_size() / 1024
		);
		if per_payer == 16 && adapters == 64 {
			typical = entries;
		}
	}
	// A payer uses a handful of adapters per batch period; with 16 entries per payer, the goal
	// holds with room to spare.
	assert!(typical >= 10_000, "only {typical} entries fit in one block");
}

#[test]
fn a_full_batch_fits_in_one_extrinsic() {
	let max_batch = <Runtime as pallet_usage::Config>::MaxEntriesPerBatch::get();
	let max_adapters = <Runtime as pallet_usage::Config>::MaxAdaptersPerBatch::get();
	// The most entries a batch may hold, over the fewest payers that allows.
	let max_matched = max_adapters * <Runtime as pallet_usage::Config>::MaxMatchedPerAdapter::get();
	let w =
		UsageWeights::submit_usage(max_batch, max_batch / max_adapters, max_adapters, max_matched);
	assert!(w.all_lte(max_normal_extrinsic()), "a full batch weighs {w:?}");
	// And with the most payers a batch may hold, each with a voucher to check.
	let max_payers: u32 = <Runtime as pallet_usage::Config>::MaxPayersPerBatch::get();
	let w = UsageWeights::submit_usage(max_batch, max_payers, max_adapters, max_matched);
	println!(
		"a batch of {max_batch} entries, {max_payers} payers: {:.3} s ref time, {} KiB proof",
		w.ref_time() as f64 / 1e12,
		w.proof_size() / 1024
	);
	assert!(w.all_lte(max_normal_extrinsic()), "a batch with the most payers weighs {w:?}");
}

#[test]
fn settling_a_full_batch_fits_in_one_extrinsic() {
	use lineage_primitives::usage::SettleFees;
	let max_adapters = <Runtime as pallet_usage::Config>::MaxAdaptersPerBatch::get();
	// The weight `settle_batch` is charged before it runs: the batch's own work plus attribution
	// splitting every adapter's fee over its most training versions, each through the reward
	// index of a datanet with the most versions.
	let max_matched = max_adapters * <Runtime as pallet_usage::Config>::MaxMatchedPerAdapter::get();
	let w = UsageWeights::settle_batch(max_adapters, max_matched).saturating_add(
		<pallet_attribution::Pallet<Runtime> as SettleFees<_, _>>::settle_weight(
			max_adapters,
			max_matched,
		),
	);
	println!(
		"settle_batch of {max_adapters} adapters: {:.3} s ref time, {} KiB proof",
		w.ref_time() as f64 / 1e12,
		w.proof_size() / 1024
	);
	assert!(w.all_lte(max_normal_extrinsic()), "settling a full batch weighs {w:?}");
}
