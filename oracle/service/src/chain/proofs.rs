//! Steps 5–6 from the oracle's side: batches cut from the journal, signed with the operator key,
//! submitted, marked finalized, and settled after the dispute window.
//!
//! One round ([`proof_round`]) runs on one task; its extrinsics go through the operator's
//! [`Submitter`], which keeps the account's nonces in order with the job answers':
//! 1. **Reconcile.** A batch the journal holds as signed whose sequence number is below the
//!    chain's `NextSequence` has had its number used on chain (the oracle died between inclusion
//!    and bookkeeping). The chain's `Usage::Batches(operator, sequence)` says whose batch that
//!    was ([`reconcile`]): the same records root, ours, marked finalized and never sent again;
//!    another root (another oracle signing with this key?), an error naming both roots, and the
//!    batch's records set aside as rejected (kept, never billed, never cut again: billing them in
//!    a new batch could charge payers twice for what the other batch billed), outcome
//!    `root_mismatch`. A batch the chain no longer stores (settled and removed) cannot be
//!    checked cheaply (its `UsageSubmitted` event is in a block the journal does not know, and
//!    nodes index no events): it is accepted on its sequence number with a warning, outcome
//!    `reconciled_unverified`.
//! 2. **Submit.** The signed batch at `NextSequence` is sent again with the same bytes and
//!    signature; if there is none, a new batch is cut at `NextSequence` (records leave the
//!    pending set in the same journal transaction). A `SequenceMismatch` goes back to step 1 on
//!    the next round; any other refusal (a revoked adapter, an emptied escrow) moves the batch's
//!    records to the journal's rejected table, with the chain's reason, and frees the number.
//! 3. **Settle.** Finalized batches whose dispute window has passed are settled
//!    (`settle_batch`); one the chain no longer holds was settled by someone else.
//!
//! A kill -9 anywhere leaves either pending records (cut next round), a signed batch (sent again,
//! same sequence: the chain accepts it at most once), or a finalized one: nothing is lost and
//! nothing is counted twice.

use lineage_primitives::usage::{signing_payload, UsageBatch};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;

use lineage_chain::{
	keys::account_of,
	lineage::{self, runtime_types::lineage_primitives::usage as wire},
	rpc_err, LineageClient,
};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lineage_chain::{payer_standing, PayerStanding};
use lineage_primitives::{usage::usage_fee, AdapterId};
use subxt::config::substrate::H256;

use super::{
	error::{ChainError, ClientError},
	gate::ChainGate,
	registry::{load_adapters, AdapterState, ChainAdapter},
	submit::Submitter,
};
use crate::journal::{BatchLimits, Journal, StoredBatch};

/// The batch in the generated client types (the same SCALE bytes as the primitives' type).
pub fn to_wire(batch: &UsageBatch<lineage_primitives::AccountId>) -> wire::UsageBatch<AccountId32> {
	wire::UsageBatch {
		operator: AccountId32(batch.operator.clone().into()),
		sequence: batch.sequence,
		served_from: batch.served_from,
		served_to: batch.served_to,
		entries: batch
			.entries
			.iter()
			.map(|e| wire::UsageEntry {
				payer: AccountId32(e.payer.clone().into()),
				adapter: e.adapter,
				requests: e.requests,
				input_tokens: e.input_tokens,
				output_tokens: e.output_tokens,
			})
			.collect(),
		records_root: batch.records_root,
		matched: batch
			.matched
			.iter()
			.map(|m| wire::MatchedShare {
				adapter: m.adapter,
				datanet: m.datanet,
				version: m.version,
				contributor: AccountId32(m.contributor.clone().into()),
				share: lineage::runtime_types::sp_arithmetic::per_things::Perbill(
					m.share.deconstruct(),
				),
			})
			.collect(),
	}
}

