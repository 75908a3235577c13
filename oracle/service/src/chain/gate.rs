//! Chain mode's admission and usage recording: the [`ChainGate`] lets a request run only when
//! its adapter is registered and not revoked on chain, its stored bytes hash to the registered
//! artifact hash, its payer's escrow with this operator covers the most the request may cost on
//! top of everything already served and not yet settled, and the spend limit the payer signed
//! covers all of that and what the chain has charged already; the [`JournalSink`] writes the
//! finished request, with the payer's signed authorisation, to the journal before the response
//! completes.
//!
//! The escrow a payer has left is `escrow on chain − a pending withdrawal − fees of journaled
//! requests not in a finalized batch − reservations of requests running now`. A request reserves
//! its maximum fee (prompt tokens and `max_tokens` at the higher of the current and a scheduled
//! price) and releases the reservation when it ends, after its usage is journaled. What counts
//! against the payer's spend limit is `spent on chain + the same fees and reservations + this
//! request's maximum fee`: every admitted request's limit covers everything admitted before it,
//! so the highest limit a payer signed covers every batch the oracle will cut.

use std::{
	collections::{HashMap, HashSet},
	sync::{Arc, Mutex},
};

use futures::future::BoxFuture;
use lineage_primitives::{usage::UsageRecord, AccountId, AdapterId, Hash};
use sha2::{Digest, Sha256};
use subxt::utils::AccountId32;

use lineage_adapters::AdapterStore;
use lineage_chain::{payer_standing, PayerStanding};

use super::{
	link::ChainLink,
	registry::{AdapterState, Registry},
};
use crate::{
	infer::{
		error::InferError,
		gate::{GatePass, GateRequest, RequestGate},
		usage::{FinishedRequest, SinkError, UsageSink},
	},
	journal::{Journal, JournalError},
};

/// Tokens served and not yet in a finalized batch, and escrow reserved by running requests.
#[derive(Debug, Default)]
pub struct Ledger {
	/// Per payer, per adapter: (input tokens, output tokens) journaled, not yet finalized.
	outstanding: HashMap<[u8; 32], HashMap<AdapterId, (u64, u64)>>,
	/// Per payer: the sum of the running requests' maximum fees.
	reserved: HashMap<[u8; 32], u128>,
}

impl Ledger {
	/// The fees `payer` owes for served requests not yet finalized, at the registry's prices.
	fn owed(&self, payer: &[u8; 32], registry: &Registry) -> u128 {
		let Some(adapters) = self.outstanding.get(payer) else { return 0 };
		adapters
			.iter()
			.map(|(adapter, (input, output))| {
				registry.by_id(*adapter).and_then(|a| a.max_fee(*input, *output)).unwrap_or(0)
			})
			.fold(0u128, u128::saturating_add)
	}

	/// Counts `input` and `output` tokens of `payer` on `adapter` as owed.
	fn add(&mut self, payer: [u8; 32], adapter: AdapterId, input: u64, output: u64) {
		let e = self.outstanding.entry(payer).or_default().entry(adapter).or_default();
		e.0 = e.0.saturating_add(input);
		e.1 = e.1.saturating_add(output);
	}
}

/// A running request's escrow reservation, released on drop.
struct Reservation {
	ledger: Arc<Mutex<Ledger>>,
	payer: [u8; 32],
	amount: u128,
}

impl Drop for Reservation {
	fn drop(&mut self) {
		let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
		if let Some(r) = ledger.reserved.get_mut(&self.payer) {
			*r = r.saturating_sub(self.amount);
			if *r == 0 {
				ledger.reserved.remove(&self.payer);
			}
		}
	}
}

/// The gate of an oracle joined to the chain (see the module doc).
pub struct ChainGate {
	registry: Arc<Registry>,
	link: Arc<ChainLink>,
	store: Arc<AdapterStore>,
	operator: AccountId32,
	journal: Arc<Journal>,
	ledger: Arc<Mutex<Ledger>>,
	/// Artifact hashes whose stored bytes were checked against the hash.
	verified: Mutex<HashSet<Hash>>,
	/// Serve the base model alone to signed payers, free (it has no price on chain).
	free_base: bool,
}

impl ChainGate {
	/// A gate for `operator`, reading escrow through `link` and the journal's outstanding
	/// usage (call [`ChainGate::refresh_outstanding`] once the registry is loaded).
	pub fn new(
		registry: Arc<Registry>,
		link: Arc<ChainLink>,
		store: Arc<AdapterStore>,
		operator: AccountId32,
		journal: Arc<Journal>,
	) -> Self {
		ChainGate {
			registry,
			link,
			store,
			operator,
			journal,
			ledger: Arc::default(),
			verified: Mutex::default(),
			free_base: false,
		}
	}

