//! Token counts with the base model's tokenizer: the store measures each record it receives,
//! so that curators accept with a measured count instead of the contributor's word.

use candle_core::quantized::gguf_file;
use std::{path::Path, sync::Arc};
use tokenizers::Tokenizer;

/// Counts the tokens of a record's text.
#[derive(Clone)]
pub struct TokenCounter(Arc<Tokenizer>);

impl TokenCounter {
	/// Loads a tokenizer: a `tokenizer.json`, or the tokenizer inside a GGUF model file (the
	/// oracle's SmolLM2).
	pub fn load(path: &Path) -> anyhow::Result<Self> {
		let tokenizer = if path.extension().is_some_and(|e| e == "gguf") {
			let mut file = std::fs::File::open(path)
				.map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
			let content = gguf_file::Content::read(&mut file)
				.map_err(|e| anyhow::anyhow!("{} is not a GGUF file: {e}", path.display()))?;
			lineage_engine::gguf::tokenizer_from_gguf(&content)?
		} else {
			Tokenizer::from_file(path)
				.map_err(|e| anyhow::anyhow!("cannot load the tokenizer {}: {e}", path.display()))?
		};
		Ok(TokenCounter(Arc::new(tokenizer)))
	}

	/// The number of tokens of `bytes` read as UTF-8 text (without special tokens); `None` when
	/// the bytes are not UTF-8 or do not tokenize.
	pub fn count(&self, bytes: &[u8]) -> Option<u32> {
		let text = std::str::from_utf8(bytes).ok()?;
		let encoding = self.0.encode(text, false).ok()?;
		u32::try_from(encoding.len()).ok()
	}
}
