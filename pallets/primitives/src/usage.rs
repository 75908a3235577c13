//! Usage proofs: what an operator signs and the usage pallet checks, and the interfaces the usage
//! and attribution pallets use to reach the registries.
//!
//! An oracle records every finished request as a [`UsageRecord`]. It aggregates the records of
//! one period into a [`UsageBatch`]: one [`UsageEntry`] per (payer, adapter), sorted by that
//! pair, and the Merkle root of the individual records ([`records_root`]). The operator's
//! signing key signs [`signing_payload`] — the SCALE bytes of `(BATCH_DOMAIN, genesis hash,
//! batch)` — so a batch signature is valid as nothing else, is bound to one chain and to the
//! operator's next sequence number, and cannot be replayed. Beside the batch travel the payers'
//! own signatures ([`crate::payer::PayerVoucher`]): one per payer, bounding what the batch may
//! charge them.
//!
//! A batch also carries, per adapter, the part of its fee that the answers' attribution traced to
//! each contributor's records ([`MatchedShare`]): the oracle aggregates each request's credited
//! tokens, weighted by the request's fee, into at most a bounded number of shares per adapter.
//! Settlement pays those contributors the fee policy's matched part of the datanets' share in
//! these proportions, after checking that each has frozen weight in a version the adapter was
//! trained on; the rest of the datanets' share follows the adapter's lineage weights.

use crate::{AdapterId, BlockNumber, DatanetId, DatanetVersionRef, VersionId};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	sp_core::H256,
	sp_runtime::{traits::BlakeTwo256, DispatchResult, Perbill},
	sp_weights::Weight,
	*,
};
use scale_info::TypeInfo;

/// Parts of a billion: [`MatchedShare::share`]'s type, for clients that build batches.
pub use polkadot_sdk::sp_runtime::Perbill as Share;

/// An operator's batch sequence number: 0 for its first batch, then +1 per accepted batch.
pub type Sequence = u64;

/// The usage of one adapter by one payer within a batch.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct UsageEntry<AccountId> {
	/// Who pays: the account whose escrow with the operator is charged.
	pub payer: AccountId,
	/// The adapter that served the requests.
	pub adapter: AdapterId,
	/// The number of requests aggregated into this entry (at least one).
	#[codec(compact)]
	pub requests: u32,
	/// Prompt tokens over those requests.
	#[codec(compact)]
	pub input_tokens: u64,
	/// Generated tokens over those requests.
	#[codec(compact)]
	pub output_tokens: u64,
}

impl<AccountId> UsageEntry<AccountId> {
	/// The entry's key: batches list entries strictly ascending by it (so each pair appears
	/// once and the chain checks that in one pass).
	pub fn key(&self) -> (&AccountId, AdapterId) {
		(&self.payer, self.adapter)
	}
}

/// A signed usage proof's content: an operator's usage since its previous batch.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct UsageBatch<AccountId> {
	/// The operator (its account; the batch is signed with the operator's registered key).
	pub operator: AccountId,
	/// The operator's next sequence number on chain.
	pub sequence: Sequence,
	/// The first block its records were served in: the latest finalized block the oracle knew
	/// when it served the earliest of them ([`UsageRecord::served_at`]).
	pub served_from: BlockNumber,
	/// The last block its records were served in (the latest of their `served_at`). Each
	/// entry's fee uses the lowest price its adapter had in force at any block of
	/// `served_from..=served_to`, so a price rise after serving never applies to what was
	/// served before it.
	pub served_to: BlockNumber,
	/// One entry per (payer, adapter), strictly ascending by [`UsageEntry::key`].
	pub entries: Vec<UsageEntry<AccountId>>,
	/// The Merkle root of the individual [`UsageRecord`]s aggregated here ([`records_root`]).
	pub records_root: H256,
	/// What the answers' attribution credits, per adapter of `entries` and contributor: strictly
	/// ascending by [`MatchedShare::key`], each adapter's shares summing to at most 100%.
	pub matched: Vec<MatchedShare<AccountId>>,
}