/// The vouchers argument of `submit_usage` in the generated client types.
pub type WireVouchers = lineage::runtime_types::bounded_collections::bounded_vec::BoundedVec<
	lineage::runtime_types::lineage_primitives::payer::PayerVoucher<
		AccountId32,
		lineage::runtime_types::sp_runtime::MultiSignature,
	>,
>;

/// A batch's vouchers in the generated client types (the same SCALE bytes).
pub fn vouchers_to_wire(vouchers: &[lineage_primitives::payer::Voucher]) -> WireVouchers {
	use lineage::runtime_types::{lineage_primitives::payer::PayerVoucher, sp_runtime};
	use lineage_primitives::Signature;
	let signature = |s: &Signature| match s {
		Signature::Sr25519(s) => sp_runtime::MultiSignature::Sr25519(s.0),
		Signature::Ed25519(s) => sp_runtime::MultiSignature::Ed25519(s.0),
		Signature::Ecdsa(s) => sp_runtime::MultiSignature::Ecdsa(s.0),
		Signature::Eth(s) => sp_runtime::MultiSignature::Eth(s.0),
	};
	let vouchers = vouchers.iter().map(|v| PayerVoucher {
		payer: AccountId32(v.payer.clone().into()),
		timestamp_ms: v.timestamp_ms,
		nonce: v.nonce,
		spend_limit: v.spend_limit,
		target_sha256: v.target_sha256,
		body_sha256: v.body_sha256,
		wrapped: v.wrapped,
		signature: signature(&v.signature),
	});
	lineage::runtime_types::bounded_collections::bounded_vec::BoundedVec(vouchers.collect())
}

/// Blocks of margin kept below the chain's `MaxServedAge` when records too old are dropped
/// from a refused batch, for the blocks until the batch is included.
const SERVED_AGE_MARGIN: u32 = 5;

/// Why the chain refused a batch, as far as the oracle acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
	/// Not the batch's fault, and it may pass later (the operator's bond below the minimum
	/// after a slash, until it is topped up): the signed batch is kept and sent again.
	Later,
	/// The signature no longer matches the operator's registered key (it was rotated): the
	/// batch is unwound and cut again, signed with the current key.
	Resign,
	/// Some entries are at fault (a payer's escrow, spend limit or voucher, an adapter revoked
	/// or unknown): those records are rejected and the rest cut again.
	Entries,
	/// Some records were served longer ago than the chain still prices exactly
	/// (`MaxServedAge`, after a long outage): those records are rejected and the rest cut
	/// again.
	TooOld,
	/// The chain refused the batch's matched shares (after a runtime upgrade lowered
	/// `MaxMatchedPerAdapter`, say): the batch is unwound and its records cut again without
	/// their matches, so their usage is billed and follows the lineage weights.
	Matched,
	/// The batch itself is malformed (an oracle bug): it is rejected whole.
	Batch,
}

/// How the oracle treats the chain's dispatch error `message` (it names the pallet's error).
pub fn classify(message: &str) -> Refusal {
	const LATER: [&str; 2] = ["InsufficientBond", "OperatorNotActive"];
	const ENTRIES: [&str; 6] = [
		"InsufficientEscrow",
		"SpendLimitExceeded",
		"BadVoucher",
		"VoucherMismatch",
		"AdapterRevoked",
		"UnknownAdapter",
	];
	const MATCHED: [&str; 5] = [
		"MatchedNotSorted",
		"MatchedAdapterNotInBatch",
		"ZeroMatchedShare",
		"TooManyMatched",
		"MatchedOverWhole",
	];
	let named = |names: &[&str]| names.iter().any(|n| message.contains(n));
	if named(&LATER) {
		Refusal::Later
	} else if message.contains("BadSignature") {
		Refusal::Resign
	} else if message.contains("ServedTooLongAgo") {
		Refusal::TooOld
	} else if named(&ENTRIES) {
		Refusal::Entries
	} else if named(&MATCHED) {
		Refusal::Matched
	} else {
		Refusal::Batch
	}
}

