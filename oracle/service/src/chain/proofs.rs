//! Steps 5–6 from the oracle's side: batches cut from the journal, signed with the operator key,
//! submitted, marked finalized, and settled after the dispute window.
//!
//! One round ([`proof_round`]) runs on one task, so the operator account's extrinsics never race
//! for a nonce:
//! 1. **Reconcile.** Batches the journal holds as signed whose sequence number is below the
//!    chain's `NextSequence` are on chain already (the oracle died between inclusion and
//!    bookkeeping): they are marked finalized, never sent again.
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
	rpc_err, submit_and_finalize, LineageClient,
};

use super::{
	error::{ChainError, ClientError},
	gate::ChainGate,
};
use crate::journal::{BatchLimits, Journal};

/// The batch in the generated client types (the same SCALE bytes as the primitives' type).
pub fn to_wire(batch: &UsageBatch<lineage_primitives::AccountId>) -> wire::UsageBatch<AccountId32> {
	wire::UsageBatch {
		operator: AccountId32(batch.operator.clone().into()),
		sequence: batch.sequence,
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

/// What one round did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
	/// Batches found on chain and marked finalized without sending them again.
	pub reconciled: Vec<u64>,
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
	key: &Keypair,
	gate: &ChainGate,
	limits: BatchLimits,
) -> Result<RoundReport, ChainError> {
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
		let (block, fee) = match held {
			Some(v) => {
				let info = v.decode().map_err(rpc_err)?;
				if info.records_root != b.batch.records_root {
					tracing::error!(
						sequence = seq,
						"the chain holds a different batch under this sequence number: is \
						 another oracle using this operator key?"
					);
				}
				(info.submitted_at, info.total_fee)
			},
			None => (now as u32, 0),
		};
		journal.mark_finalized(seq, block, fee)?;
		tracing::info!(sequence = seq, "batch already on chain: marked finalized");
		report.reconciled.push(seq);
	}
	if !report.reconciled.is_empty() {
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
			journal.cut_batch(&operator_p, next, limits, |batch| {
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
		match submit_and_finalize(client, &call, key).await {
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
			Err(ClientError::Dispatch(m)) => {
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
		match submit_and_finalize(client, &call, key).await {
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
