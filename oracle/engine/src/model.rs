//! Our Llama-family forward pass on candle, batched across sequences of different lengths.
//!
//! One call of [`Model::forward_batch`] runs one engine step: B sequences, each with its own new
//! tokens (many when prefilling, one when decoding), its own position (the length of its
//! [`KvCache`]) and its own optional LoRA adapter. The rows of all sequences are concatenated
//! into one `[N, hidden]` matrix, so every base linear runs once per step for the whole batch;
//! attention runs per sequence against that sequence's cache, with a causal mask when it brings
//! more than one token. Sequences are ordered by adapter inside the step, so the rows of one
//! adapter form a contiguous range for the LoRA kernels (see [`super::lora`]).
//!
//! Layout of the weights (Hugging Face names): `model.embed_tokens`, `model.layers.{i}`
//! (`input_layernorm`, `self_attn.{q,k,v,o}_proj`, `post_attention_layernorm`,
//! `mlp.{gate,up,down}_proj`), `model.norm`, `lm_head` (or the embedding when tied). Rotary
//! embeddings use the non-interleaved ("rotate half") form Hugging Face Llama uses.

use std::path::{Path, PathBuf};

use candle_core::{quantized::QMatMul, DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

use super::{
	attention,
	config::{ModelConfig, Proj},
	error::ModelError,
	lora::{LoraAdapter, RowGroups},
	site::{site_slice, Site},
};

/// A base projection: what multiplies the activations, whatever its storage.
///
/// Dense weights (Hugging Face safetensors, or a dequantized GGUF), or quantized GGUF blocks
/// through `candle_core::quantized::QMatMul` (see [`super::gguf`]). The fused dense projections
/// (q|k|v and gate|up) are single matrices whose rows are the parts one after the other; the
/// quantized ones keep one matrix per part. LoRA applies on top of either, unmerged.
#[derive(Clone, Debug)]
pub enum BaseLinear {
	/// A dense `[out, in]` weight and an optional `[out]` bias.
	Dense {
		/// The weight, `[out, in]`.
		weight: Tensor,
		/// The bias, `[out]`.
		bias: Option<Tensor>,
	},
	/// Quantized weights (GGUF blocks through [`QMatMul`]), one matrix per part of a fused
	/// projection (q, k, v or gate, up: the parts may be stored in different block types); the
	/// outputs of the parts are concatenated. Activations go in and come out in their own dtype
	/// (the quantized kernels run in `f32`).
	Quantized {
		/// The parts, `[out_i, in]` each, in the order of the fused output.
		parts: Vec<QMatMul>,
	},
}

impl BaseLinear {
	/// `x · Wᵀ (+ b)` for `x` of shape `[N, in]`.
	pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
		match self {
			BaseLinear::Dense { weight, bias } => {
				// On the CPU, `(W·xᵀ)ᵀ` is about twice as fast as `x·Wᵀ` for the few rows of a
				// decode step (gemm packs the small operand), and the same for many rows.
				let y = if x.device().is_cpu() && x.dim(0)? <= 128 {
					weight.matmul(&x.t()?)?.t()?.contiguous()?
				} else {
					x.matmul(&weight.t()?)?
				};
				match bias {
					Some(b) => y.broadcast_add(b),
					None => Ok(y),
				}
			},
			BaseLinear::Quantized { parts } => {
				let xf = x.to_dtype(DType::F32)?.contiguous()?;
				let ys = parts
					.iter()
					.map(|p| p.forward(&xf))
					.collect::<candle_core::Result<Vec<_>>>()?;
				let y = if ys.len() == 1 {
					ys.into_iter().next().unwrap_or_else(|| unreachable!())
				} else {
					Tensor::cat(&ys, 1)?
				};
				y.to_dtype(x.dtype())
			},
		}
	}

	/// The dense weight, where the projection has one.
	pub fn dense_weight(&self) -> Option<&Tensor> {
		match self {
			BaseLinear::Dense { weight, .. } => Some(weight),
			BaseLinear::Quantized { .. } => None,
		}
	}
}

