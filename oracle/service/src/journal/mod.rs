//! The oracle's durable usage journal (steps 5 and 7 of the path in the README: each finished
//! request journaled before its response ends, then batched, proven and settled).
//!
//! Every finished request becomes a [`UsageRecord`] that [`Journal::append`] commits to disk
//! before the request's response completes. Batches are cut from the pending records
//! ([`Journal::cut_batch`]), signed, submitted to the chain, marked finalized
//! ([`Journal::mark_finalized`]) and then settled ([`Journal::mark_settled`]). A batch the chain
//! refuses for good is rejected ([`Journal::reject_batch`]): its records are kept aside, never
//! billed.
//!
//! Every method is one redb transaction, and every write commits with
//! [`Durability::Immediate`] (fsync before it returns). So after a crash, a `kill -9` included,
//! the journal reopens in the state of its last committed call: a cut batch is stored with its
//! signature, and [`Journal::unfinalized`] returns it with the same sequence number and the same
//! bytes, to be submitted again; a record is in exactly one of pending, one batch, or rejected.
//! Nothing is lost and nothing is counted twice.
//!
//! The methods block on disk I/O: call them from `tokio::task::spawn_blocking`, not from an
//! async task directly.
//!
//! ## Tables
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name (`&str`) | `u64`: the layout version, the next record number |
//! | `records` | record number (`u64`) | SCALE [`UsageRecord`]: every record ever appended |
//! | `request_ids` | request id (`[u8; 32]`) | record number: makes appends idempotent |
//! | `pending` | record number | `()`: records in no batch yet |
//! | `batches` | sequence (`u64`) | SCALE [`StoredBatch`], rewritten on each state change |
//! | `signed` | sequence | `()`: batches in [`BatchState::Signed`] |
//! | `finalized` | sequence | `()`: batches in [`BatchState::Finalized`] |
//! | `rejected` | record number | SCALE `(sequence, reason, rejected_at_ms)` |
//! | `vouchers` | record number | SCALE [`Voucher`]: the payer's signed authorisation of the record's request |
//! | `batch_of` | record number | the sequence of the batch the record is in |
//! | `best_vouchers` | payer (32 bytes) | SCALE [`Voucher`]: the payer's highest spend limit, sent with each batch |
//! | `nonces` | payer (32 bytes) ‖ nonce (big-endian) | timestamp (ms) |
//! | `nonce_times` | timestamp (big-endian) ‖ payer ‖ nonce | `()`: for pruning by age |
//! | `lineage` | record number | JSON: the answer's attribution (the records and contributors it repeats), written with the record |
//!
//! Big-endian integers inside byte keys make the keys sort as the numbers do.

mod error;
#[cfg(test)]
mod tests;

pub use error::JournalError;

use codec::{Decode, DecodeAll, Encode};
use lineage_chain::time::unix_time_ms;
pub use lineage_primitives::payer::Voucher;
use lineage_primitives::{
	usage::{
		record_proof, records_root, MatchedShare, Sequence, Share, UsageBatch, UsageEntry,
		UsageRecord,
	},
	AccountId, AdapterId, DatanetId, VersionId,
};
use redb::{
	Database, DatabaseError, Durability, ReadTransaction, ReadableDatabase, ReadableTable,
	ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use std::{
	collections::{BTreeMap, BTreeSet},
	path::{Path, PathBuf},
};

/// The layout version this code reads and writes (4: each record carries its attribution's
/// matches, each batch its matched shares; 3: each record names the block it was served
/// at, each batch its serving blocks; 2 added vouchers to every record and batch).
const LAYOUT_VERSION: u64 = 4;
/// `meta` key of the layout version.
const META_VERSION: &str = "layout_version";
/// `meta` key of the next record number.
const META_NEXT_RECORD: &str = "next_record";

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const REQUEST_IDS: TableDefinition<&[u8; 32], u64> = TableDefinition::new("request_ids");
const PENDING: TableDefinition<u64, ()> = TableDefinition::new("pending");
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
const SIGNED: TableDefinition<u64, ()> = TableDefinition::new("signed");
const FINALIZED: TableDefinition<u64, ()> = TableDefinition::new("finalized");
const REJECTED: TableDefinition<u64, &[u8]> = TableDefinition::new("rejected");
const VOUCHERS: TableDefinition<u64, &[u8]> = TableDefinition::new("vouchers");
const BATCH_OF: TableDefinition<u64, u64> = TableDefinition::new("batch_of");
const BEST_VOUCHERS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("best_vouchers");
const NONCES: TableDefinition<&[u8; 40], u64> = TableDefinition::new("nonces");
const NONCE_TIMES: TableDefinition<&[u8; 48], ()> = TableDefinition::new("nonce_times");
/// On-chain jobs this oracle answered or gave up: job id → SCALE [`JobEntry`].
const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const LINEAGE: TableDefinition<u64, &[u8]> = TableDefinition::new("lineage");
/// How large a batch may be: the chain's limits (the usage pallet's `MaxEntriesPerBatch`,
/// `MaxAdaptersPerBatch` and `MaxPayersPerBatch`) and the oracle's own cap on records per batch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BatchLimits {
	/// At most this many entries, i.e. distinct (payer, adapter) pairs.
	pub max_entries: u32,
	/// At most this many distinct adapters.
	pub max_adapters: u32,
	/// At most this many distinct payers (each with a voucher).
	pub max_payers: u32,
	/// At most this many records.
	pub max_records: u32,
	/// At most this many matched shares per adapter (the usage pallet's
	/// `MaxMatchedPerAdapter`): the largest are kept, the rest of the adapter's matched part
	/// follows its lineage weights.
	pub max_matched_per_adapter: u32,
}

