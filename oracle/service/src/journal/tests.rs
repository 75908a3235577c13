use super::*;
use lineage_primitives::{usage::RecordMatch, Hash};
use std::{
	io::{BufRead, BufReader, Write},
	process::{Command, Stdio},
};

/// A folder for one test's journal, removed on drop.
struct TempDir(lineage_testkit::TempDir);

impl TempDir {
	fn new(name: &str) -> TempDir {
		TempDir(lineage_testkit::temp_dir(&format!("journal-{name}")))
	}

	fn file(&self) -> PathBuf {
		self.0.path().join("journal.redb")
	}
}

fn account(byte: u8) -> AccountId {
	AccountId::new([byte; 32])
}

fn rec(id: u64, payer: u8, adapter: AdapterId, input: u64, output: u64) -> UsageRecord<AccountId> {
	UsageRecord {
		request_id: Hash::from_low_u64_be(id),
		payer: account(payer),
		adapter,
		input_tokens: input,
		output_tokens: output,
		response_hash: Hash::repeat_byte(id as u8),
		finished_at_ms: 1_700_000_000_000 + id,
		// Served at a block of its own, out of order with the ids.
		served_at: 100 + id as u32 % 7,
		matched: Vec::new(),
	}
}

const WIDE: BatchLimits = BatchLimits {
	max_entries: 1000,
	max_adapters: 1000,
	max_payers: 1000,
	max_records: 1000,
	max_matched_per_adapter: 16,
};

/// A voucher of `payer` with spend limit `limit` (its signature is not checked by the journal).
fn voucher(payer: &AccountId, limit: u128) -> Voucher {
	Voucher {
		payer: payer.clone(),
		timestamp_ms: 1,
		nonce: limit as u64,
		spend_limit: limit,
		target_sha256: [1; 32],
		body_sha256: [2; 32],
		wrapped: false,
		signature: lineage_primitives::payer::sr25519_signature([0; 64]),
	}
}

/// Appends `rec` with a voucher whose limit grows with the record's id.
fn append(journal: &Journal, rec: &UsageRecord<AccountId>) -> Result<u64, JournalError> {
	let id = rec.request_id.to_low_u64_be();
	journal.append(rec, &voucher(&rec.payer, 1_000 + u128::from(id)))
}

fn operator() -> AccountId {
	account(0xee)
}

/// A stand-in signature that depends on the batch, so a re-signed batch would differ.
fn fake_sign(batch: &UsageBatch<AccountId>) -> [u8; 64] {
	let hash = sha256(&batch.encode());
	let mut sig = [0u8; 64];
	sig[..32].copy_from_slice(&hash);
	sig[32..].copy_from_slice(&hash);
	sig
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
	use sha2::Digest;
	sha2::Sha256::digest(bytes).into()
}

fn cut(journal: &Journal, sequence: Sequence, limits: BatchLimits) -> Option<StoredBatch> {
	journal.cut_batch(&operator(), sequence, limits, |_| None, fake_sign).unwrap()
}

/// The usage pallet's order check: entries strictly ascending by (payer, adapter), none empty.
fn assert_chain_valid(batch: &UsageBatch<AccountId>) {
	assert!(!batch.entries.is_empty());
	for entry in &batch.entries {
		assert!(entry.requests > 0 && (entry.input_tokens > 0 || entry.output_tokens > 0));
	}
	for pair in batch.entries.windows(2) {
		assert!(pair[0].key() < pair[1].key(), "entries not sorted: {pair:?}");
	}
}

#[test]
fn journal_and_error_are_send_and_sync() {
	fn check<T: Send + Sync + 'static>() {}
	check::<Journal>();
	check::<JournalError>();
}

#[test]
fn append_is_idempotent_by_request_id() {
	let dir = TempDir::new("append");
	let journal = Journal::open(&dir.file()).unwrap();
	assert_eq!(append(&journal, &rec(1, 1, 1, 10, 5)).unwrap(), 0);
	assert_eq!(append(&journal, &rec(2, 1, 1, 10, 5)).unwrap(), 1);
	// The same request id again, even with other counts: the first record wins.
	assert_eq!(append(&journal, &rec(1, 2, 9, 99, 99)).unwrap(), 0);
	assert_eq!(journal.pending_count().unwrap(), 2);
	assert_eq!(journal.record(0).unwrap(), Some(rec(1, 1, 1, 10, 5)));
	assert_eq!(journal.record(1).unwrap(), Some(rec(2, 1, 1, 10, 5)));
	assert_eq!(journal.record(2).unwrap(), None);
	let stats = journal.stats().unwrap();
	assert_eq!(stats, JournalStats { records: 2, pending: 2, ..Default::default() });
}

#[test]
fn append_of_record_without_tokens_fails() {
	let dir = TempDir::new("empty");
	let journal = Journal::open(&dir.file()).unwrap();
	assert!(matches!(
		append(&journal, &rec(1, 1, 1, 0, 0)),
		Err(JournalError::EmptyRecord { request_id }) if request_id == Hash::from_low_u64_be(1)
	));
	// Input only or output only is billable.
	assert_eq!(append(&journal, &rec(2, 1, 1, 0, 3)).unwrap(), 0);
	assert_eq!(append(&journal, &rec(3, 1, 1, 3, 0)).unwrap(), 1);
	assert_eq!(journal.pending_count().unwrap(), 2);
}

