//! The attribution of one answer: which records it repeats, and how much of it each accounts for.
//!
//! 1. **Maximal spans.** For every position of the completion, the longest run of tokens from
//!    there that occurs verbatim in any of the indexes (the adapter's training versions). A run
//!    is a *span* when it is at least [`AttributionParams::min_span`] tokens long and not inside
//!    the run of the position before it (OLMoTrace's maximal matching spans).
//! 2. **Occurrences.** A span is credited to the distinct records it occurs in. A span that
//!    occurs in more than [`AttributionParams::max_occurrences`] places is *common* (a template,
//!    a stock phrase): it is reported with its count and credits nobody, which bounds the work
//!    and keeps stock phrases from diluting the records an answer really came from.
//! 3. **Echoes.** Tokens the completion copies from its prompt (runs of at least `min_echo`
//!    tokens the prompt holds too: " capital of X" in "The capital of X is Y" after "What is
//!    the capital of X?") are in no span: spans run between them. A model that repeats the
//!    question earns its training data nothing, and a stock phrase next to an echoed name
//!    ("X Guild was founded by") does not single out the one record that holds the name.
//! 4. **Credit.** Each completion token covered by creditable spans is worth one unit, shared
//!    equally by the spans covering it; a span's credit is shared equally by its records. A
//!    record's score is its credit in tokens; a contributor's, the sum over their records. The
//!    scores add up to [`Attribution::credited_tokens`].
//!
//! The prompt's spans are found the same way and reported apart ([`Attribution::prompt_spans`]):
//! what a caller pastes into a prompt is the caller's doing, so prompt spans credit nobody.
//!
//! Cost: one binary search over the suffix array per completion position and index (the
//! interval then narrows inside the first one's rows), plus one segment lookup per occurrence of
//! a creditable span: O((n · log N + n · L) per index + occurrences · log S).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::index::{hex32, RecordMeta, SpanIndex};

/// The knobs of [`attribute`].
#[derive(Clone, Debug)]
pub struct AttributionParams {
	/// Shortest span, in tokens, that counts (shorter runs occur everywhere by chance).
	pub min_span: usize,
	/// Longest run followed from one position (longer verbatim runs are cut, then continue as
	/// the next position's span).
	pub max_span: usize,
	/// Occurrences above which a span is common and credits nobody.
	pub max_occurrences: u64,
	/// Tokens of a completion (and, apart, of a prompt) looked at; the rest are not attributed.
	pub max_query_tokens: usize,
	/// Shortest run of tokens the completion shares with its prompt that counts as an echo
	/// (in no span). Short on purpose: an invented name is a few tokens.
	pub min_echo: usize,
}

impl Default for AttributionParams {
	fn default() -> Self {
		AttributionParams {
			min_span: 4,
			max_span: 256,
			max_occurrences: 256,
			max_query_tokens: 4096,
			min_echo: 3,
		}
	}
}

/// One maximal span of the completion (or prompt) found in the indexes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
	/// Its first token's position in the completion (or prompt).
	pub start: u32,
	/// Its length in tokens.
	pub len: u32,
	/// How many places of the indexes it occurs in.
	pub occurrences: u64,
	/// Whether it is common (more than `max_occurrences`): then it credits nobody.
	pub common: bool,
	/// The records it occurs in, as positions in [`Attribution::records`].
	pub records: Vec<u32>,
	/// The tokens of credit it carries (0 for prompt spans and common spans).
	pub credit: f64,
}

/// A record an answer's spans occur in, and its credit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordCredit {
	/// The record.
	#[serde(flatten)]
	pub record: RecordMeta,
	/// Credit in tokens of the completion.
	pub score: f64,
	/// Completion spans that occur in it.
	pub spans: u32,
}

/// A contributor's credit: the sum over their records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributorCredit {
	/// The account.
	#[serde(with = "hex32")]
	pub contributor: [u8; 32],
	/// Credit in tokens of the completion.
	pub score: f64,
	/// Their records with credit.
	pub records: u32,
}