/// Where a batch is on its way to the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
pub enum BatchState {
	/// Cut and signed; not yet known to be finalized on chain (maybe not even submitted).
	Signed,
	/// Accepted in a finalized block.
	Finalized {
		/// The finalized block that included it.
		block: u32,
		/// The fees the chain charged for it.
		total_fee: u128,
	},
	/// Settled on chain after the dispute window: the payers were charged for good.
	Settled {
		/// The finalized block that included it.
		block: u32,
		/// The fees the chain charged for it.
		total_fee: u128,
	},
}

/// A cut batch as the journal stores it: exactly what was signed, the signature, and the records
/// it aggregates.
/// What the oracle did with an on-chain inference job.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum JobEntry {
	/// Answered and signed, maybe not yet on chain: submitted again (the same bytes) until the
	/// chain has it.
	Answered {
		/// The SCALE bytes of the signed `lineage_primitives::jobs::Fulfilment`.
		fulfilment: Vec<u8>,
		/// The operator key's signature over its payload.
		signature: [u8; 64],
	},
	/// Nothing more to do: fulfilled on chain, or given up (the reason says why).
	Done {
		/// "fulfilled", or why the job was not answered.
		outcome: String,
	},
}

/// A batch as the journal keeps it: the signed batch, its signature, its records and its state.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct StoredBatch {
	/// The batch, as signed.
	pub batch: UsageBatch<AccountId>,
	/// The operator's sr25519 signature over the batch's signing payload.
	pub signature: [u8; 64],
	/// One voucher per payer of the batch, ascending by payer: the payer's highest signed
	/// spend limit when the batch was cut.
	pub vouchers: Vec<Voucher>,
	/// The numbers of the records aggregated into the batch, ascending.
	pub records: Vec<u64>,
	/// Where the batch is on its way to the chain.
	pub state: BatchState,
	/// When it was cut, in milliseconds since the Unix epoch.
	pub cut_at_ms: u64,
}

/// What [`Journal::evidence`] returns for one request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Evidence {
	/// The record's number.
	pub number: u64,
	/// The record.
	pub record: UsageRecord<AccountId>,
	/// The payer's signed authorisation of the request.
	pub voucher: Option<Voucher>,
	/// The batch it is in, with its Merkle proof; `None` while pending (or once rejected).
	pub batch: Option<BatchEvidence>,
	/// Whether the chain refused it (never billed).
	pub rejected: bool,
	/// The answer's attribution as JSON, when it was traced.
	pub lineage: Option<Vec<u8>>,
}

/// Where a record sits in its batch, and the proof of it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BatchEvidence {
	/// The batch's sequence number.
	pub sequence: Sequence,
	/// Where the batch is on its way to the chain.
	pub state: BatchState,
	/// The batch's records root (the chain holds it in `Usage::Batches`).
	pub records_root: lineage_primitives::Hash,
	/// The records in the batch.
	pub leaves: u32,
	/// The record's leaf index (records sorted by request id).
	pub index: u32,
	/// The sibling hashes from the leaf up.
	pub proof: Vec<lineage_primitives::Hash>,
}

/// A record of a batch the chain refused for good: kept and reported, never billed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RejectedRecord {
	/// The record's number.
	pub number: u64,
	/// The record.
	pub record: UsageRecord<AccountId>,
	/// The sequence number of the batch it was in.
	pub sequence: Sequence,
	/// Why the chain refused the batch.
	pub reason: String,
	/// When it was rejected, in milliseconds since the Unix epoch.
	pub rejected_at_ms: u64,
}

/// Counts over the journal, for metrics and the operator's status page.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct JournalStats {
	/// Records ever appended (rejected ones included).
	pub records: u64,
	/// Records in no batch yet.
	pub pending: u64,
	/// Batches signed and not yet finalized.
	pub batches_signed: u64,
	/// Batches finalized and not yet settled.
	pub batches_finalized: u64,
	/// Batches settled.
	pub batches_settled: u64,
	/// Records of batches the chain refused for good.
	pub rejected_records: u64,
}

/// The oracle's durable usage journal: one redb file, safe to share between threads.
pub struct Journal {
	db: Database,
	path: PathBuf,
}

