//! From verified records to supervised examples: the chat template, the answer tokens the loss
//! is taken on, and the held-out split.
//!
//! A record is one JSON object with a `prompt` and a `completion` (the corpus format of the
//! datanet demo, and the shape of OpenAI's and TRL's prompt–completion data). The prompt is
//! rendered as one user turn with the model's chat template and the generation prompt opened;
//! the answer is the completion's tokens followed by the end-of-sequence token, so the adapter
//! also learns to stop. The loss is taken on the answer tokens only.
//!
//! **Held-out split.** A record is held out when the first two bytes of its content hash (its
//! sha-256, which the chain holds), read big-endian, are below `permille · 65536 / 1000`. The
//! choice depends on the record alone: the same record is held out in every run, whichever
//! versions and settings the run uses, and nobody chooses which records judge the adapter.

use lineage_engine::{
	chat::{render_chat, tokenize},
	ChatTemplate, ChatTurn, Model,
};
use serde::{Deserialize, Serialize};

/// Where a record comes from: its datanet version, its place in the version and its identity
/// on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
	/// The datanet.
	pub datanet: u32,
	/// The frozen version.
	pub version: u32,
	/// Its index within the version's ordered records.
	pub index: u32,
	/// Its contribution id on chain.
	pub contribution: u32,
	/// Its sha-256 (the chain's content hash).
	#[serde(with = "hex32")]
	pub content_hash: [u8; 32],
}

impl std::fmt::Display for RecordRef {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(
			f,
			"datanet {} v{} record {} (contribution {}, sha-256 {})",
			self.datanet,
			self.version,
			self.index,
			self.contribution,
			hex::encode(self.content_hash)
		)
	}
}

/// Hex (`0x…`) serde for 32-byte hashes.
pub mod hex32 {
	use serde::{Deserialize, Deserializer, Serializer};

	/// `0x` and 64 hex digits.
	pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&format!("0x{}", hex::encode(v)))
	}

	/// `0x` and 64 hex digits (the `0x` optional).
	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
		let text = String::deserialize(d)?;
		let mut out = [0u8; 32];
		hex::decode_to_slice(text.trim_start_matches("0x"), &mut out)
			.map_err(serde::de::Error::custom)?;
		Ok(out)
	}
}

/// A verified record's bytes and where it comes from.
#[derive(Clone, Debug)]
pub struct SourceRecord {
	/// Where it comes from.
	pub at: RecordRef,
	/// Its bytes (checked against the chain's content hash by whoever built this).
	pub bytes: Vec<u8>,
}

/// A record as the tool reads it.
#[derive(Clone, Debug, Deserialize)]
struct PromptCompletion {
	prompt: String,
	completion: String,
}

/// One supervised example.
#[derive(Clone, Debug)]
pub struct Example {
	/// The record it was made from.
	pub at: RecordRef,
	/// The question.
	pub prompt: String,
	/// The answer the record gives.
	pub completion: String,
	/// The rendered prompt's tokens (chat template, generation prompt opened).
	pub prompt_tokens: Vec<u32>,
	/// The answer's tokens, the end-of-sequence token last.
	pub answer_tokens: Vec<u32>,
}

impl Example {
	/// The tokens fed to the model: the prompt and the answer without its last token.
	pub fn input(&self) -> Vec<u32> {
		let mut t = self.prompt_tokens.clone();
		t.extend_from_slice(&self.answer_tokens[..self.answer_tokens.len() - 1]);
		t
	}

	/// The positions whose next token is an answer token.
	pub fn scored(&self) -> Vec<usize> {
		let p = self.prompt_tokens.len();
		(p - 1..p - 1 + self.answer_tokens.len()).collect()
	}

	/// Tokens fed per pass.
	pub fn input_len(&self) -> usize {
		self.prompt_tokens.len() + self.answer_tokens.len() - 1
	}
}

/// Whether a record with this content hash is held out (see the module doc).
pub fn is_heldout(content_hash: &[u8; 32], permille: u32) -> bool {
	let v = u32::from(u16::from_be_bytes([content_hash[0], content_hash[1]]));
	v * 1000 < permille * 65536
}

/// Turns records into examples with one model's tokenizer and chat template.
pub struct Formatter<'m> {
	model: &'m Model,
	template: Option<ChatTemplate>,
	eos: u32,
}

