//! What a payer signs: the authorisation of one inference request, which is also the payer's
//! *voucher* — "operator O may have charged me at most `spend_limit` in total" — that the chain
//! checks before it charges the payer's escrow.
//!
//! The oracle checks the signature of every request before any inference and keeps it with the
//! request's usage record; each usage batch carries, for each payer in it, one of the payer's
//! signed authorisations (the one with the highest spend limit) as a [`PayerVoucher`]. The usage
//! pallet verifies it and never lets the operator's charges to that payer, over all batches,
//! exceed its spend limit. Spend limits are cumulative: a client raises its limit by what each
//! request may cost, so the latest signature bounds everything the operator may ever take.
//!
//! # The signed message
//!
//! The SCALE encoding of [`PayerAuthorization`], 208 bytes on Lineage:
//!
//! | offset | bytes | field | value |
//! |---|---|---|---|
//! | 0 | 16 | `domain` | the ASCII bytes `lineage/request2` ([`REQUEST_DOMAIN`]) |
//! | 16 | 32 | `genesis_hash` | the chain's genesis block hash |
//! | 48 | 32 | `operator` | the operator's account id |
//! | 80 | 32 | `payer` | the payer's account id (their public key) |
//! | 112 | 8 | `timestamp_ms` | when the request was signed, Unix ms, little-endian `u64` |
//! | 120 | 8 | `nonce` | a number the payer never reuses, little-endian `u64` |
//! | 128 | 16 | `spend_limit` | the most this operator may have charged the payer in total, little-endian `u128` |
//! | 144 | 32 | `target_sha256` | sha256 of the HTTP method, a space and the path (`POST /v1/chat/completions`) |
//! | 176 | 32 | `body_sha256` | sha256 of the request body exactly as sent |
//!
//! A signature over `<Bytes>` + message + `</Bytes>` counts too ([`PayerVoucher::wrapped`]):
//! that is what the polkadot.js extensions' `signRaw({type: "bytes", data})` signs, so a payer
//! can sign from a browser wallet.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::sp_runtime::traits::Verify;
use scale_info::TypeInfo;

/// The first 16 bytes of every payer-signed request: `lineage/request2` in ASCII. It keeps a
/// request signature from being valid as any other kind of signed payload (and names the
/// version: `request1` had no spend limit).
pub const REQUEST_DOMAIN: [u8; 16] = *b"lineage/request2";

/// What the polkadot.js extensions' `signRaw` puts before the message it signs.
pub const WRAP_PREFIX: &[u8] = b"<Bytes>";
/// What the polkadot.js extensions' `signRaw` puts after the message it signs.
pub const WRAP_SUFFIX: &[u8] = b"</Bytes>";

/// What a payer signs for one request; its SCALE encoding is the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PayerAuthorization<AccountId, Hash> {
	/// Always [`REQUEST_DOMAIN`].
	pub domain: [u8; 16],
	/// The chain's genesis block hash.
	pub genesis_hash: Hash,
	/// The operator's account id.
	pub operator: AccountId,
	/// The payer's account id.
	pub payer: AccountId,
	/// When the request was signed, Unix milliseconds.
	pub timestamp_ms: u64,
	/// A number the payer never reuses.
	pub nonce: u64,
	/// The most the operator may have charged the payer in total, over all batches, once this
	/// request is paid for.
	pub spend_limit: u128,
	/// sha256 of the HTTP method, one space and the path ([`target_sha256`]).
	pub target_sha256: [u8; 32],
	/// sha256 of the request body exactly as sent.
	pub body_sha256: [u8; 32],
}

impl<AccountId: Encode, Hash: Encode> PayerAuthorization<AccountId, Hash> {
	/// The bytes signed: the SCALE encoding (laid out in the module's docs).
	pub fn message(&self) -> Vec<u8> {
		self.encode()
	}

	/// The message as polkadot.js extensions' `signRaw` signs it: `<Bytes>` + message +
	/// `</Bytes>`.
	pub fn wrapped_message(&self) -> Vec<u8> {
		[WRAP_PREFIX, &self.message(), WRAP_SUFFIX].concat()
	}
}

/// sha256 of `method`, one space and `path` (`POST /v1/completions`): what
/// [`PayerAuthorization::target_sha256`] holds, so a signature for one route is not valid for
/// another.
pub fn target_sha256(method: &str, path: &str) -> [u8; 32] {
	let mut target = Vec::with_capacity(method.len() + 1 + path.len());
	target.extend_from_slice(method.as_bytes());
	target.push(b' ');
	target.extend_from_slice(path.as_bytes());
	polkadot_sdk::sp_crypto_hashing::sha2_256(&target)
}

/// A payer's signed authorisation as a usage batch carries it: everything in the message except
/// what the chain knows (the domain, its genesis hash, the batch's operator), and the signature.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct PayerVoucher<AccountId, Signature> {
	/// The payer.
	pub payer: AccountId,
	/// The signed request's timestamp, Unix ms.
	pub timestamp_ms: u64,
	/// The signed request's nonce.
	pub nonce: u64,
	/// The most the operator may have charged the payer in total.
	pub spend_limit: u128,
	/// sha256 of the signed request's method and path.
	pub target_sha256: [u8; 32],
	/// sha256 of the signed request's body.
	pub body_sha256: [u8; 32],
	/// Whether the signature is over the `<Bytes>`-wrapped message (a wallet's `signRaw`).
	pub wrapped: bool,
	/// The payer's signature.
	pub signature: Signature,
}

/// A voucher in Lineage's account and signature types, as the oracle journals it and the
/// runtime checks it.
pub type Voucher = PayerVoucher<crate::AccountId, crate::Signature>;