/// One decoder layer's weights.
#[derive(Clone, Debug)]
pub(super) struct Layer {
	pub(super) input_norm: Tensor,
	pub(super) post_norm: Tensor,
	/// q, k and v fused: `[q_out + 2·kv_out, hidden]`.
	pub(super) qkv: BaseLinear,
	pub(super) o: BaseLinear,
	/// gate and up fused: `[2·intermediate, hidden]`.
	pub(super) gate_up: BaseLinear,
	pub(super) down: BaseLinear,
}

/// The keys and values one sequence has seen, per layer; its length is the sequence's position.
///
/// Each layer's keys and values are `[kv_heads, capacity, head_dim]` tensors that grow by
/// doubling, so appending a token copies nothing already there. Appending writes into those
/// tensors in place, so [`KvCache::fork`] makes a deep copy (there is no shallow `Clone`).
#[derive(Debug)]
pub struct KvCache {
	layers: Vec<LayerKv>,
	len: usize,
}

#[derive(Clone, Debug, Default)]
struct LayerKv {
	k: Option<Tensor>,
	v: Option<Tensor>,
}

impl KvCache {
	/// An empty cache for a model with `num_layers` layers.
	pub fn new(num_layers: usize) -> Self {
		KvCache { layers: vec![LayerKv::default(); num_layers], len: 0 }
	}

	/// Tokens cached so far: the position of the next token.
	pub fn len(&self) -> usize {
		self.len
	}

	/// Whether no token is cached yet.
	pub fn is_empty(&self) -> bool {
		self.len == 0
	}

	/// A deep copy: the copy and the original grow independently (a prefix shared by two
	/// continuations).
	pub fn fork(&self) -> candle_core::Result<KvCache> {
		let copy = |t: &Option<Tensor>| t.as_ref().map(|t| t.copy()).transpose();
		let layers = self
			.layers
			.iter()
			.map(|l| Ok(LayerKv { k: copy(&l.k)?, v: copy(&l.v)? }))
			.collect::<candle_core::Result<Vec<_>>>()?;
		Ok(KvCache { layers, len: self.len })
	}

	/// Bytes held by the cache's tensors (capacity, not only the used part).
	pub fn bytes(&self) -> usize {
		self.layers
			.iter()
			.flat_map(|l| [&l.k, &l.v])
			.flatten()
			.map(|t| t.elem_count() * t.dtype().size_in_bytes())
			.sum()
	}

	/// Appends `[kv_heads, t, head_dim]` keys and values to layer `layer` after `self.len`
	/// cached tokens and returns views of all of them. `self.len` moves only when the whole
	/// step succeeded ([`KvCache::advance`]).
	fn append(
		&mut self,
		layer: usize,
		k_new: &Tensor,
		v_new: &Tensor,
	) -> candle_core::Result<(Tensor, Tensor)> {
		let len = self.len;
		let Some(slot) = self.layers.get_mut(layer) else {
			candle_core::bail!("kv cache has no layer {layer}");
		};
		let t = k_new.dim(1)?;
		let need = len + t;
		let grow = |old: &Option<Tensor>, new: &Tensor| -> candle_core::Result<Tensor> {
			let cap = old.as_ref().map(|o| o.dim(1)).transpose()?.unwrap_or(0);
			let buf = if cap >= need {
				match old {
					Some(o) => o.clone(),
					None => candle_core::bail!("kv cache lost its buffer"),
				}
			} else {
				let new_cap = need.next_power_of_two().max(16).max(cap * 2);
				let (h, _, d) = new.dims3()?;
				let buf = Tensor::zeros((h, new_cap, d), new.dtype(), new.device())?;
				if let Some(o) = old {
					if len > 0 {
						buf.slice_set(&o.narrow(1, 0, len)?.contiguous()?, 1, 0)?;
					}
				}
				buf
			};
			buf.slice_set(new, 1, len)?;
			Ok(buf)
		};
		let k = grow(&slot.k, k_new)?;
		let v = grow(&slot.v, v_new)?;
		let views = (k.narrow(1, 0, need)?, v.narrow(1, 0, need)?);
		slot.k = Some(k);
		slot.v = Some(v);
		Ok(views)
	}

