//! The contributor's upload signature: what a contributor signs when it hands a record's bytes
//! to a datanet's record store, and the headers that carry it. The store verifies it; wallets
//! and clients sign it.
//!
//! # The headers
//!
//! | header | value |
//! |---|---|
//! | `x-lineage-contributor` | the contributor's account: SS58 (any prefix), or `0x` and 64 hex digits |
//! | `x-lineage-signature` | the sr25519 signature, `0x` and 128 hex digits |
//!
//! # The signed message
//!
//! The signature is over the SCALE encoding of [`RecordUpload`], 116 bytes:
//!
//! | offset | bytes | field | value |
//! |---|---|---|---|
//! | 0 | 16 | `domain` | the ASCII bytes `lineage/record01` ([`DOMAIN`]) |
//! | 16 | 32 | `genesis_hash` | the chain's genesis block hash |
//! | 48 | 4 | `datanet` | the datanet id, little-endian `u32` |
//! | 52 | 32 | `contributor` | the contributor's account id (their sr25519 public key) |
//! | 84 | 32 | `content_hash` | sha-256 of the record's bytes (the hash it contributes on chain) |
//!
//! As with payer requests, a signature over `<Bytes>` + message + `</Bytes>` (what the
//! polkadot.js extensions' `signRaw` signs) is accepted too. The message names one record of
//! one datanet on one chain, so a replay can only upload the same bytes again for the same
//! contributor: harmless, so there is no nonce.

use crate::payer::verify_wallet_signature;
use codec::{Decode, Encode};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;

/// The header naming the contributor: an SS58 address (any prefix) or `0x` and 64 hex digits.
pub const CONTRIBUTOR_HEADER: &str = "x-lineage-contributor";
/// The header with the sr25519 signature: `0x` and 128 hex digits (the payer's header name).
pub const SIGNATURE_HEADER: &str = crate::payer::SIGNATURE_HEADER;

/// The first 16 bytes of every upload message: `lineage/record01` in ASCII, so that no other
/// signed Lineage payload is a valid upload signature.
pub const DOMAIN: [u8; 16] = *b"lineage/record01";

/// What a contributor signs to upload a record: its SCALE encoding is the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RecordUpload {
	/// Always [`DOMAIN`].
	pub domain: [u8; 16],
	/// The chain's genesis block hash.
	pub genesis_hash: [u8; 32],
	/// The datanet the record is contributed to.
	pub datanet: u32,
	/// The contributor's account id.
	pub contributor: [u8; 32],
	/// sha-256 of the record's bytes.
	pub content_hash: [u8; 32],
}

impl RecordUpload {
	/// The upload of the record hashing to `content_hash` to `datanet` by `contributor`.
	pub fn new(
		genesis_hash: [u8; 32],
		datanet: u32,
		contributor: [u8; 32],
		content_hash: [u8; 32],
	) -> Self {
		RecordUpload { domain: DOMAIN, genesis_hash, datanet, contributor, content_hash }
	}

	/// The bytes signed: the SCALE encoding (116 bytes, laid out in the module's docs).
	pub fn message(&self) -> Vec<u8> {
		self.encode()
	}

	/// Whether `signature` is the contributor's sr25519 signature over the message, raw or
	/// wrapped as the polkadot.js extensions' `signRaw` wraps it.
	pub fn verify(&self, signature: &[u8; 64]) -> bool {
		verify_wallet_signature(&self.contributor, &self.message(), signature)
	}
}

/// The two upload headers for the record hashing to `content_hash`, signed by `signer` for
/// `datanet` on the chain with `genesis_hash`. The account goes in SS58 (prefix 42).
pub fn sign_upload(
	signer: &Keypair,
	genesis_hash: [u8; 32],
	datanet: u32,
	content_hash: [u8; 32],
) -> [(&'static str, String); 2] {
	let contributor = signer.public_key().0;
	let upload = RecordUpload::new(genesis_hash, datanet, contributor, content_hash);
	let signature = signer.sign(&upload.message());
	[
		(CONTRIBUTOR_HEADER, AccountId32(contributor).to_string()),
		(SIGNATURE_HEADER, format!("0x{}", hex::encode(signature.0))),
	]
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::payer::{WRAP_PREFIX, WRAP_SUFFIX};
	use subxt_signer::sr25519::dev;

	#[test]
	fn the_message_is_laid_out_as_documented() {
		let upload = RecordUpload::new([1; 32], 0x0403_0201, [2; 32], [3; 32]);
		let m = upload.message();
		assert_eq!(m.len(), 116);
		assert_eq!(&m[..16], b"lineage/record01");
		assert_eq!(&m[16..48], &[1; 32]);
		assert_eq!(&m[48..52], &[1, 2, 3, 4]);
		assert_eq!(&m[52..84], &[2; 32]);
		assert_eq!(&m[84..], &[3; 32]);
	}

	#[test]
	fn signatures_verify_for_their_record_only() {
		let alice = dev::alice();
		let [(_, who), (_, sig)] = sign_upload(&alice, [9; 32], 4, [5; 32]);
		assert_eq!(crate::payer::parse_account(&who).unwrap(), alice.public_key().0);
		let mut signature = [0u8; 64];
		hex::decode_to_slice(sig.trim_start_matches("0x"), &mut signature).unwrap();
		let upload = RecordUpload::new([9; 32], 4, alice.public_key().0, [5; 32]);
		assert!(upload.verify(&signature));
		// Another record, datanet, chain or contributor: refused.
		assert!(!RecordUpload { content_hash: [6; 32], ..upload }.verify(&signature));
		assert!(!RecordUpload { datanet: 5, ..upload }.verify(&signature));
		assert!(!RecordUpload { genesis_hash: [8; 32], ..upload }.verify(&signature));
		assert!(
			!RecordUpload { contributor: dev::bob().public_key().0, ..upload }.verify(&signature)
		);
		// The polkadot.js `signRaw` wrapping is accepted.
		let wrapped = alice.sign(&[WRAP_PREFIX, &upload.message(), WRAP_SUFFIX].concat());
		assert!(upload.verify(&wrapped.0));
	}
}