/// The payers and adapters of `stored` the chain would refuse, from what the chain says of
/// them: an adapter unknown or revoked; a payer whose voucher does not verify for `operator` on
/// the chain with `genesis`, whose escrow cannot pay their entries, or whose spend so far plus
/// their entries passes their voucher's limit. Fees are priced at `adapters`' prices (the
/// higher of the price in force and a scheduled one).
pub fn entries_at_fault(
	stored: &StoredBatch,
	payers: &HashMap<lineage_primitives::AccountId, PayerStanding>,
	adapters: &HashMap<AdapterId, ChainAdapter>,
	genesis: H256,
	operator: &lineage_primitives::AccountId,
) -> (BTreeSet<lineage_primitives::AccountId>, BTreeSet<AdapterId>) {
	let bad_adapters: BTreeSet<AdapterId> = stored
		.batch
		.entries
		.iter()
		.map(|e| e.adapter)
		.filter(|id| adapters.get(id).is_none_or(|a| a.state == AdapterState::Revoked))
		.collect();
	let mut fees = BTreeMap::<&lineage_primitives::AccountId, u128>::new();
	for entry in stored.batch.entries.iter().filter(|e| !bad_adapters.contains(&e.adapter)) {
		let fee = adapters
			.get(&entry.adapter)
			.and_then(|a| {
				usage_fee(entry.input_tokens, entry.output_tokens, a.per_1k_input, a.per_1k_output)
			})
			.unwrap_or(u128::MAX);
		let sum = fees.entry(&entry.payer).or_default();
		*sum = sum.saturating_add(fee);
	}
	let bad_payers = fees
		.into_iter()
		.filter(|(payer, fee)| {
			let standing = payers.get(*payer).copied().unwrap_or_default();
			let voucher = stored.vouchers.iter().find(|v| v.payer == **payer);
			voucher.is_none_or(|v| {
				!v.verify(genesis, operator.clone())
					|| standing.escrow < *fee
					|| standing.spent.saturating_add(*fee) > v.spend_limit
			})
		})
		.map(|(payer, _)| payer.clone())
		.collect();
	(bad_payers, bad_adapters)
}

/// Reads what [`entries_at_fault`] needs from the chain and applies it.
async fn find_at_fault(
	client: &LineageClient,
	stored: &StoredBatch,
	operator: &lineage_primitives::AccountId,
) -> Result<(BTreeSet<lineage_primitives::AccountId>, BTreeSet<AdapterId>), ChainError> {
	let (by_hash, _) = load_adapters(client).await?;
	let adapters: HashMap<AdapterId, ChainAdapter> =
		by_hash.into_values().map(|a| (a.id, a)).collect();
	let at = client.at_current_block().await.map_err(rpc_err)?;
	let mut payers = HashMap::new();
	let operator_32 = AccountId32(operator.clone().into());
	for entry in &stored.batch.entries {
		if payers.contains_key(&entry.payer) {
			continue;
		}
		let payer_32 = AccountId32(entry.payer.clone().into());
		let standing = payer_standing(&at, payer_32, operator_32).await?;
		payers.insert(entry.payer.clone(), standing);
	}
	Ok(entries_at_fault(stored, &payers, &adapters, client.genesis_hash(), operator))
}

/// A batch the chain stores in `Usage::Batches`, as far as reconciling goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldBatch {
	/// The Merkle root of its records.
	pub records_root: H256,
	/// The block it was submitted in.
	pub submitted_at: u32,
	/// The fees it charged.
	pub total_fee: u128,
}

/// What the chain says of a journaled batch whose sequence number it has used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reconciled {
	/// The chain holds a batch with the journaled records root: ours, finalized in `block`
	/// with `fee`.
	Ours {
		/// The block it was submitted in.
		block: u32,
		/// The fees it charged.
		fee: u128,
	},
	/// The chain holds a batch with another records root under this sequence number: not ours.
	RootMismatch {
		/// The root the chain holds.
		chain_root: H256,
	},
	/// The chain no longer holds the batch (settled and removed): accepted on its sequence
	/// number alone.
	Unverified,
}

