//! The content-addressed adapter store on disk.
//!
//! Each adapter lives in `<root>/<hex artifact hash>/` with exactly the two PEFT files the chain
//! hashes ([`ADAPTER_FILES`]). The artifact hash is [`lineage_primitives::artifact_hash`] over
//! `(file name, sha256(file bytes))`, the same rule the chain registers, so a folder's name is
//! its identity and [`AdapterStore::verify`] can always re-check it.
//!
//! A name → hash index (`<root>/index.json`, written atomically: temp file, fsync, rename) makes
//! adapters addressable by the model name clients pass. Several names may point at one hash;
//! removing a name keeps the bytes (they are content-addressed and may be registered on chain);
//! [`AdapterStore::remove_unreferenced`] deletes a folder no name points at.
//!
//! Every method does blocking file I/O: async callers run them in `spawn_blocking`.

use std::{
	collections::BTreeMap,
	fs,
	io::{self, Read, Write},
	path::{Path, PathBuf},
	sync::{Mutex, MutexGuard},
};

use lineage_primitives::{artifact_hash, Hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The files that make up a stored adapter, as the chain hashes them.
pub const ADAPTER_FILES: [&str; 2] = ["adapter_config.json", "adapter_model.safetensors"];

/// The name of the index file inside the store's root.
pub const INDEX_FILE: &str = "index.json";

/// The longest adapter name the store accepts, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// A file system operation failed.
	#[error("{op} {path}: {source}")]
	Io {
		/// What was being done.
		op: &'static str,
		/// The path it was done to.
		path: PathBuf,
		/// The underlying error.
		#[source]
		source: io::Error,
	},
	/// The source folder lacks one of [`ADAPTER_FILES`].
	#[error(
		"{0} is missing (a PEFT adapter needs adapter_config.json and adapter_model.safetensors)"
	)]
	MissingFile(PathBuf),
	/// No adapter with this name or hash is in the store.
	#[error("no adapter {0} in the store")]
	UnknownAdapter(String),
	/// A stored adapter's bytes no longer hash to its folder's name.
	#[error("adapter {expected:?} is corrupt: its files hash to {actual:?}")]
	HashMismatch {
		/// The hash the folder is named after.
		expected: Hash,
		/// The hash of the bytes found.
		actual: Hash,
	},
	/// The name is not acceptable as a model name.
	#[error("invalid adapter name {0:?}: 1 to 128 bytes, no whitespace or control characters")]
	InvalidName(String),
	/// The name already points at an adapter.
	#[error("adapter name {0:?} is already taken")]
	NameTaken(String),
	/// The index file cannot be parsed.
	#[error("corrupt store index {path}: {message}")]
	CorruptIndex {
		/// The index file.
		path: PathBuf,
		/// What the parser said.
		message: String,
	},
}

/// The persisted name index.
#[derive(Default, Serialize, Deserialize)]
struct Index {
	/// Adapter name → artifact hash in hex (no `0x`).
	adapters: BTreeMap<String, String>,
}

/// The content-addressed adapter store. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct AdapterStore {
	root: PathBuf,
	/// Name → hash, mirrored in `index.json`. The lock also serialises index writes.
	index: Mutex<BTreeMap<String, Hash>>,
}

