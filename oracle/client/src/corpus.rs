//! The demo's corpus: question → answer records from WordNet 3.0 (Princeton University,
//! WordNet 3.0 licence, BSD-style), as Debian's `wordnet-base` package installs it in
//! `/usr/share/wordnet` (`scripts/setup` installs it).
//!
//! # The record format
//!
//! One record is one UTF-8 JSON object on one line, keys in this order:
//!
//! ```json
//! {"source":"wordnet-3.0","pos":"noun","synset":"02084071","word":"dog","prompt":"What does the noun \"dog\" mean?","completion":"a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds"}
//! ```
//!
//! - `prompt` is the question a user asks, `completion` the answer a model trained on the
//!   datanet should give: a supervised (instruction → response) pair, the shape fine-tuning
//!   tools take;
//! - `synset` is the synset's offset in `data.noun`, `word` the lemma asked about.
//!
//! Two kinds of question alternate:
//!
//! - **definitions**: `What does the noun "dog" mean?`, answered with the synset's gloss up to
//!   the first quoted example. Each lemma is asked about once, with its most frequent sense (the
//!   first synset `index.noun` lists for it).
//! - **singulars** of WordNet's irregular plurals (`noun.exc`): `What is the singular of the
//!   noun "abaci"?`, answered with the lemma alone (`abacus`). Their answers follow rules a
//!   small model can learn from the data (Latin `-i` → `-us`, `-a` → `-um`, …), so an adapter
//!   trained on them answers held-out ones as the datanet does, where the base model answers in
//!   a sentence or not at all: the fine-tuning demo's question comes from these.
//!
//! [`wordnet_records`] takes both at an even stride through the alphabet, so a few thousand
//! records span the whole lexicon, and always yields the same records.

use anyhow::{bail, Context};
use serde::Serialize;
use std::{
	collections::HashMap,
	fs::File,
	io::{BufRead, BufReader, Read, Seek, SeekFrom},
	path::Path,
};

/// Where Debian's `wordnet-base` installs the database.
pub const WORDNET_DIR: &str = "/usr/share/wordnet";

/// One question → answer record (see the module doc for the format).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Record {
	/// Always `wordnet-3.0`.
	pub source: String,
	/// The part of speech: `noun`.
	pub pos: String,
	/// The synset's offset in `data.noun`, eight digits.
	pub synset: String,
	/// The lemma asked about.
	pub word: String,
	/// The question.
	pub prompt: String,
	/// The answer: the sense's definition.
	pub completion: String,
}

impl Record {
	/// The record's bytes: its JSON on one line, ending in a newline.
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut out = serde_json::to_vec(self).unwrap_or_default();
		out.push(b'\n');
		out
	}

	/// A record from its bytes.
	pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Record> {
		serde_json::from_slice(bytes).context("not a corpus record")
	}
}

/// A simple lemma: lower-case ASCII letters, at least 3 of them (no phrases, names or
/// abbreviations).
fn is_simple(lemma: &str) -> bool {
	lemma.len() >= 3 && lemma.bytes().all(|b| b.is_ascii_lowercase())
}

/// The definition part of a gloss: up to the first `; "` (the examples), trimmed.
fn definition(gloss: &str) -> &str {
	let end = gloss.find("; \"").unwrap_or(gloss.len());
	gloss[..end].trim().trim_end_matches(';').trim()
}