impl Journal {
	/// Opens the journal at `path`, creating the file (and its folder) and the tables if needed.
	///
	/// Fails with [`JournalError::Locked`] while another process has the file open, and with
	/// [`JournalError::UnsupportedVersion`] on a file of another layout. After a crash the open
	/// first recovers the last committed state (which reads the whole file).
	pub fn open(path: &Path) -> Result<Journal, JournalError> {
		if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
			std::fs::create_dir_all(dir)
				.map_err(|source| JournalError::CreateDir { path: dir.to_owned(), source })?;
		}
		let db = Database::create(path).map_err(|source| match source {
			DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
				JournalError::Locked { path: path.to_owned() }
			},
			source => JournalError::Open { path: path.to_owned(), source },
		})?;
		let journal = Journal { db, path: path.to_owned() };
		journal.write(|txn| {
			let mut meta = txn.open_table(META)?;
			let version = meta.get(META_VERSION)?.map(|v| v.value());
			match version {
				None => {
					meta.insert(META_VERSION, LAYOUT_VERSION)?;
					meta.insert(META_NEXT_RECORD, 0)?;
				},
				Some(LAYOUT_VERSION) => {},
				Some(found) => {
					return Err(JournalError::UnsupportedVersion {
						found,
						expected: LAYOUT_VERSION,
					})
				},
			}
			// Create every table, so that readers never meet a missing one.
			txn.open_table(RECORDS)?;
			txn.open_table(REQUEST_IDS)?;
			txn.open_table(PENDING)?;
			txn.open_table(BATCHES)?;
			txn.open_table(SIGNED)?;
			txn.open_table(FINALIZED)?;
			txn.open_table(REJECTED)?;
			txn.open_table(VOUCHERS)?;
			txn.open_table(BATCH_OF)?;
			txn.open_table(BEST_VOUCHERS)?;
			txn.open_table(NONCES)?;
			txn.open_table(NONCE_TIMES)?;
			txn.open_table(JOBS)?;
			txn.open_table(LINEAGE)?;
			Ok(())
		})?;
		Ok(journal)
	}

	/// The journal file's path.
	pub fn path(&self) -> &Path {
		&self.path
	}

	/// Durably appends `rec` as a pending record, with `voucher` (the payer's signed
	/// authorisation of the request), and returns its record number; the record is on disk when
	/// this returns. The voucher becomes the payer's best one when its spend limit is the
	/// highest seen.
	///
	/// Idempotent by request id: appending a record whose `request_id` is already journaled
	/// writes nothing and returns the existing record's number (the first record wins).
	/// A record with no input and no output tokens is refused with
	/// [`JournalError::EmptyRecord`]: there is nothing to bill and the chain refuses entries
	/// without tokens, and one whose voucher names another payer with
	/// [`JournalError::VoucherMismatch`].
	pub fn append(
		&self,
		rec: &UsageRecord<AccountId>,
		voucher: &Voucher,
	) -> Result<u64, JournalError> {
		self.append_with_lineage(rec, voucher, None)
	}

	/// [`append`](Self::append), keeping `lineage` (the answer's attribution, as JSON) with the
	/// record in the same transaction: what the evidence route returns with it. A record whose
	/// [`UsageRecord::matched`] sum to more than 100% is refused with
	/// [`JournalError::MatchesOverWhole`].
	pub fn append_with_lineage(
		&self,
		rec: &UsageRecord<AccountId>,
		voucher: &Voucher,
		lineage: Option<&[u8]>,
	) -> Result<u64, JournalError> {
		let parts: u64 = rec.matched.iter().map(|m| u64::from(m.share.deconstruct())).sum();
		if parts > u64::from(Share::one().deconstruct()) {
			return Err(JournalError::MatchesOverWhole { request_id: rec.request_id });
		}
		if rec.input_tokens == 0 && rec.output_tokens == 0 {
			return Err(JournalError::EmptyRecord { request_id: rec.request_id });
		}
		if voucher.payer != rec.payer {
			return Err(JournalError::VoucherMismatch { request_id: rec.request_id });
		}
		let id = rec.request_id.to_fixed_bytes();
		// Most appends are new: look for the id in a read first, so a repeat commits nothing.
		if let Some(number) =
			self.read(|txn| Ok(txn.open_table(REQUEST_IDS)?.get(&id)?.map(|n| n.value())))?
		{
			return Ok(number);
		}
		self.write(|txn| {
			let mut ids = txn.open_table(REQUEST_IDS)?;
			// Another thread may have appended it since the read above.
			if let Some(number) = ids.get(&id)?.map(|n| n.value()) {
				return Ok(number);
			}
			let mut meta = txn.open_table(META)?;
			let number = meta
				.get(META_NEXT_RECORD)?
				.map(|n| n.value())
				.ok_or_else(|| corrupt("meta.next_record", "missing".into()))?;
			let next = number.checked_add(1).ok_or(JournalError::RecordNumbersExhausted)?;
			meta.insert(META_NEXT_RECORD, next)?;
			ids.insert(&id, number)?;
			txn.open_table(RECORDS)?.insert(number, rec.encode().as_slice())?;
			txn.open_table(PENDING)?.insert(number, ())?;
			txn.open_table(VOUCHERS)?.insert(number, voucher.encode().as_slice())?;
			if let Some(lineage) = lineage {
				txn.open_table(LINEAGE)?.insert(number, lineage)?;
			}
			let mut best = txn.open_table(BEST_VOUCHERS)?;
			let payer: [u8; 32] = rec.payer.clone().into();
			let current = match best.get(&payer)? {
				Some(bytes) => Some(decode_voucher("best_vouchers", bytes.value())?),
				None => None,
			};
			if current.is_none_or(|c| c.spend_limit < voucher.spend_limit) {
				best.insert(&payer, voucher.encode().as_slice())?;
			}
			Ok(number)
		})
	}

	/// What the journal holds for on-chain job `job`, if anything.
	pub fn job(&self, job: u64) -> Result<Option<JobEntry>, JournalError> {
		self.read(|txn| {
			let table = txn.open_table(JOBS)?;
			let Some(bytes) = table.get(job)? else { return Ok(None) };
			JobEntry::decode(&mut bytes.value())
				.map(Some)
				.map_err(|e| corrupt("jobs", e.to_string()))
		})
	}

	/// Durably records `entry` for job `job` (replacing what was there): an answer is on disk
	/// before it is submitted, so a crash neither loses it nor runs the job twice.
	pub fn set_job(&self, job: u64, entry: &JobEntry) -> Result<(), JournalError> {
		self.write(|txn| {
			txn.open_table(JOBS)?.insert(job, entry.encode().as_slice())?;
			Ok(())
		})
	}

	/// How many records are in no batch yet.
	pub fn pending_count(&self) -> Result<u64, JournalError> {
		self.read(|txn| Ok(txn.open_table(PENDING)?.len()?))
	}

	/// Tokens not yet covered by a finalized batch, as `(payer, adapter, input tokens, output
	/// tokens)` ascending by (payer, adapter): the pending records plus the records of signed,
	/// not yet finalized batches (sums saturate). The server reserves them against the payers'
	/// escrow.
	pub fn outstanding(&self) -> Result<Vec<(AccountId, AdapterId, u64, u64)>, JournalError> {
		self.read(|txn| {
			let mut sums = BTreeMap::<(AccountId, AdapterId), (u64, u64)>::new();
			let mut add = |payer: &AccountId, adapter: AdapterId, input: u64, output: u64| {
				let sum = sums.entry((payer.clone(), adapter)).or_default();
				sum.0 = sum.0.saturating_add(input);
				sum.1 = sum.1.saturating_add(output);
			};
			let records = txn.open_table(RECORDS)?;
			for item in txn.open_table(PENDING)?.iter()? {
				let number = item?.0.value();
				let rec = get_record(&records, number)?;
				add(&rec.payer, rec.adapter, rec.input_tokens, rec.output_tokens);
			}
			let batches = txn.open_table(BATCHES)?;
			for item in txn.open_table(SIGNED)?.iter()? {
				let sequence = item?.0.value();
				for entry in get_batch(&batches, sequence)?.batch.entries {
					add(&entry.payer, entry.adapter, entry.input_tokens, entry.output_tokens);
				}
			}
			Ok(sums
				.into_iter()
				.map(|((payer, adapter), (input, output))| (payer, adapter, input, output))
				.collect())
		})
	}

	/// Cuts a new batch with sequence number `sequence` from the pending records, signs it with
	/// `sign` and stores it as [`BatchState::Signed`], all in one transaction. Returns `None`
	/// (and writes nothing) when no record is pending.
	///
	/// Records are taken in record-number order and aggregated into one entry per
	/// (payer, adapter); the cut stops before the first record that would exceed a limit (or
	/// overflow an entry's counts), which waits for the next batch. Entries are sorted strictly
	/// ascending by (payer, adapter), as the usage pallet checks; `records_root` is
	/// [`records_root`] over the records sorted by request id.
	///
	/// The batch's matched shares aggregate the records' [`UsageRecord::matched`] per adapter, each
	/// record weighted by its fee at `prices(adapter)` (per 1,000 input and output tokens; by
	/// its tokens when the price is unknown): the share of `(adapter, datanet, version,
	/// contributor)` is `Σ fee_r × share_r / Σ fee_r` over the adapter's records, rounded down,
	/// so each adapter's shares sum to at most 100%. Each adapter keeps its
	/// `max_matched_per_adapter` largest shares.
	///
	/// Refused with [`JournalError::SequenceInUse`] when the journal holds a batch with
	/// `sequence` or a later one, and with [`JournalError::InvalidLimits`] when a limit is 0.
	pub fn cut_batch(
		&self,
		operator: &AccountId,
		sequence: Sequence,
		limits: BatchLimits,
		prices: impl Fn(AdapterId) -> Option<(u128, u128)>,
		sign: impl FnOnce(&UsageBatch<AccountId>) -> [u8; 64],
	) -> Result<Option<StoredBatch>, JournalError> {
		let BatchLimits { max_entries, max_adapters, max_payers, max_records, .. } = limits;
		if max_entries == 0 || max_adapters == 0 || max_payers == 0 || max_records == 0 {
			return Err(JournalError::InvalidLimits { limits });
		}
		let to_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
		let (max_entries, max_adapters, max_payers, max_records) = (
			to_usize(max_entries),
			to_usize(max_adapters),
			to_usize(max_payers),
			to_usize(max_records),
		);
		self.write(|txn| {
			let mut batches = txn.open_table(BATCHES)?;
			if let Some(last) = batches.last()?.map(|(k, _)| k.value()) {
				if sequence <= last {
					return Err(JournalError::SequenceInUse { sequence, last });
				}
			}
			let mut pending = txn.open_table(PENDING)?;
			let records = txn.open_table(RECORDS)?;
			let mut entries = BTreeMap::<(AccountId, AdapterId), UsageEntry<AccountId>>::new();
			let mut adapters = BTreeSet::<AdapterId>::new();
			let mut payers = BTreeSet::<AccountId>::new();
			let mut taken = Vec::<(u64, UsageRecord<AccountId>)>::new();
			for item in pending.iter()? {
				if taken.len() >= max_records {
					break;
				}
				let number = item?.0.value();
				let rec = get_record(&records, number)?;
				match entries.get_mut(&(rec.payer.clone(), rec.adapter)) {
					Some(entry) => {
						let (Some(requests), Some(input), Some(output)) = (
							entry.requests.checked_add(1),
							entry.input_tokens.checked_add(rec.input_tokens),
							entry.output_tokens.checked_add(rec.output_tokens),
						) else {
							break;
						};
						entry.requests = requests;
						entry.input_tokens = input;
						entry.output_tokens = output;
					},
					None => {
						if entries.len() >= max_entries
							|| (!adapters.contains(&rec.adapter) && adapters.len() >= max_adapters)
							|| (!payers.contains(&rec.payer) && payers.len() >= max_payers)
						{
							break;
						}
						adapters.insert(rec.adapter);
						payers.insert(rec.payer.clone());
						entries.insert(
							(rec.payer.clone(), rec.adapter),
							UsageEntry {
								payer: rec.payer.clone(),
								adapter: rec.adapter,
								requests: 1,
								input_tokens: rec.input_tokens,
								output_tokens: rec.output_tokens,
							},
						);
					},
				}
				taken.push((number, rec));
			}
			if taken.is_empty() {
				return Ok(None);
			}
			let mut tally = MatchTally::default();
			for (_, rec) in &taken {
				tally.add(rec, prices(rec.adapter));
			}
			let matched = tally.shares(to_usize(limits.max_matched_per_adapter));
			let numbers: Vec<u64> = taken.iter().map(|(number, _)| *number).collect();
			let mut recs: Vec<UsageRecord<AccountId>> =
				taken.into_iter().map(|(_, rec)| rec).collect();
			recs.sort_by_key(|r| r.request_id);
			let served_from = recs.iter().map(|r| r.served_at).min().unwrap_or_default();
			let served_to = recs.iter().map(|r| r.served_at).max().unwrap_or_default();
			let batch = UsageBatch {
				operator: operator.clone(),
				sequence,
				served_from,
				served_to,
				entries: entries.into_values().collect(),
				records_root: records_root(&recs),
				matched,
			};
			let best = txn.open_table(BEST_VOUCHERS)?;
			let mut vouchers = Vec::with_capacity(payers.len());
			for payer in payers {
				let key: [u8; 32] = payer.into();
				let bytes = best.get(&key)?.ok_or_else(|| {
					corrupt("best_vouchers", "a payer has records but no voucher".into())
				})?;
				vouchers.push(decode_voucher("best_vouchers", bytes.value())?);
			}
			let signature = sign(&batch);
			let stored = StoredBatch {
				batch,
				signature,
				vouchers,
				records: numbers,
				state: BatchState::Signed,
				cut_at_ms: unix_time_ms(),
			};
			let mut batch_of = txn.open_table(BATCH_OF)?;
			for number in &stored.records {
				pending.remove(number)?;
				batch_of.insert(number, sequence)?;
			}
			batches.insert(sequence, stored.encode().as_slice())?;
			txn.open_table(SIGNED)?.insert(sequence, ())?;
			Ok(Some(stored))
		})
	}

	/// The batches signed and not yet finalized, ascending by sequence number: to be submitted
	/// (again) exactly as stored.
	pub fn unfinalized(&self) -> Result<Vec<StoredBatch>, JournalError> {
		self.read(|txn| batches_in(txn, SIGNED))
	}

	/// Marks batch `sequence` finalized in block `block_number`, where the chain charged
	/// `total_fee` for it. Does nothing if it is already finalized or settled.
	pub fn mark_finalized(
		&self,
		sequence: Sequence,
		block_number: u32,
		total_fee: u128,
	) -> Result<(), JournalError> {
		self.write(|txn| {
			let mut batches = txn.open_table(BATCHES)?;
			let mut stored = get_batch_or_unknown(&batches, sequence)?;
			if stored.state != BatchState::Signed {
				return Ok(());
			}
			stored.state = BatchState::Finalized { block: block_number, total_fee };
			batches.insert(sequence, stored.encode().as_slice())?;
			txn.open_table(SIGNED)?.remove(sequence)?;
			txn.open_table(FINALIZED)?.insert(sequence, ())?;
			Ok(())
		})
	}

	/// The batches finalized and not yet settled, ascending by sequence number.
	pub fn finalized_unsettled(&self) -> Result<Vec<StoredBatch>, JournalError> {
		self.read(|txn| batches_in(txn, FINALIZED))
	}

	/// Marks the finalized batch `sequence` settled. Does nothing if it is already settled;
	/// refused with [`JournalError::NotFinalized`] for a batch not yet finalized.
	pub fn mark_settled(&self, sequence: Sequence) -> Result<(), JournalError> {
		self.write(|txn| {
			let mut batches = txn.open_table(BATCHES)?;
			let mut stored = get_batch_or_unknown(&batches, sequence)?;
			match stored.state {
				BatchState::Signed => return Err(JournalError::NotFinalized { sequence }),
				BatchState::Settled { .. } => return Ok(()),
				BatchState::Finalized { block, total_fee } => {
					stored.state = BatchState::Settled { block, total_fee }
				},
			}
			batches.insert(sequence, stored.encode().as_slice())?;
			txn.open_table(FINALIZED)?.remove(sequence)?;
			Ok(())
		})
	}

	/// The chain refused signed batch `sequence` for good, for `reason` (a revoked adapter, no
	/// escrow; not a sequence mismatch, which is fixed by resubmitting): its records move to the
	/// rejected records (kept and reported, never billed) and the batch is deleted, so its
	/// sequence number is free for the next cut. Returns how many records were rejected.
	///
	/// The signed batches after it are unwound too, since the chain cannot have accepted them
	/// either: they are deleted and their records return to pending, to be cut again. Refused
	/// with [`JournalError::AlreadyFinalized`] if the batch or a later one is finalized.
	pub fn reject_batch(&self, sequence: Sequence, reason: &str) -> Result<u64, JournalError> {
		self.reject_batch_records(sequence, |_| true, reason).map(|(rejected, _)| rejected)
	}

	/// Like [`Journal::reject_batch`], but only the records `at_fault` picks are rejected; the
	/// others return to pending, to be cut (and signed) again without them. So one payer who
	/// emptied their escrow, or one revoked adapter, costs only its own records. With
	/// `at_fault` always false it unwinds the batch (to be signed again, say with a rotated
	/// key). Returns (records rejected, records returned to pending).
	pub fn reject_batch_records(
		&self,
		sequence: Sequence,
		at_fault: impl Fn(&UsageRecord<AccountId>) -> bool,
		reason: &str,
	) -> Result<(u64, u64), JournalError> {
		self.reject_records(sequence, at_fault, reason, true, false)
	}

	/// Unwinds signed batch `sequence` (and the signed ones after it) like
	/// [`Journal::reject_batch_records`] with no record at fault, and clears the matches of its
	/// records, so they are cut again and billed without matched shares: their fees follow the
	/// adapters' lineage weights. For a batch whose matched shares the chain refused (a smaller
	/// `MaxMatchedPerAdapter` after a runtime upgrade): the usage is never lost for the sake of
	/// its attribution. Returns how many records returned to pending.
	pub fn unwind_without_matches(&self, sequence: Sequence) -> Result<u64, JournalError> {
		self.reject_records(sequence, |_| false, "", true, true).map(|(_, returned)| returned)
	}

	/// Sets signed batch `sequence` aside for `reason` without billing it: its records move to
	/// the rejected records (kept and reported, never billed, never cut again) and the batch is
	/// deleted. Unlike [`Journal::reject_batch`], the signed batches after it are left as they
	/// are (the chain may hold them). For a batch whose sequence number the chain has used for
	/// a batch with another records root: billing its records again could charge payers twice.
	/// Returns how many records were set aside; refused with
	/// [`JournalError::AlreadyFinalized`] for a batch not signed.
	pub fn set_aside_batch(&self, sequence: Sequence, reason: &str) -> Result<u64, JournalError> {
		self.reject_records(sequence, |_| true, reason, false, false).map(|(rejected, _)| rejected)
	}

	fn reject_records(
		&self,
		sequence: Sequence,
		at_fault: impl Fn(&UsageRecord<AccountId>) -> bool,
		reason: &str,
		unwind_later: bool,
		strip_matches: bool,
	) -> Result<(u64, u64), JournalError> {
		self.write(|txn| {
			let mut batches = txn.open_table(BATCHES)?;
			let stored = get_batch_or_unknown(&batches, sequence)?;
			let mut later = Vec::new();
			let upto = if unwind_later { Sequence::MAX } else { sequence };
			for item in batches.range(sequence..=upto)? {
				let (key, value) = item?;
				let stored = decode_batch(key.value(), value.value())?;
				if stored.state != BatchState::Signed {
					return Err(JournalError::AlreadyFinalized {
						sequence,
						finalized: stored.batch.sequence,
					});
				}
				if key.value() != sequence {
					later.push(stored);
				}
			}
			let mut signed = txn.open_table(SIGNED)?;
			let mut pending = txn.open_table(PENDING)?;
			let mut batch_of = txn.open_table(BATCH_OF)?;
			for unwound in later {
				for number in &unwound.records {
					pending.insert(number, ())?;
					batch_of.remove(number)?;
				}
				batches.remove(unwound.batch.sequence)?;
				signed.remove(unwound.batch.sequence)?;
			}
			let entry = (sequence, reason, unix_time_ms()).encode();
			let mut rejected = txn.open_table(REJECTED)?;
			let mut records = txn.open_table(RECORDS)?;
			let (mut refused, mut returned) = (0u64, 0u64);
			for number in &stored.records {
				batch_of.remove(number)?;
				let mut rec = get_record(&records, *number)?;
				if at_fault(&rec) {
					rejected.insert(number, entry.as_slice())?;
					refused = refused.saturating_add(1);
				} else {
					if strip_matches && !rec.matched.is_empty() {
						rec.matched.clear();
						records.insert(number, rec.encode().as_slice())?;
					}
					pending.insert(number, ())?;
					returned = returned.saturating_add(1);
				}
			}
			batches.remove(sequence)?;
			signed.remove(sequence)?;
			Ok((refused, returned))
		})
	}

	/// The records of batches the chain refused for good, by record number.
	pub fn rejected(&self) -> Result<Vec<RejectedRecord>, JournalError> {
		self.read(|txn| {
			let records = txn.open_table(RECORDS)?;
			let mut out = Vec::new();
			for item in txn.open_table(REJECTED)?.iter()? {
				let (key, value) = item?;
				let number = key.value();
				let (sequence, reason, rejected_at_ms) =
					<(Sequence, String, u64)>::decode_all(&mut &value.value()[..])
						.map_err(|e| corrupt(&format!("rejected[{number}]"), e.to_string()))?;
				let record = get_record(&records, number)?;
				out.push(RejectedRecord { number, record, sequence, reason, rejected_at_ms });
			}
			Ok(out)
		})
	}

	/// The batch with sequence number `sequence`, in whatever state.
	pub fn batch(&self, sequence: Sequence) -> Result<Option<StoredBatch>, JournalError> {
		self.read(|txn| {
			let batches = txn.open_table(BATCHES)?;
			let value = batches.get(sequence)?;
			value.map(|v| decode_batch(sequence, v.value())).transpose()
		})
	}

	/// What a payer needs to check and dispute the request `request_id`: its record, the signed
	/// authorisation the payer gave, and, once it is in a batch, the batch's sequence, state
	/// and records root with the record's Merkle proof against that root (the root the chain
	/// holds for the batch). `None` for a request this journal never recorded.
	pub fn evidence(&self, request_id: &[u8; 32]) -> Result<Option<Evidence>, JournalError> {
		self.read(|txn| {
			let Some(number) = txn.open_table(REQUEST_IDS)?.get(request_id)?.map(|n| n.value())
			else {
				return Ok(None);
			};
			let records = txn.open_table(RECORDS)?;
			let record = get_record(&records, number)?;
			let voucher = match txn.open_table(VOUCHERS)?.get(number)? {
				Some(bytes) => Some(decode_voucher("vouchers", bytes.value())?),
				None => None,
			};
			let batch = match txn.open_table(BATCH_OF)?.get(number)?.map(|s| s.value()) {
				None => None,
				Some(sequence) => {
					let stored = get_batch(&txn.open_table(BATCHES)?, sequence)?;
					let mut recs = Vec::with_capacity(stored.records.len());
					for n in &stored.records {
						recs.push(get_record(&records, *n)?);
					}
					recs.sort_by_key(|r| r.request_id);
					let index = recs
						.iter()
						.position(|r| r.request_id == record.request_id)
						.ok_or_else(|| {
							corrupt("batch_of", format!("record {number} not in batch {sequence}"))
						})?;
					let proof = record_proof(&recs, index).ok_or_else(|| {
						corrupt("batches", format!("no proof in batch {sequence}"))
					})?;
					Some(BatchEvidence {
						sequence,
						state: stored.state,
						records_root: stored.batch.records_root,
						leaves: u32::try_from(recs.len()).unwrap_or(u32::MAX),
						index: u32::try_from(index).unwrap_or(u32::MAX),
						proof,
					})
				},
			};
			let rejected = txn.open_table(REJECTED)?.get(number)?.is_some();
			let lineage = txn.open_table(LINEAGE)?.get(number)?.map(|v| v.value().to_vec());
			Ok(Some(Evidence { number, record, voucher, batch, rejected, lineage }))
		})
	}

	/// The payer's signed authorisation kept with record `number`, if there is such a record:
	/// the payer's evidence of what they asked for.
	pub fn voucher(&self, number: u64) -> Result<Option<Voucher>, JournalError> {
		self.read(|txn| {
			let table = txn.open_table(VOUCHERS)?;
			let Some(bytes) = table.get(number)? else { return Ok(None) };
			decode_voucher("vouchers", bytes.value()).map(Some)
		})
	}

	/// The record with number `number`, in whatever state (pending, batched or rejected).
	pub fn record(&self, number: u64) -> Result<Option<UsageRecord<AccountId>>, JournalError> {
		self.read(|txn| {
			let records = txn.open_table(RECORDS)?;
			let value = records.get(number)?;
			value.map(|v| decode_record(number, v.value())).transpose()
		})
	}

	/// Replay protection for payers' signed requests: durably records that `payer` used
	/// `nonce` at `timestamp_ms`. Returns `false` (and writes nothing) when the pair was seen
	/// before. Pairs pruned by [`Journal::prune_nonces`] are forgotten, so the caller must refuse
	/// requests older than its pruning horizon.
	pub fn use_nonce(
		&self,
		payer: &AccountId,
		nonce: u64,
		timestamp_ms: u64,
	) -> Result<bool, JournalError> {
		let key = nonce_key(payer, nonce);
		self.write(|txn| {
			let mut nonces = txn.open_table(NONCES)?;
			if nonces.get(&key)?.is_some() {
				return Ok(false);
			}
			nonces.insert(&key, timestamp_ms)?;
			txn.open_table(NONCE_TIMES)?.insert(&nonce_time_key(timestamp_ms, &key), ())?;
			Ok(true)
		})
	}

	/// Forgets the nonces used at a timestamp before `before_ms`; returns how many.
	pub fn prune_nonces(&self, before_ms: u64) -> Result<u64, JournalError> {
		let bound = nonce_time_key(before_ms, &[0; 40]);
		self.write(|txn| {
			let mut times = txn.open_table(NONCE_TIMES)?;
			let mut old = Vec::new();
			for item in times.range::<&[u8; 48]>(..&bound)? {
				old.push(*item?.0.value());
			}
			let mut nonces = txn.open_table(NONCES)?;
			for time_key in &old {
				times.remove(time_key)?;
				let mut key = [0u8; 40];
				key.copy_from_slice(&time_key[8..]);
				nonces.remove(&key)?;
			}
			Ok(u64::try_from(old.len()).unwrap_or(u64::MAX))
		})
	}

	/// Counts of records and batches by state.
	pub fn stats(&self) -> Result<JournalStats, JournalError> {
		self.read(|txn| {
			let batches = txn.open_table(BATCHES)?.len()?;
			let batches_signed = txn.open_table(SIGNED)?.len()?;
			let batches_finalized = txn.open_table(FINALIZED)?.len()?;
			Ok(JournalStats {
				records: txn.open_table(RECORDS)?.len()?,
				pending: txn.open_table(PENDING)?.len()?,
				batches_signed,
				batches_finalized,
				batches_settled: batches
					.saturating_sub(batches_signed)
					.saturating_sub(batches_finalized),
				rejected_records: txn.open_table(REJECTED)?.len()?,
			})
		})
	}

	/// Runs `f` in a read transaction.
	fn read<T>(
		&self,
		f: impl FnOnce(&ReadTransaction) -> Result<T, JournalError>,
	) -> Result<T, JournalError> {
		let txn = self.db.begin_read()?;
		f(&txn)
	}

	/// Runs `f` in a write transaction and commits it durably (fsync) when `f` succeeds; when
	/// it fails, the transaction is dropped, which aborts it.
	fn write<T>(
		&self,
		f: impl FnOnce(&WriteTransaction) -> Result<T, JournalError>,
	) -> Result<T, JournalError> {
		let mut txn = self.db.begin_write()?;
		txn.set_durability(Durability::Immediate)?;
		let out = f(&txn)?;
		txn.commit()?;
		Ok(out)
	}
}