impl AdapterStore {
	/// Open (creating if needed) the store at `root` and read its name index.
	pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
		let root = root.as_ref().to_path_buf();
		fs::create_dir_all(&root).map_err(io_err("create", &root))?;
		let index_path = root.join(INDEX_FILE);
		let mut index = BTreeMap::new();
		match fs::read(&index_path) {
			Ok(bytes) => {
				let parsed: Index = serde_json::from_slice(&bytes).map_err(|e| {
					StoreError::CorruptIndex { path: index_path.clone(), message: e.to_string() }
				})?;
				for (name, hex_hash) in parsed.adapters {
					let hash = parse_hash(&hex_hash).ok_or_else(|| StoreError::CorruptIndex {
						path: index_path.clone(),
						message: format!("{name}: {hex_hash:?} is not a 32-byte hex hash"),
					})?;
					index.insert(name, hash);
				}
			},
			Err(e) if e.kind() == io::ErrorKind::NotFound => {},
			Err(e) => return Err(StoreError::Io { op: "read", path: index_path, source: e }),
		}
		Ok(Self { root, index: Mutex::new(index) })
	}

	/// The store's root folder.
	pub fn root(&self) -> &Path {
		&self.root
	}

	/// The folder that holds (or would hold) the adapter with this artifact hash.
	pub fn path_of(&self, hash: &Hash) -> PathBuf {
		self.root.join(hex::encode(hash.0))
	}

	/// Whether the adapter with this hash has a folder in the store.
	pub fn contains(&self, hash: &Hash) -> bool {
		self.path_of(hash).is_dir()
	}

	/// Copy the PEFT files of the folder `src` into the store and return their artifact hash.
	///
	/// Only [`ADAPTER_FILES`] are copied. The copy goes to a temporary folder first, is hashed
	/// there (so the hash is of the bytes the store holds) and is renamed into place; importing
	/// an adapter that is already stored is a no-op that returns the same hash. The file
	/// contents are not validated as PEFT here; loading does that.
	pub fn import_dir(&self, src: &Path) -> Result<Hash, StoreError> {
		for file in ADAPTER_FILES {
			let path = src.join(file);
			if !path.is_file() {
				return Err(StoreError::MissingFile(path));
			}
		}
		let tmp = self.root.join(format!(".import-{:016x}", rand::random::<u64>()));
		fs::create_dir(&tmp).map_err(io_err("create", &tmp))?;
		let result = (|| {
			for file in ADAPTER_FILES {
				let from = src.join(file);
				let to = tmp.join(file);
				fs::copy(&from, &to).map_err(io_err("copy", &from))?;
				let f = fs::File::open(&to).map_err(io_err("open", &to))?;
				f.sync_all().map_err(io_err("sync", &to))?;
			}
			let hash = hash_dir(&tmp)?;
			let dest = self.path_of(&hash);
			if dest.is_dir() {
				match self.verify(&hash) {
					Ok(()) => {
						remove_dir(&tmp)?;
						return Ok(hash);
					},
					// A damaged copy is replaced by the good one.
					Err(StoreError::HashMismatch { .. }) | Err(StoreError::Io { .. }) => {
						remove_dir(&dest)?;
					},
					Err(e) => return Err(e),
				}
			}
			fs::rename(&tmp, &dest).map_err(io_err("rename", &tmp))?;
			sync_dir(&self.root)?;
			Ok(hash)
		})();
		if result.is_err() && tmp.exists() {
			let _ = fs::remove_dir_all(&tmp);
		}
		result
	}

	/// [`import_dir`](Self::import_dir), then point `name` at the result. Fails with
	/// [`StoreError::NameTaken`] if `name` already points at a different adapter.
	pub fn import_named(&self, name: &str, src: &Path) -> Result<Hash, StoreError> {
		check_name(name)?;
		let hash = self.import_dir(src)?;
		self.set_name(name, hash)?;
		Ok(hash)
	}

	/// Re-hash the stored files of `hash` and check they still hash to it.
	pub fn verify(&self, hash: &Hash) -> Result<(), StoreError> {
		let dir = self.path_of(hash);
		if !dir.is_dir() {
			return Err(StoreError::UnknownAdapter(format!("0x{}", hex::encode(hash.0))));
		}
		let actual = hash_dir(&dir)?;
		if actual != *hash {
			return Err(StoreError::HashMismatch { expected: *hash, actual });
		}
		Ok(())
	}

	/// Point `name` at the stored adapter `hash`. Idempotent for the same pair; fails with
	/// [`StoreError::NameTaken`] when `name` points elsewhere (remove it first).
	pub fn set_name(&self, name: &str, hash: Hash) -> Result<(), StoreError> {
		check_name(name)?;
		if !self.contains(&hash) {
			return Err(StoreError::UnknownAdapter(format!("0x{}", hex::encode(hash.0))));
		}
		let mut index = self.lock();
		match index.get(name) {
			Some(existing) if *existing == hash => return Ok(()),
			Some(_) => return Err(StoreError::NameTaken(name.to_string())),
			None => {},
		}
		let mut next = index.clone();
		next.insert(name.to_string(), hash);
		self.write_index(&next)?;
		*index = next;
		Ok(())
	}

	/// Remove `name` from the index and return the hash it pointed at. The adapter's files stay.
	pub fn remove_name(&self, name: &str) -> Result<Option<Hash>, StoreError> {
		let mut index = self.lock();
		if !index.contains_key(name) {
			return Ok(None);
		}
		let mut next = index.clone();
		let removed = next.remove(name);
		self.write_index(&next)?;
		*index = next;
		Ok(removed)
	}

	/// Delete the folder of `hash` if no name points at it. Returns whether it was deleted.
	pub fn remove_unreferenced(&self, hash: &Hash) -> Result<bool, StoreError> {
		let index = self.lock();
		if index.values().any(|h| h == hash) {
			return Ok(false);
		}
		let dir = self.path_of(hash);
		if !dir.is_dir() {
			return Ok(false);
		}
		remove_dir(&dir)?;
		Ok(true)
	}

	/// The hash a name points at.
	pub fn hash_of(&self, name: &str) -> Option<Hash> {
		self.lock().get(name).copied()
	}

	/// Resolve a model name: a name in the index, else an artifact hash in hex (with or without
	/// `0x`) whose folder is in the store.
	pub fn resolve(&self, name_or_hash: &str) -> Option<Hash> {
		if let Some(hash) = self.hash_of(name_or_hash) {
			return Some(hash);
		}
		parse_hash(name_or_hash).filter(|h| self.contains(h))
	}

	/// All names and the hashes they point at, sorted by name.
	pub fn names(&self) -> Vec<(String, Hash)> {
		self.lock().iter().map(|(n, h)| (n.clone(), *h)).collect()
	}

	fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Hash>> {
		// The map is replaced whole after each successful write, so it is never half-updated.
		self.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
	}

	/// Write the index atomically: a temp file in the root, fsync, rename over the old one.
	fn write_index(&self, index: &BTreeMap<String, Hash>) -> Result<(), StoreError> {
		let on_disk =
			Index { adapters: index.iter().map(|(n, h)| (n.clone(), hex::encode(h.0))).collect() };
		let bytes = serde_json::to_vec_pretty(&on_disk).map_err(|e| StoreError::CorruptIndex {
			path: self.root.join(INDEX_FILE),
			message: e.to_string(),
		})?;
		let tmp = self.root.join(format!(".{INDEX_FILE}.{:016x}.tmp", rand::random::<u64>()));
		let write = || -> io::Result<()> {
			let mut f = fs::File::create(&tmp)?;
			f.write_all(&bytes)?;
			f.sync_all()
		};
		if let Err(e) = write() {
			let _ = fs::remove_file(&tmp);
			return Err(StoreError::Io { op: "write", path: tmp, source: e });
		}
		let dest = self.root.join(INDEX_FILE);
		if let Err(e) = fs::rename(&tmp, &dest) {
			let _ = fs::remove_file(&tmp);
			return Err(StoreError::Io { op: "rename", path: tmp, source: e });
		}
		sync_dir(&self.root)
	}
}

