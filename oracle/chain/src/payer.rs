//! The payer's request signature: what a payer signs for each inference request, and the
//! headers that carry it. The oracle verifies it (its HTTP layer); wallets and clients sign it.
//!
//! A request names its payer, and the payer proves it by signing the request with their sr25519
//! wallet key (what a wallet's `signRaw` does). The oracle checks the signature before any
//! inference.
//!
//! # The headers
//!
//! | header | value |
//! |---|---|
//! | `x-lineage-payer` | the payer's account: SS58 (any prefix), or `0x` and 64 hex digits |
//! | `x-lineage-timestamp` | when the request was signed, Unix milliseconds, decimal |
//! | `x-lineage-nonce` | a number the payer never reuses, `u64`, decimal |
//! | `x-lineage-signature` | the sr25519 signature, `0x` and 128 hex digits |
//!
//! Their names are [`PAYER_HEADER`], [`TIMESTAMP_HEADER`], [`NONCE_HEADER`] and
//! [`SIGNATURE_HEADER`].
//!
//! # The signed message
//!
//! The signature is over the SCALE encoding of [`PayerAuthorization`], 160 bytes:
//!
//! | offset | bytes | field | value |
//! |---|---|---|---|
//! | 0 | 16 | `domain` | the ASCII bytes `lineage/request1` ([`DOMAIN`]) |
//! | 16 | 32 | `genesis_hash` | the chain's genesis block hash |
//! | 48 | 32 | `operator` | the operator's account id (the oracle's on-chain operator) |
//! | 80 | 32 | `payer` | the payer's account id (their sr25519 public key) |
//! | 112 | 8 | `timestamp_ms` | `x-lineage-timestamp`, little-endian `u64` |
//! | 120 | 8 | `nonce` | `x-lineage-nonce`, little-endian `u64` |
//! | 128 | 32 | `body_sha256` | sha256 of the request body exactly as sent |
//!
//! A signature over `<Bytes>` + message + `</Bytes>` is accepted too: that is what the
//! polkadot.js extensions' `signRaw({type: "bytes", data})` signs. The genesis hash and the
//! operator inside the message keep a signature from being replayed on another chain or to
//! another operator; the nonce keeps it from being replayed to this one (the caller remembers
//! nonces); the timestamp bounds how long a nonce must be remembered.

use codec::{Decode, Encode};
use sha2::{Digest, Sha256};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::{self, Keypair, PublicKey, Signature};

/// The header naming the payer: an SS58 address (any prefix) or `0x` and 64 hex digits.
pub const PAYER_HEADER: &str = "x-lineage-payer";
/// The header with the signing time: Unix milliseconds, decimal.
pub const TIMESTAMP_HEADER: &str = "x-lineage-timestamp";
/// The header with the payer's nonce: a `u64`, decimal, never reused by the same payer.
pub const NONCE_HEADER: &str = "x-lineage-nonce";
/// The header with the sr25519 signature: `0x` and 128 hex digits.
pub const SIGNATURE_HEADER: &str = "x-lineage-signature";

/// The first 16 bytes of every signed message: `lineage/request1` in ASCII. It keeps a request
/// signature from being valid as any other kind of signed payload (and names the version).
pub const DOMAIN: [u8; 16] = *b"lineage/request1";

/// How far a request's timestamp may be from the server's clock, either way: five minutes.
pub const DEFAULT_MAX_SKEW_MS: u64 = 300_000;

/// What the polkadot.js extensions' `signRaw` puts before the message it signs.
pub const WRAP_PREFIX: &[u8] = b"<Bytes>";
/// What the polkadot.js extensions' `signRaw` puts after the message it signs.
pub const WRAP_SUFFIX: &[u8] = b"</Bytes>";