/// A [`JournalError::Corrupt`] for `what`.
fn corrupt(what: &str, detail: String) -> JournalError {
	JournalError::Corrupt { what: what.to_owned(), detail }
}

/// Decodes record `number` from its stored bytes.
fn decode_record(number: u64, bytes: &[u8]) -> Result<UsageRecord<AccountId>, JournalError> {
	UsageRecord::decode_all(&mut &bytes[..])
		.map_err(|e| corrupt(&format!("records[{number}]"), e.to_string()))
}

/// Decodes batch `sequence` from its stored bytes.
/// The matched shares of a batch being cut: per adapter, the records' fee weights and, per
/// (datanet, version, contributor), the fee weight times the parts of a billion credited.
#[derive(Default)]
struct MatchTally {
	totals: BTreeMap<AdapterId, u128>,
	amounts: BTreeMap<(AdapterId, DatanetId, VersionId, AccountId), u128>,
}

impl MatchTally {
	/// Adds `rec` (of fee weight `prices` applied to its tokens) and its matches.
	fn add(&mut self, rec: &UsageRecord<AccountId>, prices: Option<(u128, u128)>) {
		let (input, output) = (u128::from(rec.input_tokens), u128::from(rec.output_tokens));
		let weight = match prices {
			Some((per_1k_input, per_1k_output)) => input
				.saturating_mul(per_1k_input)
				.saturating_add(output.saturating_mul(per_1k_output)),
			None => input.saturating_add(output),
		};
		let total = self.totals.entry(rec.adapter).or_default();
		*total = total.saturating_add(weight);
		for m in &rec.matched {
			let key = (rec.adapter, m.datanet, m.version, m.contributor.clone());
			let amount = self.amounts.entry(key).or_default();
			*amount =
				amount.saturating_add(weight.saturating_mul(u128::from(m.share.deconstruct())));
		}
	}