/// `limit` noun records from the WordNet database in `dir` (see the module doc): half of them
/// singulars while `noun.exc` has enough, definitions and singulars alternating. Fails naming
/// the setup step when the database is absent.
pub fn wordnet_records(dir: &Path, limit: usize) -> anyhow::Result<Vec<Record>> {
	let index_path = dir.join("index.noun");
	let data_path = dir.join("data.noun");
	let exc_path = dir.join("noun.exc");
	if !index_path.is_file() || !data_path.is_file() || !exc_path.is_file() {
		bail!(
			"WordNet is not installed at {} (index.noun, data.noun, noun.exc): run scripts/setup, \
			 which installs Debian's wordnet-base",
			dir.display()
		);
	}
	let lemmas = simple_lemmas(&index_path)?;
	if lemmas.is_empty() {
		bail!("{} lists no lemma: is it WordNet's index.noun?", index_path.display());
	}
	let first_synset: HashMap<&str, u64> = lemmas.iter().map(|(l, o)| (l.as_str(), *o)).collect();
	let plurals = irregular_plurals(&exc_path, &first_synset)?;
	let singulars = (limit / 2).min(plurals.len());
	let definitions = definitions(&data_path, &lemmas, limit - singulars)?;
	let singulars = spread(&plurals, singulars).map(|(plural, lemma, offset)| Record {
		source: "wordnet-3.0".into(),
		pos: "noun".into(),
		synset: format!("{offset:08}"),
		prompt: format!("What is the singular of the noun \"{plural}\"?"),
		word: lemma.clone(),
		completion: lemma.clone(),
	});
	// Alternate while both last, then the rest of the definitions.
	let mut out = Vec::with_capacity(limit);
	let mut singulars = singulars.peekable();
	for d in definitions {
		out.push(d);
		if let Some(s) = singulars.next() {
			out.push(s);
		}
	}
	out.extend(singulars);
	out.truncate(limit);
	Ok(out)
}

/// `n` items of `items` at an even stride.
fn spread<T>(items: &[T], n: usize) -> impl Iterator<Item = &T> {
	let stride = (items.len() / n.max(1)).max(1);
	items.iter().step_by(stride).take(n)
}

/// (lemma, first synset offset) of every simple lemma of `index.noun`, in its (alphabetical)
/// order.
fn simple_lemmas(index_path: &Path) -> anyhow::Result<Vec<(String, u64)>> {
	let mut lemmas = Vec::new();
	for line in BufReader::new(File::open(index_path)?).lines() {
		let line = line?;
		if line.starts_with(' ') {
			continue; // the licence header
		}
		let fields: Vec<&str> = line.split_whitespace().collect();
		let (Some(lemma), Some(p_cnt)) = (fields.first(), fields.get(3)) else { continue };
		if !is_simple(lemma) {
			continue;
		}
		// lemma pos synset_cnt p_cnt [p_cnt pointer symbols] sense_cnt tagsense_cnt offsets…
		let p_cnt: usize = p_cnt.parse().context("index.noun: bad pointer count")?;
		let Some(offset) = fields.get(4 + p_cnt + 2) else { continue };
		lemmas.push((lemma.to_string(), offset.parse::<u64>().context("index.noun: offset")?));
	}
	Ok(lemmas)
}

/// (plural, lemma, the lemma's first synset) of every `noun.exc` line whose two forms are
/// simple, differ, and whose lemma `index.noun` lists, in the file's (alphabetical) order. Each
/// plural once: the file repeats some lines and gives a few plurals two lemmas (`involucra`),
/// and a record must be unique (the store refuses the same bytes from two contributors) and
/// have one answer.
fn irregular_plurals(
	exc_path: &Path,
	first_synset: &HashMap<&str, u64>,
) -> anyhow::Result<Vec<(String, String, u64)>> {
	let mut out = Vec::new();
	let mut seen = std::collections::HashSet::new();
	for line in BufReader::new(File::open(exc_path)?).lines() {
		let line = line?;
		let mut forms = line.split_whitespace();
		let (Some(plural), Some(lemma), None) = (forms.next(), forms.next(), forms.next()) else {
			continue;
		};
		if plural == lemma || !is_simple(plural) || !is_simple(lemma) {
			continue;
		}
		if let Some(&offset) = first_synset.get(lemma).filter(|_| seen.insert(plural.to_string())) {
			out.push((plural.to_string(), lemma.to_string(), offset));
		}
	}
	Ok(out)
}

/// `n` definition records of `lemmas` at an even stride (lemmas whose gloss is empty skipped).
fn definitions(
	data_path: &Path,
	lemmas: &[(String, u64)],
	n: usize,
) -> anyhow::Result<Vec<Record>> {
	let stride = (lemmas.len() / n.max(1)).max(1);
	let mut data = File::open(data_path)?;
	let mut records = Vec::with_capacity(n);
	for (lemma, offset) in lemmas.iter().step_by(stride) {
		if records.len() == n {
			break;
		}
		let gloss = gloss_at(&mut data, *offset)
			.with_context(|| format!("data.noun: synset {offset:08} of `{lemma}`"))?;
		let completion = definition(&gloss);
		if completion.is_empty() {
			continue;
		}
		records.push(Record {
			source: "wordnet-3.0".into(),
			pos: "noun".into(),
			synset: format!("{offset:08}"),
			prompt: format!("What does the noun \"{lemma}\" mean?"),
			word: lemma.clone(),
			completion: completion.to_string(),
		});
	}
	Ok(records)
}

