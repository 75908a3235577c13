//! Retrieval: the `k` records of one datanet version that best answer a query, by Okapi BM25
//! over the base model's token ids, read from the version's [`SpanIndex`].
//!
//! A token's occurrences are one range of the suffix array ([`SpanIndex::find`] of the one-token
//! pattern), so the index already holds every posting list: no second index is built. For each
//! distinct query token the rows give the records it occurs in and how often (`tf`), the number
//! of records holding it (`df`) and, with the records' token counts, the BM25 score
//!
//! `Σ_t idf(t) × tf × (k1 + 1) / (tf + k1 × (1 − b + b × len / avg_len))`,
//! `idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`.
//!
//! A token with more than [`RetrievalParams::max_postings`] occurrences is skipped: such a
//! token (a space, "the", a chat marker) has an idf near zero and would cost a walk over most of
//! the index. The cost of one query is so bounded by `query tokens × max_postings` occurrence
//! lookups, whatever the index's size.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::index::{RecordMeta, SpanIndex};

/// BM25's constants and the bounds on one query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetrievalParams {
	/// Term-frequency saturation (Robertson's 1.2).
	pub k1: f64,
	/// Length normalisation (0.75).
	pub b: f64,
	/// A query token occurring more often than this in the version is skipped.
	pub max_postings: usize,
	/// Query tokens looked at (the first ones).
	pub max_query_tokens: usize,
}

impl Default for RetrievalParams {
	fn default() -> Self {
		Self { k1: 1.2, b: 0.75, max_postings: 100_000, max_query_tokens: 512 }
	}
}

/// One retrieved record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retrieved {
	/// The record (its position in [`SpanIndex::records`]).
	pub position: u32,
	/// Its on-chain identity.
	#[serde(flatten)]
	pub meta: RecordMeta,
	/// Its BM25 score for the query.
	pub score: f64,
	/// Distinct query tokens it holds.
	pub matched_tokens: u32,
}