/// The part of one adapter's fee in a batch whose answers the attribution traced to one
/// contributor's records frozen in one datanet version: `share` of the adapter's fee is
/// matched to them. Over a batch's requests of the adapter it is `Σ fee_r × credited_r / tokens_r
/// ÷ Σ fee_r`, where `credited_r` is the completion tokens of request `r` credited to the
/// contributor's records of that version and `tokens_r` its completion tokens.
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct MatchedShare<AccountId> {
	/// The adapter whose fee it is part of.
	pub adapter: AdapterId,
	/// The datanet of the records.
	pub datanet: DatanetId,
	/// The version the records are frozen in.
	pub version: VersionId,
	/// Who contributed them.
	pub contributor: AccountId,
	/// The part of the adapter's fee matched to them (not zero).
	pub share: Perbill,
}

impl<AccountId> MatchedShare<AccountId> {
	/// The share's key: a batch lists shares strictly ascending by it.
	pub fn key(&self) -> (AdapterId, DatanetId, VersionId, &AccountId) {
		(self.adapter, self.datanet, self.version, &self.contributor)
	}
}

/// The domain tag in front of every usage batch payload, so a batch signature can never be
/// valid as a fulfilment, a payer request or any other signed payload.
pub const BATCH_DOMAIN: [u8; 13] = *b"lineage/usage";

/// The bytes an operator signs for `batch` on the chain whose genesis hash is `genesis_hash`:
/// the SCALE encoding of `(BATCH_DOMAIN, genesis_hash, batch)`.
/// `Hash` is the chain's hash type (`H256` on Lineage; generic so mock runtimes can use theirs).
pub fn signing_payload<Hash: Encode, AccountId: Encode>(
	genesis_hash: &Hash,
	batch: &UsageBatch<AccountId>,
) -> Vec<u8> {
	(BATCH_DOMAIN, genesis_hash, batch).encode()
}

/// One finished request, as the oracle journals it. Not sent to the chain: only the Merkle root
/// of a batch's records is, so a payer can ask for any record with its proof and check it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct UsageRecord<AccountId> {
	/// The oracle's id of the request.
	pub request_id: H256,
	/// Who paid for it.
	pub payer: AccountId,
	/// The adapter that served it.
	pub adapter: AdapterId,
	/// Prompt tokens.
	pub input_tokens: u64,
	/// Generated tokens.
	pub output_tokens: u64,
	/// sha256 of the response body the client received.
	pub response_hash: H256,
	/// When the request finished, in milliseconds since the Unix epoch.
	pub finished_at_ms: u64,
	/// The latest finalized block the oracle knew when it served the request: the block whose
	/// price the request was quoted at.
	pub served_at: BlockNumber,
	/// What the answer's attribution credits (empty when it matched nobody, or was not
	/// attributed): bound by the records root, so anyone holding a batch's records can check
	/// its [`UsageBatch::matched`] shares against them. Sums to at most 100%.
	pub matched: Vec<RecordMatch<AccountId>>,
}

/// Why a list of [`RecordMatch`]es is malformed ([`check_record_matches`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MatchError {
	/// Not strictly ascending by (datanet, version, contributor).
	NotSorted,
	/// A share is zero.
	Zero,
	/// More than the bound.
	TooMany,
	/// The shares sum to more than 100%.
	OverWhole,
}

/// Checks one answer's matches: at most `max`, strictly ascending by (datanet, version,
/// contributor), none zero, summing to at most 100%. One pass.
pub fn check_record_matches<AccountId: Ord>(
	matches: &[RecordMatch<AccountId>],
	max: usize,
) -> Result<(), MatchError> {
	if matches.len() > max {
		return Err(MatchError::TooMany);
	}
	if matches.windows(2).any(|w| w[0].key() >= w[1].key()) {
		return Err(MatchError::NotSorted);
	}
	if matches.iter().any(|m| m.share.is_zero()) {
		return Err(MatchError::Zero);
	}
	let parts =
		matches.iter().fold(0u64, |sum, m| sum.saturating_add(u64::from(m.share.deconstruct())));
	if parts > u64::from(Perbill::one().deconstruct()) {
		return Err(MatchError::OverWhole);
	}
	Ok(())
}

