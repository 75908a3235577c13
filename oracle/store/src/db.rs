//! The store's embedded database (redb): record bytes by sha-256, and where each record was
//! uploaded. Every write is one durable transaction, so a crash loses no upload that was
//! answered with success and leaves no half-written record.
//!
//! Tables:
//! - `blobs`: sha-256 → the record's bytes;
//! - `meta`: sha-256 → [`RecordMeta`] (size, measured tokens, how many placements hold it);
//! - `placements`: datanet (big-endian `u32`) ‖ sha-256 → [`Placement`]: who uploaded it there
//!   and whether the chain has its contribution yet;
//! - `by_hash`: sha-256 ‖ datanet → `()`: the datanets a record is placed in.
//!
//! Bytes are deleted with their last placement (a record uploaded to two datanets is kept
//! once).

use codec::{Decode, Encode};
use redb::{
	Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata,
	TableDefinition,
};
use std::path::{Path, PathBuf};

const BLOBS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blobs");
const META: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("meta");
const PLACEMENTS: TableDefinition<&[u8; 36], &[u8]> = TableDefinition::new("placements");
const BY_HASH: TableDefinition<&[u8; 36], ()> = TableDefinition::new("by_hash");

/// What the store knows of one record's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RecordMeta {
	/// The size in bytes.
	pub size: u32,
	/// Its token count by the store's tokenizer (the base model's), when it has one.
	pub tokens: Option<u32>,
	/// How many placements hold it (it is deleted at zero).
	pub placements: u32,
	/// How many of those have their contribution on chain (it is served only above zero).
	pub contributed: u32,
}

/// Where a placement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum PlacementState {
	/// Uploaded; its contribution is not on chain yet. Deleted at `expires_ms` unless it
	/// appears.
	Uploaded {
		/// Unix milliseconds after which the upload is dropped.
		expires_ms: u64,
	},
	/// Its contribution is on chain with this id.
	Contributed {
		/// The contribution's id within the datanet.
		contribution: u32,
		/// Whether it is in a frozen version (then it never changes again).
		frozen: bool,
	},
}

/// One record uploaded to one datanet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Placement {
	/// The contributor who signed the upload.
	pub contributor: [u8; 32],
	/// When it was uploaded, Unix milliseconds.
	pub uploaded_ms: u64,
	/// Uploaded or on chain.
	pub state: PlacementState,
}