/// A raw sr25519 signature (64 bytes) as Lineage's [`crate::Signature`].
pub fn sr25519_signature(raw: [u8; 64]) -> crate::Signature {
	crate::Signature::Sr25519(polkadot_sdk::sp_core::sr25519::Signature::from_raw(raw))
}

impl<AccountId, Signature> PayerVoucher<AccountId, Signature> {
	/// The voucher of `auth` with its payer's `signature`, over the `<Bytes>`-wrapped message
	/// when `wrapped`: what a batch carries of a verified request (the inverse of
	/// [`PayerVoucher::authorization`]).
	pub fn signed<Payer: Into<AccountId>, Hash>(
		auth: PayerAuthorization<Payer, Hash>,
		wrapped: bool,
		signature: Signature,
	) -> Self {
		PayerVoucher {
			payer: auth.payer.into(),
			timestamp_ms: auth.timestamp_ms,
			nonce: auth.nonce,
			spend_limit: auth.spend_limit,
			target_sha256: auth.target_sha256,
			body_sha256: auth.body_sha256,
			wrapped,
			signature,
		}
	}
}

impl<AccountId: Clone + Encode, Signature> PayerVoucher<AccountId, Signature> {
	/// The authorisation this voucher signs, for `operator` on the chain with `genesis_hash`.
	pub fn authorization<Hash>(
		&self,
		genesis_hash: Hash,
		operator: AccountId,
	) -> PayerAuthorization<AccountId, Hash> {
		PayerAuthorization {
			domain: REQUEST_DOMAIN,
			genesis_hash,
			operator,
			payer: self.payer.clone(),
			timestamp_ms: self.timestamp_ms,
			nonce: self.nonce,
			spend_limit: self.spend_limit,
			target_sha256: self.target_sha256,
			body_sha256: self.body_sha256,
		}
	}

	/// Whether the signature is the payer's over this voucher's authorisation for `operator` on
	/// the chain with `genesis_hash` (over the wrapped message when [`PayerVoucher::wrapped`]):
	/// one signature check.
	pub fn verify<Hash: Encode>(&self, genesis_hash: Hash, operator: AccountId) -> bool
	where
		Signature: Verify,
		<Signature::Signer as polkadot_sdk::sp_runtime::traits::IdentifyAccount>::AccountId:
			From<AccountId>,
	{
		let auth = self.authorization(genesis_hash, operator);
		let message = if self.wrapped { auth.wrapped_message() } else { auth.message() };
		self.signature.verify(message.as_slice(), &self.payer.clone().into())
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{AccountId, Signature};
	use polkadot_sdk::sp_core::{sr25519, Pair, H256};

	fn voucher(
		pair: &sr25519::Pair,
		wrapped: bool,
		genesis: H256,
		operator: &AccountId,
	) -> PayerVoucher<AccountId, Signature> {
		let mut v = PayerVoucher {
			payer: AccountId::from(pair.public()),
			timestamp_ms: 1_750_000_000_000,
			nonce: 42,
			spend_limit: 1_000_000,
			target_sha256: target_sha256("POST", "/v1/chat/completions"),
			body_sha256: [3; 32],
			wrapped,
			signature: Signature::Sr25519(sr25519::Signature::from_raw([0; 64])),
		};
		let auth = v.authorization(genesis, operator.clone());
		let message = if wrapped { auth.wrapped_message() } else { auth.message() };
		v.signature = Signature::Sr25519(pair.sign(&message));
		v
	}

	#[test]
	fn message_is_the_documented_layout() {
		let payer = AccountId::new([2; 32]);
		let operator = AccountId::new([9; 32]);
		let auth = PayerAuthorization {
			domain: REQUEST_DOMAIN,
			genesis_hash: H256::repeat_byte(7),
			operator: operator.clone(),
			payer: payer.clone(),
			timestamp_ms: 5,
			nonce: 6,
			spend_limit: 7,
			target_sha256: [8; 32],
			body_sha256: [9; 32],
		};
		let expected = [
			&b"lineage/request2"[..],
			&[7; 32],
			&[9; 32],
			&[2; 32],
			&5u64.to_le_bytes(),
			&6u64.to_le_bytes(),
			&7u128.to_le_bytes(),
			&[8; 32],
			&[9; 32],
		]
		.concat();
		assert_eq!(auth.message(), expected);
		assert_eq!(expected.len(), 208);
		assert_eq!(auth.wrapped_message(), [&b"<Bytes>"[..], &expected, b"</Bytes>"].concat());
		assert_eq!(
			target_sha256("POST", "/v1/completions"),
			polkadot_sdk::sp_crypto_hashing::sha2_256(b"POST /v1/completions")
		);
	}

	#[test]
	fn a_voucher_verifies_for_its_chain_and_operator_only() {
		let pair = sr25519::Pair::from_seed(&[1; 32]);
		let genesis = H256::repeat_byte(7);
		let operator = AccountId::new([9; 32]);
		for wrapped in [false, true] {
			let v = voucher(&pair, wrapped, genesis, &operator);
			assert!(v.verify(genesis, operator.clone()));
			assert!(!v.verify(H256::repeat_byte(8), operator.clone()), "another chain");
			assert!(!v.verify(genesis, AccountId::new([8; 32])), "another operator");
			let mut raised = v.clone();
			raised.spend_limit += 1;
			assert!(!raised.verify(genesis, operator.clone()), "a raised limit");
			let mut flipped = v.clone();
			flipped.wrapped = !wrapped;
			assert!(!flipped.verify(genesis, operator.clone()), "the other wrapping");
			let mut other = v.clone();
			other.payer = AccountId::new([5; 32]);
			assert!(!other.verify(genesis, operator.clone()), "another payer named");
		}
	}
}
