//! The journal's one error type.

use lineage_primitives::{usage::Sequence, Hash};
use std::path::PathBuf;

/// What can go wrong with the usage journal. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
	/// Another process (most likely another oracle) holds the journal file open.
	#[error(
		"another oracle is using the journal at {path}: stop it first, or give this oracle a \
		 journal path of its own"
	)]
	Locked {
		/// The journal file.
		path: PathBuf,
	},
	/// The journal file could not be created or opened.
	#[error(
		"cannot open the journal at {path} ({source}): check that the path is writable and is a \
		 journal; move a damaged file aside only after saving it, since it holds unbilled usage"
	)]
	Open {
		/// The journal file.
		path: PathBuf,
		/// What the database reported.
		#[source]
		source: redb::DatabaseError,
	},
	/// The journal's folder could not be created.
	#[error("cannot create the journal's folder {path} ({source}): check its permissions")]
	CreateDir {
		/// The folder.
		path: PathBuf,
		/// What the file system reported.
		#[source]
		source: std::io::Error,
	},
	/// The file was written in a layout this oracle does not know.
	#[error(
		"the journal uses layout version {found}, this oracle reads version {expected}: run the \
		 oracle release that wrote it until its batches are settled, or use a new journal path"
	)]
	UnsupportedVersion {
		/// The version found in the file.
		found: u64,
		/// The version this code reads and writes.
		expected: u64,
	},
	/// A read or write of the database failed.
	#[error(
		"the journal's storage failed ({0}): check the disk (space, permissions, errors) and \
		 restart the oracle, which recovers the last committed state"
	)]
	Storage(#[source] redb::Error),
	/// A stored value does not decode.
	#[error(
		"the journal's {what} cannot be decoded ({detail}): the file was damaged or written by an \
		 incompatible oracle; stop the oracle and keep the file for inspection"
	)]
	Corrupt {
		/// Which value (table and key).
		what: String,
		/// Why it did not decode, or what is inconsistent.
		detail: String,
	},
	/// A record without tokens: there is nothing to bill, and the chain refuses such entries.
	#[error(
		"request {request_id:?} used no tokens: there is nothing to bill, so do not journal it"
	)]
	EmptyRecord {
		/// The request's id.
		request_id: Hash,
	},
	/// A record's attribution matches sum to more than 100% of its completion.
	#[error(
		"request {request_id:?}'s attribution credits more than its whole completion: its \
		 matches must sum to at most 100%"
	)]
	MatchesOverWhole {
		/// The request's id.
		request_id: Hash,
	},
	/// The journal's record numbers ran out (after 2^64 records).
	#[error("the journal has no record numbers left: start a new journal after settling this one")]
	RecordNumbersExhausted,
	/// Batch limits of zero: no batch could ever be cut.
	#[error(
		"batch limits must all be at least 1 (got {limits:?}): take them from the chain's usage \
		 pallet constants"
	)]
	InvalidLimits {
		/// The limits given.
		limits: super::BatchLimits,
	},
	/// A record's voucher names another payer than the record.
	#[error(
		"request {request_id:?}: the voucher is not the record's payer's; journal each record \
		 with its own payer's signed authorisation"
	)]
	VoucherMismatch {
		/// The request's id.
		request_id: Hash,
	},
	/// A batch already has this sequence number, or a later one exists.
	#[error(
		"batch sequence {sequence} is already used (the journal's last batch is {last}): finish \
		 the unfinalized batches first, then cut with the chain's next sequence number"
	)]
	SequenceInUse {
		/// The sequence number asked for.
		sequence: Sequence,
		/// The highest sequence number in the journal.
		last: Sequence,
	},
	/// No batch with this sequence number is in the journal.
	#[error(
		"the journal has no batch {sequence}: list the batches to act on with unfinalized() or \
		 finalized_unsettled()"
	)]
	UnknownBatch {
		/// The sequence number asked for.
		sequence: Sequence,
	},
	/// A batch must be finalized before it is settled.
	#[error("batch {sequence} is not finalized yet: mark it finalized before marking it settled")]
	NotFinalized {
		/// The batch's sequence number.
		sequence: Sequence,
	},
	/// The chain accepted the batch (or a later one, which implies it): it cannot be rejected.
	#[error(
		"batch {finalized} is finalized on chain, so the chain accepted batch {sequence}: mark it \
		 finalized instead of rejecting it"
	)]
	AlreadyFinalized {
		/// The batch asked to be rejected.
		sequence: Sequence,
		/// The finalized batch found (the same one or a later one).
		finalized: Sequence,
	},
}

/// Every redb error type converts into [`JournalError::Storage`].
macro_rules! storage_from {
	($($error:ty),* $(,)?) => {
		$(
			impl From<$error> for JournalError {
				fn from(error: $error) -> Self {
					JournalError::Storage(redb::Error::from(error))
				}
			}
		)*
	};
}

storage_from!(
	redb::Error,
	redb::StorageError,
	redb::TransactionError,
	redb::TableError,
	redb::CommitError,
	redb::SetDurabilityError,
);