#[test]
fn cut_batch_aggregates_sorts_and_roots() {
	let dir = TempDir::new("cut");
	let journal = Journal::open(&dir.file()).unwrap();
	// Request ids out of order with record numbers, payers and adapters out of order.
	let records = [
		rec(50, 3, 2, 10, 1),
		rec(10, 1, 7, 20, 2),
		rec(40, 3, 2, 30, 3),
		rec(20, 2, 1, 40, 4),
		rec(30, 1, 2, 50, 5),
		rec(60, 1, 7, 60, 6),
	];
	for r in &records {
		append(&journal, r).unwrap();
	}
	let mut signed = None;
	let stored = journal
		.cut_batch(
			&operator(),
			4,
			WIDE,
			|_| None,
			|batch| {
				signed = Some(batch.clone());
				fake_sign(batch)
			},
		)
		.unwrap()
		.unwrap();
	assert_eq!(signed.as_ref(), Some(&stored.batch));
	assert_eq!(stored.signature, fake_sign(&stored.batch));
	assert_eq!(stored.state, BatchState::Signed);
	assert_eq!(stored.records, vec![0, 1, 2, 3, 4, 5]);
	assert_eq!(stored.batch.operator, operator());
	assert_eq!(stored.batch.sequence, 4);
	// The batch spans the blocks its records were served at (ids 50 and 20: 101 and 106).
	assert_eq!((stored.batch.served_from, stored.batch.served_to), (101, 106));
	assert_chain_valid(&stored.batch);
	let entry = |payer: u8, adapter, requests, input, output| UsageEntry {
		payer: account(payer),
		adapter,
		requests,
		input_tokens: input,
		output_tokens: output,
	};
	assert_eq!(
		stored.batch.entries,
		vec![
			entry(1, 2, 1, 50, 5),
			entry(1, 7, 2, 80, 8),
			entry(2, 1, 1, 40, 4),
			entry(3, 2, 2, 40, 4),
		]
	);
	let mut by_id = records.to_vec();
	by_id.sort_by_key(|r| r.request_id);
	assert_eq!(stored.batch.records_root, records_root(&by_id));
	assert_ne!(stored.batch.records_root, records_root(&records));
	assert_eq!(journal.pending_count().unwrap(), 0);
	assert_eq!(journal.batch(4).unwrap(), Some(stored.clone()));
	assert_eq!(journal.unfinalized().unwrap(), vec![stored]);
	// Nothing left: nothing to cut, nothing written.
	assert_eq!(cut(&journal, 5, WIDE), None);
	assert_eq!(journal.batch(5).unwrap(), None);
}

#[test]
fn cut_batch_respects_max_records() {
	let dir = TempDir::new("max-records");
	let journal = Journal::open(&dir.file()).unwrap();
	for id in 0..5 {
		append(&journal, &rec(id, 1, 1, 1, 1)).unwrap();
	}
	let limits = BatchLimits { max_records: 2, ..WIDE };
	let first = cut(&journal, 0, limits).unwrap();
	assert_eq!(first.records, vec![0, 1]);
	assert_eq!(first.batch.entries[0].requests, 2);
	assert_eq!(cut(&journal, 1, limits).unwrap().records, vec![2, 3]);
	assert_eq!(cut(&journal, 2, limits).unwrap().records, vec![4]);
	assert_eq!(cut(&journal, 3, limits), None);
}

#[test]
fn cut_batch_respects_max_entries() {
	let dir = TempDir::new("max-entries");
	let journal = Journal::open(&dir.file()).unwrap();
	// Pairs, in record order: (1,1) (2,1) (1,1) (3,1) (2,1).
	for (id, payer) in [(0, 1), (1, 2), (2, 1), (3, 3), (4, 2)] {
		append(&journal, &rec(id, payer, 1, 10, 10)).unwrap();
	}
	let limits = BatchLimits { max_entries: 2, ..WIDE };
	// The cut stops at record 3, whose pair would be a third entry; record 4 waits behind it.
	let first = cut(&journal, 0, limits).unwrap();
	assert_eq!(first.records, vec![0, 1, 2]);
	assert_eq!(first.batch.entries.len(), 2);
	assert_chain_valid(&first.batch);
	let second = cut(&journal, 1, limits).unwrap();
	assert_eq!(second.records, vec![3, 4]);
	assert_eq!(
		second.batch.entries.iter().map(|e| e.payer.clone()).collect::<Vec<_>>(),
		vec![account(2), account(3)]
	);
}

#[test]
fn cut_batch_respects_max_adapters() {
	let dir = TempDir::new("max-adapters");
	let journal = Journal::open(&dir.file()).unwrap();
	// Adapters, in record order: 5, 5 (other payer), 6, 7; a new pair with a known adapter fits.
	for (id, payer, adapter) in [(0, 1, 5), (1, 2, 5), (2, 1, 6), (3, 3, 6), (4, 1, 7)] {
		append(&journal, &rec(id, payer, adapter, 10, 10)).unwrap();
	}
	let limits = BatchLimits { max_adapters: 2, ..WIDE };
	let first = cut(&journal, 0, limits).unwrap();
	assert_eq!(first.records, vec![0, 1, 2, 3]);
	assert_eq!(first.batch.entries.len(), 4);
	let mut adapters: Vec<_> = first.batch.entries.iter().map(|e| e.adapter).collect();
	adapters.dedup();
	adapters.sort();
	adapters.dedup();
	assert_eq!(adapters, vec![5, 6]);
	assert_chain_valid(&first.batch);
	assert_eq!(cut(&journal, 1, limits).unwrap().records, vec![4]);
}