/// One contributor an answer's attribution credits, in its [`UsageRecord`]: the part of the
/// answer's completion credited to their records frozen in one datanet version (the records'
/// scores over the completion's tokens, rounded down).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct RecordMatch<AccountId> {
	/// The datanet of the records.
	pub datanet: DatanetId,
	/// The version they are frozen in.
	pub version: VersionId,
	/// Who contributed them.
	pub contributor: AccountId,
	/// The part of the completion credited to them.
	pub share: Perbill,
}

impl<AccountId> RecordMatch<AccountId> {
	/// The match's key: an answer lists its matches strictly ascending by it.
	pub fn key(&self) -> (DatanetId, VersionId, &AccountId) {
		(self.datanet, self.version, &self.contributor)
	}
}

/// The Merkle root of usage records: a binary Merkle tree (`binary-merkle-tree`, blake2-256)
/// over the records' SCALE encodings, in the order given (the oracle sorts them by request id).
pub fn records_root<AccountId: Encode>(records: &[UsageRecord<AccountId>]) -> H256 {
	binary_merkle_tree::merkle_root::<BlakeTwo256, _>(records.iter().map(|r| r.encode()))
}

/// The Merkle proof that `records[index]` is in [`records_root`]`(records)`: the sibling
/// hashes from the leaf up (`binary-merkle-tree`'s proof); `None` when `index` is out of range.
/// A payer checks it with [`verify_record`] against the root the chain holds for the batch.
pub fn record_proof<AccountId: Encode>(
	records: &[UsageRecord<AccountId>],
	index: usize,
) -> Option<Vec<H256>> {
	let leaf_index = u32::try_from(index).ok().filter(|_| index < records.len())?;
	let proof = binary_merkle_tree::merkle_proof::<BlakeTwo256, _, _>(
		records.iter().map(|r| r.encode()),
		leaf_index,
	);
	Some(proof.proof)
}

/// Whether `record` is leaf `index` of `leaves` records under `root`, by `proof`
/// ([`record_proof`]).
pub fn verify_record<AccountId: Encode>(
	root: &H256,
	proof: &[H256],
	leaves: u32,
	index: u32,
	record: &UsageRecord<AccountId>,
) -> bool {
	binary_merkle_tree::verify_proof::<BlakeTwo256, _, _>(
		root,
		proof.iter().copied(),
		leaves,
		index,
		&record.encode(),
	)
}

/// The fee for `input_tokens` and `output_tokens` at prices per 1,000 tokens, rounded down
/// (in the payer's favour); `None` on overflow.
pub fn usage_fee(
	input_tokens: u64,
	output_tokens: u64,
	per_1k_input: u128,
	per_1k_output: u128,
) -> Option<u128> {
	let input = u128::from(input_tokens).checked_mul(per_1k_input)?;
	let output = u128::from(output_tokens).checked_mul(per_1k_output)?;
	Some(input.checked_add(output)? / 1000)
}

/// Whether an adapter may be billed for new usage.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum AdapterUse {
	/// Active: billable.
	Active,
	/// Deprecated by its author: still billable (clients may be mid-migration).
	Deprecated,
	/// Revoked by governance: usage of it is refused.
	Revoked,
}

/// What settlement needs to know about an adapter, as the model registry reports it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct AdapterTerms<AccountId, Balance> {
	/// The adapter's author.
	pub author: AccountId,
	/// The owner of the adapter's base model.
	pub base_model_owner: AccountId,
	/// The price of 1,000 input tokens in force at the block asked about.
	pub per_1k_input: Balance,
	/// The price of 1,000 output tokens in force at the block asked about.
	pub per_1k_output: Balance,
	/// Whether the adapter may be billed.
	pub status: AdapterUse,
	/// The datanet versions the adapter was trained on, with attribution weights summing to
	/// 100% (empty when it cites none).
	pub training: Vec<(DatanetVersionRef, Perbill)>,
}

