//! The operator's sr25519 key: it signs usage batches and the operator's extrinsics (the
//! operator account and its batch-signing key are one key pair).
//!
//! A key file holds the 32-byte secret seed as `0x` + 64 hex digits and a newline (the "secret
//! seed" `subkey` prints), readable by its owner only: [`load_key_file`] refuses a file that its
//! group or others may read. Dev keys come from a secret URI (`//Alice`, a mnemonic with a
//! derivation path) through [`keypair_from_suri`].

use std::{
	io::Write,
	path::{Path, PathBuf},
	str::FromStr,
};

use subxt::utils::AccountId32;
use subxt_signer::{sr25519::Keypair, SecretUri};

/// What can go wrong with a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
	/// The key file could not be read or written.
	#[error("key file {path}: {message}")]
	Io {
		/// The file.
		path: PathBuf,
		/// What failed.
		message: String,
	},
	/// The key file is readable by others.
	#[error(
		"key file {path} is readable by its group or others (mode {mode:o}): run `chmod 600 {path}`"
	)]
	Permissions {
		/// The file.
		path: PathBuf,
		/// Its permission bits.
		mode: u32,
	},
	/// The key file's content is not a secret seed.
	#[error("key file {path} does not hold a secret seed (0x + 64 hex digits): {message}")]
	Malformed {
		/// The file.
		path: PathBuf,
		/// What is wrong.
		message: String,
	},
	/// The file already exists (generate never overwrites a key).
	#[error("{0} already exists: generate never overwrites a key; choose another path")]
	Exists(PathBuf),
	/// The secret URI is not valid.
	#[error("secret URI {uri:?}: {message}")]
	Suri {
		/// The URI given (dev URIs only are echoed; see [`keypair_from_suri`]).
		uri: String,
		/// What is wrong.
		message: String,
	},
}

/// The account (and batch-signing key) of a key pair.
pub fn account_of(key: &Keypair) -> AccountId32 {
	key.public_key().into()
}

/// A key pair from a secret URI (`//Alice`, `//Oracle`, a mnemonic phrase with an optional
/// `//derivation` and `///password`).
pub fn keypair_from_suri(suri: &str) -> Result<Keypair, KeyError> {
	// Echo only dev URIs: a phrase is a secret.
	let shown = if suri.starts_with("//") { suri.to_string() } else { "<phrase>".to_string() };
	let uri = SecretUri::from_str(suri)
		.map_err(|e| KeyError::Suri { uri: shown.clone(), message: e.to_string() })?;
	Keypair::from_uri(&uri).map_err(|e| KeyError::Suri { uri: shown, message: e.to_string() })
}

/// Generates a new key with the operating system's randomness and writes it to `path` (mode
/// 0600, created new; an existing file is an error).
pub fn generate_key_file(path: &Path) -> Result<Keypair, KeyError> {
	let io = |e: std::io::Error| KeyError::Io { path: path.to_path_buf(), message: e.to_string() };
	if path.exists() {
		return Err(KeyError::Exists(path.to_path_buf()));
	}
	let seed: [u8; 32] = rand::random();
	let key = Keypair::from_secret_key(seed)
		.map_err(|e| KeyError::Malformed { path: path.to_path_buf(), message: e.to_string() })?;
	if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
		std::fs::create_dir_all(dir).map_err(io)?;
	}
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create_new(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	let mut file = options.open(path).map_err(io)?;
	writeln!(file, "0x{}", hex::encode(seed)).map_err(io)?;
	file.sync_all().map_err(io)?;
	Ok(key)
}

/// Reads the key in `path`, refusing a file its group or others can read.
pub fn load_key_file(path: &Path) -> Result<Keypair, KeyError> {
	let io = |e: std::io::Error| KeyError::Io { path: path.to_path_buf(), message: e.to_string() };
	#[cfg(unix)]
	{
		use std::os::unix::fs::PermissionsExt;
		let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
		if mode & 0o077 != 0 {
			return Err(KeyError::Permissions { path: path.to_path_buf(), mode: mode & 0o777 });
		}
	}
	let text = std::fs::read_to_string(path).map_err(io)?;
	let malformed = |message: String| KeyError::Malformed { path: path.to_path_buf(), message };
	let hex_seed =
		text.trim().strip_prefix("0x").ok_or_else(|| malformed("no 0x prefix".into()))?;
	let bytes = hex::decode(hex_seed).map_err(|e| malformed(e.to_string()))?;
	let seed: [u8; 32] =
		bytes.try_into().map_err(|b: Vec<u8>| malformed(format!("{} bytes, not 32", b.len())))?;
	Keypair::from_secret_key(seed).map_err(|e| malformed(e.to_string()))
}

/// A key named on the command line: a key file, or a secret URI for development.
#[derive(Clone, Debug)]
pub enum KeySource {
	/// A key file ([`load_key_file`]).
	File(PathBuf),
	/// A secret URI ([`keypair_from_suri`]).
	Suri(String),
}

impl KeySource {
	/// The key a `--key-file` or a `--suri` option names (the file when both are given).
	pub fn from_options(key_file: Option<&Path>, suri: Option<&str>) -> Option<KeySource> {
		match (key_file, suri) {
			(Some(f), _) => Some(KeySource::File(f.to_path_buf())),
			(None, Some(s)) => Some(KeySource::Suri(s.to_string())),
			(None, None) => None,
		}
	}

	/// Loads the key pair.
	pub fn load(&self) -> Result<Keypair, KeyError> {
		match self {
			KeySource::File(path) => load_key_file(path),
			KeySource::Suri(suri) => keypair_from_suri(suri),
		}
	}
}

/// Public facts about a key, as `key inspect` prints them.
pub fn describe(key: &Keypair) -> String {
	let account = account_of(key);
	format!(
		"account (SS58, prefix 42): {account}\npublic key (sr25519):      0x{}",
		hex::encode(key.public_key().0)
	)
}

#[cfg(test)]
mod tests {
	use super::*;

	use lineage_testkit::temp_dir;

	#[test]
	fn generated_key_reloads_and_is_private() {
		let dir = temp_dir("keys-gen");
		let path = dir.path().join("operator.key");
		let _ = std::fs::remove_file(&path);
		let key = generate_key_file(&path).expect("generated");
		let again = load_key_file(&path).expect("loaded");
		assert_eq!(key.public_key().0, again.public_key().0);
		assert!(matches!(generate_key_file(&path), Err(KeyError::Exists(_))));
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
			let err = load_key_file(&path).expect_err("a readable key file is refused");
			assert!(err.to_string().contains("chmod 600"), "{err}");
		}
		let _ = std::fs::remove_file(&path);
	}

	#[test]
	fn malformed_key_file_is_refused() {
		let dir = temp_dir("keys-bad");
		let path = dir.path().join("operator.key");
		let _ = std::fs::remove_file(&path);
		std::fs::write(&path, "0x1234\n").unwrap();
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
		}
		let err = load_key_file(&path).expect_err("refused");
		assert!(err.to_string().contains("2 bytes, not 32"), "{err}");
		let _ = std::fs::remove_file(&path);
	}

	#[test]
	fn dev_suri_is_alice() {
		let alice = keypair_from_suri("//Alice").expect("dev uri");
		assert_eq!(alice.public_key().0, subxt_signer::sr25519::dev::alice().public_key().0);
		assert!(keypair_from_suri("not a phrase").is_err());
	}
}