#[test]
fn cut_batch_respects_max_payers() {
	let dir = TempDir::new("max-payers");
	let journal = Journal::open(&dir.file()).unwrap();
	for (id, payer) in [(0, 1), (1, 2), (2, 1), (3, 3)] {
		append(&journal, &rec(id, payer, 1, 10, 10)).unwrap();
	}
	let limits = BatchLimits { max_payers: 2, ..WIDE };
	let first = cut(&journal, 0, limits).unwrap();
	// Payers 1 and 2 (records 0–2); payer 3 waits for the next batch.
	assert_eq!(first.records, vec![0, 1, 2]);
	assert_eq!(first.vouchers.len(), 2);
	let second = cut(&journal, 1, limits).unwrap();
	assert_eq!((second.records, second.vouchers.len()), (vec![3], 1));
}

#[test]
fn each_batch_carries_each_payers_highest_voucher() {
	let dir = TempDir::new("vouchers");
	let journal = Journal::open(&dir.file()).unwrap();
	let (alice, bob) = (account(1), account(2));
	// Alice's limits arrive out of order (two clients); Bob signs once.
	journal.append(&rec(0, 1, 1, 10, 10), &voucher(&alice, 500)).unwrap();
	journal.append(&rec(1, 1, 2, 10, 10), &voucher(&alice, 900)).unwrap();
	journal.append(&rec(2, 1, 1, 10, 10), &voucher(&alice, 700)).unwrap();
	journal.append(&rec(3, 2, 1, 10, 10), &voucher(&bob, 40)).unwrap();
	let stored = cut(&journal, 0, WIDE).unwrap();
	// One per payer, ascending by payer, each the highest limit it signed.
	let limits: Vec<_> = stored.vouchers.iter().map(|v| (v.payer.clone(), v.spend_limit)).collect();
	assert_eq!(limits, vec![(alice.clone(), 900), (bob, 40)]);
	// A later batch uses the best voucher seen, even one whose record is already batched.
	journal.append(&rec(4, 1, 1, 10, 10), &voucher(&alice, 600)).unwrap();
	let later = cut(&journal, 1, WIDE).unwrap();
	assert_eq!(later.vouchers.iter().map(|v| v.spend_limit).collect::<Vec<_>>(), vec![900]);
	// Each record keeps its own authorisation, the payer's evidence; survives a reopen.
	drop(journal);
	let journal = Journal::open(&dir.file()).unwrap();
	assert_eq!(journal.voucher(2).unwrap().map(|v| v.spend_limit), Some(700));
	assert_eq!(journal.voucher(9).unwrap(), None);
	assert_eq!(journal.batch(0).unwrap().unwrap().vouchers, stored.vouchers);
}

#[test]
fn append_with_another_payers_voucher_fails() {
	let dir = TempDir::new("voucher-mismatch");
	let journal = Journal::open(&dir.file()).unwrap();
	assert!(matches!(
		journal.append(&rec(0, 1, 1, 10, 10), &voucher(&account(2), 1_000)),
		Err(JournalError::VoucherMismatch { .. })
	));
	assert_eq!(journal.pending_count().unwrap(), 0);
}

#[test]
fn cut_batch_stops_before_an_entry_overflows() {
	let dir = TempDir::new("overflow");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, u64::MAX - 1, 1)).unwrap();
	append(&journal, &rec(1, 1, 1, 2, 1)).unwrap();
	let first = cut(&journal, 0, WIDE).unwrap();
	assert_eq!(first.records, vec![0]);
	assert_eq!(first.batch.entries[0].input_tokens, u64::MAX - 1);
	assert_eq!(cut(&journal, 1, WIDE).unwrap().records, vec![1]);
}

#[test]
fn cut_batch_with_zero_limits_fails() {
	let dir = TempDir::new("zero-limits");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	for limits in [
		BatchLimits { max_entries: 0, ..WIDE },
		BatchLimits { max_adapters: 0, ..WIDE },
		BatchLimits { max_payers: 0, ..WIDE },
		BatchLimits { max_records: 0, ..WIDE },
	] {
		assert!(matches!(
			journal.cut_batch(&operator(), 0, limits, |_| None, fake_sign),
			Err(JournalError::InvalidLimits { .. })
		));
	}
	assert_eq!(journal.pending_count().unwrap(), 1);
}

