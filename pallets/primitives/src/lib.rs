//! # Lineage primitives
//!
//! The types that the Lineage pallets, the runtime and the off-chain oracle must agree on,
//! byte for byte. They are `no_std` and SCALE-encoded; the oracle depends on this crate so
//! that what it signs and what the chain checks can never drift apart.
//!
//! This first version holds the chain's basic types (accounts, balances, block numbers) and
//! the ids of Lineage's registries; usage batches and signing payloads join it with the
//! pallets that use them.

#![cfg_attr(not(feature = "std"), no_std)]

use polkadot_sdk::{
	sp_core::H256,
	sp_runtime::{
		traits::{IdentifyAccount, Verify},
		MultiSignature,
	},
};

/// A transaction signature: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;

/// An account on the chain: the 32-byte public key of the account's signing key
/// (`AccountId32`). pallet-revive maps each one to an H160 address for contracts.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;

/// An amount of the native token, LIN, in its smallest unit (10 decimals).
pub type Balance = u128;

/// A block number.
pub type BlockNumber = u32;

/// The number of transactions an account has sent.
pub type Nonce = u32;

/// A hash of the chain's hashing algorithm (blake2-256) and of content (sha-256, H256).
pub type Hash = H256;

/// The id of a datanet (a dataset and its contributions).
pub type DatanetId = u32;

/// The id of a registered base model.
pub type ModelId = u32;

/// The id of a registered LoRA adapter.
pub type AdapterId = u32;

#[cfg(test)]
mod tests {
	use super::*;
	use codec::Encode;

	#[test]
	fn account_id_is_32_bytes_on_the_wire() {
		let id = AccountId::new([7u8; 32]);
		assert_eq!(id.encode(), [7u8; 32].to_vec());
	}
}
