//! Reading and writing a PEFT LoRA adapter: `adapter_config.json` +
//! `adapter_model.safetensors`.
//!
//! The targets are the tensors present: keys such as
//! `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` (also accepted without
//! the `base_model.model.` prefix, and with an adapter-name infix: `lora_A.default.weight`).
//! Every shape is checked against the base config (A: `[r, in]`, B: `[out, r]`).
//!
//! Ranks and scales: a projection's rank is `rank_pattern[key]` when a key matches its module
//! path, else `r`; its alpha is `alpha_pattern[key]` when a key matches, else `lora_alpha`; its
//! scale is `alpha / r`, or `alpha / √r` with `use_rslora`. A key matches a module path such as
//! `model.layers.3.self_attn.q_proj` when it equals the path or is a suffix of it that starts
//! after a dot (`q_proj`, `self_attn.q_proj`, `layers.3.self_attn.q_proj` all match; `proj`
//! does not), with or without the `base_model.model.` prefix. When several keys match, the
//! longest wins. Keys must be literal: PEFT also accepts regular expressions there, which are
//! refused with [`AdapterError::UnsupportedPattern`].

use std::{
	collections::{BTreeMap, HashMap},
	path::Path,
};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{
	adapter_error::{AdapterError, AdapterLimits},
	config::{ModelConfig, Proj},
	lora::{LoraAdapter, LoraModule},
	model::Model,
};

/// The PEFT config file's name.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// The PEFT weights file's name.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// What an adapter is loaded for: the base model, the limits and where its tensors go.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions<'a> {
	/// The base model's config, which every shape is checked against.
	pub base: &'a ModelConfig,
	/// When `Some`, the adapter's `base_model_name_or_path` must name this model (see
	/// [`base_matches`]).
	pub expected_base: Option<&'a str>,
	/// The operator's limits.
	pub limits: AdapterLimits,
	/// Where the adapter's tensors go.
	pub device: &'a Device,
	/// The dtype of the adapter's tensors (the model's).
	pub dtype: DType,
	/// The adapter's name; `load_peft` uses the directory's name when `None`.
	pub name: Option<&'a str>,
}

impl<'a> LoadOptions<'a> {
	/// Options for serving on `model`: its config, id, device and dtype.
	pub fn for_model(model: &'a Model, limits: AdapterLimits) -> Self {
		LoadOptions {
			base: &model.config,
			expected_base: Some(&model.id),
			limits,
			device: &model.device,
			dtype: model.dtype,
			name: None,
		}
	}
}

/// Whether an adapter's `base_model_name_or_path` names the served model `expected`: equal, or
/// equal in the last path segment ignoring ASCII case (`HuggingFaceTB/SmolLM2-135M` names a
/// model served as `SmolLM2-135M`), trailing slashes ignored.
pub fn base_matches(expected: &str, found: &str) -> bool {
	let e = expected.trim_end_matches('/');
	let f = found.trim_end_matches('/');
	if e == f {
		return true;
	}
	let last = |s: &'_ str| s.rsplit('/').next().unwrap_or("").to_string();
	let (le, lf) = (last(e), last(f));
	!le.is_empty() && le.eq_ignore_ascii_case(&lf)
}

/// Reads the adapter in `dir`.
pub fn load_peft(dir: &Path, opts: &LoadOptions<'_>) -> Result<LoraAdapter, AdapterError> {
	if !dir.is_dir() {
		return Err(AdapterError::NotFound(dir.to_path_buf()));
	}
	let read = |file: &str| {
		let path = dir.join(file);
		std::fs::read(&path).map_err(|e| match e.kind() {
			std::io::ErrorKind::NotFound => AdapterError::MissingFile(path.clone()),
			_ => AdapterError::Io { path: path.clone(), message: e.to_string() },
		})
	};
	let config = read(CONFIG_FILE)?;
	let weights = read(WEIGHTS_FILE)?;
	let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
	let opts = LoadOptions { name: Some(opts.name.unwrap_or(&dir_name)), ..*opts };
	load_peft_bytes(&config, &weights, &opts)
}

/// Reads an adapter from the bytes of its two files (`opts.name` names it; `"adapter"` when
/// `None`).
pub fn load_peft_bytes(
	config_json: &[u8],
	safetensors: &[u8],
	opts: &LoadOptions<'_>,
) -> Result<LoraAdapter, AdapterError> {
	let config: PeftConfig = serde_json::from_slice(config_json)
		.map_err(|e| AdapterError::InvalidConfig(e.to_string()))?;
	config.check(opts)?;
	let tensors = candle_core::safetensors::load_buffer(safetensors, &Device::Cpu)
		.map_err(|e| AdapterError::InvalidSafetensors(e.to_string()))?;
	let modules = collect_modules(&config, tensors, opts)?;
	let name = opts.name.unwrap_or("adapter");
	LoraAdapter::new(
		name,
		config.base_model_name_or_path.clone(),
		opts.base,
		modules,
		opts.device,
		opts.dtype,
	)
	.map_err(|e| AdapterError::Tensor(e.to_string()))
}