/// The `k` records of `index` with the highest BM25 score for `query` (token ids), highest
/// first, ties to the earlier record; only records holding at least one query token. Empty for
/// `k = 0`, an empty query or an empty index.
pub fn retrieve(
	index: &SpanIndex,
	query: &[u32],
	k: usize,
	params: &RetrievalParams,
) -> Vec<Retrieved> {
	let records = index.records();
	if k == 0 || records.is_empty() || query.is_empty() {
		return Vec::new();
	}
	let lengths = index.record_tokens();
	let n = records.len() as f64;
	let avg = (index.tokens() as f64 / n).max(1.0);
	let terms: BTreeSet<u32> = query.iter().take(params.max_query_tokens).copied().collect();
	let mut scores: BTreeMap<u32, (f64, u32)> = BTreeMap::new();
	for term in terms {
		let rows = index.find(&[term]);
		if rows.is_empty() || rows.len() > params.max_postings {
			continue;
		}
		let mut tf: BTreeMap<u32, u32> = BTreeMap::new();
		for row in rows {
			if let Some(o) = index.occurrence(row) {
				*tf.entry(o.record).or_default() += 1;
			}
		}
		let df = tf.len() as f64;
		let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
		for (record, tf) in tf {
			let len = f64::from(lengths.get(record as usize).copied().unwrap_or(0));
			let tf = f64::from(tf);
			let norm = params.k1 * (1.0 - params.b + params.b * len / avg);
			let entry = scores.entry(record).or_default();
			entry.0 += idf * tf * (params.k1 + 1.0) / (tf + norm);
			entry.1 += 1;
		}
	}
	let mut ranked: Vec<(u32, f64, u32)> =
		scores.into_iter().map(|(record, (score, matched))| (record, score, matched)).collect();
	ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
	ranked
		.into_iter()
		.take(k)
		.filter_map(|(position, score, matched_tokens)| {
			Some(Retrieved {
				position,
				meta: records.get(position as usize)?.clone(),
				score,
				matched_tokens,
			})
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::index::{tests::meta, SpanIndexBuilder};
	use proptest::prelude::*;

	fn build(records: &[Vec<Vec<u32>>]) -> (tempfile::TempDir, SpanIndex) {
		let dir = tempfile::tempdir().unwrap();
		let mut b = SpanIndexBuilder::new();
		for (i, segments) in records.iter().enumerate() {
			let segments: Vec<&[u32]> = segments.iter().map(|s| s.as_slice()).collect();
			b.add_record(meta(i as u32, i as u8), &segments).unwrap();
		}
		let index = b.write(dir.path()).unwrap();
		(dir, index)
	}

	/// BM25 by brute force over the records' tokens: (position, score), every record with a
	/// query token, highest first.
	fn brute(records: &[Vec<Vec<u32>>], query: &[u32], p: &RetrievalParams) -> Vec<(u32, f64)> {
		let docs: Vec<Vec<u32>> = records.iter().map(|r| r.concat()).collect();
		let n = docs.len() as f64;
		let total: usize = docs.iter().map(|d| d.len()).sum();
		let avg = (total as f64 / n).max(1.0);
		let terms: BTreeSet<u32> = query.iter().copied().collect();
		let mut out = Vec::new();
		for (i, d) in docs.iter().enumerate() {
			let mut score = 0.0;
			let mut any = false;
			for &t in &terms {
				let postings: usize =
					docs.iter().map(|d| d.iter().filter(|&&x| x == t).count()).sum();
				if postings == 0 || postings > p.max_postings {
					continue;
				}
				let tf = d.iter().filter(|&&x| x == t).count() as f64;
				if tf == 0.0 {
					continue;
				}
				any = true;
				let df = docs.iter().filter(|d| d.contains(&t)).count() as f64;
				let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
				let norm = p.k1 * (1.0 - p.b + p.b * d.len() as f64 / avg);
				score += idf * tf * (p.k1 + 1.0) / (tf + norm);
			}
			if any {
				out.push((i as u32, score));
			}
		}
		out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
		out
	}

	#[test]
	fn the_record_holding_the_rare_query_tokens_ranks_first() {
		// Token 7 is everywhere; 40 and 41 only in record 2, 40 also in record 3 (a long one).
		let records = vec![
			vec![vec![7, 1, 2], vec![3]],
			vec![vec![7, 4, 5, 6]],
			vec![vec![7, 40], vec![41, 8]],
			vec![vec![40, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]],
		];
		let (_d, index) = build(&records);
		let p = RetrievalParams::default();
		let top = retrieve(&index, &[7, 40, 41], 2, &p);
		assert_eq!(top.iter().map(|r| r.position).collect::<Vec<_>>(), vec![2, 3]);
		assert_eq!(top[0].matched_tokens, 3);
		assert_eq!(top[0].meta, meta(2, 2));
		assert_eq!(index.record_tokens(), &[4, 4, 4, 12]);
		// k bounds the answer; k = 0, an empty query and an unknown token give nothing.
		assert_eq!(retrieve(&index, &[7, 40, 41], 10, &p).len(), 4);
		assert!(retrieve(&index, &[7, 40], 0, &p).is_empty());
		assert!(retrieve(&index, &[], 3, &p).is_empty());
		assert!(retrieve(&index, &[999], 3, &p).is_empty());
		// A token above the postings cap is skipped: 7 alone then finds nothing.
		let capped = RetrievalParams { max_postings: 2, ..p };
		assert!(retrieve(&index, &[7], 3, &capped).is_empty());
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(100))]

		#[test]
		fn retrieval_equals_brute_force_bm25(
			records in prop::collection::vec(
				prop::collection::vec(prop::collection::vec(0u32..12, 0..8), 1..3),
				1..12,
			),
			query in prop::collection::vec(0u32..14, 0..6),
			k in 0usize..6,
			max_postings in 1usize..30,
		) {
			let (_d, index) = build(&records);
			let p = RetrievalParams { max_postings, ..RetrievalParams::default() };
			let got = retrieve(&index, &query, k, &p);
			let want: Vec<(u32, f64)> = brute(&records, &query, &p).into_iter().take(k).collect();
			prop_assert_eq!(got.len(), want.len());
			for (g, (position, score)) in got.iter().zip(&want) {
				prop_assert!((g.score - score).abs() < 1e-9, "{} vs {}", g.score, score);
				// Equal scores may order differently only between exact ties.
				if g.position != *position {
					let theirs = want.iter().find(|w| w.0 == g.position).map(|w| w.1);
					prop_assert_eq!(theirs, Some(*score));
				}
			}
		}
	}
}