	fn advance(&mut self, t: usize) {
		self.len += t;
	}
}

/// One sequence's part of a step: the tokens it brings, its cache and its adapter.
///
/// The sequence's position offset is `cache.len()`: the new tokens take positions
/// `cache.len() .. cache.len() + tokens.len()`.
pub struct SeqInput<'a> {
	/// New tokens: the prompt (or a chunk of it) when prefilling, one token when decoding.
	pub tokens: &'a [u32],
	/// The sequence's cache; it grows by `tokens.len()` when the step succeeds.
	pub cache: &'a mut KvCache,
	/// The adapter this sequence uses, if any.
	pub adapter: Option<&'a LoraAdapter>,
}

/// A loaded base model: weights, tokenizer and the rotary tables.
#[derive(Clone)]
pub struct Model {
	/// Hyper-parameters.
	pub config: ModelConfig,
	/// The model's tokenizer.
	pub tokenizer: tokenizers::Tokenizer,
	/// The model's id: `_name_or_path` from the config, else the directory's name.
	pub id: String,
	/// Where the tensors live.
	pub device: Device,
	/// The dtype of the weights and activations.
	pub dtype: DType,
	/// The model's own chat template (Jinja), when its files carry one outside
	/// `tokenizer_config.json` (GGUF's `tokenizer.chat_template`).
	pub chat_template: Option<String>,
	pub(super) embed: Tensor,
	pub(super) layers: Vec<Layer>,
	pub(super) norm: Tensor,
	pub(super) lm_head: BaseLinear,
	/// `[max_position_embeddings, head_dim / 2]` rotary tables.
	pub(super) cos: Tensor,
	pub(super) sin: Tensor,
}

impl std::fmt::Debug for Model {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("Model")
			.field("id", &self.id)
			.field("config", &self.config)
			.field("device", &self.device)
			.field("dtype", &self.dtype)
			.finish_non_exhaustive()
	}
}

/// The safetensors files of a model directory: the index's shards, else `model.safetensors`,
/// else every `*.safetensors` file.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
	let io = |path: &Path, e: &dyn std::fmt::Display| ModelError::Io {
		path: path.to_path_buf(),
		message: e.to_string(),
	};
	let index = dir.join("model.safetensors.index.json");
	if index.is_file() {
		let text = std::fs::read_to_string(&index).map_err(|e| io(&index, &e))?;
		let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(&index, &e))?;
		let Some(map) = json.get("weight_map").and_then(|m| m.as_object()) else {
			return Err(io(&index, &"no weight_map object"));
		};
		let mut files: Vec<PathBuf> =
			map.values().filter_map(|v| v.as_str()).map(|f| dir.join(f)).collect();
		files.sort();
		files.dedup();
		return Ok(files);
	}
	let single = dir.join("model.safetensors");
	if single.is_file() {
		return Ok(vec![single]);
	}
	let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
		.map_err(|e| io(dir, &e))?
		.filter_map(|e| e.ok().map(|e| e.path()))
		.filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
		.collect();
	files.sort();
	if files.is_empty() {
		return Err(io(dir, &"no model.safetensors, shard index or *.safetensors file"));
	}
	Ok(files)
}