/// What can go wrong with the store's database. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
	/// Another process holds the database file open.
	#[error("another record store is using {path}: stop it, or give this one its own --db")]
	Locked {
		/// The file.
		path: PathBuf,
	},
	/// The file could not be created or opened.
	#[error("cannot open the record store's database {path} ({source}): check the path")]
	Open {
		/// The file.
		path: PathBuf,
		/// What redb said.
		#[source]
		source: DatabaseError,
	},
	/// The folder could not be created.
	#[error("cannot create the folder {path} ({source}): check its permissions")]
	CreateDir {
		/// The folder.
		path: PathBuf,
		/// What the file system said.
		#[source]
		source: std::io::Error,
	},
	/// A read or write failed (disk full, I/O error).
	#[error("record store database: {0}; check the disk")]
	Storage(#[source] redb::Error),
	/// A stored value does not decode.
	#[error("record store database: the {0} of a record cannot be decoded; the file is damaged")]
	Corrupt(&'static str),
}

macro_rules! storage_from {
	($($t:ty),* $(,)?) => {
		$(impl From<$t> for DbError {
			fn from(error: $t) -> Self {
				DbError::Storage(redb::Error::from(error))
			}
		})*
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

/// The key of a placement: the datanet big-endian, then the hash (so a datanet's placements
/// are one range).
fn placement_key(datanet: u32, hash: &[u8; 32]) -> [u8; 36] {
	let mut key = [0u8; 36];
	key[..4].copy_from_slice(&datanet.to_be_bytes());
	key[4..].copy_from_slice(hash);
	key
}

/// The key of the reverse index: the hash, then the datanet big-endian.
fn by_hash_key(hash: &[u8; 32], datanet: u32) -> [u8; 36] {
	let mut key = [0u8; 36];
	key[..32].copy_from_slice(hash);
	key[32..].copy_from_slice(&datanet.to_be_bytes());
	key
}

/// The outcome of [`Db::put`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
	/// A new placement was stored.
	Stored,
	/// The same contributor had already uploaded it to this datanet: nothing changed.
	AlreadyThere(Placement),
}

/// The record store's database.
pub struct Db {
	db: Database,
}

impl Db {
	/// Opens (or creates) the database at `path` and its tables.
	pub fn open(path: &Path) -> Result<Db, DbError> {
		if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
			std::fs::create_dir_all(dir)
				.map_err(|source| DbError::CreateDir { path: dir.to_owned(), source })?;
		}
		let db = Database::create(path).map_err(|source| match source {
			DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
				DbError::Locked { path: path.to_owned() }
			},
			source => DbError::Open { path: path.to_owned(), source },
		})?;
		let txn = db.begin_write()?;
		txn.open_table(BLOBS)?;
		txn.open_table(META)?;
		txn.open_table(PLACEMENTS)?;
		txn.open_table(BY_HASH)?;
		txn.commit()?;
		Ok(Db { db })
	}

	/// Stores `bytes` (whose sha-256 is `hash`) as uploaded by `placement.contributor` to
	/// `datanet`, in one durable transaction. An existing placement of the same record in the
	/// same datanet is left as it is.
	pub fn put(
		&self,
		datanet: u32,
		hash: &[u8; 32],
		bytes: &[u8],
		tokens: Option<u32>,
		placement: Placement,
	) -> Result<PutOutcome, DbError> {
		let mut txn = self.db.begin_write()?;
		txn.set_durability(Durability::Immediate)?;
		let key = placement_key(datanet, hash);
		let outcome = {
			let mut placements = txn.open_table(PLACEMENTS)?;
			let existing =
				placements.get(&key)?.map(|v| decode_placement(v.value())).transpose()?;
			match existing {
				Some(p) => PutOutcome::AlreadyThere(p),
				None => {
					placements.insert(&key, placement.encode().as_slice())?;
					txn.open_table(BY_HASH)?.insert(&by_hash_key(hash, datanet), ())?;
					let contributed =
						u32::from(matches!(placement.state, PlacementState::Contributed { .. }));
					let mut meta = txn.open_table(META)?;
					let old = meta.get(hash)?.map(|v| decode_meta(v.value())).transpose()?;
					let new = match old {
						Some(m) => RecordMeta {
							placements: m.placements.saturating_add(1),
							contributed: m.contributed.saturating_add(contributed),
							..m
						},
						None => {
							txn.open_table(BLOBS)?.insert(hash, bytes)?;
							RecordMeta {
								size: bytes.len() as u32,
								tokens,
								placements: 1,
								contributed,
							}
						},
					};
					meta.insert(hash, new.encode().as_slice())?;
					PutOutcome::Stored
				},
			}
		};
		txn.commit()?;
		Ok(outcome)
	}

	/// Sets the state of a placement (no-op when it is gone).
	pub fn set_state(
		&self,
		datanet: u32,
		hash: &[u8; 32],
		state: PlacementState,
	) -> Result<(), DbError> {
		let mut txn = self.db.begin_write()?;
		txn.set_durability(Durability::Immediate)?;
		{
			let mut placements = txn.open_table(PLACEMENTS)?;
			let key = placement_key(datanet, hash);
			let existing =
				placements.get(&key)?.map(|v| decode_placement(v.value())).transpose()?;
			if let Some(mut p) = existing {
				let was = matches!(p.state, PlacementState::Contributed { .. });
				let is = matches!(state, PlacementState::Contributed { .. });
				p.state = state;
				placements.insert(&key, p.encode().as_slice())?;
				if was != is {
					let mut meta = txn.open_table(META)?;
					let old = meta.get(hash)?.map(|v| decode_meta(v.value())).transpose()?;
					if let Some(mut m) = old {
						m.contributed = if is {
							m.contributed.saturating_add(1)
						} else {
							m.contributed.saturating_sub(1)
						};
						meta.insert(hash, m.encode().as_slice())?;
					}
				}
			}
		}
		txn.commit()?;
		Ok(())
	}

	/// Removes a placement, and the bytes with the last one. Returns whether it existed.
	pub fn remove(&self, datanet: u32, hash: &[u8; 32]) -> Result<bool, DbError> {
		let mut txn = self.db.begin_write()?;
		txn.set_durability(Durability::Immediate)?;
		let existed = {
			let mut placements = txn.open_table(PLACEMENTS)?;
			let removed = placements
				.remove(&placement_key(datanet, hash))?
				.map(|v| decode_placement(v.value()))
				.transpose()?;
			let existed = removed.is_some();
			if let Some(removed) = removed {
				txn.open_table(BY_HASH)?.remove(&by_hash_key(hash, datanet))?;
				let was_contributed = matches!(removed.state, PlacementState::Contributed { .. });
				let mut meta = txn.open_table(META)?;
				let old = meta.get(hash)?.map(|v| decode_meta(v.value())).transpose()?;
				match old {
					Some(m) if m.placements > 1 => {
						let contributed = m.contributed.saturating_sub(u32::from(was_contributed));
						let m = RecordMeta { placements: m.placements - 1, contributed, ..m };
						meta.insert(hash, m.encode().as_slice())?;
					},
					_ => {
						meta.remove(hash)?;
						txn.open_table(BLOBS)?.remove(hash)?;
					},
				}
			}
			existed
		};
		txn.commit()?;
		Ok(existed)
	}

	/// The placement of `hash` in `datanet`, if any.
	pub fn placement(&self, datanet: u32, hash: &[u8; 32]) -> Result<Option<Placement>, DbError> {
		let txn = self.db.begin_read()?;
		let table = txn.open_table(PLACEMENTS)?;
		let value = table.get(&placement_key(datanet, hash))?;
		value.map(|v| decode_placement(v.value())).transpose()
	}

	/// The placements of `hash`, as `(datanet, placement)`.
	pub fn placements_of(&self, hash: &[u8; 32]) -> Result<Vec<(u32, Placement)>, DbError> {
		let txn = self.db.begin_read()?;
		let index = txn.open_table(BY_HASH)?;
		let placements = txn.open_table(PLACEMENTS)?;
		let mut out = Vec::new();
		let (first, last) = (by_hash_key(hash, 0), by_hash_key(hash, u32::MAX));
		for item in index.range::<&[u8; 36]>(&first..=&last)? {
			let (key, _) = item?;
			let key = key.value();
			let datanet = u32::from_be_bytes([key[32], key[33], key[34], key[35]]);
			if let Some(v) = placements.get(&placement_key(datanet, hash))? {
				out.push((datanet, decode_placement(v.value())?));
			}
		}
		Ok(out)
	}

	/// Every placement, as `(datanet, hash, placement)`.
	pub fn placements(&self) -> Result<Vec<(u32, [u8; 32], Placement)>, DbError> {
		let txn = self.db.begin_read()?;
		let table = txn.open_table(PLACEMENTS)?;
		let mut out = Vec::new();
		for item in table.iter()? {
			let (key, value) = item?;
			let key = key.value();
			let datanet = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
			let mut hash = [0u8; 32];
			hash.copy_from_slice(&key[4..]);
			out.push((datanet, hash, decode_placement(value.value())?));
		}
		Ok(out)
	}

	/// Whether some placement of `hash` has its contribution on chain: only such records are
	/// served.
	pub fn is_contributed(&self, hash: &[u8; 32]) -> Result<bool, DbError> {
		Ok(self.meta(hash)?.is_some_and(|m| m.contributed > 0))
	}

	/// The bytes of `hash`, if the store holds them.
	pub fn bytes(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, DbError> {
		let txn = self.db.begin_read()?;
		let table = txn.open_table(BLOBS)?;
		let value = table.get(hash)?;
		Ok(value.map(|v| v.value().to_vec()))
	}

	/// What the store knows of `hash`'s bytes, if it holds them.
	pub fn meta(&self, hash: &[u8; 32]) -> Result<Option<RecordMeta>, DbError> {
		let txn = self.db.begin_read()?;
		let table = txn.open_table(META)?;
		let value = table.get(hash)?;
		value.map(|v| decode_meta(v.value())).transpose()
	}

	/// How many distinct records the store holds, and their bytes in total.
	pub fn totals(&self) -> Result<(u64, u64), DbError> {
		let txn = self.db.begin_read()?;
		let meta = txn.open_table(META)?;
		let mut bytes = 0u64;
		for item in meta.iter()? {
			let (_, value) = item?;
			bytes = bytes.saturating_add(u64::from(decode_meta(value.value())?.size));
		}
		Ok((meta.len()?, bytes))
	}
}

fn decode_meta(mut bytes: &[u8]) -> Result<RecordMeta, DbError> {
	RecordMeta::decode(&mut bytes).map_err(|_| DbError::Corrupt("metadata"))
}

fn decode_placement(mut bytes: &[u8]) -> Result<Placement, DbError> {
	Placement::decode(&mut bytes).map_err(|_| DbError::Corrupt("placement"))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn placement(expires_ms: u64) -> Placement {
		Placement {
			contributor: [7; 32],
			uploaded_ms: 1,
			state: PlacementState::Uploaded { expires_ms },
		}
	}

	#[test]
	fn records_survive_a_reopen_and_go_with_their_last_placement() {
		let dir = lineage_testkit::temp_dir("store-db");
		let path = dir.path().join("store.redb");
		let hash = [1u8; 32];
		{
			let db = Db::open(&path).unwrap();
			assert_eq!(
				db.put(0, &hash, b"abc", Some(2), placement(5)).unwrap(),
				PutOutcome::Stored
			);
			assert_eq!(db.put(1, &hash, b"abc", None, placement(5)).unwrap(), PutOutcome::Stored);
			assert!(matches!(
				db.put(0, &hash, b"abc", None, placement(9)).unwrap(),
				PutOutcome::AlreadyThere(_)
			));
		}
		let db = Db::open(&path).unwrap();
		assert_eq!(db.bytes(&hash).unwrap().as_deref(), Some(&b"abc"[..]));
		assert_eq!(
			db.meta(&hash).unwrap(),
			Some(RecordMeta { size: 3, tokens: Some(2), placements: 2, contributed: 0 })
		);
		assert!(!db.is_contributed(&hash).unwrap());
		assert_eq!(db.placements_of(&hash).unwrap().len(), 2);
		db.set_state(1, &hash, PlacementState::Contributed { contribution: 4, frozen: false })
			.unwrap();
		assert!(db.is_contributed(&hash).unwrap());
		assert!(db.remove(0, &hash).unwrap());
		assert!(db.bytes(&hash).unwrap().is_some(), "still placed in datanet 1");
		assert_eq!(db.placements_of(&hash).unwrap().len(), 1);
		assert!(db.remove(1, &hash).unwrap());
		assert!(!db.remove(1, &hash).unwrap());
		assert_eq!(db.bytes(&hash).unwrap(), None);
		assert_eq!(db.totals().unwrap(), (0, 0));
	}
}
