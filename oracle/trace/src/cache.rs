//! Span indexes on disk, one per datanet version, named by the version's Merkle root.
//!
//! A version is frozen, so its root names its records for good: an index built once is reused
//! by every adapter trained on that version and survives restarts. Each index is built in a
//! temporary directory and renamed into place, so a crash mid-build leaves no half index under
//! a root's name, and two builders of the same root end with one index.

use std::{
	path::{Path, PathBuf},
	sync::atomic::{AtomicU64, Ordering},
};

use crate::index::{IndexError, SpanIndex, SpanIndexBuilder};

/// A directory of span indexes by version root.
#[derive(Clone, Debug)]
pub struct IndexCache {
	root: PathBuf,
}

static BUILDS: AtomicU64 = AtomicU64::new(0);

impl IndexCache {
	/// A cache in `root` (created when absent).
	pub fn new(root: impl Into<PathBuf>) -> Result<Self, IndexError> {
		let root = root.into();
		std::fs::create_dir_all(&root)
			.map_err(|source| IndexError::Io { path: root.clone(), source })?;
		Ok(IndexCache { root })
	}

	/// Where the index of `key` lives.
	pub fn path(&self, key: &[u8; 32]) -> PathBuf {
		self.root.join(hex::encode(key))
	}

	/// The index of `key` if it was built, `None` if not.
	pub fn get(&self, key: &[u8; 32]) -> Result<Option<SpanIndex>, IndexError> {
		let dir = self.path(key);
		if !dir.exists() {
			return Ok(None);
		}
		SpanIndex::open(&dir).map(Some)
	}

	/// The index of `key`, built by `records` (which adds the version's records to a builder)
	/// when it is absent or does not open (a damaged index is rebuilt). Returns the index and
	/// whether it was built now.
	pub fn get_or_build(
		&self,
		key: &[u8; 32],
		records: impl FnOnce(&mut SpanIndexBuilder) -> Result<(), IndexError>,
	) -> Result<(SpanIndex, bool), IndexError> {
		let dir = self.path(key);
		if dir.exists() {
			match SpanIndex::open(&dir) {
				Ok(index) => return Ok((index, false)),
				Err(_) => remove(&dir)?,
			}
		}
		let mut builder = SpanIndexBuilder::new();
		records(&mut builder)?;
		let tmp = self.root.join(format!(
			".build-{}-{}-{}",
			hex::encode(key),
			std::process::id(),
			BUILDS.fetch_add(1, Ordering::Relaxed)
		));
		let built = builder.write(&tmp);
		let built = match built {
			Ok(index) => index,
			Err(e) => {
				let _ = std::fs::remove_dir_all(&tmp);
				return Err(e);
			},
		};
		drop(built);
		match std::fs::rename(&tmp, &dir) {
			Ok(()) => {},
			// Another builder won: keep its index.
			Err(_) if dir.exists() => remove(&tmp)?,
			Err(source) => return Err(IndexError::Io { path: dir, source }),
		}
		Ok((SpanIndex::open(&dir)?, true))
	}
}

fn remove(dir: &Path) -> Result<(), IndexError> {
	std::fs::remove_dir_all(dir)
		.map_err(|source| IndexError::Io { path: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::index::RecordMeta;

	fn meta() -> RecordMeta {
		RecordMeta {
			datanet: 3,
			version: 2,
			index: 0,
			contribution: 7,
			content_hash: [1; 32],
			contributor: [2; 32],
		}
	}

	#[test]
	fn builds_once_then_reuses_and_rebuilds_a_damaged_index() {
		let dir = tempfile::tempdir().unwrap();
		let cache = IndexCache::new(dir.path().join("spans")).unwrap();
		let key = [9u8; 32];
		assert!(cache.get(&key).unwrap().is_none());
		let (index, built) =
			cache.get_or_build(&key, |b| b.add_record(meta(), &[&[4, 5, 6]])).unwrap();
		assert!(built);
		assert_eq!(index.find(&[5, 6]).len(), 1);
		drop(index);

		// Reopened as another process would after a restart: the builder is not called.
		let cache = IndexCache::new(dir.path().join("spans")).unwrap();
		let (index, built) =
			cache.get_or_build(&key, |_| panic!("a built index is not rebuilt")).unwrap();
		assert!(!built);
		assert_eq!(index.records(), &[meta()]);
		drop(index);

		// A damaged index is rebuilt; a failing build leaves nothing behind.
		std::fs::write(cache.path(&key).join("header.json"), b"{").unwrap();
		let err =
			cache.get_or_build(&key, |_| Err(IndexError::Source("store down".into()))).unwrap_err();
		assert!(err.to_string().contains("store down"));
		assert!(cache.get(&key).unwrap().is_none());
		let leftovers = std::fs::read_dir(dir.path().join("spans")).unwrap().count();
		assert_eq!(leftovers, 0, "no temporary build directory is left");
	}
}