/// The fields of `adapter_config.json` the engine reads (others are ignored).
#[derive(Debug, Deserialize)]
struct PeftConfig {
	#[serde(default)]
	peft_type: Option<String>,
	#[serde(default)]
	base_model_name_or_path: Option<String>,
	#[serde(default)]
	r: Option<usize>,
	#[serde(default)]
	lora_alpha: Option<f64>,
	#[serde(default)]
	use_rslora: Option<bool>,
	#[serde(default)]
	use_dora: Option<bool>,
	#[serde(default)]
	rank_pattern: Option<BTreeMap<String, usize>>,
	#[serde(default)]
	alpha_pattern: Option<BTreeMap<String, f64>>,
	#[serde(default)]
	modules_to_save: Option<Vec<String>>,
	#[serde(default)]
	bias: Option<String>,
	#[serde(default)]
	lora_bias: Option<bool>,
	#[serde(default)]
	fan_in_fan_out: Option<bool>,
	#[serde(default)]
	target_modules: Option<serde_json::Value>,
}

impl PeftConfig {
	fn check(&self, opts: &LoadOptions<'_>) -> Result<(), AdapterError> {
		if let Some(t) = &self.peft_type {
			if !t.eq_ignore_ascii_case("lora") {
				return Err(AdapterError::NotLora(t.clone()));
			}
		}
		if self.use_dora == Some(true) {
			return Err(AdapterError::Dora);
		}
		if let Some(m) = self.modules_to_save.as_ref().filter(|m| !m.is_empty()) {
			return Err(AdapterError::ModulesToSave(m.join(", ")));
		}
		let bias = self.bias.as_deref().unwrap_or("none");
		if bias != "none" {
			return Err(AdapterError::Bias(bias.to_string()));
		}
		if self.lora_bias == Some(true) {
			return Err(AdapterError::Bias("lora_bias".into()));
		}
		if self.fan_in_fan_out == Some(true) {
			return Err(AdapterError::FanInFanOut);
		}
		let targets: Vec<String> = match &self.target_modules {
			Some(serde_json::Value::String(s)) => vec![s.clone()],
			Some(serde_json::Value::Array(v)) => {
				v.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()
			},
			_ => Vec::new(),
		};
		if let Some(t) =
			targets.iter().find(|t| t.contains("embed_tokens") || t.contains("lm_head"))
		{
			return Err(AdapterError::EmbeddingLora(t.clone()));
		}
		for (pattern, keys) in [
			("rank_pattern", self.rank_pattern.iter().flat_map(|m| m.keys()).collect::<Vec<_>>()),
			("alpha_pattern", self.alpha_pattern.iter().flat_map(|m| m.keys()).collect()),
		] {
			if let Some(k) = keys.into_iter().find(|k| k.is_empty() || k.contains(REGEX_CHARS)) {
				return Err(AdapterError::UnsupportedPattern { pattern, key: k.clone() });
			}
		}
		if let Some(expected) = opts.expected_base {
			match &self.base_model_name_or_path {
				Some(found) if base_matches(expected, found) => {},
				found => {
					return Err(AdapterError::BaseMismatch {
						expected: expected.to_string(),
						found: found.clone(),
					})
				},
			}
		}
		Ok(())
	}

	fn rank_for(&self, path: &str) -> usize {
		self.rank_pattern
			.as_ref()
			.and_then(|p| lookup(p, path))
			.copied()
			.unwrap_or(self.r.unwrap_or(8))
	}

	fn alpha_for(&self, path: &str) -> f64 {
		self.alpha_pattern
			.as_ref()
			.and_then(|p| lookup(p, path))
			.copied()
			.unwrap_or(self.lora_alpha.unwrap_or(8.0))
	}
}

const REGEX_CHARS: &[char] = &['*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\', '^', '$'];

/// Whether a pattern key matches a module path (see the module doc).
pub fn pattern_matches(key: &str, path: &str) -> bool {
	let full = format!("base_model.model.{path}");
	[path, full.as_str()].iter().any(|p| {
		*p == key
			|| (p.len() > key.len()
				&& p.ends_with(key)
				&& p.as_bytes()[p.len() - key.len() - 1] == b'.')
	})
}

/// The value of the longest key matching `path`.
fn lookup<'m, V>(map: &'m BTreeMap<String, V>, path: &str) -> Option<&'m V> {
	map.iter()
		.filter(|(k, _)| pattern_matches(k, path))
		.max_by_key(|(k, _)| k.len())
		.map(|(_, v)| v)
}