#[test]
fn cut_batch_with_used_or_earlier_sequence_fails() {
	let dir = TempDir::new("sequence");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	cut(&journal, 7, WIDE).unwrap();
	append(&journal, &rec(1, 1, 1, 1, 1)).unwrap();
	for sequence in [7, 3, 0] {
		assert!(matches!(
			journal.cut_batch(&operator(), sequence, WIDE, |_| None, fake_sign),
			Err(JournalError::SequenceInUse { sequence: s, last: 7 }) if s == sequence
		));
	}
	// Also once the batch is finalized and settled: a sequence is never reused.
	journal.mark_finalized(7, 10, 100).unwrap();
	journal.mark_settled(7).unwrap();
	assert!(matches!(
		journal.cut_batch(&operator(), 7, WIDE, |_| None, fake_sign),
		Err(JournalError::SequenceInUse { .. })
	));
	assert_eq!(journal.pending_count().unwrap(), 1);
	assert_eq!(cut(&journal, 8, WIDE).unwrap().records, vec![1]);
}

#[test]
fn reopen_after_each_step_keeps_everything() {
	let dir = TempDir::new("reopen");
	let path = dir.file();
	{
		let journal = Journal::open(&path).unwrap();
		for id in 0..3 {
			append(&journal, &rec(id, 1 + id as u8 % 2, 3, 10 + id, 20)).unwrap();
		}
	}
	let stored = {
		let journal = Journal::open(&path).unwrap();
		assert_eq!(journal.pending_count().unwrap(), 3);
		assert_eq!(journal.record(2).unwrap(), Some(rec(2, 1, 3, 12, 20)));
		cut(&journal, 0, WIDE).unwrap()
	};
	let journal = Journal::open(&path).unwrap();
	let unfinalized = journal.unfinalized().unwrap();
	assert_eq!(unfinalized.len(), 1);
	assert_eq!(unfinalized[0].batch.encode(), stored.batch.encode());
	assert_eq!(unfinalized[0].signature, stored.signature);
	assert_eq!(unfinalized[0], stored);
	assert_eq!(journal.pending_count().unwrap(), 0);
	// Record numbers continue after a reopen, and request ids are still known.
	assert_eq!(append(&journal, &rec(1, 1, 3, 1, 1)).unwrap(), 1);
	assert_eq!(append(&journal, &rec(9, 1, 3, 1, 1)).unwrap(), 3);
	journal.mark_finalized(0, 5, 50).unwrap();
	drop(journal);
	let journal = Journal::open(&path).unwrap();
	assert!(journal.unfinalized().unwrap().is_empty());
	assert_eq!(journal.finalized_unsettled().unwrap()[0].batch, stored.batch);
	assert_eq!(
		journal.stats().unwrap(),
		JournalStats {
			records: 4,
			pending: 1,
			batches_signed: 0,
			batches_finalized: 1,
			batches_settled: 0,
			rejected_records: 0,
		}
	);
}

#[test]
fn finalize_and_settle_work_and_are_idempotent() {
	let dir = TempDir::new("finalize");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	let stored = cut(&journal, 2, WIDE).unwrap();
	assert!(matches!(journal.mark_settled(2), Err(JournalError::NotFinalized { sequence: 2 })));
	assert!(matches!(
		journal.mark_finalized(3, 1, 1),
		Err(JournalError::UnknownBatch { sequence: 3 })
	));
	assert!(matches!(journal.mark_settled(3), Err(JournalError::UnknownBatch { sequence: 3 })));

	journal.mark_finalized(2, 40, 1234).unwrap();
	// Again, even with other values: nothing changes.
	journal.mark_finalized(2, 41, 1).unwrap();
	let finalized = BatchState::Finalized { block: 40, total_fee: 1234 };
	assert_eq!(journal.batch(2).unwrap().unwrap().state, finalized);
	assert!(journal.unfinalized().unwrap().is_empty());
	let unsettled = journal.finalized_unsettled().unwrap();
	assert_eq!(unsettled, vec![StoredBatch { state: finalized, ..stored.clone() }]);
	assert_eq!(journal.stats().unwrap().batches_finalized, 1);

	journal.mark_settled(2).unwrap();
	journal.mark_settled(2).unwrap();
	journal.mark_finalized(2, 41, 1).unwrap();
	let settled = BatchState::Settled { block: 40, total_fee: 1234 };
	let batch = journal.batch(2).unwrap().unwrap();
	assert_eq!(batch, StoredBatch { state: settled, ..stored });
	assert!(journal.finalized_unsettled().unwrap().is_empty());
	let stats = journal.stats().unwrap();
	assert_eq!((stats.batches_signed, stats.batches_finalized, stats.batches_settled), (0, 0, 1));
}