/// Whether a journaled batch with `journaled_root`, whose sequence number the chain has used, is
/// the batch the chain holds (`held`, `None` once it is settled and removed).
pub fn reconcile(journaled_root: H256, held: Option<HeldBatch>) -> Reconciled {
	match held {
		Some(h) if h.records_root == journaled_root => {
			Reconciled::Ours { block: h.submitted_at, fee: h.total_fee }
		},
		Some(h) => Reconciled::RootMismatch { chain_root: h.records_root },
		None => Reconciled::Unverified,
	}
}

/// What one round did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
	/// Batches found on chain with their records root and marked finalized without sending
	/// them again.
	pub reconciled: Vec<u64>,
	/// Batches no longer on chain (settled), marked finalized on their sequence number alone.
	pub unverified: Vec<u64>,
	/// Batches whose sequence number the chain used for a batch with another records root:
	/// their records are set aside as rejected.
	pub root_mismatch: Vec<u64>,
	/// The batch submitted and finalized this round.
	pub finalized: Option<u64>,
	/// A batch the chain refused, with its reason.
	pub rejected: Option<(u64, String)>,
	/// Batches settled this round (or found settled).
	pub settled: Vec<u64>,
}

/// Runs one round (see the module doc).
pub async fn proof_round(
	client: &LineageClient,
	journal: &Journal,
	submitter: &Submitter,
	gate: &ChainGate,
	limits: BatchLimits,
) -> Result<RoundReport, ChainError> {
	let key: &Keypair = submitter.key();
	let operator = account_of(key);
	let operator_p = lineage_primitives::AccountId::new(operator.0);
	let mut report = RoundReport::default();
	let at = client.at_current_block().await.map_err(rpc_err)?;
	let now = at.block_number();
	let next: u64 = at
		.storage()
		.fetch(lineage::storage().usage().next_sequence(), (operator,))
		.await
		.map_err(rpc_err)?
		.decode()
		.map_err(rpc_err)?;

	// 1. Reconcile.
	let unfinalized = journal.unfinalized()?;
	for b in &unfinalized {
		let seq = b.batch.sequence;
		if seq >= next {
			continue;
		}
		let held = at
			.storage()
			.try_fetch(lineage::storage().usage().batches(), (operator, seq))
			.await
			.map_err(rpc_err)?;
		let held = held.map(|v| v.decode()).transpose().map_err(rpc_err)?.map(|info| HeldBatch {
			records_root: info.records_root,
			submitted_at: info.submitted_at,
			total_fee: info.total_fee,
		});
		match reconcile(b.batch.records_root, held) {
			Reconciled::Ours { block, fee } => {
				journal.mark_finalized(seq, block, fee)?;
				tracing::info!(
					sequence = seq,
					block,
					fee,
					"batch already on chain: marked finalized"
				);
				report.reconciled.push(seq);
			},
			Reconciled::Unverified => {
				journal.mark_finalized(seq, now as u32, 0)?;
				tracing::warn!(
					sequence = seq,
					records_root = %format!("{:?}", b.batch.records_root),
					"batch already on chain: marked finalized on its sequence number alone (the \
					 chain no longer stores it, so its records root cannot be checked)"
				);
				report.unverified.push(seq);
			},
			Reconciled::RootMismatch { chain_root } => {
				let reason = format!(
					"root mismatch: the chain holds another batch under sequence {seq} (records \
					 root {chain_root:?}, the journal's {:?}); set aside, not billed",
					b.batch.records_root
				);
				let n = journal.set_aside_batch(seq, &reason)?;
				tracing::error!(
					sequence = seq,
					chain_root = %format!("{chain_root:?}"),
					journal_root = %format!("{:?}", b.batch.records_root),
					records = n,
					"the chain holds a different batch under this sequence number: is another \
					 oracle signing with this operator key? Stop it; this batch's records are kept \
					 as rejected (GET the evidence of a request to see them), not billed"
				);
				report.root_mismatch.push(seq);
			},
		}
	}
	if !(report.reconciled.is_empty()
		&& report.unverified.is_empty()
		&& report.root_mismatch.is_empty())
	{
		gate.refresh_outstanding()?;
	}

	// 2. Submit the batch at `next`, cutting one if there is none.
	// (Reconciling marked only batches below `next`: the one at `next` is still signed.)
	let signed = unfinalized.into_iter().find(|b| b.batch.sequence == next);
	let batch = match signed {
		Some(b) => {
			tracing::info!(sequence = next, "sending a signed batch again");
			Some(b)
		},
		None => {
			let genesis = client.genesis_hash();
			let registry = gate.registry();
			let prices =
				|adapter| registry.by_id(adapter).map(|a| (a.per_1k_input, a.per_1k_output));
			journal.cut_batch(&operator_p, next, limits, prices, |batch| {
				key.sign(&signing_payload(&genesis, batch)).0
			})?
		},
	};
	if let Some(b) = batch {
		let seq = b.batch.sequence;
		tracing::info!(
			sequence = seq,
			entries = b.batch.entries.len(),
			records = b.records.len(),
			"batch cut and signed; submitting"
		);
		let vouchers = vouchers_to_wire(&b.vouchers);
		let call = lineage::tx().usage().submit_usage(to_wire(&b.batch), b.signature, vouchers);
		match submitter.submit(client, &call).await {
			Ok(done) => {
				let fee = done
					.events
					.find_first::<lineage::usage::events::UsageSubmitted>()
					.and_then(Result::ok)
					.map_or(0, |e| e.total_fee);
				let block =
					client.at_block(done.block_hash).await.map_err(rpc_err)?.block_number() as u32;
				journal.mark_finalized(seq, block, fee)?;
				gate.refresh_outstanding()?;
				tracing::info!(sequence = seq, block, fee, "batch finalized");
				report.finalized = Some(seq);
			},
			Err(ClientError::Dispatch(m)) if m.contains("SequenceMismatch") => {
				tracing::warn!(sequence = seq, "sequence mismatch: reconciling next round");
			},
			Err(ClientError::Dispatch(m)) => match classify(&m) {
				Refusal::Later => {
					tracing::warn!(sequence = seq, reason = %m, "batch refused for now; sending it again later");
				},
				Refusal::Resign => {
					let (_, back) = journal.reject_batch_records(seq, |_| false, &m)?;
					gate.refresh_outstanding()?;
					tracing::warn!(
						sequence = seq,
						records = back,
						"the signing key changed: cutting the batch again"
					);
				},
				Refusal::Entries => {
					let (payers, adapters) = find_at_fault(client, &b, &operator_p).await?;
					let (refused, back) = if payers.is_empty() && adapters.is_empty() {
						// Nothing found at fault: refuse the batch rather than loop on it.
						(journal.reject_batch(seq, &m)?, 0)
					} else {
						journal.reject_batch_records(
							seq,
							|r| payers.contains(&r.payer) || adapters.contains(&r.adapter),
							&m,
						)?
					};
					gate.refresh_outstanding()?;
					tracing::error!(
						sequence = seq,
						rejected = refused,
						kept = back,
						payers = payers.len(),
						adapters = adapters.len(),
						reason = %m,
						"the chain refused entries of the batch: their records are kept as rejected, \
						 the rest are cut again"
					);
					report.rejected = Some((seq, m));
				},
				Refusal::TooOld => {
					let at = client.at_current_block().await.map_err(rpc_err)?;
					let age = at
						.constants()
						.entry(lineage::constants().usage().max_served_age())
						.map_err(rpc_err)?;
					let now = at.block_number();
					// The batch lands a block or more after `now`: leave a few blocks' margin.
					let oldest = (now as u32).saturating_sub(age).saturating_add(SERVED_AGE_MARGIN);
					let (refused, back) =
						journal.reject_batch_records(seq, |r| r.served_at < oldest, &m)?;
					gate.refresh_outstanding()?;
					tracing::error!(
						sequence = seq,
						rejected = refused,
						kept = back,
						oldest_block = oldest,
						"records served too long ago to be charged at their price: they are kept \
						 as rejected, the rest are cut again"
					);
					report.rejected = Some((seq, m));
				},
				Refusal::Matched => {
					let back = journal.unwind_without_matches(seq)?;
					gate.refresh_outstanding()?;
					tracing::error!(
						sequence = seq,
						records = back,
						reason = %m,
						"the chain refused the batch's matched shares: its records are cut again \
						 without them (billed, paid by the lineage weights)"
					);
				},
				Refusal::Batch => {
					let n = journal.reject_batch(seq, &m)?;
					gate.refresh_outstanding()?;
					tracing::error!(
						sequence = seq,
						records = n,
						reason = %m,
						"the chain refused the batch: its records are kept as rejected"
					);
					report.rejected = Some((seq, m));
				},
			},
			Err(e) => return Err(e.into()),
		}
	}

	// 3. Settle what the dispute window lets through.
	let at = client.at_current_block().await.map_err(rpc_err)?;
	let now = at.block_number();
	for b in journal.finalized_unsettled()? {
		let seq = b.batch.sequence;
		let held = at
			.storage()
			.try_fetch(lineage::storage().usage().batches(), (operator, seq))
			.await
			.map_err(rpc_err)?;
		let Some(v) = held else {
			journal.mark_settled(seq)?;
			report.settled.push(seq);
			continue;
		};
		let info = v.decode().map_err(rpc_err)?;
		if now < u64::from(info.settles_at) {
			continue;
		}
		let call = lineage::tx().usage().settle_batch(operator, seq);
		match submitter.submit(client, &call).await {
			Ok(_) => {
				journal.mark_settled(seq)?;
				tracing::info!(sequence = seq, "batch settled");
				report.settled.push(seq);
			},
			Err(ClientError::Dispatch(m)) => {
				tracing::warn!(sequence = seq, reason = %m, "settlement refused; retrying later");
			},
			Err(e) => return Err(e.into()),
		}
	}
	Ok(report)
}