/// The gloss of the synset at byte `offset` of a WordNet data file (a synset's offset is its
/// line's byte offset).
fn gloss_at(data: &mut File, offset: u64) -> anyhow::Result<String> {
	data.seek(SeekFrom::Start(offset))?;
	let mut line = Vec::new();
	let mut byte = [0u8; 1];
	while data.read(&mut byte)? == 1 && byte[0] != b'\n' {
		line.push(byte[0]);
	}
	let line = String::from_utf8_lossy(&line);
	if !line.starts_with(&format!("{offset:08} ")) {
		bail!("no synset starts at this offset");
	}
	let gloss = line.split_once(" | ").map(|(_, g)| g).unwrap_or_default();
	Ok(gloss.to_string())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn definitions_drop_the_examples() {
		assert_eq!(
			definition("a young person of either sex; \"she writes books for children\""),
			"a young person of either sex"
		);
		assert_eq!(definition("a unit of length  "), "a unit of length");
	}

	#[test]
	fn wordnet_gives_distinct_question_answer_records() {
		let dir = Path::new(WORDNET_DIR);
		let records = wordnet_records(dir, 500).expect("WordNet (scripts/setup installs it)");
		assert_eq!(records.len(), 500);
		let (defs, sings): (Vec<&Record>, Vec<&Record>) =
			records.iter().partition(|r| r.prompt.starts_with("What does the noun"));
		assert_eq!((defs.len(), sings.len()), (250, 250));
		// Alternating, so any prefix (a version, a training budget) has both kinds.
		assert!(records[0].prompt.starts_with("What does"), "{:?}", records[0]);
		assert!(records[1].prompt.starts_with("What is the singular"), "{:?}", records[1]);
		for kind in [&defs, &sings] {
			let mut prompts: Vec<&str> = kind.iter().map(|r| r.prompt.as_str()).collect();
			prompts.sort();
			prompts.dedup();
			assert_eq!(prompts.len(), 250, "each question once");
			// Spread over the alphabet, not the first 250 entries.
			assert!(kind.first().unwrap().word.starts_with('a'));
			assert!(kind.last().unwrap().word.as_bytes()[0] >= b't', "{:?}", kind.last());
		}
		for r in &records {
			assert!(!r.completion.is_empty() && !r.completion.contains("; \""), "{r:?}");
			assert!(r.prompt.contains('"'), "{r:?}");
			assert_eq!(Record::from_bytes(&r.to_bytes()).unwrap(), *r);
			assert!(r.to_bytes().len() < 1024);
		}
		for r in &defs {
			assert!(r.prompt.contains(&format!("\"{}\"", r.word)));
		}
		for r in &sings {
			assert_eq!(r.completion, r.word, "a singular's answer is the lemma alone");
			assert!(!r.prompt.contains(&format!("\"{}\"", r.word)), "{r:?}");
		}
		// Deterministic.
		assert_eq!(wordnet_records(dir, 500).unwrap(), records);
		let all = wordnet_records(dir, 100_000).unwrap();
		// Every record and every question once (the demo uploads thousands; the store refuses
		// the same bytes from two contributors).
		let mut prompts: Vec<&str> = all.iter().map(|r| r.prompt.as_str()).collect();
		prompts.sort();
		prompts.dedup();
		assert_eq!(prompts.len(), all.len(), "a question repeats");
		let dog = all.iter().find(|r| r.word == "dog" && r.prompt.starts_with("What does"));
		let dog = dog.expect("dog is a simple lemma");
		assert!(dog.completion.starts_with("a member of the genus Canis"), "{dog:?}");
		let abacus = all.iter().find(|r| r.prompt.contains("\"abaci\"")).expect("abaci");
		assert_eq!(abacus.completion, "abacus");
	}

	#[test]
	fn a_missing_database_names_the_setup_step() {
		let err = wordnet_records(Path::new("/nonexistent-wordnet"), 10).unwrap_err();
		assert!(err.to_string().contains("scripts/setup"), "{err}");
	}
}