#[test]
fn reject_moves_records_aside_and_frees_the_sequence() {
	let dir = TempDir::new("reject");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	cut(&journal, 0, WIDE).unwrap();
	journal.mark_finalized(0, 1, 1).unwrap();
	append(&journal, &rec(1, 1, 9, 5, 5)).unwrap();
	append(&journal, &rec(2, 2, 9, 5, 5)).unwrap();
	cut(&journal, 1, WIDE).unwrap();

	assert_eq!(journal.reject_batch(1, "AdapterRevoked").unwrap(), 2);
	assert_eq!(journal.batch(1).unwrap(), None);
	assert!(journal.unfinalized().unwrap().is_empty());
	assert_eq!(journal.pending_count().unwrap(), 0);
	let rejected = journal.rejected().unwrap();
	assert_eq!(
		rejected.iter().map(|r| (r.number, r.sequence, r.reason.as_str())).collect::<Vec<_>>(),
		vec![(1, 1, "AdapterRevoked"), (2, 1, "AdapterRevoked")]
	);
	assert_eq!(rejected[0].record, rec(1, 1, 9, 5, 5));
	// The records are kept, and their request ids stay known: a retry is not billed.
	assert_eq!(journal.record(1).unwrap(), Some(rec(1, 1, 9, 5, 5)));
	assert_eq!(append(&journal, &rec(1, 1, 9, 5, 5)).unwrap(), 1);
	assert_eq!(journal.pending_count().unwrap(), 0);
	assert!(matches!(journal.reject_batch(1, "again"), Err(JournalError::UnknownBatch { .. })));

	// Sequence 1 is free again.
	append(&journal, &rec(3, 1, 1, 1, 1)).unwrap();
	assert_eq!(cut(&journal, 1, WIDE).unwrap().records, vec![3]);
	assert_eq!(
		journal.stats().unwrap(),
		JournalStats {
			records: 4,
			pending: 0,
			batches_signed: 1,
			batches_finalized: 1,
			batches_settled: 0,
			rejected_records: 2,
		}
	);
}

#[test]
fn a_batch_loses_only_the_records_at_fault() {
	let dir = TempDir::new("reject-some");
	let journal = Journal::open(&dir.file()).unwrap();
	// Payer 1 on adapters 1 and 9, payer 2 on adapter 1.
	append(&journal, &rec(0, 1, 1, 5, 5)).unwrap();
	append(&journal, &rec(1, 1, 9, 5, 5)).unwrap();
	append(&journal, &rec(2, 2, 1, 5, 5)).unwrap();
	cut(&journal, 0, WIDE).unwrap();
	// Payer 2 emptied their escrow: only their record is refused.
	let (refused, returned) =
		journal.reject_batch_records(0, |r| r.payer == account(2), "InsufficientEscrow").unwrap();
	assert_eq!((refused, returned), (1, 2));
	assert_eq!(journal.batch(0).unwrap(), None, "the sequence is free for a new cut");
	let rejected: Vec<u64> = journal.rejected().unwrap().iter().map(|r| r.number).collect();
	assert_eq!(rejected, vec![2]);
	// The others are cut again at the same sequence, without the payer at fault.
	let again = cut(&journal, 0, WIDE).unwrap();
	assert_eq!(again.records, vec![0, 1]);
	assert_eq!(again.vouchers.len(), 1);
	assert_chain_valid(&again.batch);
	// Nothing at fault (a rotated key): everything returns to pending, to be signed again.
	assert_eq!(journal.reject_batch_records(0, |_| false, "BadSignature").unwrap(), (0, 2));
	assert_eq!(journal.pending_count().unwrap(), 2);
	assert_eq!(journal.rejected().unwrap().len(), 1);
}

#[test]
fn evidence_proves_a_record_against_its_batch_root() {
	use lineage_primitives::usage::verify_record;
	let dir = TempDir::new("evidence");
	let journal = Journal::open(&dir.file()).unwrap();
	for id in 0..5 {
		append(&journal, &rec(id, 1 + (id % 2) as u8, 1, 10, 10)).unwrap();
	}
	let id = |n: u64| Hash::from_low_u64_be(n).to_fixed_bytes();
	// Pending: the record and its authorisation, no batch yet.
	let pending = journal.evidence(&id(3)).unwrap().unwrap();
	assert_eq!((pending.record.clone(), pending.batch.clone()), (rec(3, 2, 1, 10, 10), None));
	assert_eq!(pending.voucher.map(|v| v.spend_limit), Some(1_003));
	let stored = cut(&journal, 0, WIDE).unwrap();
	for n in 0..5 {
		let e = journal.evidence(&id(n)).unwrap().unwrap();
		let b = e.batch.expect("batched");
		assert_eq!((b.sequence, b.records_root, b.leaves), (0, stored.batch.records_root, 5));
		assert!(verify_record(&b.records_root, &b.proof, b.leaves, b.index, &e.record), "{n}");
		assert!(!verify_record(
			&b.records_root,
			&b.proof,
			b.leaves,
			b.index,
			&rec(n, 1, 1, 11, 10)
		));
	}
	assert_eq!(journal.evidence(&[9; 32]).unwrap(), None);
	// Rejected records say so and leave the batch.
	journal.reject_batch(0, "AdapterRevoked").unwrap();
	let e = journal.evidence(&id(1)).unwrap().unwrap();
	assert!(e.rejected && e.batch.is_none());
}

#[test]
fn a_record_keeps_its_attribution_across_a_restart() {
	let dir = TempDir::new("lineage");
	let lineage = br#"{"status":"attributed","contributors":[{"contributor":"0x01"}]}"#;
	{
		let journal = Journal::open(&dir.file()).unwrap();
		let r = rec(1, 1, 1, 10, 10);
		journal.append_with_lineage(&r, &voucher(&r.payer, 5), Some(lineage)).unwrap();
		append(&journal, &rec(2, 1, 1, 10, 10)).unwrap();
		// A repeated append (the same request id) keeps the first record and its attribution.
		journal.append_with_lineage(&r, &voucher(&r.payer, 5), Some(b"{}")).unwrap();
	}
	let journal = Journal::open(&dir.file()).unwrap();
	let id = |n: u64| Hash::from_low_u64_be(n).to_fixed_bytes();
	assert_eq!(journal.evidence(&id(1)).unwrap().unwrap().lineage.as_deref(), Some(&lineage[..]));
	assert_eq!(journal.evidence(&id(2)).unwrap().unwrap().lineage, None);
	cut(&journal, 0, WIDE).unwrap();
	assert_eq!(journal.evidence(&id(1)).unwrap().unwrap().lineage.as_deref(), Some(&lineage[..]));
}