#[cfg(test)]
mod tests {
	use lineage_chain::payer::{authorization, RequestToSign};
	use lineage_primitives::{
		payer::{sr25519_signature, Voucher},
		usage::{UsageBatch, UsageEntry},
		AccountId,
	};
	use subxt_signer::sr25519::dev;

	use super::*;
	use crate::journal::BatchState;

	const GENESIS: [u8; 32] = [7; 32];

	fn operator() -> AccountId {
		AccountId::new(dev::ferdie().public_key().0)
	}

	/// `signer`'s voucher naming `payer` with `limit`.
	fn voucher(signer: &Keypair, payer: &Keypair, limit: u128) -> Voucher {
		let request = RequestToSign {
			method: "POST",
			path: "/v1/completions",
			body: b"{}",
			timestamp_ms: 1,
			nonce: 1,
			spend_limit: limit,
		};
		let auth = authorization(GENESIS, operator().into(), payer.public_key().0, &request);
		Voucher::signed(auth, false, sr25519_signature(signer.sign(&auth.message()).0))
	}

	fn account(k: &Keypair) -> AccountId {
		AccountId::new(k.public_key().0)
	}

	#[test]
	fn refusals_are_classified_by_the_error_named() {
		assert_eq!(classify("Module error: Usage::InsufficientBond"), Refusal::Later);
		assert_eq!(classify("Usage::BadSignature"), Refusal::Resign);
		assert_eq!(classify("Usage::ServedTooLongAgo"), Refusal::TooOld);
		assert_eq!(classify("Usage::BadServedBlocks"), Refusal::Batch);
		for e in ["InsufficientEscrow", "SpendLimitExceeded", "BadVoucher", "AdapterRevoked"] {
			assert_eq!(classify(&format!("Usage::{e}")), Refusal::Entries, "{e}");
		}
		assert_eq!(classify("Usage::EntriesNotSorted"), Refusal::Batch);
		for e in ["MatchedNotSorted", "TooManyMatched", "MatchedOverWhole", "ZeroMatchedShare"] {
			assert_eq!(classify(&format!("Usage::{e}")), Refusal::Matched, "{e}");
		}
		assert_eq!(classify("Usage::MatchedAdapterNotInBatch"), Refusal::Matched);
	}