	/// Serves the base model alone to any signed payer, free of charge and unjournaled (it has
	/// no price on chain); without it, base-model requests are refused (403).
	pub fn with_free_base(mut self, free_base: bool) -> Self {
		self.free_base = free_base;
		self
	}

	/// The adapter registry the gate admits requests by (its prices weigh a batch's matched
	/// shares).
	pub fn registry(&self) -> &Registry {
		&self.registry
	}

	/// Rebuilds the outstanding tokens from the journal (at start, and after a batch is
	/// finalized or rejected).
	pub fn refresh_outstanding(&self) -> Result<(), JournalError> {
		let rows = self.journal.outstanding()?;
		let mut fresh = Ledger::default();
		for (payer, adapter, input, output) in rows {
			fresh.add(payer.into(), adapter, input, output);
		}
		self.ledger.lock().unwrap_or_else(|e| e.into_inner()).outstanding = fresh.outstanding;
		Ok(())
	}

	/// The sink that journals this gate's requests.
	pub fn sink(self: &Arc<Self>) -> Arc<JournalSink> {
		Arc::new(JournalSink { gate: self.clone() })
	}

	/// `payer`'s escrow and spend with this operator at the current finalized block, and that
	/// block's number.
	async fn standing(&self, payer: &[u8; 32]) -> Result<(PayerStanding, u32), InferError> {
		let client = self.link.client().ok_or_else(|| {
			InferError::Unavailable(
				"the oracle is not connected to the chain; retry shortly".into(),
			)
		})?;
		let unavailable = |e: &dyn std::fmt::Display| {
			InferError::Unavailable(format!("reading escrow from the chain failed: {e}"))
		};
		let at = client.at_current_block().await.map_err(|e| unavailable(&e))?;
		let block = u32::try_from(at.block_number()).unwrap_or(u32::MAX);
		let standing = payer_standing(&at, AccountId32(*payer), self.operator)
			.await
			.map_err(|e| unavailable(&e))?;
		Ok((standing, block))
	}

	/// Checks once that the stored bytes of `hash` hash to it.
	async fn verify_bytes(&self, hash: Hash, model: &str) -> Result<(), InferError> {
		if self.verified.lock().unwrap_or_else(|e| e.into_inner()).contains(&hash) {
			return Ok(());
		}
		let store = self.store.clone();
		let checked = tokio::task::spawn_blocking(move || store.verify(&hash))
			.await
			.map_err(|e| InferError::Internal(e.to_string()))?;
		if let Err(e) = checked {
			return Err(InferError::NotRegistered(format!(
				"the stored files of `{model}` do not hash to its registered artifact hash \
				 0x{}: {e}; re-import the adapter's files",
				hex::encode(hash.0)
			)));
		}
		self.verified.lock().unwrap_or_else(|e| e.into_inner()).insert(hash);
		Ok(())
	}