	/// The shares: each adapter's `keep` largest (ties to the lower key), none zero, ascending
	/// by key as the usage pallet checks.
	fn shares(self, keep: usize) -> Vec<MatchedShare<AccountId>> {
		let mut by_adapter: BTreeMap<AdapterId, Vec<MatchedShare<AccountId>>> = BTreeMap::new();
		for ((adapter, datanet, version, contributor), amount) in self.amounts {
			let total = self.totals.get(&adapter).copied().unwrap_or_default();
			if total == 0 {
				continue;
			}
			// Σ amounts ≤ total × 10^9 per adapter, so the parts sum to at most a billion.
			let parts = u32::try_from(amount / total).unwrap_or(u32::MAX);
			if parts == 0 {
				continue;
			}
			by_adapter.entry(adapter).or_default().push(MatchedShare {
				adapter,
				datanet,
				version,
				contributor,
				share: Share::from_parts(parts.min(Share::one().deconstruct())),
			});
		}
		let mut out = Vec::new();
		for (_, mut shares) in by_adapter {
			shares.sort_by(|a, b| b.share.cmp(&a.share).then_with(|| a.key().cmp(&b.key())));
			shares.truncate(keep);
			shares.sort_by(|a, b| a.key().cmp(&b.key()));
			out.extend(shares);
		}
		out
	}
}

