//! # Lineage primitives
//!
//! The types that the Lineage pallets, the runtime and the off-chain oracle must agree on,
//! byte for byte. They are `no_std` and SCALE-encoded; the oracle depends on this crate so
//! that what it signs and what the chain checks can never drift apart.
//!
//! It holds the chain's basic types (accounts, balances, block numbers), the ids of Lineage's
//! registries, the artifact-hash rule, and (in [`usage`]) the usage batch an operator signs, its
//! signing payload, the records' Merkle rule, and the traits the usage and attribution pallets
//! reach the registries through, and (in [`jobs`]) the fulfilment of an on-chain inference job an
//! operator signs, and (in [`payer`]) what a payer signs for each request, the voucher that
//! bounds what the chain may charge them, and (in [`merkle`]) the Merkle rule of datanet versions with the frontier
//! that builds it one record at a time.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod jobs;
pub mod merkle;
pub mod payer;
pub mod usage;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	sp_core::H256,
	sp_runtime::{
		traits::{IdentifyAccount, Verify},
		MultiSignature,
	},
	*,
};
use scale_info::TypeInfo;

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

/// The number of a frozen version within its datanet: 1, 2, 3, …
pub type VersionId = u32;

/// The id of a contribution within its datanet: 0, 1, 2, … in order of arrival.
pub type ContributionId = u32;

/// The id of a registered base model.
pub type ModelId = u32;

/// The id of a registered LoRA adapter.
pub type AdapterId = u32;

/// A frozen datanet version, as models cite it in their training lineage.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub struct DatanetVersionRef {
	/// The datanet.
	pub datanet: DatanetId,
	/// The version number within it.
	pub version: VersionId,
}

/// What other pallets may ask of the datanet registry.
pub trait DatanetInspect {
	/// Whether `version` of `datanet` exists (versions are frozen when they are created).
	fn is_frozen_version(version: &DatanetVersionRef) -> bool;
}

/// The artifact hash of a set of files (a PEFT adapter's `adapter_config.json` and
/// `adapter_model.safetensors`, or a base model's files): the rule the chain registers and the
/// oracle checks before it serves an adapter.
///
/// Given each file's name (relative to the artifact's folder, `/`-separated) and the sha256 of
/// its bytes, the artifact hash is
/// `sha256( for each file, sorted by name bytes: u32_le(len(name)) ‖ name ‖ sha256(bytes) )`.
/// Hashing each file separately lets the oracle stream large weight files; sorting makes the
/// result independent of the order the files are listed in.
pub fn artifact_hash(files: &[(&str, [u8; 32])]) -> H256 {
	let mut sorted: alloc::vec::Vec<&(&str, [u8; 32])> = files.iter().collect();
	sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
	let mut preimage = alloc::vec::Vec::with_capacity(sorted.len() * 64);
	for (name, digest) in sorted {
		preimage.extend_from_slice(&(name.len() as u32).to_le_bytes());
		preimage.extend_from_slice(name.as_bytes());
		preimage.extend_from_slice(digest);
	}
	H256(sp_crypto_hashing::sha2_256(&preimage))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn artifact_hash_ignores_listing_order_and_binds_names_and_contents() {
		let config = sp_crypto_hashing::sha2_256(b"{\"r\": 8}");
		let model = sp_crypto_hashing::sha2_256(b"weights");
		let a =
			artifact_hash(&[("adapter_config.json", config), ("adapter_model.safetensors", model)]);
		let b =
			artifact_hash(&[("adapter_model.safetensors", model), ("adapter_config.json", config)]);
		assert_eq!(a, b);
		let renamed =
			artifact_hash(&[("config.json", config), ("adapter_model.safetensors", model)]);
		assert_ne!(a, renamed);
		let changed = artifact_hash(&[
			("adapter_config.json", config),
			("adapter_model.safetensors", sp_crypto_hashing::sha2_256(b"weights!")),
		]);
		assert_ne!(a, changed);
		// The rule written out by hand for one file.
		let mut preimage = 19u32.to_le_bytes().to_vec();
		preimage.extend_from_slice(b"adapter_config.json");
		preimage.extend_from_slice(&config);
		assert_eq!(
			artifact_hash(&[("adapter_config.json", config)]),
			H256(sp_crypto_hashing::sha2_256(&preimage))
		);
	}

	#[test]
	fn version_ref_round_trips() {
		let r = DatanetVersionRef { datanet: 3, version: 2 };
		assert_eq!(DatanetVersionRef::decode(&mut &r.encode()[..]).unwrap(), r);
	}

	#[test]
	fn account_id_is_32_bytes_on_the_wire() {
		let id = AccountId::new([7u8; 32]);
		assert_eq!(id.encode(), [7u8; 32].to_vec());
	}
}