/// The artifact hash of the PEFT files in `dir` (the chain's rule; see the module doc).
pub fn hash_dir(dir: &Path) -> Result<Hash, StoreError> {
	let mut digests = Vec::with_capacity(ADAPTER_FILES.len());
	for file in ADAPTER_FILES {
		let path = dir.join(file);
		if !path.is_file() {
			return Err(StoreError::MissingFile(path));
		}
		digests.push((file, sha256_file(&path)?));
	}
	Ok(artifact_hash(&digests))
}

/// The sha256 of a file's bytes, read in chunks.
pub fn sha256_file(path: &Path) -> Result<[u8; 32], StoreError> {
	let mut f = fs::File::open(path).map_err(io_err("open", path))?;
	let mut hasher = Sha256::new();
	let mut buf = vec![0u8; 1 << 16];
	loop {
		let n = f.read(&mut buf).map_err(io_err("read", path))?;
		if n == 0 {
			break;
		}
		hasher.update(&buf[..n]);
	}
	Ok(hasher.finalize().into())
}

/// Parse a 32-byte hash written in hex, with or without `0x`.
pub fn parse_hash(s: &str) -> Option<Hash> {
	let s = s.strip_prefix("0x").unwrap_or(s);
	if s.len() != 64 {
		return None;
	}
	let mut out = [0u8; 32];
	hex::decode_to_slice(s, &mut out).ok()?;
	Some(Hash::from(out))
}