#[test]
fn reject_unwinds_later_signed_batches() {
	let dir = TempDir::new("reject-later");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	cut(&journal, 5, WIDE).unwrap();
	append(&journal, &rec(1, 1, 2, 1, 1)).unwrap();
	append(&journal, &rec(2, 1, 2, 1, 1)).unwrap();
	cut(&journal, 6, WIDE).unwrap();
	assert_eq!(journal.reject_batch(5, "NoEscrow").unwrap(), 1);
	assert_eq!(journal.batch(6).unwrap(), None);
	assert_eq!(journal.pending_count().unwrap(), 2);
	assert_eq!(cut(&journal, 5, WIDE).unwrap().records, vec![1, 2]);
}

#[test]
fn a_batch_set_aside_leaves_later_batches_signed() {
	let dir = TempDir::new("set-aside");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	cut(&journal, 5, WIDE).unwrap();
	append(&journal, &rec(1, 1, 2, 1, 1)).unwrap();
	let later = cut(&journal, 6, WIDE).unwrap();
	assert_eq!(journal.set_aside_batch(5, "root mismatch").unwrap(), 1);
	// The records are kept as rejected (never billed, never cut again); batch 6 is untouched.
	assert_eq!(journal.batch(5).unwrap(), None);
	assert_eq!(journal.batch(6).unwrap(), Some(later));
	assert_eq!(journal.pending_count().unwrap(), 0);
	let rejected = journal.rejected().unwrap();
	assert_eq!(
		rejected.iter().map(|r| (r.number, r.sequence, r.reason.as_str())).collect::<Vec<_>>(),
		vec![(0, 5, "root mismatch")]
	);
	assert!(journal.outstanding().unwrap().iter().all(|(_, adapter, _, _)| *adapter == 2));
	journal.mark_finalized(6, 9, 9).unwrap();
	append(&journal, &rec(2, 1, 1, 1, 1)).unwrap();
	cut(&journal, 7, WIDE).unwrap();
	assert!(matches!(
		journal.set_aside_batch(6, "x"),
		Err(JournalError::AlreadyFinalized { finalized: 6, .. })
	));
}

#[test]
fn reject_of_finalized_batch_fails() {
	let dir = TempDir::new("reject-finalized");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 1, 1)).unwrap();
	cut(&journal, 0, WIDE).unwrap();
	append(&journal, &rec(1, 1, 1, 1, 1)).unwrap();
	cut(&journal, 1, WIDE).unwrap();
	journal.mark_finalized(1, 9, 9).unwrap();
	// Batch 1 finalized: the chain accepted batch 0 as well.
	for sequence in [0, 1] {
		assert!(matches!(
			journal.reject_batch(sequence, "x"),
			Err(JournalError::AlreadyFinalized { finalized: 1, .. })
		));
	}
	assert!(journal.rejected().unwrap().is_empty());
	assert_eq!(journal.unfinalized().unwrap().len(), 1);
}

#[test]
fn outstanding_counts_pending_and_signed_only() {
	let dir = TempDir::new("outstanding");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec(0, 1, 1, 100, 100)).unwrap();
	cut(&journal, 0, WIDE).unwrap();
	journal.mark_finalized(0, 1, 1).unwrap();
	append(&journal, &rec(1, 2, 1, 10, 1)).unwrap();
	append(&journal, &rec(2, 1, 1, 20, 2)).unwrap();
	cut(&journal, 1, WIDE).unwrap();
	append(&journal, &rec(3, 1, 1, 30, 3)).unwrap();
	append(&journal, &rec(4, 1, 4, 40, 4)).unwrap();
	let expect = |payer: u8, adapter, input, output| (account(payer), adapter, input, output);
	assert_eq!(
		journal.outstanding().unwrap(),
		vec![expect(1, 1, 50, 5), expect(1, 4, 40, 4), expect(2, 1, 10, 1)]
	);
	journal.mark_finalized(1, 2, 2).unwrap();
	assert_eq!(journal.outstanding().unwrap(), vec![expect(1, 1, 30, 3), expect(1, 4, 40, 4)]);
}