/// The attribution of one answer (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
	/// Tokens of the completion looked at.
	pub completion_tokens: u32,
	/// Completion tokens covered by at least one creditable span (the sum of the scores).
	pub credited_tokens: u32,
	/// Completion tokens copied from the prompt (in no span).
	pub echoed_tokens: u32,
	/// The completion's maximal spans, by start.
	pub spans: Vec<Span>,
	/// The prompt's maximal spans, by start (credit nobody).
	pub prompt_spans: Vec<Span>,
	/// Every record a span occurs in: credited ones first, by score (highest first), then by
	/// datanet and contribution.
	pub records: Vec<RecordCredit>,
	/// Contributors with credit, by score (highest first), then by account.
	pub contributors: Vec<ContributorCredit>,
}

impl Attribution {
	/// Splits `total` units among the contributors in proportion to their scores, exactly (the
	/// largest remainders get the units rounding leaves, ties to the higher score, then the
	/// lower account): what the fee's matched part pays each. Empty when nobody has credit.
	pub fn contributor_shares(&self, total: u128) -> Vec<([u8; 32], u128)> {
		largest_remainder(
			self.contributors.iter().map(|c| (c.contributor, c.score)).collect(),
			total,
		)
	}
}

/// Splits `total` in proportion to the weights (non-negative, finite), summing exactly to `total`
/// when any weight is positive.
fn largest_remainder(weights: Vec<([u8; 32], f64)>, total: u128) -> Vec<([u8; 32], u128)> {
	// Weights as integers (parts per 2^40 of the sum), so the split is exact integer maths.
	let sum: f64 = weights.iter().map(|w| w.1).filter(|w| w.is_finite() && *w > 0.0).sum();
	if sum <= 0.0 {
		return Vec::new();
	}
	const SCALE: f64 = (1u64 << 40) as f64;
	let parts: Vec<([u8; 32], u128)> = weights
		.into_iter()
		.filter(|w| w.1.is_finite() && w.1 > 0.0)
		.map(|(a, w)| (a, ((w / sum) * SCALE).round().max(1.0) as u128))
		.collect();
	let denom: u128 = parts.iter().map(|p| p.1).sum();
	let mut out: Vec<([u8; 32], u128, u128)> = parts
		.iter()
		.map(|&(a, p)| {
			// total · p / denom without overflow for any u128 total: split total = q·denom + r.
			let (q, r) = (total / denom, total % denom);
			let exact = q * p + (r * p) / denom;
			let rem = (r * p) % denom;
			(a, exact, rem)
		})
		.collect();
	let given: u128 = out.iter().map(|o| o.1).sum();
	let mut left = total - given;
	let mut order: Vec<usize> = (0..out.len()).collect();
	order.sort_by(|&i, &j| {
		out[j].2.cmp(&out[i].2).then(parts[j].1.cmp(&parts[i].1)).then(out[i].0.cmp(&out[j].0))
	});
	for i in order {
		if left == 0 {
			break;
		}
		out[i].1 += 1;
		left -= 1;
	}
	out.into_iter().filter(|o| o.1 > 0).map(|o| (o.0, o.1)).collect()
}

/// A span before its records are resolved: which indexes hold it, at which rows.
struct Found {
	start: usize,
	len: usize,
	hits: Vec<(usize, std::ops::Range<usize>)>,
}

/// The maximal spans of `query` over `indexes` (see the module doc).
/// Positions marked in `breaks` (the completion's echoes of its prompt) are in no span: a span
/// runs within the stretches between them.
fn maximal_spans(
	indexes: &[&SpanIndex],
	query: &[u32],
	breaks: Option<&[bool]>,
	params: &AttributionParams,
) -> Vec<Found> {
	let n = query.len().min(params.max_query_tokens);
	let query = &query[..n];
	let broken = |i: usize| breaks.is_some_and(|b| b.get(i).copied().unwrap_or(false));
	// Where the stretch holding each position ends (the next break, or the end).
	let mut stretch_end = vec![n; n];
	for i in (0..n).rev() {
		stretch_end[i] = if broken(i) {
			i
		} else if i + 1 < n {
			stretch_end[i + 1]
		} else {
			n
		};
	}
	// Per index and position: the longest match within its stretch, and its rows.
	let runs: Vec<Vec<(usize, std::ops::Range<usize>)>> = indexes
		.iter()
		.map(|ix| {
			(0..n).map(|i| ix.longest_prefix(&query[i..stretch_end[i]], params.max_span)).collect()
		})
		.collect();
	let best: Vec<usize> = (0..n).map(|i| runs.iter().map(|r| r[i].0).max().unwrap_or(0)).collect();
	let mut out = Vec::new();
	for i in 0..n {
		let len = best[i];
		// Inside the previous position's run: not maximal (the suffix of a match matches, so
		// the run of i - 1 is the only one to check).
		if len < params.min_span.max(1) || (i > 0 && best[i - 1] > len) {
			continue;
		}
		let hits = runs
			.iter()
			.enumerate()
			.filter(|(_, r)| r[i].0 == len)
			.map(|(k, r)| (k, r[i].1.clone()))
			.collect();
		out.push(Found { start: i, len, hits });
	}
	out
}

