//! The engine's error: what can go wrong loading or running the model.

use std::path::PathBuf;

use super::config::ConfigError;

/// What can go wrong loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
	/// A GGUF file is not a Llama-family GGUF this engine runs (corrupt, truncated, another
	/// architecture, missing metadata or tensors).
	#[error("cannot load GGUF {path}: {message}")]
	Gguf {
		/// The file.
		path: PathBuf,
		/// What is wrong, and what to do.
		message: String,
	},
	/// A model file is missing or unreadable.
	#[error("cannot read {path}: {message}")]
	Io {
		/// The file.
		path: PathBuf,
		/// What failed.
		message: String,
	},
	/// `config.json` is invalid or describes an unsupported model.
	#[error(transparent)]
	Config(#[from] ConfigError),
	/// `tokenizer.json` does not load.
	#[error("cannot load tokenizer {path}: {message} (a Hugging Face tokenizer.json is needed)")]
	Tokenizer {
		/// The file.
		path: PathBuf,
		/// What the tokenizers crate said.
		message: String,
	},
	/// The weights do not match the config (missing tensor, wrong shape).
	#[error("weights in {dir} do not match config.json: {source}")]
	Weights {
		/// The model directory.
		dir: PathBuf,
		/// The candle error naming the tensor.
		#[source]
		source: candle_core::Error,
	},
	/// A step's input cannot run (token id out of the vocabulary, sequence too long, …).
	#[error("invalid input: {0}")]
	Input(String),
	/// A tensor operation failed.
	#[error("tensor error: {0}")]
	Tensor(#[from] candle_core::Error),
}