/// What the usage and attribution pallets ask of the model registry.
pub trait AdapterInspect<AccountId, Balance, BlockNumber> {
	/// The terms of `adapter` with its price in force at block `at`; `None` if no such adapter
	/// is registered.
	fn adapter_terms(
		adapter: AdapterId,
		at: BlockNumber,
	) -> Option<AdapterTerms<AccountId, Balance>>;

	/// The terms of `adapter` with, for each of its two prices (input and output), the lowest
	/// it had in force at any block of `first..=last`: what usage served in those blocks is
	/// charged at. `None` if no such adapter is registered.
	///
	/// This default takes the lower of the prices at `first` and at `last`, which is exact for
	/// a registry whose prices change at most once between any two blocks asked about (a test
	/// double's); the model registry gives the exact lowest over its price history.
	fn adapter_terms_over(
		adapter: AdapterId,
		first: BlockNumber,
		last: BlockNumber,
	) -> Option<AdapterTerms<AccountId, Balance>>
	where
		Balance: Ord,
	{
		let at_first = Self::adapter_terms(adapter, first)?;
		let at_last = Self::adapter_terms(adapter, last)?;
		Some(AdapterTerms {
			per_1k_input: at_first.per_1k_input.min(at_last.per_1k_input),
			per_1k_output: at_first.per_1k_output.min(at_last.per_1k_output),
			..at_last
		})
	}
}

/// What the attribution pallet asks of the datanet registry: the weights frozen in each
/// version. A fee attributed to version `v` of a datanet pays the weight frozen in versions
/// `1..=v`, so the pallet needs, per version, the cumulative weight and each contributor's own.
/// Frozen weights never change.
pub trait DatanetWeights<AccountId> {
	/// The number of frozen versions of `datanet` (0 when none or no such datanet).
	fn version_count(datanet: DatanetId) -> VersionId;
	/// The weight frozen in versions `1..=version` of `datanet` (0 when `version` is not frozen).
	fn weight_through(datanet: DatanetId, version: VersionId) -> u128;
	/// The weight `who` has frozen in exactly `version` of `datanet` (0 when none, or when
	/// `version` is not frozen yet).
	fn contributor_weight(datanet: DatanetId, version: VersionId, who: &AccountId) -> u128;
	/// Every frozen version in which `who` has weight, as `(datanet, version, weight)`, ascending
	/// by datanet then version. Lazy: each item costs one storage read.
	fn contributor_versions(who: &AccountId) -> impl Iterator<Item = (DatanetId, VersionId, u128)>;
}

/// What other pallets (on-chain inference jobs) may ask of the operator registry.
pub trait OperatorInspect<AccountId> {
	/// The sr25519 key `who` signs with, when `who` is an operator whose proofs are accepted now
	/// (registered, active, bond at least the required one); `None` otherwise.
	fn serving_key(who: &AccountId) -> Option<polkadot_sdk::sp_core::sr25519::Public>;
}

/// How the usage pallet hands settled fees to attribution.
pub trait SettleFees<AccountId, Balance> {
	/// Moves the sum of `fees` from `source` and splits each adapter's fee by the fee-split
	/// policy (author, base-model owner, datanets, `operator`, treasury); `matched` (ascending by
	/// adapter, as a batch lists them) says which contributors the answers' attribution credits
	/// with part of each adapter's datanets share. All or nothing.
	fn settle(
		source: &AccountId,
		operator: &AccountId,
		fees: &[(AdapterId, Balance)],
		matched: &[MatchedShare<AccountId>],
	) -> DispatchResult;
	/// An upper bound on the weight of [`SettleFees::settle`] for `adapters` adapters and
	/// `matched` matched shares.
	fn settle_weight(adapters: u32, matched: u32) -> Weight;
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::AccountId;