fn decode_batch(sequence: Sequence, bytes: &[u8]) -> Result<StoredBatch, JournalError> {
	StoredBatch::decode_all(&mut &bytes[..])
		.map_err(|e| corrupt(&format!("batches[{sequence}]"), e.to_string()))
}

/// Decodes a voucher stored in `table`.
fn decode_voucher(table: &str, bytes: &[u8]) -> Result<Voucher, JournalError> {
	Voucher::decode_all(&mut &bytes[..]).map_err(|e| corrupt(table, e.to_string()))
}

/// Record `number`, which an index refers to, so it must exist.
fn get_record(
	records: &impl ReadableTable<u64, &'static [u8]>,
	number: u64,
) -> Result<UsageRecord<AccountId>, JournalError> {
	let value = records.get(number)?;
	let value = value.ok_or_else(|| corrupt(&format!("records[{number}]"), "missing".into()))?;
	decode_record(number, value.value())
}

/// Batch `sequence`, which an index refers to, so it must exist.
fn get_batch(
	batches: &impl ReadableTable<u64, &'static [u8]>,
	sequence: Sequence,
) -> Result<StoredBatch, JournalError> {
	let value = batches.get(sequence)?;
	let value = value.ok_or_else(|| corrupt(&format!("batches[{sequence}]"), "missing".into()))?;
	decode_batch(sequence, value.value())
}

