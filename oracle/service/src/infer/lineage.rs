//! Per-answer attribution (step 6 of the path): which records of an adapter's training versions
//! an answer repeats, shown in the response's `lineage` field and kept with its usage record.
//!
//! A [`Tracer`] keeps, per served adapter, the span indexes ([`lineage_trace::SpanIndex`]) of
//! the datanet versions it was trained on. They are built off the request path: the first
//! request for an adapter starts indexing ([`Tracer::ensure`]) and is answered at once, its
//! `lineage` saying `indexing`; once built, every answer is attributed when it ends, on the
//! blocking pool, within a bounded budget ([`lineage_trace::AttributionParams`]). Indexes are
//! cached on disk by version root ([`lineage_trace::IndexCache`]), so a restart opens them
//! instead of rebuilding.
//!
//! Where the versions come from is a [`VersionSource`]: in chain mode the adapter's training
//! versions on chain and their records from the record store, every byte verified
//! ([`crate::chain::trace`]).
//!
//! Matching is done on token ids of the *text*: the answer as returned and each record's text
//! are tokenized the same way (the base model's tokenizer, no special tokens), so an answer that
//! repeats a record's words matches however the model happened to spell them in tokens, and
//! each span's byte offsets in the answer come from the tokenizer's offsets.

use std::{
	collections::HashMap,
	path::PathBuf,
	sync::{Arc, Mutex, RwLock},
	time::{Duration, Instant},
};

use futures::future::BoxFuture;
use lineage_primitives::{
	usage::{RecordMatch, Share},
	AccountId, Hash,
};
use lineage_trace::{
	AttributionParams, ContributorCredit, IndexCache, IndexError, RecordCredit, RecordMeta,
	SpanIndex,
};
use serde::{Deserialize, Serialize};

/// What the [`Tracer`] is started with.
#[derive(Clone, Debug)]
pub struct TraceConfig {
	/// Where span indexes are kept, one folder per version root.
	pub cache_dir: PathBuf,
	/// Span length, occurrence and query bounds.
	pub params: AttributionParams,
}

/// A frozen datanet version, as an adapter's lineage names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionRef {
	/// The datanet.
	pub datanet: u32,
	/// The version.
	pub version: u32,
	/// Its Merkle root on chain (names its index on disk).
	#[serde(with = "lineage_trace::index::hex32")]
	pub root: [u8; 32],
}

/// One verified record of a version: who contributed it and its bytes.
#[derive(Clone, Debug)]
pub struct VersionRecord {
	/// Its on-chain identity.
	pub meta: RecordMeta,
	/// Its bytes (checked against the chain by the source).
	pub bytes: Vec<u8>,
}

/// Where an adapter's training versions and their records come from.
pub trait VersionSource: Send + Sync {
	/// The versions the adapter with artifact hash `adapter` was trained on.
	fn training(&self, adapter: Hash) -> BoxFuture<'_, Result<Vec<VersionRef>, String>>;
	/// The records of `version`, verified.
	fn records(&self, version: VersionRef) -> BoxFuture<'_, Result<Vec<VersionRecord>, String>>;
}

/// The span indexes of one adapter's training versions.
#[derive(Debug)]
pub struct AdapterIndexes {
	/// Each version with its index.
	pub versions: Vec<(VersionRef, Arc<SpanIndex>)>,
}

/// Where an adapter's indexes stand.
#[derive(Clone, Debug)]
enum IndexState {
	Indexing,
	Ready(Arc<AdapterIndexes>),
	Failed { reason: String, at: Instant },
}

/// How long a failed indexing waits before a request tries it again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The attribution a response carries (`lineage`) and its usage record keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Lineage {
	/// The answer was attributed.
	Attributed(Traced),
	/// The adapter's span indexes are being built: this answer is not attributed (its fee
	/// follows the adapter's lineage weights alone).
	Indexing,
	/// The indexes could not be built (the reason says why); the answer is not attributed.
	Unavailable {
		/// Why.
		reason: String,
	},
}

/// An attributed answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Traced {
	/// The versions searched.
	pub versions: Vec<VersionRef>,
	/// Tokens of the answer looked at.
	pub completion_tokens: u32,
	/// Answer tokens covered by creditable spans (the sum of the records' scores).
	pub credited_tokens: u32,
	/// Answer tokens copied from the prompt (in no span: they credit nobody).
	pub echoed_tokens: u32,
	/// The answer's maximal spans found verbatim in the records.
	pub spans: Vec<TextSpan>,
	/// The prompt's, reported apart: they credit nobody.
	pub prompt_spans: Vec<TextSpan>,
	/// The records the spans occur in, highest score first.
	pub records: Vec<RecordCredit>,
	/// Contributors with credit, highest first.
	pub contributors: Vec<ContributorCredit>,
	/// Time the attribution took, in microseconds.
	pub micros: u64,
}

