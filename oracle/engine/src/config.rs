//! The base model's hyper-parameters, read from a Hugging Face `config.json`.
//!
//! One [`ModelConfig`] covers the Llama family as Hugging Face writes it: Llama, Mistral and
//! Qwen2 configs differ only in defaults and in where the attention biases are (Qwen2: q, k and
//! v have a bias; Llama with `attention_bias: true`: q, k, v and o do). Deserialising resolves
//! those defaults once, so the rest of the engine reads plain fields.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A linear projection inside a decoder layer, by its Hugging Face module name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Proj {
	/// `self_attn.q_proj`.
	Q,
	/// `self_attn.k_proj`.
	K,
	/// `self_attn.v_proj`.
	V,
	/// `self_attn.o_proj`.
	O,
	/// `mlp.gate_proj`.
	Gate,
	/// `mlp.up_proj`.
	Up,
	/// `mlp.down_proj`.
	Down,
}

impl Proj {
	/// Every projection, in the order of the forward pass.
	pub const ALL: [Proj; 7] =
		[Proj::Q, Proj::K, Proj::V, Proj::O, Proj::Gate, Proj::Up, Proj::Down];

	/// The module's own name (`q_proj`, …).
	pub fn hf_name(self) -> &'static str {
		match self {
			Proj::Q => "q_proj",
			Proj::K => "k_proj",
			Proj::V => "v_proj",
			Proj::O => "o_proj",
			Proj::Gate => "gate_proj",
			Proj::Up => "up_proj",
			Proj::Down => "down_proj",
		}
	}

	/// The block the module sits in (`self_attn` or `mlp`).
	pub fn parent(self) -> &'static str {
		match self {
			Proj::Q | Proj::K | Proj::V | Proj::O => "self_attn",
			Proj::Gate | Proj::Up | Proj::Down => "mlp",
		}
	}

	/// The projection with this module name, if it is one.
	pub fn from_hf_name(name: &str) -> Option<Proj> {
		Proj::ALL.into_iter().find(|p| p.hf_name() == name)
	}

	/// The module's path inside the model, as PEFT names it: `model.layers.{layer}.self_attn.q_proj`.
	pub fn module_path(self, layer: usize) -> String {
		format!("model.layers.{layer}.{}.{}", self.parent(), self.hf_name())
	}
}

/// What is wrong with a `config.json`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
	/// The file could not be read.
	#[error("cannot read {path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// The underlying error.
		#[source]
		source: std::io::Error,
	},
	/// The JSON does not parse or lacks a required field.
	#[error("config.json does not parse as a Llama/Mistral/Qwen2 config: {0}")]
	Parse(#[from] serde_json::Error),
	/// The values parse but cannot describe a model this engine runs.
	#[error("unsupported model config: {0}")]
	Unsupported(String),
}

/// `eos_token_id` is an integer in most configs and a list in some (Llama 3, Qwen2 chat).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum EosIds {
	One(u32),
	Many(Vec<u32>),
}

/// The fields of `config.json` as written, before defaults are resolved.
#[derive(Clone, Debug, Deserialize)]
struct RawConfig {
	#[serde(default)]
	model_type: Option<String>,
	#[serde(default, rename = "_name_or_path")]
	name_or_path: Option<String>,
	hidden_size: usize,
	intermediate_size: usize,
	num_hidden_layers: usize,
	num_attention_heads: usize,
	#[serde(default)]
	num_key_value_heads: Option<usize>,
	#[serde(default)]
	head_dim: Option<usize>,
	#[serde(default = "default_rms_norm_eps")]
	rms_norm_eps: f64,
	#[serde(default = "default_rope_theta")]
	rope_theta: f64,
	#[serde(default = "default_max_position_embeddings")]
	max_position_embeddings: usize,
	vocab_size: usize,
	#[serde(default)]
	tie_word_embeddings: bool,
	#[serde(default)]
	bos_token_id: Option<u32>,
	#[serde(default)]
	eos_token_id: Option<EosIds>,
	#[serde(default)]
	attention_bias: Option<bool>,
	#[serde(default)]
	mlp_bias: Option<bool>,
	#[serde(default)]
	hidden_act: Option<String>,
	#[serde(default)]
	rope_scaling: Option<serde_json::Value>,
}

fn default_rms_norm_eps() -> f64 {
	1e-6
}

fn default_rope_theta() -> f64 {
	10_000.0
}

fn default_max_position_embeddings() -> usize {
	2048
}