	#[test]
	fn reconciling_checks_the_records_root_not_only_the_sequence() {
		let ours = H256::repeat_byte(1);
		let held = |root| HeldBatch { records_root: root, submitted_at: 40, total_fee: 7 };
		assert_eq!(reconcile(ours, Some(held(ours))), Reconciled::Ours { block: 40, fee: 7 });
		let theirs = H256::repeat_byte(2);
		assert_eq!(
			reconcile(ours, Some(held(theirs))),
			Reconciled::RootMismatch { chain_root: theirs },
			"the same sequence with another root is not our batch"
		);
		assert_eq!(reconcile(ours, None), Reconciled::Unverified, "settled and removed");
	}

	#[test]
	fn only_the_payers_and_adapters_at_fault_are_found() {
		let (alice, bob, charlie, dave) = (dev::alice(), dev::bob(), dev::charlie(), dev::dave());
		let adapter = |id, state| ChainAdapter {
			id,
			state,
			per_1k_input: 1_000,
			per_1k_output: 2_000,
			base_model: 0,
		};
		let adapters = HashMap::from([
			(1, adapter(1, AdapterState::Active)),
			(2, adapter(2, AdapterState::Revoked)),
		]);
		// 10 input and 10 output tokens on adapter 1 cost 10 + 20 = 30.
		let entry = |k: &Keypair, adapter| UsageEntry {
			payer: account(k),
			adapter,
			requests: 1,
			input_tokens: 10,
			output_tokens: 10,
		};
		let mut entries = vec![
			entry(&alice, 1),
			entry(&alice, 2),
			entry(&bob, 1),
			entry(&charlie, 1),
			entry(&dave, 1),
			entry(&dave, 3),
		];
		entries.sort_by(|a, b| a.key().cmp(&b.key()));
		let mut vouchers = vec![
			voucher(&alice, &alice, 1_000),
			voucher(&bob, &bob, 1_000),
			voucher(&charlie, &charlie, 1_000),
			voucher(&alice, &dave, u128::MAX), // signed by someone else
		];
		vouchers.sort_by(|a, b| a.payer.cmp(&b.payer));
		let stored = StoredBatch {
			batch: UsageBatch {
				operator: operator(),
				sequence: 0,
				served_from: 1,
				served_to: 1,
				entries,
				records_root: Default::default(),
				matched: vec![],
			},
			signature: [0; 64],
			vouchers,
			records: vec![],
			state: BatchState::Signed,
			cut_at_ms: 0,
		};
		let standing = |escrow, spent| PayerStanding { escrow, withdrawing: 0, spent };
		let payers = HashMap::from([
			(account(&alice), standing(30, 970)), // exactly enough, exactly at the limit
			(account(&bob), standing(29, 0)),     // escrow one short
			(account(&charlie), standing(100, 971)), // one over the limit
			(account(&dave), standing(100, 0)),
		]);
		let (bad_payers, bad_adapters) =
			entries_at_fault(&stored, &payers, &adapters, H256(GENESIS), &operator());
		assert_eq!(bad_adapters, BTreeSet::from([2, 3]), "revoked and unknown");
		assert_eq!(
			bad_payers,
			BTreeSet::from([account(&bob), account(&charlie), account(&dave)]),
			"Alice's entry on the revoked adapter is not counted against her"
		);
	}
}