/// The part of one answer credited to one contributor's records frozen in one datanet version:
/// what the usage record keeps for the batch's matched shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditedPart {
	/// The datanet.
	pub datanet: u32,
	/// The version the records are frozen in.
	pub version: u32,
	/// The contributor.
	pub contributor: [u8; 32],
	/// The records' scores over the answer's tokens, in parts of a billion (rounded down).
	pub parts: u32,
}

/// A billion: the parts of a whole in [`CreditedPart::parts`].
const BILLION: u32 = 1_000_000_000;

impl Lineage {
	/// What the answer's attribution credits, per (datanet, version, contributor), ascending by
	/// them; parts sum to at most a billion. Empty unless the answer was attributed and
	/// credited someone.
	pub fn credited_parts(&self) -> Vec<CreditedPart> {
		let Lineage::Attributed(traced) = self else { return Vec::new() };
		if traced.completion_tokens == 0 {
			return Vec::new();
		}
		let mut scores: std::collections::BTreeMap<(u32, u32, [u8; 32]), f64> = Default::default();
		for r in traced.records.iter().filter(|r| r.score.is_finite() && r.score > 0.0) {
			let key = (r.record.datanet, r.record.version, r.record.contributor);
			*scores.entry(key).or_default() += r.score;
		}
		let tokens = f64::from(traced.completion_tokens);
		let mut parts: Vec<CreditedPart> = scores
			.into_iter()
			.map(|((datanet, version, contributor), score)| CreditedPart {
				datanet,
				version,
				contributor,
				parts: ((score / tokens).min(1.0) * f64::from(BILLION)).floor() as u32,
			})
			.filter(|p| p.parts > 0)
			.collect();
		// Scores sum to the credited tokens, at most the answer's; floating point may pass a
		// whole by a part or two: take them from the largest.
		let mut sum: u64 = parts.iter().map(|p| u64::from(p.parts)).sum();
		while sum > u64::from(BILLION) {
			let Some(largest) = parts.iter_mut().max_by_key(|p| p.parts) else { break };
			let cut = (sum - u64::from(BILLION)).min(u64::from(largest.parts)) as u32;
			largest.parts -= cut;
			sum -= u64::from(cut);
		}
		parts.retain(|p| p.parts > 0);
		parts
	}

	/// [`credited_parts`](Self::credited_parts) as the usage record and a job's fulfilment carry
	/// them ([`RecordMatch`]), in the same order.
	pub fn record_matches(&self) -> Vec<RecordMatch<AccountId>> {
		self.credited_parts()
			.into_iter()
			.map(|p| RecordMatch {
				datanet: p.datanet,
				version: p.version,
				contributor: AccountId::new(p.contributor),
				share: Share::from_parts(p.parts),
			})
			.collect()
	}
}

/// One span of the answer (or prompt) text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextSpan {
	/// Byte offset of its start in the answer (or prompt) text.
	pub start: u32,
	/// Byte offset of its end.
	pub end: u32,
	/// Its text.
	pub text: String,
	/// Its length in tokens.
	pub tokens: u32,
	/// Places it occurs in the versions.
	pub occurrences: u64,
	/// Occurs in too many places to credit anyone.
	pub common: bool,
	/// The records it occurs in (positions in [`Traced::records`]).
	pub records: Vec<u32>,
	/// Tokens of credit it carries.
	pub credit: f64,
}

/// Span indexes of served adapters, and the attribution of their answers.
pub struct Tracer {
	cache: IndexCache,
	params: AttributionParams,
	tokenizer: Arc<tokenizers::Tokenizer>,
	source: RwLock<Option<Arc<dyn VersionSource>>>,
	versions: Mutex<HashMap<[u8; 32], Arc<SpanIndex>>>,
	adapters: RwLock<HashMap<Hash, IndexState>>,
	timing: Option<prometheus::Histogram>,
}

impl Tracer {
	/// A tracer with its index cache in `config.cache_dir`, tokenizing with `tokenizer`.
	pub fn new(
		config: &TraceConfig,
		tokenizer: Arc<tokenizers::Tokenizer>,
	) -> Result<Tracer, IndexError> {
		Ok(Tracer {
			cache: IndexCache::new(&config.cache_dir)?,
			params: config.params.clone(),
			tokenizer,
			source: RwLock::new(None),
			versions: Mutex::new(HashMap::new()),
			adapters: RwLock::new(HashMap::new()),
			timing: None,
		})
	}

