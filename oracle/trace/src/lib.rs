//! Lineage's span index and per-answer attribution.
//!
//! An adapter is trained on datanet versions; this crate answers, for one completion, *which of
//! those records it repeats verbatim*, and how much of the answer each record (and so each
//! contributor) accounts for. It is step 6 of the path in `DESIGN.md`.
//!
//! - [`index`]: a [`SpanIndex`] holds the records of one datanet version in the base model's
//!   token ids, with their suffix array (built by libsais), written to a directory and memory
//!   mapped when opened: 2 bytes per token for the text, 4 for the suffix array.
//! - [`cache`]: an [`IndexCache`] keeps one index per version root on disk, built once.
//! - [`attribute`]: [`attribute`](attribute::attribute) finds the maximal spans of a completion
//!   (and, kept apart, of its prompt) that occur in a set of indexes, credits each span to the
//!   records it occurs in and those to their contributors.
//! - [`retrieve`]: [`retrieve`](retrieve::retrieve) ranks a version's records for a query by
//!   BM25, its posting lists read from the same suffix array (retrieval-augmented requests).
//!
//! The crate knows nothing of tokenizers, HTTP or the chain: callers pass token ids and the
//! records' on-chain identity ([`RecordMeta`]).

pub mod attribute;
pub mod cache;
pub mod index;
pub mod retrieve;

pub use attribute::{
	attribute, Attribution, AttributionParams, ContributorCredit, RecordCredit, Span,
};
pub use cache::IndexCache;
pub use index::{IndexError, RecordMeta, SpanIndex, SpanIndexBuilder};
pub use retrieve::{retrieve, RetrievalParams, Retrieved};