/// Batch `sequence`, which a caller asked for: [`JournalError::UnknownBatch`] if absent.
fn get_batch_or_unknown(
	batches: &impl ReadableTable<u64, &'static [u8]>,
	sequence: Sequence,
) -> Result<StoredBatch, JournalError> {
	let value = batches.get(sequence)?;
	let value = value.ok_or(JournalError::UnknownBatch { sequence })?;
	decode_batch(sequence, value.value())
}

/// The batches listed in the index table `index`, ascending by sequence.
fn batches_in(
	txn: &ReadTransaction,
	index: TableDefinition<u64, ()>,
) -> Result<Vec<StoredBatch>, JournalError> {
	let batches = txn.open_table(BATCHES)?;
	let mut out = Vec::new();
	for item in txn.open_table(index)?.iter()? {
		out.push(get_batch(&batches, item?.0.value())?);
	}
	Ok(out)
}

/// The `nonces` key of (`payer`, `nonce`): the account's 32 bytes, then the nonce big-endian.
fn nonce_key(payer: &AccountId, nonce: u64) -> [u8; 40] {
	let account: &[u8; 32] = payer.as_ref();
	let mut key = [0u8; 40];
	key[..32].copy_from_slice(account);
	key[32..].copy_from_slice(&nonce.to_be_bytes());
	key
}

/// The `nonce_times` key: the timestamp big-endian, then the `nonces` key.
fn nonce_time_key(timestamp_ms: u64, nonce_key: &[u8; 40]) -> [u8; 48] {
	let mut key = [0u8; 48];
	key[..8].copy_from_slice(&timestamp_ms.to_be_bytes());
	key[8..].copy_from_slice(nonce_key);
	key
}