/// Records met so far, keyed by their on-chain identity (a record frozen in two indexes is one).
#[derive(Default)]
struct RecordTable {
	by_key: HashMap<(u32, u32), usize>,
	records: Vec<RecordCredit>,
}

impl RecordTable {
	fn id(&mut self, meta: &RecordMeta) -> usize {
		*self.by_key.entry((meta.datanet, meta.contribution)).or_insert_with(|| {
			self.records.push(RecordCredit { record: meta.clone(), score: 0.0, spans: 0 });
			self.records.len() - 1
		})
	}
}

/// Resolves spans to records: distinct records per span, or none for a common span.
fn resolve(
	indexes: &[&SpanIndex],
	found: Vec<Found>,
	params: &AttributionParams,
	table: &mut RecordTable,
) -> Vec<Span> {
	found
		.into_iter()
		.map(|f| {
			let occurrences: u64 = f.hits.iter().map(|(_, rows)| rows.len() as u64).sum();
			let common = occurrences > params.max_occurrences;
			let mut records = Vec::new();
			if !common {
				for (k, rows) in &f.hits {
					let index = indexes[*k];
					for row in rows.clone() {
						let Some(meta) = index
							.occurrence(row)
							.and_then(|o| index.records().get(o.record as usize))
						else {
							continue;
						};
						records.push(table.id(meta) as u32);
					}
				}
				records.sort_unstable();
				records.dedup();
			}
			Span {
				start: f.start as u32,
				len: f.len as u32,
				occurrences,
				common,
				records,
				credit: 0.0,
			}
		})
		.collect()
}

/// Which completion positions lie in a run of at least `min` tokens that the prompt holds too
/// (longest common substrings ending at each position, by dynamic programming: O(n · m)).
fn echoed(prompt: &[u32], completion: &[u32], min: usize) -> Vec<bool> {
	let mut echo = vec![false; completion.len()];
	if prompt.is_empty() || min == 0 {
		return echo;
	}
	let mut prev = vec![0u32; prompt.len() + 1];
	let mut cur = vec![0u32; prompt.len() + 1];
	for (i, &c) in completion.iter().enumerate() {
		let mut best = 0u32;
		for (j, &p) in prompt.iter().enumerate() {
			cur[j + 1] = if c == p { prev[j] + 1 } else { 0 };
			best = best.max(cur[j + 1]);
		}
		if best as usize >= min {
			echo[i + 1 - best as usize..=i].iter_mut().for_each(|e| *e = true);
		}
		std::mem::swap(&mut prev, &mut cur);
	}
	echo
}