	fn batch() -> UsageBatch<AccountId> {
		UsageBatch {
			operator: AccountId::new([1; 32]),
			sequence: 7,
			served_from: 40,
			served_to: 42,
			entries: alloc::vec![UsageEntry {
				payer: AccountId::new([2; 32]),
				adapter: 3,
				requests: 2,
				input_tokens: 100,
				output_tokens: 50,
			}],
			records_root: H256::repeat_byte(9),
			matched: alloc::vec![MatchedShare {
				adapter: 3,
				datanet: 1,
				version: 2,
				contributor: AccountId::new([4; 32]),
				share: Perbill::from_percent(25),
			}],
		}
	}

	#[test]
	fn signing_payload_is_domain_genesis_then_batch() {
		let genesis = H256::repeat_byte(0xaa);
		let b = batch();
		let mut expected = b"lineage/usage".to_vec();
		expected.extend(genesis.encode());
		expected.extend(b.encode());
		assert_eq!(signing_payload(&genesis, &b), expected);
		// Another chain, another sequence: other bytes.
		assert_ne!(signing_payload(&H256::repeat_byte(0xab), &b), expected);
		let mut next = b.clone();
		next.sequence += 1;
		assert_ne!(signing_payload(&genesis, &next), expected);
		// The matched shares are signed too: an operator cannot move them after signing.
		let mut moved = b.clone();
		moved.matched[0].share = Perbill::from_percent(26);
		assert_ne!(signing_payload(&genesis, &moved), expected);
	}

	#[test]
	fn usage_fee_is_per_thousand_rounded_down_and_checked() {
		assert_eq!(usage_fee(1000, 0, 7, 11), Some(7));
		assert_eq!(usage_fee(1500, 2000, 10, 20), Some(15 + 40));
		assert_eq!(usage_fee(1, 1, 999, 0), Some(0));
		assert_eq!(usage_fee(u64::MAX, 0, u128::MAX, 0), None);
	}

	#[test]
	fn records_root_binds_every_record_and_its_order() {
		let record = |id: u8, tokens: u64| UsageRecord {
			request_id: H256::repeat_byte(id),
			payer: AccountId::new([2; 32]),
			adapter: 3,
			input_tokens: tokens,
			output_tokens: 1,
			response_hash: H256::repeat_byte(id),
			finished_at_ms: 1,
			served_at: 1,
			matched: alloc::vec![],
		};
		let a = records_root(&[record(1, 10), record(2, 20)]);
		assert_eq!(a, records_root(&[record(1, 10), record(2, 20)]));
		assert_ne!(a, records_root(&[record(1, 10), record(2, 21)]));
		assert_ne!(a, records_root(&[record(2, 20), record(1, 10)]));
		assert_ne!(a, records_root(&[record(1, 10)]));
		// Each record's matches are bound too.
		let mut matched = record(2, 20);
		matched.matched = alloc::vec![RecordMatch {
			datanet: 1,
			version: 1,
			contributor: AccountId::new([5; 32]),
			share: Perbill::from_percent(10),
		}];
		assert_ne!(a, records_root(&[record(1, 10), matched]));
	}

	#[test]
	fn a_record_proves_against_the_root_and_no_other_does() {
		let record = |id: u8| UsageRecord {
			request_id: H256::repeat_byte(id),
			payer: AccountId::new([2; 32]),
			adapter: 3,
			input_tokens: u64::from(id),
			output_tokens: 1,
			response_hash: H256::repeat_byte(id),
			finished_at_ms: 1,
			served_at: 1,
			matched: alloc::vec![],
		};
		let records: Vec<_> = (1..=5).map(record).collect();
		let root = records_root(&records);
		for (i, r) in records.iter().enumerate() {
			let proof = record_proof(&records, i).unwrap();
			assert!(verify_record(&root, &proof, 5, i as u32, r), "record {i}");
			assert!(!verify_record(&root, &proof, 5, i as u32, &record(9)), "a forged record");
			assert!(!verify_record(&H256::zero(), &proof, 5, i as u32, r), "another root");
		}
		assert_eq!(record_proof(&records, 5), None);
	}
}