/// What the payer signs: its SCALE encoding ([`PayerAuthorization::message`]) is the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PayerAuthorization {
	/// Always [`DOMAIN`].
	pub domain: [u8; 16],
	/// The chain's genesis block hash.
	pub genesis_hash: [u8; 32],
	/// The operator's account id.
	pub operator: [u8; 32],
	/// The payer's account id (their sr25519 public key).
	pub payer: [u8; 32],
	/// When the request was signed, Unix milliseconds.
	pub timestamp_ms: u64,
	/// A number the payer never reuses.
	pub nonce: u64,
	/// sha256 of the request body exactly as sent.
	pub body_sha256: [u8; 32],
}

impl PayerAuthorization {
	/// The authorization of `body` by `payer`, for `operator` on the chain with `genesis_hash`.
	pub fn new(
		genesis_hash: [u8; 32],
		operator: [u8; 32],
		payer: [u8; 32],
		timestamp_ms: u64,
		nonce: u64,
		body: &[u8],
	) -> Self {
		PayerAuthorization {
			domain: DOMAIN,
			genesis_hash,
			operator,
			payer,
			timestamp_ms,
			nonce,
			body_sha256: Sha256::digest(body).into(),
		}
	}

	/// The bytes signed: the SCALE encoding (160 bytes, laid out in the module's docs).
	pub fn message(&self) -> Vec<u8> {
		self.encode()
	}

	/// The message as polkadot.js extensions' `signRaw` signs it: `<Bytes>` + message +
	/// `</Bytes>`.
	pub fn wrapped_message(&self) -> Vec<u8> {
		[WRAP_PREFIX, &self.message(), WRAP_SUFFIX].concat()
	}
}

/// Whether `signature` is `payer`'s sr25519 signature over `auth`'s message, raw or wrapped as
/// polkadot.js extensions' `signRaw` wraps it.
pub fn verify_signature(auth: &PayerAuthorization, signature: &[u8; 64]) -> bool {
	verify_wallet_signature(&auth.payer, &auth.message(), signature)
}

/// Whether `signature` is the sr25519 signature of the key `public` over `message`, raw or
/// wrapped in `<Bytes>`…`</Bytes>` as the polkadot.js extensions' `signRaw` signs it: how every
/// wallet-signed Lineage message (payer requests, record uploads) is checked.
pub fn verify_wallet_signature(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
	let public = PublicKey(*public);
	let signature = Signature(*signature);
	sr25519::verify(&signature, message, &public)
		|| sr25519::verify(&signature, [WRAP_PREFIX, message, WRAP_SUFFIX].concat(), &public)
}

/// The four payer headers for `body`, signed by `signer` (the raw message, not wrapped), for the
/// operator `operator` on the chain with `genesis_hash`. The account goes in SS58 (prefix 42).
pub fn sign_request(
	signer: &Keypair,
	genesis_hash: [u8; 32],
	operator: [u8; 32],
	body: &[u8],
	timestamp_ms: u64,
	nonce: u64,
) -> Vec<(&'static str, String)> {
	let payer = signer.public_key().0;
	let auth = PayerAuthorization::new(genesis_hash, operator, payer, timestamp_ms, nonce, body);
	let signature = signer.sign(&auth.message());
	vec![
		(PAYER_HEADER, AccountId32(payer).to_string()),
		(TIMESTAMP_HEADER, timestamp_ms.to_string()),
		(NONCE_HEADER, nonce.to_string()),
		(SIGNATURE_HEADER, format!("0x{}", hex::encode(signature.0))),
	]
}

/// An account id from an SS58 address (any network prefix) or `0x` and 64 hex digits; the error
/// says what was expected.
pub fn parse_account(s: &str) -> Result<[u8; 32], AccountParseError> {
	if let Some(hex) = s.strip_prefix("0x") {
		let mut account = [0u8; 32];
		hex::decode_to_slice(hex, &mut account)
			.map_err(|e| AccountParseError(format!("expected 0x and 64 hex digits ({e})")))?;
		return Ok(account);
	}
	s.parse::<AccountId32>().map(|a| a.0).map_err(|e| {
		AccountParseError(format!("expected an SS58 address or 0x and 64 hex digits; as SS58: {e}"))
	})
}

/// Text that is not an account id; the message says what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AccountParseError(pub String);