/// A Llama-family model's hyper-parameters, with Llama/Mistral/Qwen2 defaults resolved.
///
/// Serialising writes Hugging Face field names, so a serialised config loads again (for Qwen2,
/// keep `model_type: "qwen2"`: it is what implies the q/k/v biases).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawConfigJson")]
pub struct ModelConfig {
	/// `model_type` (`llama`, `mistral`, `qwen2`, …), when the config names one.
	pub model_type: Option<String>,
	/// `_name_or_path`, when the config names one.
	#[serde(rename = "_name_or_path", skip_serializing_if = "Option::is_none")]
	pub name_or_path: Option<String>,
	/// Width of the residual stream.
	pub hidden_size: usize,
	/// Width of the MLP's hidden layer.
	pub intermediate_size: usize,
	/// Number of decoder layers.
	pub num_hidden_layers: usize,
	/// Number of query heads.
	pub num_attention_heads: usize,
	/// Number of key/value heads (grouped-query attention when below the query heads).
	pub num_key_value_heads: usize,
	/// Width of one attention head (`hidden_size / num_attention_heads` unless given).
	pub head_dim: usize,
	/// Epsilon of the RMS norms.
	pub rms_norm_eps: f64,
	/// Base of the rotary position embedding.
	pub rope_theta: f64,
	/// Longest sequence the rotary tables cover.
	pub max_position_embeddings: usize,
	/// Rows of the embedding and of the output head.
	pub vocab_size: usize,
	/// Whether the output head reuses the embedding matrix.
	pub tie_word_embeddings: bool,
	/// Beginning-of-sequence token, when the config names one.
	pub bos_token_id: Option<u32>,
	/// Tokens that end generation (`eos_token_id`, an integer or a list in the file).
	#[serde(rename = "eos_token_id")]
	pub eos_token_ids: Vec<u32>,
	/// Llama's `attention_bias`: q, k, v and o carry a bias.
	pub attention_bias: bool,
}

/// Deserialisation goes through the raw form so that defaults resolve in one place.
#[derive(Deserialize)]
#[serde(transparent)]
struct RawConfigJson(serde_json::Value);

impl TryFrom<RawConfigJson> for ModelConfig {
	type Error = ConfigError;

	fn try_from(raw: RawConfigJson) -> Result<Self, Self::Error> {
		let raw: RawConfig = serde_json::from_value(raw.0)?;
		ModelConfig::resolve(raw)
	}
}

impl ModelConfig {
	/// Parses a `config.json` text.
	pub fn from_json(text: &str) -> Result<Self, ConfigError> {
		let raw: RawConfig = serde_json::from_str(text)?;
		Self::resolve(raw)
	}