/// Which half of a LoRA pair a tensor is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Half {
	A,
	B,
}

/// Parses a tensor name into `(layer, projection, half)`, refusing what is not served.
fn parse_key(name: &str) -> Result<(usize, Proj, Half), AdapterError> {
	if name.contains("lora_magnitude_vector") {
		return Err(AdapterError::Dora);
	}
	if name.contains("lora_embedding_A") || name.contains("lora_embedding_B") {
		return Err(AdapterError::EmbeddingLora(name.to_string()));
	}
	if name.contains("modules_to_save") || name.contains("original_module") {
		return Err(AdapterError::ModulesToSave(name.to_string()));
	}
	if name.contains("embed_tokens") || name.contains("lm_head") {
		return Err(AdapterError::EmbeddingLora(name.to_string()));
	}
	let unexpected = || AdapterError::UnexpectedTensor(name.to_string());
	let key = name.strip_prefix("base_model.model.").unwrap_or(name);
	let parts: Vec<&str> = key.split('.').collect();
	// model . layers . N . parent . module . lora_X [. adapter name] . weight|bias
	if parts.len() < 7 || parts[0] != "model" || parts[1] != "layers" {
		return Err(unexpected());
	}
	let layer: usize = parts[2].parse().map_err(|_| unexpected())?;
	let proj = Proj::from_hf_name(parts[4]).ok_or_else(unexpected)?;
	if parts[3] != proj.parent() {
		return Err(unexpected());
	}
	let half = match parts[5] {
		"lora_A" => Half::A,
		"lora_B" => Half::B,
		_ => return Err(unexpected()),
	};
	match (parts.len(), parts[parts.len() - 1]) {
		(7 | 8, "weight") => Ok((layer, proj, half)),
		(7 | 8, "bias") => Err(AdapterError::Bias("lora_bias".into())),
		_ => Err(unexpected()),
	}
}

/// A module's `lora_A` and `lora_B`, with their tensor names, as found.
type Pair = (Option<(String, Tensor)>, Option<(String, Tensor)>);

/// Pairs A and B per module and checks every shape, rank and limit.
fn collect_modules(
	config: &PeftConfig,
	tensors: HashMap<String, Tensor>,
	opts: &LoadOptions<'_>,
) -> Result<Vec<LoraModule>, AdapterError> {
	let base = opts.base;
	let mut pairs: BTreeMap<(usize, Proj), Pair> = BTreeMap::new();
	let mut names: Vec<String> = tensors.keys().cloned().collect();
	names.sort();
	let mut tensors = tensors;
	for name in names {
		let Some(t) = tensors.remove(&name) else { continue };
		let (layer, proj, half) = parse_key(&name)?;
		if layer >= base.num_hidden_layers {
			return Err(AdapterError::LayerOutOfRange {
				tensor: name,
				layer,
				layers: base.num_hidden_layers,
			});
		}
		if !matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16 | DType::F64) {
			return Err(AdapterError::InvalidSafetensors(format!(
				"{name} has dtype {:?}; LoRA weights must be floating point",
				t.dtype()
			)));
		}
		let entry = pairs.entry((layer, proj)).or_default();
		let slot = match half {
			Half::A => &mut entry.0,
			Half::B => &mut entry.1,
		};
		if slot.is_some() {
			return Err(AdapterError::DuplicateTensor(name));
		}
		*slot = Some((name, t));
	}
	if pairs.is_empty() {
		return Err(AdapterError::Empty);
	}
	let mut modules = Vec::with_capacity(pairs.len());
	for ((layer, proj), (a, b)) in pairs {
		let path = proj.module_path(layer);
		let ((a_name, a), (b_name, b)) = match (a, b) {
			(Some(a), Some(b)) => (a, b),
			(Some(_), None) => {
				return Err(AdapterError::MissingHalf { module: path, missing: "lora_B" })
			},
			_ => return Err(AdapterError::MissingHalf { module: path, missing: "lora_A" }),
		};
		let (inp, out) = base.proj_dims(proj);
		let expected_r = config.rank_for(&path);
		let shape_err = |tensor: String, expected: String, t: &Tensor| {
			AdapterError::ShapeMismatch { tensor, expected, found: t.dims().to_vec() }
		};
		let r = match a.dims() {
			[r, i] if *i == inp => *r,
			_ => return Err(shape_err(a_name, format!("[r, {inp}]"), &a)),
		};
		if b.dims() != [out, r] {
			return Err(shape_err(b_name, format!("[{out}, {r}] (lora_A has rank {r})"), &b));
		}
		if r != expected_r {
			return Err(shape_err(
				a_name,
				format!(
					"[{expected_r}, {inp}] (adapter_config.json gives {path} rank {expected_r})"
				),
				&a,
			));
		}
		if r > opts.limits.max_rank {
			return Err(AdapterError::RankTooLarge {
				module: path,
				rank: r,
				max: opts.limits.max_rank,
			});
		}
		if r == 0 {
			return Err(shape_err(a_name, "a rank above 0".into(), &a));
		}
		let alpha = config.alpha_for(&path);
		let scale = if config.use_rslora == Some(true) {
			alpha / (r as f64).sqrt()
		} else {
			alpha / r as f64
		};
		modules.push(LoraModule { layer, proj, a, b, alpha, scale });
	}
	Ok(modules)
}