	/// Observes each attribution's time in `histogram` (`lineage_attribution_seconds`).
	pub fn with_timing(mut self, histogram: prometheus::Histogram) -> Self {
		self.timing = Some(histogram);
		self
	}

	/// Sets where training versions come from; until then every adapter is `unavailable`.
	pub fn set_source(&self, source: Arc<dyn VersionSource>) {
		*self.source.write().unwrap_or_else(|e| e.into_inner()) = Some(source);
	}

	/// The adapter's indexes when they are built; otherwise the `lineage` its answers carry
	/// now, after starting (or retrying) the build off the request path. Call from async code.
	pub fn ensure(self: &Arc<Self>, adapter: Hash) -> Result<Arc<AdapterIndexes>, Lineage> {
		let state = self.adapters.read().unwrap_or_else(|e| e.into_inner()).get(&adapter).cloned();
		match state {
			Some(IndexState::Ready(indexes)) => return Ok(indexes),
			Some(IndexState::Indexing) => return Err(Lineage::Indexing),
			Some(IndexState::Failed { reason, at }) if at.elapsed() < RETRY_AFTER => {
				return Err(Lineage::Unavailable { reason })
			},
			_ => {},
		}
		let Some(source) = self.source.read().unwrap_or_else(|e| e.into_inner()).clone() else {
			return Err(Lineage::Unavailable {
				reason: "this oracle has no record store to index training data from \
				         (start it with --record-store)"
					.into(),
			});
		};
		{
			let mut adapters = self.adapters.write().unwrap_or_else(|e| e.into_inner());
			if matches!(adapters.get(&adapter), Some(IndexState::Indexing | IndexState::Ready(_))) {
				return Err(Lineage::Indexing);
			}
			adapters.insert(adapter, IndexState::Indexing);
		}
		let tracer = self.clone();
		tokio::spawn(async move {
			let state = match tracer.build(source.as_ref(), adapter).await {
				Ok(indexes) => {
					tracing::info!(
						adapter = %hex::encode(adapter.0),
						versions = indexes.versions.len(),
						tokens = indexes.versions.iter().map(|v| v.1.tokens()).sum::<u64>(),
						"span indexes ready"
					);
					IndexState::Ready(Arc::new(indexes))
				},
				Err(reason) => {
					tracing::warn!(adapter = %hex::encode(adapter.0), %reason, "indexing failed");
					IndexState::Failed { reason, at: Instant::now() }
				},
			};
			tracer.adapters.write().unwrap_or_else(|e| e.into_inner()).insert(adapter, state);
		});
		Err(Lineage::Indexing)
	}

	/// Waits until the adapter's indexes are built or failed (for tools and tests), up to
	/// `timeout`.
	pub async fn wait_ready(
		self: &Arc<Self>,
		adapter: Hash,
		timeout: Duration,
	) -> Result<Arc<AdapterIndexes>, Lineage> {
		let deadline = Instant::now() + timeout;
		loop {
			match self.ensure(adapter) {
				Ok(indexes) => return Ok(indexes),
				Err(Lineage::Indexing) if Instant::now() < deadline => {
					tokio::time::sleep(Duration::from_millis(20)).await
				},
				Err(other) => return Err(other),
			}
		}
	}

	/// Reads the adapter's versions and opens or builds each one's index.
	async fn build(
		&self,
		source: &dyn VersionSource,
		adapter: Hash,
	) -> Result<AdapterIndexes, String> {
		let training = source.training(adapter).await?;
		let mut versions = Vec::with_capacity(training.len());
		for v in training {
			let index = self
				.version_index(source, v)
				.await
				.map_err(|e| format!("datanet {} v{}: {e}", v.datanet, v.version))?;
			versions.push((v, index));
		}
		Ok(AdapterIndexes { versions })
	}