#[test]
fn nonces_refuse_replay_and_prune_by_age() {
	let dir = TempDir::new("nonces");
	let path = dir.file();
	{
		let journal = Journal::open(&path).unwrap();
		assert!(journal.use_nonce(&account(1), 7, 1000).unwrap());
		assert!(!journal.use_nonce(&account(1), 7, 5000).unwrap());
		assert!(journal.use_nonce(&account(2), 7, 2000).unwrap());
		assert!(journal.use_nonce(&account(1), 8, 3000).unwrap());
	}
	let journal = Journal::open(&path).unwrap();
	// Durable across a reopen.
	assert!(!journal.use_nonce(&account(1), 7, 9000).unwrap());
	assert_eq!(journal.prune_nonces(1000).unwrap(), 0);
	assert_eq!(journal.prune_nonces(2001).unwrap(), 2);
	assert_eq!(journal.prune_nonces(2001).unwrap(), 0);
	// Pruned pairs are forgotten; the others are still refused.
	assert!(journal.use_nonce(&account(1), 7, 9000).unwrap());
	assert!(!journal.use_nonce(&account(1), 8, 9000).unwrap());
	assert_eq!(journal.prune_nonces(u64::MAX).unwrap(), 2);
}

#[test]
fn second_open_of_a_journal_fails_as_locked() {
	let dir = TempDir::new("locked");
	let _journal = Journal::open(&dir.file()).unwrap();
	let error = Journal::open(&dir.file()).err().unwrap();
	assert!(matches!(error, JournalError::Locked { .. }), "{error:?}");
	assert!(error.to_string().starts_with("another oracle is using the journal at"));
}

#[test]
fn open_of_another_layout_version_fails() {
	let dir = TempDir::new("version");
	let path = dir.file();
	drop(Journal::open(&path).unwrap());
	{
		let db = Database::create(&path).unwrap();
		let txn = db.begin_write().unwrap();
		txn.open_table(META).unwrap().insert(META_VERSION, 99).unwrap();
		txn.commit().unwrap();
	}
	assert!(matches!(
		Journal::open(&path),
		Err(JournalError::UnsupportedVersion { found: 99, expected: LAYOUT_VERSION })
	));
}

/// The environment variable that turns [`child_appender`] into the appending child of
/// [`killed_appender_keeps_every_committed_record`]: the journal path.
const CHILD_JOURNAL: &str = "LINEAGE_JOURNAL_TEST_CHILD";
/// What the child prints after each committed append, before the record number.
const COMMITTED: &str = "JOURNAL-COMMITTED ";

/// Not a test by itself: run as a child process with [`CHILD_JOURNAL`] set, it appends records
/// in a loop and prints each committed record number, until it is killed.
#[test]
fn child_appender() {
	let Some(path) = std::env::var_os(CHILD_JOURNAL) else { return };
	let journal = Journal::open(Path::new(&path)).unwrap();
	let mut stdout = std::io::stdout();
	for id in 0..1_000_000 {
		let number = append(&journal, &rec(id, 1 + (id % 3) as u8, 1, id + 1, 1)).unwrap();
		writeln!(stdout, "{COMMITTED}{number}").unwrap();
		stdout.flush().unwrap();
	}
}

#[test]
fn killed_appender_keeps_every_committed_record() {
	let dir = TempDir::new("kill");
	let path = dir.file();
	let mut child = Command::new(std::env::current_exe().unwrap())
		.args(["--exact", "journal::tests::child_appender", "--nocapture", "--test-threads=1"])
		.env(CHILD_JOURNAL, &path)
		.stdout(Stdio::piped())
		.stderr(Stdio::null())
		.spawn()
		.unwrap();
	let stdout = child.stdout.take().unwrap();
	let mut last = None;
	for line in BufReader::new(stdout).lines() {
		let line = line.unwrap();
		if let Some((_, number)) = line.split_once(COMMITTED) {
			last = Some(number.trim().parse::<u64>().unwrap());
			if last >= Some(200) {
				break;
			}
		}
	}
	// SIGKILL, most likely in the middle of a commit.
	child.kill().unwrap();
	child.wait().unwrap();
	let last = last.expect("the child committed no record");
	assert!(last >= 200, "the child stopped after record {last}");

	let journal = Journal::open(&path).unwrap();
	for number in 0..=last {
		let record = journal.record(number).unwrap();
		assert_eq!(record.map(|r| r.request_id), Some(Hash::from_low_u64_be(number)));
	}
	let pending = journal.pending_count().unwrap();
	assert!(pending > last);
	assert_eq!(journal.stats().unwrap().records, pending);
	// The reopened journal goes on where the child stopped.
	assert_eq!(append(&journal, &rec(1 << 40, 1, 1, 1, 1)).unwrap(), pending);
	let all = BatchLimits { max_records: u32::MAX, ..WIDE };
	let batch = cut(&journal, 0, all).unwrap();
	assert_chain_valid(&batch.batch);
	assert_eq!(batch.records.len() as u64, pending + 1);
}

/// `percent` of a completion credited to `who`'s records in version 1 of datanet 3.
fn credited(who: u8, percent: u32) -> RecordMatch<AccountId> {
	RecordMatch {
		datanet: 3,
		version: 1,
		contributor: account(who),
		share: Share::from_percent(percent),
	}
}

/// [`rec`] whose answer's attribution credits `matched`.
fn rec_matched(
	id: u64,
	payer: u8,
	adapter: AdapterId,
	tokens: u64,
	matched: Vec<RecordMatch<AccountId>>,
) -> UsageRecord<AccountId> {
	UsageRecord { matched, ..rec(id, payer, adapter, tokens, tokens) }
}