/// What [`write_peft`] writes to `adapter_config.json` (PEFT's `LoraConfig`): the fields PEFT
/// itself writes for a LoRA adapter, so PEFT (`PeftModel.from_pretrained`), vLLM and this engine all read it.
#[derive(Clone, Debug, Serialize)]
pub struct LoraConfig {
	/// The base model the adapter was trained on (its id).
	pub base_model_name_or_path: String,
	/// The default rank.
	pub r: usize,
	/// The default alpha.
	pub lora_alpha: f64,
	/// The dropout used in training (0 at inference).
	pub lora_dropout: f64,
	/// The module names targeted (`q_proj`, …).
	pub target_modules: Vec<String>,
	/// Scale `alpha / √r` instead of `alpha / r`.
	pub use_rslora: bool,
	/// Per-module ranks that differ from `r`.
	pub rank_pattern: BTreeMap<String, usize>,
	/// Per-module alphas that differ from `lora_alpha`.
	pub alpha_pattern: BTreeMap<String, f64>,
	/// The decoder layers that have modules, when not all do (PEFT's `layers_to_transform`).
	pub layers_to_transform: Option<Vec<usize>>,
}

impl LoraConfig {
	/// The JSON PEFT writes, with the fields this engine does not vary set to PEFT's defaults.
	pub fn to_json(&self) -> serde_json::Value {
		serde_json::json!({
			"peft_type": "LORA",
			"task_type": "CAUSAL_LM",
			"base_model_name_or_path": self.base_model_name_or_path,
			"r": self.r,
			"lora_alpha": self.lora_alpha,
			"lora_dropout": self.lora_dropout,
			"target_modules": self.target_modules,
			"use_rslora": self.use_rslora,
			"use_dora": false,
			"rank_pattern": self.rank_pattern,
			"alpha_pattern": self.alpha_pattern,
			"modules_to_save": null,
			"bias": "none",
			"fan_in_fan_out": false,
			"inference_mode": true,
			"init_lora_weights": true,
			"layers_to_transform": self.layers_to_transform,
			"revision": null,
		})
	}
}

/// The safetensors key of one LoRA half as PEFT names it: `module` is the module's path in the
/// base model (`model.layers.3.self_attn.q_proj`), `half` is `A` or `B`.
pub fn peft_key(module: &str, half: char) -> String {
	format!("base_model.model.{module}.lora_{half}.weight")
}

/// Writes a PEFT adapter into `dir` (created if needed): `tensors` (keys from [`peft_key`],
/// A: `[r, in]`, B: `[out, r]`) to [`WEIGHTS_FILE`] and `config` to [`CONFIG_FILE`]. What it
/// writes, [`load_peft`] reads back.
pub fn write_peft(
	dir: &Path,
	config: &LoraConfig,
	tensors: &HashMap<String, Tensor>,
) -> Result<(), AdapterError> {
	let io = |path: &Path, e: std::io::Error| AdapterError::Io {
		path: path.to_path_buf(),
		message: e.to_string(),
	};
	std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
	let weights = dir.join(WEIGHTS_FILE);
	candle_core::safetensors::save(tensors, &weights)
		.map_err(|e| AdapterError::Tensor(format!("writing {}: {e}", weights.display())))?;
	let path = dir.join(CONFIG_FILE);
	let json = serde_json::to_vec_pretty(&config.to_json())
		.map_err(|e| AdapterError::InvalidConfig(e.to_string()))?;
	std::fs::write(&path, json).map_err(|e| io(&path, e))
}
