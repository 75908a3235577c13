//! The payer's request signature: what a payer signs for each inference request, and the
//! headers that carry it. The oracle verifies it (its HTTP layer); wallets and clients sign it.
//!
//! A request names its payer, and the payer proves it by signing the request with their sr25519
//! wallet key (what a wallet's `signRaw` does). The signature is also the payer's *voucher*: it
//! names a spend limit, the most the operator may have charged the payer in total once this
//! request is paid, and the chain refuses any usage batch that charges the payer beyond the
//! highest limit they signed ([`lineage_primitives::payer`]).
//!
//! # The headers
//!
//! | header | value |
//! |---|---|
//! | `x-lineage-payer` | the payer's account: SS58 (any prefix), or `0x` and 64 hex digits |
//! | `x-lineage-timestamp` | when the request was signed, Unix milliseconds, decimal |
//! | `x-lineage-nonce` | a number the payer never reuses, `u64`, decimal |
//! | `x-lineage-spend-limit` | the most this operator may have charged the payer in total, in the smallest unit, `u128`, decimal |
//! | `x-lineage-signature` | the sr25519 signature, `0x` and 128 hex digits |
//!
//! Their names are [`PAYER_HEADER`], [`TIMESTAMP_HEADER`], [`NONCE_HEADER`],
//! [`SPEND_LIMIT_HEADER`] and [`SIGNATURE_HEADER`]. The oracle answers a paid request with
//! [`SPENT_HEADER`]: what it counts against the payer's limit so far, this request included at
//! its most; a client signs its next request with that plus what it allows the next to cost.
//!
//! # The signed message
//!
//! The SCALE encoding of [`PayerAuthorization`], 208 bytes, laid out in
//! [`lineage_primitives::payer`]: the domain `lineage/request2`, the chain's genesis hash, the
//! operator, the payer, the timestamp, the nonce, the spend limit, sha256 of the HTTP method and
//! path (`POST /v1/chat/completions`) and sha256 of the body exactly as sent.
//!
//! A signature over `<Bytes>` + message + `</Bytes>` is accepted too: that is what the
//! polkadot.js extensions' `signRaw({type: "bytes", data})` signs. The genesis hash and the
//! operator inside the message keep a signature from being replayed on another chain or to
//! another operator; the method and path keep it to one route; the nonce keeps it from being
//! replayed to this one (the caller remembers nonces); the timestamp bounds how long a nonce
//! must be remembered.

use sha2::{Digest, Sha256};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::{self, Keypair, PublicKey, Signature};

pub use lineage_primitives::payer::{
	target_sha256, REQUEST_DOMAIN as DOMAIN, WRAP_PREFIX, WRAP_SUFFIX,
};

/// The header naming the payer: an SS58 address (any prefix) or `0x` and 64 hex digits.
pub const PAYER_HEADER: &str = "x-lineage-payer";
/// The header with the signing time: Unix milliseconds, decimal.
pub const TIMESTAMP_HEADER: &str = "x-lineage-timestamp";
/// The header with the payer's nonce: a `u64`, decimal, never reused by the same payer.
pub const NONCE_HEADER: &str = "x-lineage-nonce";
/// The header with the payer's spend limit: a `u128`, decimal.
pub const SPEND_LIMIT_HEADER: &str = "x-lineage-spend-limit";
/// The header with the sr25519 signature: `0x` and 128 hex digits.
pub const SIGNATURE_HEADER: &str = "x-lineage-signature";
/// The response header with what the oracle counts against the payer's spend limit so far
/// (on chain, in batches not yet on chain, and in flight, this request at its most): decimal.
pub const SPENT_HEADER: &str = "x-lineage-spent";

/// How far a request's timestamp may be from the server's clock, either way: five minutes.
pub const DEFAULT_MAX_SKEW_MS: u64 = 300_000;

/// What the payer signs, in raw 32-byte account ids and genesis hash: its SCALE encoding
/// ([`lineage_primitives::payer::PayerAuthorization::message`]) is the message.
pub type PayerAuthorization = lineage_primitives::payer::PayerAuthorization<[u8; 32], [u8; 32]>;

/// One request as its payer signs it: everything in the message but the chain, the operator and
/// the payer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestToSign<'a> {
	/// The HTTP method (`POST`).
	pub method: &'a str,
	/// The path (`/v1/chat/completions`), without the query.
	pub path: &'a str,
	/// The body exactly as sent.
	pub body: &'a [u8],
	/// When it is signed, Unix milliseconds.
	pub timestamp_ms: u64,
	/// A number the payer never reuses.
	pub nonce: u64,
	/// The most the operator may have charged the payer in total once this request is paid.
	pub spend_limit: u128,
}

/// The authorisation of `request` by `payer`, for `operator` on the chain with `genesis_hash`.
pub fn authorization(
	genesis_hash: [u8; 32],
	operator: [u8; 32],
	payer: [u8; 32],
	request: &RequestToSign<'_>,
) -> PayerAuthorization {
	PayerAuthorization {
		domain: DOMAIN,
		genesis_hash,
		operator,
		payer,
		timestamp_ms: request.timestamp_ms,
		nonce: request.nonce,
		spend_limit: request.spend_limit,
		target_sha256: target_sha256(request.method, request.path),
		body_sha256: Sha256::digest(request.body).into(),
	}
}

/// How `signature` signs `auth`'s message for its payer: `Some(false)` over the raw message,
/// `Some(true)` over the `<Bytes>`-wrapped one (a wallet's `signRaw`), `None` when it does not.
pub fn verify_signature(auth: &PayerAuthorization, signature: &[u8; 64]) -> Option<bool> {
	let public = PublicKey(auth.payer);
	let signature = Signature(*signature);
	if sr25519::verify(&signature, auth.message(), &public) {
		Some(false)
	} else if sr25519::verify(&signature, auth.wrapped_message(), &public) {
		Some(true)
	} else {
		None
	}
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

/// The five payer headers for `request`, signed by `signer` (the raw message, not wrapped), for
/// the operator `operator` on the chain with `genesis_hash`. The account goes in SS58 (prefix
/// 42).
pub fn sign_request(
	signer: &Keypair,
	genesis_hash: [u8; 32],
	operator: [u8; 32],
	request: &RequestToSign<'_>,
) -> Vec<(&'static str, String)> {
	let payer = signer.public_key().0;
	let auth = authorization(genesis_hash, operator, payer, request);
	let signature = signer.sign(&auth.message());
	vec![
		(PAYER_HEADER, AccountId32(payer).to_string()),
		(TIMESTAMP_HEADER, request.timestamp_ms.to_string()),
		(NONCE_HEADER, request.nonce.to_string()),
		(SPEND_LIMIT_HEADER, request.spend_limit.to_string()),
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