#[test]
fn a_batch_carries_matched_shares_weighted_by_each_requests_fee() {
	let dir = TempDir::new("matched");
	let journal = Journal::open(&dir.file()).unwrap();
	// Adapter 1 at 1 per 1k input and 3 per 1k output: fees (weights) 1·10+3·10 = 40 and
	// 1·30+3·30 = 120. Contributor 0x0a: 50% of the first answer; 0x0b: 25% of the first and
	// 100% of the second. Over the adapter: 0x0a 40·50%/160 = 12.5%, 0x0b (40·25% + 120)/160 =
	// 81.25%.
	append(&journal, &rec_matched(1, 1, 1, 10, vec![credited(0x0a, 50), credited(0x0b, 25)]))
		.unwrap();
	append(&journal, &rec_matched(2, 2, 1, 30, vec![credited(0x0b, 100)])).unwrap();
	// Adapter 2's answer matched nobody; adapter 3's matched 0x0a for a third.
	append(&journal, &rec(3, 1, 2, 10, 10)).unwrap();
	let third = RecordMatch { share: Share::from_parts(333_333_333), ..credited(0x0a, 0) };
	append(&journal, &rec_matched(4, 1, 3, 10, vec![third])).unwrap();
	let prices = |adapter| (adapter == 1).then_some((1, 3));
	let stored = journal.cut_batch(&operator(), 0, WIDE, prices, fake_sign).unwrap().unwrap();
	let share = |adapter, who, parts| MatchedShare {
		adapter,
		datanet: 3,
		version: 1,
		contributor: account(who),
		share: Share::from_parts(parts),
	};
	assert_eq!(
		stored.batch.matched,
		vec![
			share(1, 0x0a, 125_000_000),
			share(1, 0x0b, 812_500_000),
			// Unknown price: weighted by tokens, one record: its own share.
			share(3, 0x0a, 333_333_333),
		]
	);
	// The records root binds each record's matches: the evidence of a record proves them.
	let e = journal.evidence(&Hash::from_low_u64_be(2).to_fixed_bytes()).unwrap().unwrap();
	assert_eq!(e.record.matched, vec![credited(0x0b, 100)]);
	// Signed with the batch, kept across a reopen.
	drop(journal);
	let journal = Journal::open(&dir.file()).unwrap();
	assert_eq!(journal.batch(0).unwrap().unwrap().batch.matched, stored.batch.matched);
}

#[test]
fn each_adapter_keeps_its_largest_matched_shares() {
	let dir = TempDir::new("matched-top");
	let journal = Journal::open(&dir.file()).unwrap();
	// Five contributors with 1%..5% of one answer; the batch keeps the three largest.
	let matches: Vec<_> = (1..=5).map(|i| credited(0x10 + i, u32::from(i))).collect();
	append(&journal, &rec_matched(1, 1, 1, 10, matches.clone())).unwrap();
	let limits = BatchLimits { max_matched_per_adapter: 3, ..WIDE };
	let stored = journal.cut_batch(&operator(), 0, limits, |_| None, fake_sign).unwrap().unwrap();
	let kept: Vec<(AccountId, Share)> =
		stored.batch.matched.iter().map(|m| (m.contributor.clone(), m.share)).collect();
	assert_eq!(
		kept,
		vec![
			(account(0x13), Share::from_percent(3)),
			(account(0x14), Share::from_percent(4)),
			(account(0x15), Share::from_percent(5)),
		]
	);
	// None kept at all when the chain allows none.
	append(&journal, &rec_matched(2, 1, 1, 10, matches)).unwrap();
	let limits = BatchLimits { max_matched_per_adapter: 0, ..WIDE };
	let stored = journal.cut_batch(&operator(), 1, limits, |_| None, fake_sign).unwrap().unwrap();
	assert!(stored.batch.matched.is_empty());
}

#[test]
fn matches_over_a_whole_answer_are_refused_and_nothing_is_kept() {
	let dir = TempDir::new("matched-over");
	let journal = Journal::open(&dir.file()).unwrap();
	let over = rec_matched(1, 1, 1, 10, vec![credited(0x0a, 60), credited(0x0b, 41)]);
	assert!(matches!(append(&journal, &over), Err(JournalError::MatchesOverWhole { .. })));
	assert_eq!(journal.pending_count().unwrap(), 0);
}

#[test]
fn a_batch_unwound_without_matches_is_billed_again_without_them() {
	let dir = TempDir::new("unmatch");
	let journal = Journal::open(&dir.file()).unwrap();
	append(&journal, &rec_matched(1, 1, 1, 10, vec![credited(0x0a, 50)])).unwrap();
	append(&journal, &rec(2, 1, 1, 10, 10)).unwrap();
	let first = cut(&journal, 0, WIDE).unwrap();
	assert_eq!(first.batch.matched.len(), 1);
	// The chain refused the shares: the records come back without their matches, all billed.
	assert_eq!(journal.unwind_without_matches(0).unwrap(), 2);
	let again = cut(&journal, 0, WIDE).unwrap();
	assert_eq!(again.records, first.records);
	assert_eq!(again.batch.entries, first.batch.entries);
	assert!(again.batch.matched.is_empty());
	assert!(journal.record(0).unwrap().unwrap().matched.is_empty());
	assert_eq!(journal.rejected().unwrap(), vec![]);
}