	async fn admit_request(&self, req: GateRequest<'_>) -> Result<GatePass, InferError> {
		let Some(payer) = req.payer else {
			return Err(InferError::PayerRequired(
				"sign the request with the payer's key (x-lineage-* headers)".into(),
			));
		};
		let Some(hash) = req.adapter else {
			if self.free_base {
				return Ok(GatePass {
					payer: Some(payer),
					chain_adapter: None,
					spent: None,
					served_at: None,
					hold: None,
				});
			}
			return Err(InferError::NotRegistered(format!(
				"`{}` is the base model: this oracle sells inference per LoRA adapter registered \
				 on chain; name one (GET /v1/models lists them)",
				req.model
			)));
		};
		let Some(adapter) = self.registry.get(&hash) else {
			return Err(InferError::NotRegistered(format!(
				"the adapter `{}` (artifact 0x{}) is not registered on chain: register it with \
				 Models::register_adapter before it can be served",
				req.model,
				hex::encode(hash.0)
			)));
		};
		if adapter.state == AdapterState::Revoked {
			return Err(InferError::Revoked(format!(
				"the adapter `{}` (id {}) was revoked on chain and is no longer served",
				req.model, adapter.id
			)));
		}
		self.verify_bytes(hash, req.model).await?;
		let max_fee =
			adapter.max_fee(req.prompt_tokens as u64, req.max_tokens as u64).ok_or_else(|| {
				InferError::invalid("the request's maximum fee overflows", "max_tokens")
			})?;
		let Some(voucher) = req.voucher else {
			return Err(InferError::PayerRequired(
				"sign the request with the payer's key and a spend limit (x-lineage-* headers)"
					.into(),
			));
		};
		let (standing, served_at) = self.standing(&payer).await?;
		let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
		let owed = ledger.owed(&payer, &self.registry);
		let reserved = ledger.reserved.get(&payer).copied().unwrap_or(0);
		let PayerStanding { escrow, withdrawing, spent } = standing;
		let available =
			escrow.saturating_sub(withdrawing).saturating_sub(owed).saturating_sub(reserved);
		if available < max_fee {
			return Err(InferError::InsufficientEscrow(format!(
				"payer {} has {available} available in escrow with operator {} ({escrow} on \
				 chain, {withdrawing} of it asked back, {owed} owed for served requests not yet \
				 settled, {reserved} reserved by running requests); this request may cost up to \
				 {max_fee}: deposit more with Usage::deposit_escrow({}, amount), or ask for \
				 fewer max_tokens",
				AccountId32(payer),
				self.operator,
				self.operator,
			)));
		}
		let counted = spent.saturating_add(owed).saturating_add(reserved).saturating_add(max_fee);
		if voucher.spend_limit < counted {
			return Err(InferError::SpendLimitTooLow {
				message: format!(
					"the spend limit signed in x-lineage-spend-limit, {}, is below {counted}: \
					 {spent} charged on chain, {owed} owed for served requests not yet on chain, \
					 {reserved} reserved by running requests and up to {max_fee} for this one; \
					 sign the request again with a spend limit of at least {counted}",
					voucher.spend_limit
				),
				spent: spent.saturating_add(owed).saturating_add(reserved),
			});
		}
		let r = ledger.reserved.entry(payer).or_default();
		*r = r.saturating_add(max_fee);
		drop(ledger);
		let hold = Reservation { ledger: self.ledger.clone(), payer, amount: max_fee };
		Ok(GatePass {
			payer: Some(payer),
			chain_adapter: Some(adapter.id),
			spent: Some(counted),
			served_at: Some(served_at),
			hold: Some(Box::new(hold)),
		})
	}
}

impl RequestGate for ChainGate {
	fn admit<'a>(&'a self, req: GateRequest<'a>) -> BoxFuture<'a, Result<GatePass, InferError>> {
		Box::pin(self.admit_request(req))
	}
}

/// Journals every finished request of a [`ChainGate`] (durably, before its response
/// completes) and counts it as owed until its batch is finalized.
pub struct JournalSink {
	gate: Arc<ChainGate>,
}

/// The journal's id of a response: sha256 of its id (`chatcmpl-…`).
pub fn request_id(id: &str) -> Hash {
	Hash::from(<[u8; 32]>::from(Sha256::digest(id.as_bytes())))
}

/// The usage record of a finished chain-mode request of `payer` on chain adapter `adapter`,
/// with what its answer's attribution credits ([`UsageRecord::matched`]).
pub fn usage_record(
	rec: &FinishedRequest,
	payer: [u8; 32],
	adapter: AdapterId,
) -> Result<UsageRecord<AccountId>, SinkError> {
	Ok(UsageRecord {
		request_id: request_id(&rec.id),
		payer: AccountId::new(payer),
		adapter,
		input_tokens: rec.prompt_tokens as u64,
		output_tokens: rec.completion_tokens as u64,
		response_hash: Hash::from(rec.response_sha256),
		finished_at_ms: rec.unix_time_ms,
		served_at: rec.served_at.ok_or("a chain-mode request finished without its block")?,
		matched: rec.lineage.as_ref().map(|l| l.record_matches()).unwrap_or_default(),
	})
}