/// Attributes one answer: `completion`'s spans credit records and contributors; `prompt`'s are
/// found and reported apart. `indexes` are the adapter's training versions.
pub fn attribute(
	indexes: &[&SpanIndex],
	prompt: &[u32],
	completion: &[u32],
	params: &AttributionParams,
) -> Attribution {
	let mut table = RecordTable::default();
	// Tokens the answer copies from the prompt are in no span: the caller said them.
	let n = completion.len().min(params.max_query_tokens);
	let prompt = &prompt[..prompt.len().min(params.max_query_tokens)];
	let echo = echoed(prompt, &completion[..n], params.min_echo);
	let mut spans = resolve(
		indexes,
		maximal_spans(indexes, completion, Some(&echo), params),
		params,
		&mut table,
	);
	let mut prompt_spans =
		resolve(indexes, maximal_spans(indexes, prompt, None, params), params, &mut table);

	// Each covered completion token is one unit, shared by the creditable spans covering it.
	let range = |s: &Span| s.start as usize..(s.start + s.len) as usize;
	let creditable = |s: &Span| !s.common && !s.records.is_empty();
	let mut cover = vec![0u32; n];
	for s in spans.iter().filter(|s| creditable(s)) {
		for c in &mut cover[range(s)] {
			*c += 1;
		}
	}
	for s in spans.iter_mut().filter(|s| creditable(s)) {
		s.credit = cover[range(s)].iter().map(|&c| 1.0 / f64::from(c)).sum();
		let share = s.credit / s.records.len() as f64;
		for &r in &s.records {
			let rec = &mut table.records[r as usize];
			rec.score += share;
			rec.spans += 1;
		}
	}

	// Order records by score, and renumber the spans' references.
	let mut records = table.records;
	let mut order: Vec<usize> = (0..records.len()).collect();
	order.sort_by(|&a, &b| {
		let (ra, rb) = (&records[a], &records[b]);
		rb.score.total_cmp(&ra.score).then(
			(ra.record.datanet, ra.record.contribution)
				.cmp(&(rb.record.datanet, rb.record.contribution)),
		)
	});
	let mut renumber = vec![0u32; records.len()];
	for (new, &old) in order.iter().enumerate() {
		renumber[old] = new as u32;
	}
	let fix = |spans: &mut Vec<Span>| {
		for s in spans.iter_mut() {
			for r in &mut s.records {
				*r = renumber[*r as usize];
			}
			s.records.sort_unstable();
		}
	};
	fix(&mut spans);
	fix(&mut prompt_spans);
	let mut slots: Vec<Option<RecordCredit>> = records.drain(..).map(Some).collect();
	let records: Vec<RecordCredit> = order.iter().filter_map(|&i| slots[i].take()).collect();

	let mut by_contributor: BTreeMap<[u8; 32], (f64, u32)> = BTreeMap::new();
	for r in records.iter().filter(|r| r.score > 0.0) {
		let e = by_contributor.entry(r.record.contributor).or_default();
		e.0 += r.score;
		e.1 += 1;
	}
	let mut contributors: Vec<ContributorCredit> = by_contributor
		.into_iter()
		.map(|(contributor, (score, records))| ContributorCredit { contributor, score, records })
		.collect();
	contributors
		.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.contributor.cmp(&b.contributor)));

	Attribution {
		completion_tokens: n as u32,
		credited_tokens: cover.iter().filter(|&&c| c > 0).count() as u32,
		echoed_tokens: echo.iter().filter(|&&e| e).count() as u32,
		spans,
		prompt_spans,
		records,
		contributors,
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::index::{tests::meta, SpanIndexBuilder};

	struct Fixture {
		_dir: tempfile::TempDir,
		index: SpanIndex,
	}

	/// An index of `records` (contribution i, contributor `who[i]`, one segment each).
	fn index(records: &[(&[u32], u8)]) -> Fixture {
		let dir = tempfile::tempdir().unwrap();
		let mut b = SpanIndexBuilder::new();
		for (i, (tokens, who)) in records.iter().enumerate() {
			b.add_record(meta(i as u32, *who), &[tokens]).unwrap();
		}
		Fixture { index: b.write(dir.path()).unwrap(), _dir: dir }
	}

	fn params(min_span: usize) -> AttributionParams {
		AttributionParams { min_span, ..Default::default() }
	}

	fn score(a: &Attribution, contribution: u32) -> f64 {
		a.records.iter().find(|r| r.record.contribution == contribution).map_or(0.0, |r| r.score)
	}

	#[test]
	fn overlapping_spans_share_the_tokens_they_both_cover() {
		let f = index(&[(&[10, 11, 12, 13, 14, 15], 1), (&[13, 14, 15, 16, 17, 18], 2)]);
		let a = attribute(&[&f.index], &[], &[10, 11, 12, 13, 14, 15, 16, 17, 18], &params(4));
		let spans: Vec<(u32, u32)> = a.spans.iter().map(|s| (s.start, s.len)).collect();
		assert_eq!(spans, vec![(0, 6), (3, 6)], "two maximal spans, the inner runs dropped");
		// Tokens 0-2 are record 0's alone, 6-8 record 1's, 3-5 shared half and half.
		assert_eq!(score(&a, 0), 4.5);
		assert_eq!(score(&a, 1), 4.5);
		assert_eq!(a.credited_tokens, 9);
		assert_eq!(a.contributors.len(), 2);
		let total: f64 = a.contributors.iter().map(|c| c.score).sum();
		assert_eq!(total, 9.0);
	}

	#[test]
	fn a_repeated_span_counts_its_record_once_and_splits_between_records() {
		let f =
			index(&[(&[1, 2, 3, 4, 9, 1, 2, 3, 4], 1), (&[7, 1, 2, 3, 4], 2), (&[5, 5, 5, 5], 3)]);
		let a = attribute(&[&f.index], &[], &[1, 2, 3, 4], &params(4));
		assert_eq!(a.spans.len(), 1);
		assert_eq!(a.spans[0].occurrences, 3, "twice in record 0, once in record 1");
		assert_eq!(a.spans[0].records.len(), 2);
		assert_eq!(score(&a, 0), 2.0);
		assert_eq!(score(&a, 1), 2.0);
		assert_eq!(score(&a, 2), 0.0);
	}

	#[test]
	fn a_span_at_the_end_of_a_record_counts_and_one_across_two_records_never_does() {
		let f = index(&[(&[1, 2, 3], 1), (&[4, 5, 6], 2), (&[8, 20, 21, 22, 23], 3)]);
		// 1 2 3 4 5 6 is in the text only across the boundary of records 0 and 1.
		let a = attribute(&[&f.index], &[], &[1, 2, 3, 4, 5, 6], &params(4));
		assert!(a.spans.is_empty(), "{:?}", a.spans);
		assert_eq!(a.credited_tokens, 0);
		let a = attribute(&[&f.index], &[], &[1, 2, 3, 4, 5, 6], &params(3));
		assert_eq!(a.spans.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), [(0, 3), (3, 3)]);
		// A span that ends its record.
		let a = attribute(&[&f.index], &[], &[20, 21, 22, 23, 99], &params(4));
		assert_eq!(a.spans.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), [(0, 4)]);
		assert_eq!(a.contributors[0].contributor, [3; 32]);
		assert_eq!(a.contributors[0].score, 4.0);
	}

	#[test]
	fn common_spans_and_prompt_spans_credit_nobody() {
		let mut records: Vec<(Vec<u32>, u8)> =
			(0..6).map(|i| (vec![1, 2, 3, 4, 100 + i], 1)).collect();
		records.push((vec![50, 51, 52, 53, 54], 2));
		let refs: Vec<(&[u32], u8)> = records.iter().map(|(t, w)| (t.as_slice(), *w)).collect();
		let f = index(&refs);
		let p = AttributionParams { min_span: 4, max_occurrences: 5, ..Default::default() };
		let a = attribute(&[&f.index], &[50, 51, 52, 53, 54], &[1, 2, 3, 4, 9], &p);
		assert_eq!(a.spans.len(), 1);
		assert!(a.spans[0].common);
		assert_eq!(a.spans[0].occurrences, 6);
		assert!(a.spans[0].records.is_empty());
		assert_eq!(a.prompt_spans.len(), 1, "the prompt's copy of record 6 is reported");
		assert_eq!(a.prompt_spans[0].credit, 0.0);
		assert!(a.contributors.is_empty(), "nobody is paid for either");
		assert!(a.contributor_shares(1_000).is_empty(), "the fee then follows the weights alone");
		assert_eq!(a.records.len(), 1, "record 6, met in the prompt");
		assert_eq!(a.records[0].score, 0.0);
	}

	#[test]
	fn what_the_answer_copies_from_the_prompt_earns_nothing() {
		let f = index(&[(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1)]);
		// The answer repeats the prompt's 1..=5 and adds 6 7 8: three tokens of its own, below
		// min_span, so no span and no credit.
		let a = attribute(&[&f.index], &[0, 1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6, 7, 8], &params(4));
		assert!(a.spans.is_empty(), "{:?}", a.spans);
		assert_eq!(a.echoed_tokens, 5);
		assert!(a.contributors.is_empty());
		// Four tokens of its own: credited for those four only.
		let a =
			attribute(&[&f.index], &[0, 1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6, 7, 8, 9], &params(4));
		assert_eq!(a.spans.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), [(5, 4)]);
		assert_eq!(a.credited_tokens, 4);
		assert_eq!(a.contributors[0].score, 4.0);
		// A run shorter than min_echo shared with the prompt is no echo.
		let a = attribute(&[&f.index], &[0, 1, 2, 99], &[1, 2, 3, 4, 5], &params(4));
		assert_eq!(a.echoed_tokens, 0);
		assert_eq!(a.credited_tokens, 5);
	}

	#[test]
	fn an_answer_with_no_match_is_credited_to_nobody() {
		let f = index(&[(&[1, 2, 3, 4, 5], 1)]);
		let a = attribute(&[&f.index], &[], &[6, 7, 8, 9, 10, 11], &params(4));
		assert_eq!(a, Attribution { completion_tokens: 6, ..Default::default() });
		// A stock phrase beside an echoed name: the name is the prompt's, the phrase alone
		// (3 tokens) is no span.
		let f = index(&[(&[50, 51, 52, 53, 7, 8, 9], 1), (&[60, 61, 62, 7, 8, 9, 70], 2)]);
		let a = attribute(
			&[&f.index],
			&[0, 50, 51, 52, 53],
			&[50, 51, 52, 53, 7, 8, 9, 99],
			&params(4),
		);
		assert!(a.contributors.is_empty(), "{:?}", a.spans);
	}

	#[test]
	fn the_same_record_in_two_versions_is_one_record() {
		let v1 = index(&[(&[1, 2, 3, 4, 5], 1)]);
		let v2 = index(&[(&[1, 2, 3, 4, 5], 1), (&[3, 4, 5, 6, 7], 2)]);
		let a = attribute(&[&v1.index, &v2.index], &[], &[1, 2, 3, 4, 5, 6, 7], &params(4));
		assert_eq!(a.spans.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), [(0, 5), (2, 5)]);
		assert_eq!(a.spans[0].occurrences, 2, "one per version");
		assert_eq!(a.records.len(), 2, "contribution 0 of datanet 0 once");
		assert_eq!(score(&a, 0) + score(&a, 1), 7.0);
		assert_eq!(score(&a, 0), 2.0 + 1.5);
	}

	#[test]
	fn the_query_cap_bounds_the_work() {
		let f = index(&[(&[1, 2, 3, 4, 5, 6, 7, 8], 1)]);
		let p = AttributionParams { min_span: 4, max_query_tokens: 5, ..Default::default() };
		let a = attribute(&[&f.index], &[], &[1, 2, 3, 4, 5, 6, 7, 8], &p);
		assert_eq!(a.completion_tokens, 5);
		assert_eq!(a.spans.iter().map(|s| (s.start, s.len)).collect::<Vec<_>>(), [(0, 5)]);
	}

	proptest::proptest! {
		/// The split of any total among any scores is exact and follows the scores.
		#[test]
		fn contributor_shares_sum_exactly(
			scores in proptest::collection::vec(0.0f64..1000.0, 0..12),
			total in 0u128..u128::MAX / 2,
		) {
			let a = Attribution {
				contributors: scores
					.iter()
					.enumerate()
					.map(|(i, &score)| ContributorCredit { contributor: [i as u8; 32], score, records: 1 })
					.collect(),
				..Default::default()
			};
			let shares = a.contributor_shares(total);
			let positive = scores.iter().any(|&s| s > 0.0);
			let sum: u128 = shares.iter().map(|s| s.1).sum();
			proptest::prop_assert_eq!(sum, if positive { total } else { 0 });
			for (who, share) in &shares {
				let s = scores[who[0] as usize];
				proptest::prop_assert!(s > 0.0, "a zero score earns nothing");
				let ideal = total as f64 * s / scores.iter().sum::<f64>();
				proptest::prop_assert!((*share as f64 - ideal).abs() <= ideal * 1e-6 + 2.0);
			}
		}
	}
}