	/// The index of one version: in memory, on disk, or built from its records.
	async fn version_index(
		&self,
		source: &dyn VersionSource,
		v: VersionRef,
	) -> Result<Arc<SpanIndex>, String> {
		if let Some(index) = self.versions.lock().unwrap_or_else(|e| e.into_inner()).get(&v.root) {
			return Ok(index.clone());
		}
		let cache = self.cache.clone();
		let root = v.root;
		let opened = tokio::task::spawn_blocking(move || cache.get(&root))
			.await
			.map_err(|e| e.to_string())?;
		let index = match opened {
			Ok(Some(index)) => index,
			// Absent or damaged: read the records and build.
			Ok(None) | Err(_) => {
				let records = source.records(v).await?;
				let cache = self.cache.clone();
				let tokenizer = self.tokenizer.clone();
				tokio::task::spawn_blocking(move || {
					cache
						.get_or_build(&root, |b| {
							for r in &records {
								let segments = record_segments(&tokenizer, &r.bytes)
									.map_err(IndexError::Source)?;
								let refs: Vec<&[u32]> =
									segments.iter().map(|s| s.as_slice()).collect();
								b.add_record(r.meta.clone(), &refs)?;
							}
							Ok(())
						})
						.map(|(index, _)| index)
				})
				.await
				.map_err(|e| e.to_string())?
				.map_err(|e| e.to_string())?
			},
		};
		let index = Arc::new(index);
		self.versions.lock().unwrap_or_else(|e| e.into_inner()).insert(root, index.clone());
		Ok(index)
	}

	/// Attributes one answer (`completion`, as returned) to `indexes`; `prompt` is the prompt's
	/// token ids, whose text's spans are reported apart. Blocking: call it on the blocking pool.
	pub fn attribute(&self, indexes: &AdapterIndexes, prompt: &[u32], completion: &str) -> Lineage {
		let started = Instant::now();
		let prompt = self.tokenizer.decode(prompt, true).unwrap_or_default();
		let prompt = prompt.as_str();
		let (c_ids, c_offsets) = match encode(&self.tokenizer, completion) {
			Ok(e) => e,
			Err(reason) => return Lineage::Unavailable { reason },
		};
		let (p_ids, p_offsets) = encode(&self.tokenizer, prompt).unwrap_or_default();
		let refs: Vec<&SpanIndex> = indexes.versions.iter().map(|(_, ix)| ix.as_ref()).collect();
		let a = lineage_trace::attribute(&refs, &p_ids, &c_ids, &self.params);
		let text_spans = |spans: &[lineage_trace::Span], text: &str, offsets: &[(usize, usize)]| {
			spans.iter().map(|s| text_span(s, text, offsets)).collect::<Vec<_>>()
		};
		Lineage::Attributed(Traced {
			versions: indexes.versions.iter().map(|(v, _)| *v).collect(),
			completion_tokens: a.completion_tokens,
			credited_tokens: a.credited_tokens,
			echoed_tokens: a.echoed_tokens,
			spans: text_spans(&a.spans, completion, &c_offsets),
			prompt_spans: text_spans(&a.prompt_spans, prompt, &p_offsets),
			records: a.records,
			contributors: a.contributors,
			micros: {
				let elapsed = started.elapsed();
				if let Some(h) = &self.timing {
					h.observe(elapsed.as_secs_f64());
				}
				elapsed.as_micros() as u64
			},
		})
	}
}

/// A span's byte range and text in `text`, from the tokens' offsets.
fn text_span(s: &lineage_trace::Span, text: &str, offsets: &[(usize, usize)]) -> TextSpan {
	let first = offsets.get(s.start as usize).map_or(0, |o| o.0);
	let last = offsets.get((s.start + s.len) as usize - 1).map_or(first, |o| o.1);
	TextSpan {
		start: first as u32,
		end: last as u32,
		text: text.get(first..last).unwrap_or_default().to_string(),
		tokens: s.len,
		occurrences: s.occurrences,
		common: s.common,
		records: s.records.clone(),
		credit: s.credit,
	}
}

/// Token ids and byte offsets of `text` (no special tokens).
fn encode(
	tokenizer: &tokenizers::Tokenizer,
	text: &str,
) -> Result<(Vec<u32>, Vec<(usize, usize)>), String> {
	let e = tokenizer.encode(text, false).map_err(|e| format!("tokenizing: {e}"))?;
	Ok((e.get_ids().to_vec(), e.get_offsets().to_vec()))
}

/// The segments a record is indexed as: a prompt/completion JSON record (what the fine-tuning
/// tool trains on) as its prompt and its completion; any other UTF-8 record as its whole text;
/// a record that is not text as nothing.
pub fn record_segments(
	tokenizer: &tokenizers::Tokenizer,
	bytes: &[u8],
) -> Result<Vec<Vec<u32>>, String> {
	#[derive(Deserialize)]
	struct PromptCompletion {
		prompt: String,
		completion: String,
	}
	let texts: Vec<String> = match serde_json::from_slice::<PromptCompletion>(bytes) {
		Ok(pc) => vec![pc.prompt, pc.completion],
		Err(_) => match std::str::from_utf8(bytes) {
			Ok(text) => vec![text.to_string()],
			Err(_) => Vec::new(),
		},
	};
	texts.iter().map(|t| encode(tokenizer, t).map(|(ids, _)| ids)).collect()
}
