//! The Merkle rule of datanet versions, built incrementally.
//!
//! A version's root is `binary_merkle_tree::merkle_root::<BlakeTwo256, _>(content_hashes)` over
//! the content hashes (sha-256 of each record's bytes) in acceptance order: each leaf is the
//! blake2-256 hash of the 32 bytes of one content hash; an inner node is the blake2-256 hash of
//! its two children concatenated; an odd last node is promoted unchanged. A proof of one record
//! is `binary_merkle_tree::merkle_proof` over the same list, checked with
//! `binary_merkle_tree::verify_proof`.
//!
//! The chain cannot keep the whole list of a version to hash it when the version is frozen (a
//! version of a million records would not fit in a block), so it keeps a [`MerkleFrontier`]:
//! one pending node per level, at most 32 of them. Appending a leaf costs O(1) amortised and
//! O(log n) at worst; the root is computed from the frontier in O(log n), and it is the same
//! root `merkle_root` gives for the whole list (tested below for every length up to 300).

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	sp_core::{ConstU32, H256},
	sp_runtime::{
		traits::{BlakeTwo256, Hash},
		BoundedVec,
	},
	*,
};
use scale_info::TypeInfo;

/// The most levels a frontier has: a version holds at most `2^32 − 1` records.
pub const MAX_LEVELS: u32 = 32;

/// The pending left nodes of an append-only binary Merkle tree (see the module doc).
///
/// `nodes[l]` is the root of a perfect subtree of `2^l` leaves waiting for its right sibling,
/// when bit `l` of `leaves` is set; `None` otherwise.
#[derive(
	Clone,
	PartialEq,
	Eq,
	Debug,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub struct MerkleFrontier {
	/// How many leaves were appended.
	pub leaves: u32,
	/// One optional pending node per level, lowest first.
	pub nodes: BoundedVec<Option<H256>, ConstU32<MAX_LEVELS>>,
}

/// The leaf of a content hash: blake2-256 of its 32 bytes.
pub fn leaf_hash(content_hash: &H256) -> H256 {
	BlakeTwo256::hash(content_hash.as_bytes())
}

/// An inner node: blake2-256 of `left ‖ right`.
fn node_hash(left: &H256, right: &H256) -> H256 {
	let mut combined = [0u8; 64];
	combined[..32].copy_from_slice(left.as_bytes());
	combined[32..].copy_from_slice(right.as_bytes());
	BlakeTwo256::hash(&combined)
}

/// The root of a list of content hashes by the rule of the module doc (zero when empty): the
/// reference the frontier is tested against, and what clients compute over a version's list.
pub fn version_root(content_hashes: &[H256]) -> H256 {
	binary_merkle_tree::merkle_root::<BlakeTwo256, _>(content_hashes.iter())
}

/// A proof that the record at `index` of `content_hashes` is in the list's root.
pub fn version_proof(
	content_hashes: &[H256],
	index: u32,
) -> binary_merkle_tree::MerkleProof<H256, H256> {
	binary_merkle_tree::merkle_proof::<BlakeTwo256, _, _>(content_hashes.iter().copied(), index)
}

/// Whether `proof` (of `content_hash` at `index` of a list of `count`) leads to `root`.
pub fn verify_version_proof(
	root: &H256,
	proof: Vec<H256>,
	count: u32,
	index: u32,
	content_hash: &H256,
) -> bool {
	binary_merkle_tree::verify_proof::<BlakeTwo256, _, _>(
		root,
		proof,
		count,
		index,
		binary_merkle_tree::Leaf::Value(content_hash.as_bytes()),
	)
}

impl MerkleFrontier {
	/// Append the record whose bytes hash (sha-256) to `content_hash`. Fails, changing
	/// nothing, when the frontier holds `u32::MAX` leaves.
	pub fn push(&mut self, content_hash: &H256) -> Result<(), FrontierFull> {
		let leaves = self.leaves.checked_add(1).ok_or(FrontierFull)?;
		let mut carry = leaf_hash(content_hash);
		let mut level = 0usize;
		// Merge with the pending node of each level whose bit is set (a carry in binary addition).
		while self.leaves & (1u32 << level) != 0 {
			let left = self.nodes.get_mut(level).and_then(Option::take).ok_or(FrontierFull)?;
			carry = node_hash(&left, &carry);
			level += 1;
		}
		if level < self.nodes.len() {
			self.nodes[level] = Some(carry);
		} else {
			self.nodes.try_push(Some(carry)).map_err(|_| FrontierFull)?;
		}
		self.leaves = leaves;
		Ok(())
	}

	/// The root of the leaves appended so far (zero when none): the pending nodes combined
	/// from the lowest level up, an odd node promoted unchanged.
	pub fn root(&self) -> H256 {
		let mut carry: Option<H256> = None;
		for node in self.nodes.iter() {
			carry = match (node, carry) {
				(Some(left), Some(right)) => Some(node_hash(left, &right)),
				(Some(left), None) => Some(*left),
				(None, carry) => carry,
			};
		}
		carry.unwrap_or_default()
	}
}

/// A frontier cannot take another leaf.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrontierFull;

#[cfg(test)]
mod tests {
	use super::*;

	fn hashes(n: u32) -> Vec<H256> {
		(0..n).map(|i| H256(sp_crypto_hashing::sha2_256(&i.to_le_bytes()))).collect()
	}

	#[test]
	fn frontier_root_matches_merkle_root_for_every_length() {
		let all = hashes(300);
		let mut frontier = MerkleFrontier::default();
		assert_eq!(frontier.root(), H256::zero());
		assert_eq!(frontier.root(), version_root(&[]));
		for n in 1..=all.len() {
			frontier.push(&all[n - 1]).unwrap();
			assert_eq!(frontier.leaves as usize, n);
			assert_eq!(frontier.root(), version_root(&all[..n]), "{n} leaves");
		}
		assert!(frontier.nodes.len() <= 9);
	}

	#[test]
	fn proofs_verify_against_the_frontier_root_and_refuse_other_bytes() {
		let all = hashes(37);
		let mut frontier = MerkleFrontier::default();
		all.iter().for_each(|h| frontier.push(h).unwrap());
		let root = frontier.root();
		for (i, hash) in all.iter().enumerate() {
			let proof = version_proof(&all, i as u32);
			assert!(verify_version_proof(&root, proof.proof.clone(), 37, i as u32, hash));
			let other = H256::repeat_byte(0xee);
			assert!(!verify_version_proof(&root, proof.proof, 37, i as u32, &other));
		}
	}

	#[test]
	fn a_full_frontier_refuses_and_keeps_its_root() {
		let mut frontier = MerkleFrontier { leaves: u32::MAX, nodes: Default::default() };
		// A frontier of u32::MAX leaves has a node at each of 32 levels.
		for i in 0..32 {
			frontier.nodes.try_push(Some(H256::repeat_byte(i))).unwrap();
		}
		let before = frontier.clone();
		assert_eq!(frontier.push(&H256::zero()), Err(FrontierFull));
		assert_eq!(frontier, before);
	}
}