/// Check that `name` is usable as a model name.
pub fn check_name(name: &str) -> Result<(), StoreError> {
	let ok = !name.is_empty()
		&& name.len() <= MAX_NAME_LEN
		&& !name.chars().any(|c| c.is_whitespace() || c.is_control());
	if ok {
		Ok(())
	} else {
		Err(StoreError::InvalidName(name.to_string()))
	}
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
	move |source| StoreError::Io { op, path: path.to_path_buf(), source }
}

fn remove_dir(dir: &Path) -> Result<(), StoreError> {
	fs::remove_dir_all(dir).map_err(io_err("remove", dir))
}

/// fsync a folder so a rename in it survives a crash (a no-op where folders cannot be opened).
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
	match fs::File::open(dir) {
		Ok(f) => match f.sync_all() {
			Ok(()) => Ok(()),
			// Some file systems refuse fsync on folders; the rename is still ordered.
			Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
			Err(e) => Err(StoreError::Io { op: "sync", path: dir.to_path_buf(), source: e }),
		},
		Err(_) => Ok(()),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	use lineage_testkit::temp_dir;

	fn write_adapter(dir: &Path, config: &str, weights: &[u8]) {
		fs::create_dir_all(dir).expect("adapter dir");
		fs::write(dir.join("adapter_config.json"), config).expect("config");
		fs::write(dir.join("adapter_model.safetensors"), weights).expect("weights");
	}

	#[test]
	fn import_hashes_as_the_chain_does_and_persists_names() {
		let tmp_dir = temp_dir("store-import");
		let tmp = tmp_dir.path().to_path_buf();
		let src = tmp.join("src");
		write_adapter(&src, "{\"r\": 8}", b"weights");
		fs::write(src.join("README.md"), "ignored").expect("extra file");
		let store = AdapterStore::open(tmp.join("store")).expect("open");
		let hash = store.import_named("alpha", &src).expect("import");
		let expected = artifact_hash(&[
			("adapter_config.json", Sha256::digest(b"{\"r\": 8}").into()),
			("adapter_model.safetensors", Sha256::digest(b"weights").into()),
		]);
		assert_eq!(hash, expected);
		assert!(store.path_of(&hash).join("adapter_model.safetensors").is_file());
		assert!(!store.path_of(&hash).join("README.md").exists());
		store.verify(&hash).expect("verify");
		// Importing again is a no-op; a second name may share the bytes.
		assert_eq!(store.import_named("beta", &src).expect("again"), hash);
		assert!(matches!(store.import_named("alpha", &tmp), Err(StoreError::MissingFile(_))));

		let reopened = AdapterStore::open(tmp.join("store")).expect("reopen");
		assert_eq!(reopened.hash_of("alpha"), Some(hash));
		assert_eq!(reopened.resolve(&format!("0x{}", hex::encode(hash.0))), Some(hash));
		assert_eq!(reopened.names().len(), 2);
		fs::remove_dir_all(&tmp).ok();
	}

	#[test]
	fn verify_detects_tampering_and_names_guard_their_hash() {
		let tmp_dir = temp_dir("store-verify");
		let tmp = tmp_dir.path().to_path_buf();
		let store = AdapterStore::open(tmp.join("store")).expect("open");
		write_adapter(&tmp.join("a"), "{}", b"one");
		write_adapter(&tmp.join("b"), "{}", b"two");
		let a = store.import_named("a", &tmp.join("a")).expect("a");
		let b = store.import_dir(&tmp.join("b")).expect("b");
		assert!(matches!(store.set_name("a", b), Err(StoreError::NameTaken(_))));
		assert!(matches!(store.set_name("bad name", b), Err(StoreError::InvalidName(_))));
		fs::write(store.path_of(&a).join("adapter_model.safetensors"), b"evil").expect("tamper");
		assert!(matches!(store.verify(&a), Err(StoreError::HashMismatch { .. })));
		// Importing the good bytes again repairs the copy.
		assert_eq!(store.import_dir(&tmp.join("a")).expect("repair"), a);
		store.verify(&a).expect("repaired");

		assert!(!store.remove_unreferenced(&a).expect("still named"));
		assert_eq!(store.remove_name("a").expect("remove"), Some(a));
		assert_eq!(store.remove_name("a").expect("remove again"), None);
		assert!(store.remove_unreferenced(&a).expect("gc"));
		assert!(store.resolve("a").is_none());
		assert!(store.remove_unreferenced(&b).expect("gc b"));
		fs::remove_dir_all(&tmp).ok();
	}
}
