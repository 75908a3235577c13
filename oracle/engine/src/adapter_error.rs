//! Why an adapter cannot be served, and the limits an operator sets.

use std::path::PathBuf;

/// Limits on the adapters an oracle accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterLimits {
	/// The largest LoRA rank of any projection.
	pub max_rank: usize,
}

impl Default for AdapterLimits {
	fn default() -> Self {
		AdapterLimits { max_rank: 64 }
	}
}

/// The class of an [`AdapterError`], stable for callers that map errors to responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdapterErrorKind {
	/// No adapter at that place (HTTP 404).
	NotFound,
	/// The files are missing, truncated or do not parse (HTTP 400).
	InvalidFiles,
	/// A valid PEFT adapter using a feature this engine does not serve (HTTP 422).
	Unsupported,
	/// A valid adapter, but not for this base model or beyond the limits (HTTP 422).
	Incompatible,
	/// The oracle failed, not the adapter (HTTP 500).
	Internal,
}

impl AdapterErrorKind {
	/// A short stable name (`not_found`, `invalid_files`, `unsupported`, `incompatible`,
	/// `internal`).
	pub fn as_str(self) -> &'static str {
		match self {
			AdapterErrorKind::NotFound => "not_found",
			AdapterErrorKind::InvalidFiles => "invalid_files",
			AdapterErrorKind::Unsupported => "unsupported",
			AdapterErrorKind::Incompatible => "incompatible",
			AdapterErrorKind::Internal => "internal",
		}
	}

	/// The HTTP status this kind maps to.
	pub fn http_status(self) -> u16 {
		match self {
			AdapterErrorKind::NotFound => 404,
			AdapterErrorKind::InvalidFiles => 400,
			AdapterErrorKind::Unsupported | AdapterErrorKind::Incompatible => 422,
			AdapterErrorKind::Internal => 500,
		}
	}
}

/// Why a PEFT adapter was refused. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
	/// The adapter directory does not exist.
	#[error("no adapter at {0}")]
	NotFound(PathBuf),
	/// One of the two PEFT files is missing.
	#[error("{0} is missing: a PEFT adapter needs adapter_config.json and adapter_model.safetensors (save with save_pretrained(..., safe_serialization=True))")]
	MissingFile(PathBuf),
	/// A file exists but cannot be read.
	#[error("cannot read {path}: {message}")]
	Io {
		/// The file.
		path: PathBuf,
		/// What the OS said.
		message: String,
	},
	/// `adapter_config.json` does not parse.
	#[error("adapter_config.json is invalid: {0}")]
	InvalidConfig(String),
	/// `adapter_model.safetensors` is truncated, corrupt or holds non-float tensors.
	#[error("adapter_model.safetensors is invalid ({0}); re-export the adapter with PEFT's save_pretrained")]
	InvalidSafetensors(String),
	/// Not a LoRA adapter (`peft_type` is something else).
	#[error("peft_type {0:?} is not served: only LORA adapters are")]
	NotLora(String),
	/// DoRA (`use_dora` or `lora_magnitude_vector` tensors).
	#[error("DoRA adapters are not served: retrain without use_dora, or merge the magnitude into a plain LoRA")]
	Dora,
	/// `modules_to_save` would replace whole base modules.
	#[error("modules_to_save ({0}) is not served: fully trained modules would change the shared base; retrain with modules_to_save=None")]
	ModulesToSave(String),
	/// LoRA on the embedding or the output head.
	#[error("LoRA on {0} is not served: only the attention and MLP projections (q,k,v,o,gate,up,down_proj) may be targeted")]
	EmbeddingLora(String),
	/// Trained biases (`bias` other than `none`, or `lora_bias`).
	#[error("bias={0:?} is not served: retrain with bias=\"none\" and lora_bias=False")]
	Bias(String),
	/// `fan_in_fan_out: true` (Conv1D-style weights, GPT-2 layout).
	#[error("fan_in_fan_out=true is not served: it is for Conv1D (GPT-2 style) bases, not Llama-family ones")]
	FanInFanOut,
	/// A `rank_pattern`/`alpha_pattern` key written as a regular expression.
	#[error("{pattern} key {key:?} is a regular expression: write a literal module-name suffix such as \"q_proj\" or \"model.layers.3.self_attn.v_proj\"")]
	UnsupportedPattern {
		/// `rank_pattern` or `alpha_pattern`.
		pattern: &'static str,
		/// The key.
		key: String,
	},
	/// The adapter was trained on another base model.
	#[error("adapter is for base {found:?}, but this oracle serves {expected:?}: load it on an oracle serving that base")]
	BaseMismatch {
		/// The model the oracle serves.
		expected: String,
		/// `base_model_name_or_path` of the adapter (None when absent).
		found: Option<String>,
	},
	/// A projection's rank is above [`AdapterLimits::max_rank`].
	#[error("{module} has rank {rank}, above this oracle's limit of {max}: retrain with a smaller r or raise the limit")]
	RankTooLarge {
		/// The module path.
		module: String,
		/// Its rank.
		rank: usize,
		/// The limit.
		max: usize,
	},
	/// A tensor's shape does not fit the base model or the config's rank.
	#[error("{tensor} has shape {found:?}, expected {expected}: the adapter was trained on another base or its files disagree")]
	ShapeMismatch {
		/// The tensor name.
		tensor: String,
		/// What was expected, in words.
		expected: String,
		/// The shape found.
		found: Vec<usize>,
	},
	/// A tensor names a layer the base does not have.
	#[error("{tensor} is for layer {layer}, but the base has {layers} layers: the adapter was trained on another base")]
	LayerOutOfRange {
		/// The tensor name.
		tensor: String,
		/// Its layer.
		layer: usize,
		/// The base's layer count.
		layers: usize,
	},
	/// A module has only one of lora_A and lora_B.
	#[error("{module} has no {missing} tensor: the file is incomplete, re-export the adapter")]
	MissingHalf {
		/// The module path.
		module: String,
		/// `lora_A` or `lora_B`.
		missing: &'static str,
	},
	/// A tensor name that is not a LoRA weight of a decoder projection.
	#[error("unexpected tensor {0}: only lora_A/lora_B weights of model.layers.N.(self_attn|mlp).*_proj are served")]
	UnexpectedTensor(String),
	/// The same weight appears twice (for example with and without an adapter-name infix).
	#[error("tensor for {0} appears twice")]
	DuplicateTensor(String),
	/// No LoRA tensor at all.
	#[error("adapter_model.safetensors holds no LoRA weights")]
	Empty,
	/// The engine failed while building the adapter's tensors.
	#[error("building the adapter failed: {0}")]
	Tensor(String),
}

impl AdapterError {
	/// The class of the error, for mapping to a response.
	pub fn kind(&self) -> AdapterErrorKind {
		use AdapterError::*;
		match self {
			NotFound(_) => AdapterErrorKind::NotFound,
			MissingFile(_)
			| InvalidConfig(_)
			| InvalidSafetensors(_)
			| MissingHalf { .. }
			| UnexpectedTensor(_)
			| DuplicateTensor(_)
			| Empty => AdapterErrorKind::InvalidFiles,
			NotLora(_)
			| Dora
			| ModulesToSave(_)
			| EmbeddingLora(_)
			| Bias(_)
			| FanInFanOut
			| UnsupportedPattern { .. } => AdapterErrorKind::Unsupported,
			BaseMismatch { .. }
			| RankTooLarge { .. }
			| ShapeMismatch { .. }
			| LayerOutOfRange { .. } => AdapterErrorKind::Incompatible,
			Io { .. } | Tensor(_) => AdapterErrorKind::Internal,
		}
	}
}
