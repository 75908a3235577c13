//! On-chain inference jobs: what a requester asks for, and the fulfilment an operator signs.
//!
//! A job is a completion requested on chain (by a wallet or a contract, through the Lineage
//! precompile). An operator's oracle runs it and answers with a [`Fulfilment`] signed by its
//! registered key over [`fulfilment_payload`]; the jobs pallet checks the signature, charges the
//! adapter's price for the tokens used and keeps the output on chain for the requester.

use crate::usage::RecordMatch;
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::sp_core::H256;
use scale_info::TypeInfo;

/// The id of an on-chain inference job: 0, 1, 2, … in order of request.
pub type JobId = u64;

/// The domain tag in front of every fulfilment payload, so a fulfilment signature can never be
/// taken for a usage-batch signature (or anything else the key signs).
pub const FULFILMENT_DOMAIN: [u8; 14] = *b"lineage/fulfil";

/// The greatest temperature a job may ask for, in thousandths.
pub const MAX_TEMPERATURE_MILLI: u32 = 2_000;

/// How the oracle samples a job's output.
#[derive(
	Clone,
	Copy,
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
pub struct SamplingParams {
	/// The temperature in thousandths, `0..=MAX_TEMPERATURE_MILLI`; 0 samples greedily.
	pub temperature_milli: u32,
	/// The nucleus (top-p) in thousandths, `1..=1000`; 1000 turns it off.
	pub top_p_milli: u32,
	/// The seed of the sampler (the same seed, prompt and parameters give the same output).
	pub seed: u64,
}

impl SamplingParams {
	/// Greedy decoding (temperature 0, no nucleus, seed 0).
	pub const fn greedy() -> Self {
		Self { temperature_milli: 0, top_p_milli: 1_000, seed: 0 }
	}

	/// Whether the parameters are within their ranges.
	pub fn is_valid(&self) -> bool {
		self.temperature_milli <= MAX_TEMPERATURE_MILLI && (1..=1_000).contains(&self.top_p_milli)
	}
}

/// An operator's answer to a job: what it signs and the chain checks.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct Fulfilment<AccountId, Output> {
	/// The job answered.
	pub job: JobId,
	/// The operator answering (its registered key signs).
	pub operator: AccountId,
	/// The prompt's tokens (the chat template applied), as the oracle counted them.
	#[codec(compact)]
	pub input_tokens: u64,
	/// The tokens generated.
	#[codec(compact)]
	pub output_tokens: u64,
	/// [`response_hash`] of `output`.
	pub response_hash: H256,
	/// The generated text, UTF-8.
	pub output: Output,
	/// What the answer's attribution credits (as a usage record's
	/// [`crate::usage::UsageRecord::matched`]): the contributors whose records the answer repeats,
	/// each with the part of the answer they cover. The chain pays them the fee policy's
	/// matched part of the job's fee in these proportions.
	pub matched: Vec<RecordMatch<AccountId>>,
}

/// The bytes an operator signs for a fulfilment: the domain tag, the chain's genesis hash and
/// the SCALE encoding of the fulfilment.
pub fn fulfilment_payload<Hash: Encode, AccountId: Encode, Output: Encode>(
	genesis_hash: &Hash,
	fulfilment: &Fulfilment<AccountId, Output>,
) -> alloc::vec::Vec<u8> {
	(FULFILMENT_DOMAIN, genesis_hash, fulfilment).encode()
}

/// The hash of a job's output, as a fulfilment carries it: sha256 of its bytes (the same rule as
/// a usage record's response hash).
pub fn response_hash(output: &[u8]) -> H256 {
	H256(polkadot_sdk::sp_crypto_hashing::sha2_256(output))
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::AccountId;

	#[test]
	fn payload_is_domain_genesis_then_fulfilment() {
		let f = Fulfilment {
			job: 3,
			operator: AccountId::new([1; 32]),
			input_tokens: 30,
			output_tokens: 5,
			response_hash: response_hash(b"4"),
			output: b"4".to_vec(),
			matched: alloc::vec![],
		};
		let genesis = H256::repeat_byte(0xaa);
		let mut expected = b"lineage/fulfil".to_vec();
		expected.extend(genesis.encode());
		expected.extend(f.encode());
		assert_eq!(fulfilment_payload(&genesis, &f), expected);
		let mut other = f.clone();
		other.output_tokens = 6;
		assert_ne!(fulfilment_payload(&genesis, &other), expected);
	}

	#[test]
	fn sampling_ranges() {
		assert!(SamplingParams::greedy().is_valid());
		assert!(!SamplingParams { temperature_milli: 2_001, ..SamplingParams::greedy() }.is_valid());
		assert!(!SamplingParams { top_p_milli: 0, ..SamplingParams::greedy() }.is_valid());
		assert!(!SamplingParams { top_p_milli: 1_001, ..SamplingParams::greedy() }.is_valid());
	}
}