/// `[positions, head_dim / 2]` cos and sin tables for rotary embeddings.
pub(super) fn rope_tables(
	config: &ModelConfig,
	device: &Device,
	dtype: DType,
) -> candle_core::Result<(Tensor, Tensor)> {
	let half = config.head_dim / 2;
	let inv_freq: Vec<f32> = (0..half)
		.map(|i| 1.0 / config.rope_theta.powf(2.0 * i as f64 / config.head_dim as f64) as f32)
		.collect();
	let n = config.max_position_embeddings;
	let inv_freq = Tensor::from_vec(inv_freq, (1, half), &Device::Cpu)?;
	let pos =
		Tensor::arange(0u32, n as u32, &Device::Cpu)?.to_dtype(DType::F32)?.reshape((n, 1))?;
	let freqs = pos.broadcast_mul(&inv_freq)?;
	Ok((
		freqs.cos()?.to_dtype(dtype)?.to_device(device)?,
		freqs.sin()?.to_dtype(dtype)?.to_device(device)?,
	))
}

impl Model {
	/// Loads a model in Hugging Face layout: `config.json`, `tokenizer.json` and
	/// `model.safetensors` (or shards listed in `model.safetensors.index.json`).
	///
	/// Use `DType::F32` on the CPU; `F16`/`BF16` are for CUDA.
	pub fn load_hf(dir: &Path, device: &Device, dtype: DType) -> Result<Model, ModelError> {
		let config = ModelConfig::from_file(&dir.join("config.json"))?;
		let tok_path = dir.join("tokenizer.json");
		let tokenizer = tokenizers::Tokenizer::from_file(&tok_path).map_err(|e| {
			ModelError::Tokenizer { path: tok_path.clone(), message: e.to_string() }
		})?;
		let files = weight_files(dir)?;
		// SAFETY: the weight files are memory-mapped read-only; the oracle never writes them and
		// operators must not modify a model directory while the oracle serves it.
		let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device) }
			.map_err(|source| ModelError::Weights { dir: dir.to_path_buf(), source })?;
		let id = config.name_or_path.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| {
			dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
		});
		Self::from_var_builder(config, tokenizer, id, vb)
			.map_err(|source| ModelError::Weights { dir: dir.to_path_buf(), source })
	}

	/// Builds the model from a [`VarBuilder`] in Hugging Face naming.
	pub fn from_var_builder(
		config: ModelConfig,
		tokenizer: tokenizers::Tokenizer,
		id: String,
		vb: VarBuilder,
	) -> candle_core::Result<Model> {
		let device = vb.device().clone();
		let dtype = vb.dtype();
		let c = &config;
		let embed = vb.get((c.vocab_size, c.hidden_size), "model.embed_tokens.weight")?;
		let mut layers = Vec::with_capacity(c.num_hidden_layers);
		for i in 0..c.num_hidden_layers {
			let lv = vb.pp(format!("model.layers.{i}"));
			let weight = |p: Proj| {
				let (inp, out) = c.proj_dims(p);
				lv.pp(p.parent()).pp(p.hf_name()).get((out, inp), "weight")
			};
			let bias = |p: Proj| {
				let (_, out) = c.proj_dims(p);
				lv.pp(p.parent()).pp(p.hf_name()).get(out, "bias")
			};
			let qkv_w = Tensor::cat(&[weight(Proj::Q)?, weight(Proj::K)?, weight(Proj::V)?], 0)?;
			let qkv_b = if c.qkv_bias() {
				Some(Tensor::cat(&[bias(Proj::Q)?, bias(Proj::K)?, bias(Proj::V)?], 0)?)
			} else {
				None
			};
			let o_b = if c.o_bias() { Some(bias(Proj::O)?) } else { None };
			layers.push(Layer {
				input_norm: lv.get(c.hidden_size, "input_layernorm.weight")?,
				post_norm: lv.get(c.hidden_size, "post_attention_layernorm.weight")?,
				qkv: BaseLinear::Dense { weight: qkv_w, bias: qkv_b },
				o: BaseLinear::Dense { weight: weight(Proj::O)?, bias: o_b },
				gate_up: BaseLinear::Dense {
					weight: Tensor::cat(&[weight(Proj::Gate)?, weight(Proj::Up)?], 0)?,
					bias: None,
				},
				down: BaseLinear::Dense { weight: weight(Proj::Down)?, bias: None },
			});
		}
		let norm = vb.get(c.hidden_size, "model.norm.weight")?;
		let lm_head = if c.tie_word_embeddings {
			BaseLinear::Dense { weight: embed.clone(), bias: None }
		} else {
			BaseLinear::Dense {
				weight: vb.get((c.vocab_size, c.hidden_size), "lm_head.weight")?,
				bias: None,
			}
		};
		let (cos, sin) = rope_tables(c, &device, dtype)?;
		Ok(Model {
			config,
			tokenizer,
			id,
			device,
			dtype,
			chat_template: None,
			embed,
			layers,
			norm,
			lm_head,
			cos,
			sin,
		})
	}

	/// An empty cache for one sequence.
	pub fn new_cache(&self) -> KvCache {
		KvCache::new(self.config.num_hidden_layers)
	}

	/// The end-of-sequence tokens: the config's, else the tokenizer's usual names.
	pub fn eos_token_ids(&self) -> Vec<u32> {
		if !self.config.eos_token_ids.is_empty() {
			return self.config.eos_token_ids.clone();
		}
		["<|endoftext|>", "<|im_end|>", "</s>", "<|eot_id|>"]
			.iter()
			.filter_map(|t| self.tokenizer.token_to_id(t))
			.collect()
	}

	/// The dense base weight `[out, in]` of one projection (for merging and tests).
	pub fn base_weight(&self, layer: usize, proj: Proj) -> candle_core::Result<Tensor> {
		let Some(l) = self.layers.get(layer) else {
			candle_core::bail!("layer {layer} out of range");
		};
		let (site, offset, out) = self.site_slice(proj);
		let lin = match site {
			Site::Qkv => &l.qkv,
			Site::O => &l.o,
			Site::GateUp => &l.gate_up,
			Site::Down => &l.down,
		};
		let Some(w) = lin.dense_weight() else {
			candle_core::bail!("projection {proj:?} is not dense");
		};
		w.narrow(0, offset, out)
	}

	/// Where a projection's output rows sit inside its fused site: `(site, offset, out)`.
	pub(crate) fn site_slice(&self, proj: Proj) -> (Site, usize, usize) {
		site_slice(&self.config, proj)
	}

	/// A copy of the model with `delta(layer, proj)` (an `[out, in]` tensor, when `Some`) added
	/// to each dense base weight. Used to merge an adapter (`W' = W + scale·B·A`).
	pub fn with_deltas(
		&self,
		mut delta: impl FnMut(usize, Proj) -> candle_core::Result<Option<Tensor>>,
	) -> candle_core::Result<Model> {
		let mut out = self.clone();
		for (li, layer) in out.layers.iter_mut().enumerate() {
			for site in [Site::Qkv, Site::O, Site::GateUp, Site::Down] {
				let lin = match site {
					Site::Qkv => &mut layer.qkv,
					Site::O => &mut layer.o,
					Site::GateUp => &mut layer.gate_up,
					Site::Down => &mut layer.down,
				};
				let BaseLinear::Dense { weight, .. } = lin else {
					candle_core::bail!(
						"cannot merge an adapter into a quantized base: load the GGUF with \
						 GgufMode::Dequantized to merge"
					);
				};
				let mut parts = Vec::new();
				let mut changed = false;
				for &p in site.projs() {
					let (_, off, n) = site_slice(&self.config, p);
					let w = weight.narrow(0, off, n)?;
					match delta(li, p)? {
						Some(d) => {
							changed = true;
							let d = d.to_dtype(w.dtype())?.to_device(w.device())?;
							parts.push((w + d)?);
						},
						None => parts.push(w),
					}
				}
				if changed {
					*weight = Tensor::cat(&parts, 0)?;
				}
			}
		}
		Ok(out)
	}

	/// Runs one step for a batch of sequences and returns the logits of each sequence's last new
	/// token, `[B, vocab]` in `f32`, row `i` for `seqs[i]`.
	///
	/// Each sequence's cache grows by its tokens when the step succeeds. When it fails, the
	/// caches of the step's sequences are left inconsistent: drop those sequences.
	pub fn forward_batch(&self, seqs: &mut [SeqInput<'_>]) -> Result<Tensor, ModelError> {
		let c = &self.config;
		if seqs.is_empty() {
			return Err(ModelError::Input("a step needs at least one sequence".into()));
		}
		for (i, s) in seqs.iter().enumerate() {
			if s.tokens.is_empty() {
				return Err(ModelError::Input(format!("sequence {i} brings no token")));
			}
			if let Some(t) = s.tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
				return Err(ModelError::Input(format!(
					"token id {t} is outside the vocabulary (size {})",
					c.vocab_size
				)));
			}
			let end = s.cache.len() + s.tokens.len();
			if end > c.max_position_embeddings {
				return Err(ModelError::Input(format!(
					"sequence {i} would reach position {end}, beyond max_position_embeddings {}",
					c.max_position_embeddings
				)));
			}
			if s.cache.layers.len() != c.num_hidden_layers {
				return Err(ModelError::Input(format!(
					"sequence {i} has a cache for another model"
				)));
			}
			if let Some(a) = s.adapter {
				a.check_compatible(c).map_err(|e| ModelError::Input(e.to_string()))?;
			}
		}

		// Order the sequences by adapter so each adapter's rows are contiguous.
		let key = |s: &SeqInput<'_>| s.adapter.map_or(0usize, |a| a as *const LoraAdapter as usize);
		let mut order: Vec<usize> = (0..seqs.len()).collect();
		order.sort_by_key(|&i| key(&seqs[i]));
		let mut tokens = Vec::new();
		let mut positions = Vec::new();
		let mut spans = vec![(0usize, 0usize); seqs.len()];
		let mut groups: Vec<(usize, usize, &LoraAdapter)> = Vec::new();
		for &i in &order {
			let s = &seqs[i];
			let start = tokens.len();
			let t = s.tokens.len();
			tokens.extend_from_slice(s.tokens);
			positions.extend((s.cache.len()..s.cache.len() + t).map(|p| p as u32));
			spans[i] = (start, t);
			if let Some(a) = s.adapter {
				match groups.last_mut() {
					Some(g) if std::ptr::eq(g.2, a) => g.1 += t,
					_ => groups.push((start, t, a)),
				}
			}
		}
		let n = tokens.len();
		let rows = RowGroups::new(groups, n);
		let dev = &self.device;
		let ids = Tensor::from_vec(tokens, n, dev)?;
		let pos = Tensor::from_vec(positions, n, dev)?;
		let half = c.head_dim / 2;
		let cos = self.cos.index_select(&pos, 0)?.reshape((n, 1, half))?;
		let sin = self.sin.index_select(&pos, 0)?.reshape((n, 1, half))?;
		// Causal masks, per sequence that brings more than one token.
		let mut masks: Vec<Option<Tensor>> = Vec::with_capacity(seqs.len());
		for s in seqs.iter() {
			let t = s.tokens.len();
			if t == 1 {
				masks.push(None);
				continue;
			}
			let past = s.cache.len();
			let total = past + t;
			let mask: Vec<f32> = (0..t)
				.flat_map(|j| {
					(0..total).map(move |k| if k > past + j { f32::NEG_INFINITY } else { 0.0 })
				})
				.collect();
			masks.push(Some(Tensor::from_vec(mask, (t, total), dev)?.to_dtype(self.dtype)?));
		}

		let (nh, nkv, hd) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
		let (q_out, kv_out) = (nh * hd, nkv * hd);
		let eps = c.rms_norm_eps as f32;
		let scale = 1.0 / (hd as f64).sqrt();
		// One-token sequences go through the CPU attention kernel when it applies.
		let cpu_kernels = self.device.is_cpu() && self.dtype == DType::F32;
		let mut x = self.embed.index_select(&ids, 0)?;
		for (li, layer) in self.layers.iter().enumerate() {
			let h = candle_nn::ops::rms_norm(&x, &layer.input_norm, eps)?;
			let qkv = rows.apply(li, Site::Qkv, &h, layer.qkv.forward(&h)?)?;
			let q = qkv.narrow(1, 0, q_out)?.reshape((n, 1, nh, hd))?;
			let k = qkv.narrow(1, q_out, kv_out)?.reshape((n, 1, nkv, hd))?;
			let v = qkv.narrow(1, q_out + kv_out, kv_out)?.reshape((n, nkv, hd))?;
			let q = candle_nn::rotary_emb::rope_thd(&q, &cos, &sin)?.reshape((n, nh, hd))?;
			let k = candle_nn::rotary_emb::rope_thd(&k, &cos, &sin)?.reshape((n, nkv, hd))?;
			let q = (q * scale)?;
			// Per sequence: its output (generic path), or None when the CPU kernel serves it.
			let mut outs: Vec<(usize, Option<Tensor>)> = Vec::with_capacity(seqs.len());
			let mut decode = Vec::new();
			for &i in &order {
				let (start, t) = spans[i];
				let k_i = k.narrow(0, start, t)?.transpose(0, 1)?.contiguous()?;
				let v_i = v.narrow(0, start, t)?.transpose(0, 1)?.contiguous()?;
				let (k_all, v_all) = seqs[i].cache.append(li, &k_i, &v_i)?;
				if t == 1 && cpu_kernels {
					decode.push((start, k_all, v_all));
					outs.push((start, None));
				} else {
					let q_i = q.narrow(0, start, t)?;
					let out = attention::attend(&q_i, &k_all, &v_all, masks[i].as_ref(), nkv)?;
					outs.push((start, Some(out)));
				}
			}
			let attn = if decode.is_empty() {
				Tensor::cat(&outs.into_iter().filter_map(|(_, o)| o).collect::<Vec<_>>(), 0)?
			} else {
				let rows: Vec<attention::DecodeRow<'_>> = decode
					.iter()
					.map(|(row, k, v)| attention::DecodeRow { row: *row, k, v })
					.collect();
				let mut buf = vec![0f32; n * q_out];
				attention::decode_cpu(&q, &rows, nkv, &mut buf)?;
				let all = Tensor::from_vec(buf, (n, q_out), dev)?;
				if decode.len() == outs.len() {
					all
				} else {
					let pieces = outs
						.into_iter()
						.map(|(start, o)| o.map_or_else(|| all.narrow(0, start, 1), Ok))
						.collect::<candle_core::Result<Vec<_>>>()?;
					Tensor::cat(&pieces, 0)?
				}
			};
			let o = rows.apply(li, Site::O, &attn, layer.o.forward(&attn)?)?;
			x = (x + o)?;
			let h = candle_nn::ops::rms_norm(&x, &layer.post_norm, eps)?;
			let gu = rows.apply(li, Site::GateUp, &h, layer.gate_up.forward(&h)?)?;
			let inter = c.intermediate_size;
			let act = (gu.narrow(1, 0, inter)?.silu()? * gu.narrow(1, inter, inter)?)?;
			let down = rows.apply(li, Site::Down, &act, layer.down.forward(&act)?)?;
			x = (x + down)?;
		}
		for s in seqs.iter_mut() {
			s.cache.advance(s.tokens.len());
		}
		let last: Vec<u32> = spans.iter().map(|&(start, t)| (start + t - 1) as u32).collect();
		let last = Tensor::from_vec(last, seqs.len(), dev)?;
		let x = x.index_select(&last, 0)?;
		let x = candle_nn::ops::rms_norm(&x, &self.norm, eps)?;
		Ok(self.lm_head.forward(&x)?.to_dtype(DType::F32)?)
	}
}