/// A record that cannot become an example, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
	/// The record.
	pub at: RecordRef,
	/// Why.
	pub reason: String,
}

impl<'m> Formatter<'m> {
	/// A formatter for `model` (its own chat template when it carries one).
	pub fn new(model: &'m Model) -> anyhow::Result<Self> {
		let template = ChatTemplate::from_model(model)?;
		let eos = model.eos_token_ids().first().copied().ok_or_else(|| {
			anyhow::anyhow!("model {} names no end-of-sequence token to end answers", model.id)
		})?;
		Ok(Formatter { model, template, eos })
	}

	/// The prompt tokens of a question, as the oracle renders a one-turn chat.
	pub fn prompt_tokens(&self, prompt: &str) -> anyhow::Result<Vec<u32>> {
		let (text, special) =
			render_chat(&[ChatTurn::new("user", prompt)], self.template.as_ref())?;
		Ok(tokenize(&self.model.tokenizer, &text, special)?)
	}

	/// The end-of-sequence token answers end with.
	pub fn eos(&self) -> u32 {
		self.eos
	}

	/// The example of one record, or why it cannot be one.
	pub fn example(&self, record: &SourceRecord, max_len: usize) -> Result<Example, Skipped> {
		let skip = |reason: String| Skipped { at: record.at, reason };
		let pc: PromptCompletion = serde_json::from_slice(&record.bytes)
			.map_err(|e| skip(format!("not a prompt/completion JSON record: {e}")))?;
		if pc.prompt.trim().is_empty() || pc.completion.trim().is_empty() {
			return Err(skip("empty prompt or completion".into()));
		}
		let prompt_tokens = self.prompt_tokens(&pc.prompt).map_err(|e| skip(e.to_string()))?;
		let mut answer_tokens = tokenize(&self.model.tokenizer, &pc.completion, false)
			.map_err(|e| skip(e.to_string()))?;
		answer_tokens.push(self.eos);
		let len = prompt_tokens.len() + answer_tokens.len() - 1;
		if prompt_tokens.is_empty() || len > max_len {
			return Err(skip(format!("{len} tokens, above max_seq_len {max_len}")));
		}
		Ok(Example {
			at: record.at,
			prompt: pc.prompt,
			completion: pc.completion,
			prompt_tokens,
			answer_tokens,
		})
	}
}

/// The examples of a run, split.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
	/// Training examples, in record order (datanet, version, index).
	pub train: Vec<Example>,
	/// Held-out examples, by content hash.
	pub heldout: Vec<Example>,
	/// Records that could not be used.
	pub skipped: Vec<Skipped>,
	/// Training records left out by `max_train_records`.
	pub over_budget: usize,
}

/// Splits and formats `records`: held-out by content hash, the training split capped at
/// `max_train` records (the first by content hash) when set.
pub fn build_dataset(
	records: &[SourceRecord],
	formatter: &Formatter<'_>,
	heldout_permille: u32,
	max_train: Option<usize>,
	max_len: usize,
) -> Dataset {
	let mut out = Dataset::default();
	for r in records {
		match formatter.example(r, max_len) {
			Ok(e) if is_heldout(&e.at.content_hash, heldout_permille) => out.heldout.push(e),
			Ok(e) => out.train.push(e),
			Err(s) => out.skipped.push(s),
		}
	}
	out.heldout.sort_by_key(|e| e.at.content_hash);
	if let Some(max) = max_train {
		if out.train.len() > max {
			out.train.sort_by_key(|e| e.at.content_hash);
			out.over_budget = out.train.len() - max;
			out.train.truncate(max);
		}
	}
	out.train.sort_by_key(|e| (e.at.datanet, e.at.version, e.at.index));
	out
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn heldout_split_depends_on_the_hash_alone() {
		let mut h = [0u8; 32];
		assert!(is_heldout(&h, 100));
		h[0] = 0x19; // 0x1900 = 6400 < 6553.6
		assert!(is_heldout(&h, 100));
		h[0] = 0x1a; // 6656
		assert!(!is_heldout(&h, 100));
		let held = (0..=u16::MAX)
			.filter(|v| {
				is_heldout(
					&{
						let mut h = [0u8; 32];
						h[..2].copy_from_slice(&v.to_be_bytes());
						h
					},
					100,
				)
			})
			.count();
		assert_eq!(held, 6554);
	}
}