impl UsageSink for JournalSink {
	fn record(&self, rec: &FinishedRequest) -> Result<(), SinkError> {
		let Some(payer) = rec.payer else {
			return Err("a chain-mode request finished without a payer".into());
		};
		// The free base model (`--free-base`): nothing to bill.
		let Some(adapter) = rec.chain_adapter else { return Ok(()) };
		let record = usage_record(rec, payer, adapter)?;
		let Some(voucher) = &rec.voucher else {
			return Err("a chain-mode request finished without the payer's authorisation".into());
		};
		let lineage = rec.lineage.as_ref().map(serde_json::to_vec).transpose()?;
		self.gate.journal.append_with_lineage(&record, voucher, lineage.as_deref())?;
		let mut ledger = self.gate.ledger.lock().unwrap_or_else(|e| e.into_inner());
		ledger.add(payer, adapter, record.input_tokens, record.output_tokens);
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use std::collections::HashMap;

	use super::*;
	use crate::chain::registry::ChainAdapter;

	fn registry() -> Registry {
		let r = Registry::new();
		let adapter = |id| ChainAdapter {
			id,
			state: AdapterState::Active,
			per_1k_input: 1_000,
			per_1k_output: 2_000,
			base_model: 0,
		};
		r.replace(
			HashMap::from([(Hash::repeat_byte(1), adapter(7)), (Hash::repeat_byte(2), adapter(8))]),
			1,
		);
		r
	}

	#[test]
	fn a_usage_record_carries_what_its_answer_credits() {
		use lineage_primitives::usage::{RecordMatch, Share};

		use crate::infer::{
			lineage::{Lineage, Traced},
			usage::Finish,
		};
		use lineage_trace::{index::RecordMeta, RecordCredit};
		let record = |contributor: u8, version, score| RecordCredit {
			record: RecordMeta {
				datanet: 4,
				version,
				index: 0,
				contribution: u32::from(contributor),
				content_hash: [contributor; 32],
				contributor: [contributor; 32],
			},
			score,
			spans: 1,
		};
		let traced = Traced {
			versions: vec![],
			completion_tokens: 8,
			credited_tokens: 6,
			echoed_tokens: 0,
			spans: vec![],
			prompt_spans: vec![],
			// Two records of contributor 1 in version 2 (3 + 1 tokens), one of 2 in version 3,
			// and one record with no credit.
			records: vec![
				record(1, 2, 3.0),
				record(2, 3, 2.0),
				record(1, 2, 1.0),
				record(3, 3, 0.0),
			],
			contributors: vec![],
			micros: 1,
		};
		let mut finished = FinishedRequest {
			id: "chatcmpl-1".into(),
			model: "a".into(),
			adapter: None,
			prompt_tokens: 5,
			completion_tokens: 8,
			response_sha256: [0; 32],
			unix_time_ms: 1,
			finish_reason: Finish::Stop,
			payer: Some([9; 32]),
			voucher: None,
			chain_adapter: Some(7),
			served_at: Some(40),
			lineage: Some(Lineage::Attributed(traced)),
		};
		let rec = usage_record(&finished, [9; 32], 7).unwrap();
		let part = |who: u8, version, parts| RecordMatch {
			datanet: 4,
			version,
			contributor: AccountId::new([who; 32]),
			share: Share::from_parts(parts),
		};
		assert_eq!(rec.matched, vec![part(1, 2, 500_000_000), part(2, 3, 250_000_000)]);
		assert_eq!((rec.input_tokens, rec.output_tokens, rec.served_at), (5, 8, 40));
		// Not attributed (indexing): no matches, the fee follows the weights.
		finished.lineage = Some(Lineage::Indexing);
		assert!(usage_record(&finished, [9; 32], 7).unwrap().matched.is_empty());
		finished.served_at = None;
		assert!(usage_record(&finished, [9; 32], 7).is_err());
	}

	#[test]
	fn owed_prices_each_payers_outstanding_tokens() {
		let (alice, bob) = ([1u8; 32], [2u8; 32]);
		let mut ledger = Ledger::default();
		ledger.add(alice, 7, 60, 50);
		ledger.add(alice, 7, 40, 0);
		ledger.add(alice, 8, 10, 0);
		ledger.add(bob, 7, 1, 1);
		// Adapter 9 is unknown to the registry: nothing is priced for it.
		ledger.add(alice, 9, 1_000, 1_000);
		let r = registry();
		// Alice: (100 + 100) + 1 rounding, and 10 + 1.
		assert_eq!(ledger.owed(&alice, &r), 201 + 11);
		assert_eq!(ledger.owed(&bob, &r), 3 + 1);
		assert_eq!(ledger.owed(&[3u8; 32], &r), 0);
	}

	#[test]
	fn a_reservation_is_released_when_dropped() {
		let ledger = Arc::new(Mutex::new(Ledger::default()));
		let payer = [1u8; 32];
		ledger.lock().unwrap().reserved.insert(payer, 30);
		let a = Reservation { ledger: ledger.clone(), payer, amount: 10 };
		let b = Reservation { ledger: ledger.clone(), payer, amount: 20 };
		drop(a);
		assert_eq!(ledger.lock().unwrap().reserved.get(&payer), Some(&20));
		drop(b);
		assert_eq!(ledger.lock().unwrap().reserved.get(&payer), None);
	}
}