	/// Reads and parses a `config.json` file.
	pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
		let text = std::fs::read_to_string(path)
			.map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
		Self::from_json(&text)
	}

	fn resolve(raw: RawConfig) -> Result<Self, ConfigError> {
		let unsupported = |m: String| Err(ConfigError::Unsupported(m));
		if raw.num_attention_heads == 0 || raw.hidden_size == 0 || raw.num_hidden_layers == 0 {
			return unsupported(
				"hidden_size, num_hidden_layers and num_attention_heads must be > 0".into(),
			);
		}
		if raw.vocab_size == 0 || raw.intermediate_size == 0 {
			return unsupported("vocab_size and intermediate_size must be > 0".into());
		}
		let kv_heads = raw.num_key_value_heads.unwrap_or(raw.num_attention_heads);
		if kv_heads == 0 || !raw.num_attention_heads.is_multiple_of(kv_heads) {
			return unsupported(format!(
				"num_attention_heads ({}) must be a multiple of num_key_value_heads ({kv_heads})",
				raw.num_attention_heads
			));
		}
		let head_dim = match raw.head_dim {
			Some(d) => d,
			None if raw.hidden_size.is_multiple_of(raw.num_attention_heads) => {
				raw.hidden_size / raw.num_attention_heads
			},
			None => {
				return unsupported(format!(
					"hidden_size ({}) is not a multiple of num_attention_heads ({}) and no head_dim is given",
					raw.hidden_size, raw.num_attention_heads
				))
			},
		};
		if head_dim == 0 || head_dim % 2 != 0 {
			return unsupported(format!(
				"head_dim ({head_dim}) must be even and > 0 for rotary embeddings"
			));
		}
		if let Some(act) = &raw.hidden_act {
			if act != "silu" && act != "swish" {
				return unsupported(format!("hidden_act {act:?}: only silu is implemented"));
			}
		}
		if raw.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
			return unsupported(
				"rope_scaling is set: only plain rotary embeddings are implemented; remove it for \
				 models trained without scaling"
					.into(),
			);
		}
		if raw.mlp_bias == Some(true) {
			return unsupported("mlp_bias: true is not implemented".into());
		}
		if raw.max_position_embeddings == 0 || raw.rms_norm_eps <= 0.0 || raw.rope_theta <= 0.0 {
			return unsupported(
				"max_position_embeddings, rms_norm_eps and rope_theta must be > 0".into(),
			);
		}
		let eos_token_ids = match raw.eos_token_id {
			None => Vec::new(),
			Some(EosIds::One(id)) => vec![id],
			Some(EosIds::Many(ids)) => ids,
		};
		Ok(ModelConfig {
			model_type: raw.model_type,
			name_or_path: raw.name_or_path,
			hidden_size: raw.hidden_size,
			intermediate_size: raw.intermediate_size,
			num_hidden_layers: raw.num_hidden_layers,
			num_attention_heads: raw.num_attention_heads,
			num_key_value_heads: kv_heads,
			head_dim,
			rms_norm_eps: raw.rms_norm_eps,
			rope_theta: raw.rope_theta,
			max_position_embeddings: raw.max_position_embeddings,
			vocab_size: raw.vocab_size,
			tie_word_embeddings: raw.tie_word_embeddings,
			bos_token_id: raw.bos_token_id,
			eos_token_ids,
			attention_bias: raw.attention_bias.unwrap_or(false),
		})
	}

	/// Whether q, k and v carry a bias (Qwen2 always; Llama when `attention_bias`).
	pub fn qkv_bias(&self) -> bool {
		self.attention_bias || self.is_qwen2()
	}

	/// Whether o carries a bias (Llama with `attention_bias`; never Qwen2).
	pub fn o_bias(&self) -> bool {
		self.attention_bias && !self.is_qwen2()
	}

	fn is_qwen2(&self) -> bool {
		self.model_type.as_deref().is_some_and(|t| t.starts_with("qwen2"))
	}

	/// Query heads per key/value head.
	pub fn kv_groups(&self) -> usize {
		self.num_attention_heads / self.num_key_value_heads
	}

	/// `(in, out)` features of a projection.
	pub fn proj_dims(&self, proj: Proj) -> (usize, usize) {
		let q = self.num_attention_heads * self.head_dim;
		let kv = self.num_key_value_heads * self.head_dim;
		match proj {
			Proj::Q => (self.hidden_size, q),
			Proj::K | Proj::V => (self.hidden_size, kv),
			Proj::O => (q, self.hidden_size),
			Proj::Gate | Proj::Up => (self.hidden_size, self.intermediate_size),
			Proj::Down => (self.intermediate_size, self.hidden_size),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn llama_defaults_resolve() {
		let c = ModelConfig::from_json(
			r#"{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
			"num_attention_heads":4,"rms_norm_eps":1e-5,"vocab_size":100,"eos_token_id":2}"#,
		)
		.expect("parses");
		assert_eq!(c.num_key_value_heads, 4);
		assert_eq!(c.head_dim, 16);
		assert_eq!(c.eos_token_ids, vec![2]);
		assert!(!c.qkv_bias());
		assert_eq!(c.rope_theta, 10_000.0);
	}

	#[test]
	fn qwen2_has_qkv_bias_and_eos_list() {
		let c = ModelConfig::from_json(
			r#"{"model_type":"qwen2","hidden_size":64,"intermediate_size":128,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
			"rms_norm_eps":1e-6,"vocab_size":100,"eos_token_id":[1,2],"sliding_window":4096,
			"rope_theta":1000000.0,"tie_word_embeddings":true}"#,
		)
		.expect("parses");
		assert!(c.qkv_bias());
		assert!(!c.o_bias());
		assert_eq!(c.eos_token_ids, vec![1, 2]);
		assert_eq!(c.kv_groups(), 2);
		let back: ModelConfig =
			serde_json::from_str(&serde_json::to_string(&c).expect("serialises")).expect("loads");
		assert_eq!(back, c);
	}

	#[test]
	fn bad_head_split_fails() {
		let e = ModelConfig::from_json(
			r#"{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
			"num_attention_heads":4,"num_key_value_heads":3,"vocab_size":100}"#,
		);
		assert!(matches!(e, Err(ConfigError::Unsupported(_))));
	}
}
