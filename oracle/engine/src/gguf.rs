//! Llama-family models from a GGUF file (llama.cpp's format), such as SmolLM2-135M-Instruct Q4_1.
//!
//! [`Model::load_gguf`] reads the file once with `candle_core::quantized::gguf_file`:
//! - the hyper-parameters from the `llama.*` metadata into a [`ModelConfig`];
//! - the tokenizer from `tokenizer.ggml.*` ([`tokenizer_from_gguf`]: a byte-level BPE as GPT-2
//!   and SmolLM2 use, its special tokens added) and the chat template from
//!   `tokenizer.chat_template` into [`Model::chat_template`];
//! - the weights, GGUF names (`token_embd`, `blk.{i}.attn_q`, …, `output_norm`, `output`) mapped
//!   to the engine's layers. [`GgufMode::Quantized`] keeps the base linears in their GGUF blocks
//!   ([`BaseLinear::Quantized`]); [`GgufMode::Dequantized`] turns every tensor into a dense one
//!   (for merging adapters and for exact tests). Norms are `f32`; the embedding is dequantized;
//!   without an `output` tensor the head is the embedding (tied, as in SmolLM2).
//!
//! llama.cpp's converter permutes the rows of `attn_q` and `attn_k` inside each head so that
//! the interleaved rotary form ("rope_i": pairs `(2i, 2i+1)`) computes what Hugging Face's
//! "rotate half" form computes on the original rows (pairs `(i, i + head_dim/2)`). The loader
//! undoes that permutation ([`unpermute_rows`]), so the engine keeps one rotary form and the
//! q/k rows are in Hugging Face order: a PEFT adapter trained on the Hugging Face model applies
//! to a GGUF base unchanged. Rows of a quantized matrix are whole blocks, so the permutation
//! moves bytes and loses nothing.

use std::{
	borrow::Cow,
	fs::File,
	io::BufReader,
	path::{Path, PathBuf},
};

use candle_core::{
	quantized::{gguf_file, GgmlDType, QMatMul, QStorage, QTensor},
	DType, Device, Tensor,
};

use super::{
	config::ModelConfig,
	error::ModelError,
	model::{rope_tables, BaseLinear, Layer, Model},
};

/// How [`Model::load_gguf`] holds the base linears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GgufMode {
	/// In their GGUF block types, multiplied by candle's quantized kernels (small and fast; an
	/// adapter runs unmerged on top, it cannot be merged in).
	Quantized,
	/// Dequantized to dense `f32` weights (four to eight times the memory; adapters can be
	/// merged; the reference for tests).
	Dequantized,
	/// Kept quantized, converted at load to this block type when the file's differs. On the CPU,
	/// candle 0.11 multiplies Q4_0, Q8_0 and the K-quants with AVX2 kernels but Q4_1 (the type
	/// of SmolLM2's GGUF) with scalar code: `Requantized(GgmlDType::Q8_0)` keeps the weights
	/// within Q8_0's rounding of the file's at about 1.9 times Q4_1's size.
	Requantized(GgmlDType),
}

/// `t` in `mode`'s block type (unchanged unless `mode` requantizes to another type).
fn requantize(t: QTensor, mode: GgufMode) -> candle_core::Result<QTensor> {
	match mode {
		GgufMode::Requantized(to) if t.dtype() != to => {
			QTensor::quantize(&t.dequantize(&Device::Cpu)?, to)
		},
		_ => Ok(t),
	}
}

/// A GGUF file read: its metadata and tensor directory, and the open file.
struct Gguf {
	path: PathBuf,
	content: gguf_file::Content,
	reader: BufReader<File>,
}

impl Gguf {
	fn err(&self, message: impl Into<String>) -> ModelError {
		ModelError::Gguf { path: self.path.clone(), message: message.into() }
	}

	fn meta(&self, key: &str) -> Result<&gguf_file::Value, ModelError> {
		self.content.metadata.get(key).ok_or_else(|| {
			self.err(format!("metadata {key} is missing: this engine runs Llama-family GGUF files"))
		})
	}

	fn meta_usize(&self, key: &str) -> Result<usize, ModelError> {
		let v = self.meta(key)?;
		let n = v
			.to_u32()
			.map(u64::from)
			.or_else(|_| v.to_u64())
			.map_err(|e| self.err(format!("metadata {key}: {e}")))?;
		usize::try_from(n).map_err(|_| self.err(format!("metadata {key} = {n} is too large")))
	}

	fn meta_f64(&self, key: &str) -> Result<f64, ModelError> {
		let v = self.meta(key)?;
		v.to_f32()
			.map(f64::from)
			.or_else(|_| v.to_f64())
			.map_err(|e| self.err(format!("metadata {key}: {e}")))
	}

	fn meta_u32_opt(&self, key: &str) -> Option<u32> {
		self.content.metadata.get(key).and_then(|v| v.to_u32().ok())
	}

	fn strings(&self, key: &str) -> Result<Vec<String>, ModelError> {
		let list =
			self.meta(key)?.to_vec().map_err(|e| self.err(format!("metadata {key}: {e}")))?;
		list.iter()
			.map(|v| v.to_string().cloned().map_err(|e| self.err(format!("metadata {key}: {e}"))))
			.collect()
	}

	/// The tensor `name` in its GGUF block type, checked to have `dims` (PyTorch order).
	fn qtensor(&mut self, name: &str, dims: &[usize]) -> Result<QTensor, ModelError> {
		let t = self
			.content
			.tensor(&mut self.reader, name, &Device::Cpu)
			.map_err(|e| self.err(format!("tensor {name}: {e} (a truncated or corrupt file?)")))?;
		if t.shape().dims() != dims {
			return Err(self.err(format!(
				"tensor {name} has shape {:?}, the metadata implies {dims:?}",
				t.shape().dims()
			)));
		}
		Ok(t)
	}

	fn dense(
		&mut self,
		name: &str,
		dims: &[usize],
		device: &Device,
		dtype: DType,
	) -> Result<Tensor, ModelError> {
		let t = self.qtensor(name, dims)?;
		Ok(t.dequantize(&Device::Cpu)?.to_dtype(dtype)?.to_device(device)?)
	}
}

/// Undoes llama.cpp's q/k row permutation: row `h·d + j·d/2 + i` of the result (Hugging Face
/// order) is row `h·d + 2i + j` of `rows` (GGUF order), for `heads` heads of `d` rows, where each
/// row is `row_bytes` bytes.
pub fn unpermute_rows(rows: &[u8], heads: usize, row_bytes: usize) -> Vec<u8> {
	let n_rows = rows.len() / row_bytes.max(1);
	let d = n_rows / heads.max(1);
	let half = d / 2;
	let mut out = Vec::with_capacity(rows.len());
	for h in 0..heads {
		for j in 0..2 {
			for i in 0..half {
				let src = (h * d + 2 * i + j) * row_bytes;
				out.extend_from_slice(&rows[src..src + row_bytes]);
			}
		}
	}
	out
}

/// A quantized tensor with its rows unpermuted ([`unpermute_rows`]).
fn unpermute_qtensor(t: &QTensor, heads: usize) -> candle_core::Result<QTensor> {
	let dims = t.shape().dims().to_vec();
	let (rows, cols) = match dims[..] {
		[r, c] => (r, c),
		_ => candle_core::bail!("expected a matrix, found shape {dims:?}"),
	};
	if heads == 0 || !rows.is_multiple_of(2 * heads) {
		candle_core::bail!("{rows} rows do not split into {heads} heads of even size");
	}
	let dtype = t.dtype();
	let row_bytes = cols / dtype.block_size() * dtype.type_size();
	let data = t.data()?;
	if data.len() != rows * row_bytes {
		candle_core::bail!("{} bytes for {rows} rows of {row_bytes} bytes", data.len());
	}
	let out = unpermute_rows(&data, heads, row_bytes);
	let storage = QStorage::from_data(Cow::Owned(out), &Device::Cpu, dtype)?;
	QTensor::new(storage, dims)
}

/// Moves a CPU-read quantized tensor to `device` (a no-op on the CPU).
fn qtensor_to(t: QTensor, device: &Device) -> candle_core::Result<QTensor> {
	if device.is_cpu() {
		return Ok(t);
	}
	let data = t.data()?;
	let storage = QStorage::from_data(Cow::Borrowed(&data), device, t.dtype())?;
	QTensor::new(storage, t.shape().clone())
}

/// The tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata: a byte-level BPE
/// (`tokenizer.ggml.model` = `gpt2`) with its vocabulary and merges, a ByteLevel pre-tokenizer
/// without a prefix space (preceded by single-digit splitting for the `smollm`/`starcoder`
/// pre-tokenizers, as their `tokenizer.json` does), the ByteLevel decoder, and the control and
/// user-defined tokens (types 3 and 4) added so that they are matched whole, and the BOS token
/// prepended when `tokenizer.ggml.add_bos_token` is set.
pub fn tokenizer_from_gguf(
	content: &gguf_file::Content,
) -> Result<tokenizers::Tokenizer, GgufTokenizerError> {
	build_tokenizer(content).map_err(GgufTokenizerError)
}

/// A GGUF file's `tokenizer.ggml.*` metadata does not describe a tokenizer this engine builds;
/// the message names the key at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GgufTokenizerError(pub String);

/// [`tokenizer_from_gguf`]'s work; the error names the key at fault.
fn build_tokenizer(content: &gguf_file::Content) -> Result<tokenizers::Tokenizer, String> {
	use tokenizers::{
		decoders::byte_level::ByteLevel as ByteLevelDecoder,
		models::bpe::BPE,
		pre_tokenizers::{
			byte_level::ByteLevel, digits::Digits, sequence::Sequence, PreTokenizerWrapper,
		},
		processors::template::TemplateProcessing,
		AddedToken,
	};
	let md = &content.metadata;
	let get = |k: &str| md.get(k).ok_or_else(|| format!("metadata {k} is missing"));
	let model = get("tokenizer.ggml.model")?.to_string().map_err(|e| e.to_string())?;
	if model != "gpt2" {
		return Err(format!(
			"tokenizer.ggml.model is {model:?}: only byte-level BPE (\"gpt2\") tokenizers are \
			 implemented"
		));
	}
	let strings = |k: &str| -> Result<Vec<String>, String> {
		get(k)?
			.to_vec()
			.map_err(|e| format!("{k}: {e}"))?
			.iter()
			.map(|v| v.to_string().cloned().map_err(|e| format!("{k}: {e}")))
			.collect()
	};
	let tokens = strings("tokenizer.ggml.tokens")?;
	let merges: Vec<(String, String)> = strings("tokenizer.ggml.merges")?
		.into_iter()
		.map(|m| match m.split_once(' ') {
			Some((a, b)) => Ok((a.to_string(), b.to_string())),
			None => Err(format!("merge {m:?} is not two tokens separated by a space")),
		})
		.collect::<Result<_, _>>()?;
	let types: Vec<i32> = match md.get("tokenizer.ggml.token_type") {
		Some(v) => v
			.to_vec()
			.map_err(|e| e.to_string())?
			.iter()
			.map(|t| t.to_i32().map_err(|e| format!("tokenizer.ggml.token_type: {e}")))
			.collect::<Result<_, _>>()?,
		None => Vec::new(),
	};
	let vocab: tokenizers::models::bpe::Vocab =
		tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
	let bpe = BPE::builder()
		.vocab_and_merges(vocab, merges)
		.build()
		.map_err(|e| format!("the BPE does not build: {e}"))?;
	let mut tok = tokenizers::Tokenizer::new(bpe);
	let pre = md.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok().cloned());
	let byte_level = ByteLevel::new(false, true, true);
	let digits = matches!(pre.as_deref(), Some("smollm" | "starcoder" | "refact" | "codeshell"));
	if digits {
		tok.with_pre_tokenizer(Some(Sequence::new(vec![
			PreTokenizerWrapper::Digits(Digits::new(true)),
			PreTokenizerWrapper::ByteLevel(byte_level),
		])));
	} else {
		tok.with_pre_tokenizer(Some(byte_level));
	}
	tok.with_decoder(Some(ByteLevelDecoder::default()));
	let special: Vec<AddedToken> = tokens
		.iter()
		.zip(types.iter())
		.filter(|(_, &t)| t == 3 || t == 4)
		.map(|(s, &t)| AddedToken::from(s.clone(), t == 3))
		.collect();
	// `add_bos_token`: the BOS token opens each text tokenised with special tokens.
	let add_bos = md.get("tokenizer.ggml.add_bos_token").and_then(|v| v.to_bool().ok());
	if add_bos == Some(true) {
		let id = md
			.get("tokenizer.ggml.bos_token_id")
			.and_then(|v| v.to_u32().ok())
			.ok_or("tokenizer.ggml.add_bos_token is set without tokenizer.ggml.bos_token_id")?;
		let bos = tokens.get(id as usize).ok_or(format!("bos_token_id {id} is not a token"))?;
		let post = TemplateProcessing::builder()
			.try_single(format!("{bos} $A"))
			.and_then(|b| b.try_pair(format!("{bos} $A $B:1")))
			.map_err(|e| format!("the BOS template does not build: {e}"))?
			.special_tokens(vec![(bos.clone(), id)])
			.build()
			.map_err(|e| format!("the BOS template does not build: {e}"))?;
		tok.with_post_processor(Some(post));
	}
	tok.add_special_tokens(special).map_err(|e| format!("the special tokens do not add: {e}"))?;
	Ok(tok)
}

impl Model {
	/// Loads a Llama-family model from a GGUF file (see the [module docs](self)).
	///
	/// Use `DType::F32` on the CPU. A corrupt or truncated file, another architecture or a
	/// missing tensor is a [`ModelError::Gguf`] that names what is wrong.
	pub fn load_gguf(
		path: &Path,
		device: &Device,
		dtype: DType,
		mode: GgufMode,
	) -> Result<Model, ModelError> {
		let file = File::open(path)
			.map_err(|e| ModelError::Io { path: path.to_path_buf(), message: e.to_string() })?;
		let mut reader = BufReader::new(file);
		let content = gguf_file::Content::read(&mut reader).map_err(|e| ModelError::Gguf {
			path: path.to_path_buf(),
			message: format!(
				"{e}: not a readable GGUF file (corrupt or truncated? download it again; for \
				 SmolLM2, delete it and re-run scripts/setup)"
			),
		})?;
		let mut g = Gguf { path: path.to_path_buf(), content, reader };
		let arch = g.meta("general.architecture")?.to_string().cloned().unwrap_or_default();
		if arch != "llama" {
			return Err(g.err(format!(
				"general.architecture is {arch:?}: only \"llama\" GGUF files are implemented"
			)));
		}
		let tokenizer = tokenizer_from_gguf(&g.content)
			.map_err(|m| g.err(format!("its tokenizer metadata: {m}")))?;
		let heads = g.meta_usize("llama.attention.head_count")?;
		let hidden = g.meta_usize("llama.embedding_length")?;
		let vocab_size = g.strings("tokenizer.ggml.tokens")?.len();
		let mut json = serde_json::json!({
			"model_type": "llama",
			"hidden_size": hidden,
			"intermediate_size": g.meta_usize("llama.feed_forward_length")?,
			"num_hidden_layers": g.meta_usize("llama.block_count")?,
			"num_attention_heads": heads,
			"num_key_value_heads": g.meta_usize("llama.attention.head_count_kv").unwrap_or(heads),
			"rms_norm_eps": g.meta_f64("llama.attention.layer_norm_rms_epsilon")?,
			"rope_theta": g.meta_f64("llama.rope.freq_base").unwrap_or(10_000.0),
			"max_position_embeddings": g.meta_usize("llama.context_length")?,
			"vocab_size": vocab_size,
			"tie_word_embeddings": !g.content.tensor_infos.contains_key("output.weight"),
		});
		// The id is the file's name without `.gguf` and the quantization tag
		// (`SmolLM2-135M-Instruct.Q4_1.gguf` → `SmolLM2-135M-Instruct`), so that adapters naming
		// the Hugging Face model (`HuggingFaceTB/SmolLM2-135M-Instruct`) match it.
		let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
		let id = match stem.rsplit_once('.') {
			Some((name, _tag)) if !name.is_empty() => name.to_string(),
			_ => stem,
		};
		json["_name_or_path"] = id.clone().into();
		if let Some(bos) = g.meta_u32_opt("tokenizer.ggml.bos_token_id") {
			json["bos_token_id"] = bos.into();
		}
		if let Some(eos) = g.meta_u32_opt("tokenizer.ggml.eos_token_id") {
			json["eos_token_id"] = eos.into();
		}
		let config = ModelConfig::from_json(&json.to_string())?;
		if let Ok(rope_dim) = g.meta_usize("llama.rope.dimension_count") {
			if rope_dim != config.head_dim {
				return Err(g.err(format!(
					"llama.rope.dimension_count {rope_dim} differs from the head width {}: \
					 partial rotary embeddings are not implemented",
					config.head_dim
				)));
			}
		}
		if let Some(kind) =
			g.content.metadata.get("llama.rope.scaling.type").and_then(|v| v.to_string().ok())
		{
			if kind != "none" {
				return Err(g.err(format!(
					"llama.rope.scaling.type is {kind:?}: only plain rotary embeddings are \
					 implemented"
				)));
			}
		}
		let chat_template = g
			.content
			.metadata
			.get("tokenizer.chat_template")
			.and_then(|v| v.to_string().ok().cloned());
		let c = config.clone();
		let f32_ = DType::F32;
		let embed = g.dense("token_embd.weight", &[c.vocab_size, c.hidden_size], device, dtype)?;
		let mut layers = Vec::with_capacity(c.num_hidden_layers);
		for i in 0..c.num_hidden_layers {
			let lin = |g: &mut Gguf, parts: &[(&str, usize, usize, Option<usize>)]| {
				let mut qs = Vec::with_capacity(parts.len());
				for &(name, out, inp, heads) in parts {
					let name = format!("blk.{i}.{name}.weight");
					let mut t = g.qtensor(&name, &[out, inp])?;
					if let Some(h) = heads {
						t = unpermute_qtensor(&t, h)
							.map_err(|e| g.err(format!("tensor {name}: {e}")))?;
					}
					qs.push(t);
				}
				match mode {
					GgufMode::Quantized | GgufMode::Requantized(_) => {
						let parts = qs
							.into_iter()
							.map(|t| {
								QMatMul::from_qtensor(qtensor_to(requantize(t, mode)?, device)?)
							})
							.collect::<candle_core::Result<Vec<_>>>()?;
						Ok::<_, ModelError>(BaseLinear::Quantized { parts })
					},
					GgufMode::Dequantized => {
						let ws = qs
							.iter()
							.map(|t| t.dequantize(&Device::Cpu))
							.collect::<candle_core::Result<Vec<_>>>()?;
						let w = Tensor::cat(&ws, 0)?.to_dtype(dtype)?.to_device(device)?;
						Ok(BaseLinear::Dense { weight: w, bias: None })
					},
				}
			};
			let (h, q, kv, inter) = (
				c.hidden_size,
				c.num_attention_heads * c.head_dim,
				c.num_key_value_heads * c.head_dim,
				c.intermediate_size,
			);
			let qkv = lin(
				&mut g,
				&[
					("attn_q", q, h, Some(c.num_attention_heads)),
					("attn_k", kv, h, Some(c.num_key_value_heads)),
					("attn_v", kv, h, None),
				],
			)?;
			let o = lin(&mut g, &[("attn_output", h, q, None)])?;
			let gate_up = lin(&mut g, &[("ffn_gate", inter, h, None), ("ffn_up", inter, h, None)])?;
			let down = lin(&mut g, &[("ffn_down", h, inter, None)])?;
			layers.push(Layer {
				input_norm: g
					.dense(&format!("blk.{i}.attn_norm.weight"), &[h], device, f32_)?
					.to_dtype(dtype)?,
				post_norm: g
					.dense(&format!("blk.{i}.ffn_norm.weight"), &[h], device, f32_)?
					.to_dtype(dtype)?,
				qkv,
				o,
				gate_up,
				down,
			});
		}
		let norm = g.dense("output_norm.weight", &[c.hidden_size], device, dtype)?;
		let head_name = if c.tie_word_embeddings { "token_embd.weight" } else { "output.weight" };
		let lm_head = match mode {
			GgufMode::Quantized | GgufMode::Requantized(_) => {
				let t = requantize(g.qtensor(head_name, &[c.vocab_size, c.hidden_size])?, mode)?;
				BaseLinear::Quantized {
					parts: vec![QMatMul::from_qtensor(qtensor_to(t, device)?)?],
				}
			},
			GgufMode::Dequantized if c.tie_word_embeddings => {
				BaseLinear::Dense { weight: embed.clone(), bias: None }
			},
			GgufMode::Dequantized => BaseLinear::Dense {
				weight: g.dense(head_name, &[c.vocab_size, c.hidden_size], device, dtype)?,
				bias: None,
			},
		};
		let (cos, sin) = rope_tables(&c, device, dtype)?;
		Ok(Model {
			config,
			tokenizer,
			id,
			device: device.clone(),
			dtype,
			chat_template,
			embed,
			layers,
			norm,
			lm_head,
			cos,
			sin,
		})
	}
}

#[cfg(test)]
mod tests {
	use std::collections::HashMap;

	use super::*;

	/// llama.cpp's `permute` (convert_hf_to_gguf.py): `reshape(heads, 2, d/2, …).swapaxes(1, 2)`.
	fn llama_cpp_permute(rows: &[u32], heads: usize) -> Vec<u32> {
		let d = rows.len() / heads;
		let half = d / 2;
		let mut out = vec![0; rows.len()];
		for h in 0..heads {
			for i in 0..half {
				for j in 0..2 {
					// Output index (h, i, j) takes input index (h, j, i).
					out[h * d + i * 2 + j] = rows[h * d + j * half + i];
				}
			}
		}
		out
	}

	#[test]
	fn tokenizer_from_metadata_adds_bos_when_asked() {
		use gguf_file::Value;
		let strings =
			|v: &[&str]| Value::Array(v.iter().map(|s| Value::String(s.to_string())).collect());
		let mut metadata = HashMap::new();
		metadata.insert("tokenizer.ggml.model".into(), Value::String("gpt2".into()));
		metadata.insert("tokenizer.ggml.tokens".into(), strings(&["<s>", "a", "b", "ab", "Ġ"]));
		metadata.insert("tokenizer.ggml.merges".into(), strings(&["a b"]));
		metadata.insert(
			"tokenizer.ggml.token_type".into(),
			Value::Array([3, 1, 1, 1, 1].into_iter().map(Value::I32).collect()),
		);
		metadata.insert("tokenizer.ggml.bos_token_id".into(), Value::U32(0));
		metadata.insert("tokenizer.ggml.add_bos_token".into(), Value::Bool(true));
		let content = gguf_file::Content {
			magic: gguf_file::VersionedMagic::GgufV3,
			metadata,
			tensor_infos: HashMap::new(),
			tensor_data_offset: 0,
		};
		let tok = tokenizer_from_gguf(&content).expect("builds");
		let ids = |text: &str, special: bool| {
			tok.encode(text, special).expect("encodes").get_ids().to_vec()
		};
		assert_eq!(ids("ab ab", true), vec![0, 3, 4, 3]);
		assert_eq!(ids("ab ab", false), vec![3, 4, 3]);
		assert_eq!(ids("<s>ab", false), vec![0, 3]);
		assert_eq!(tok.decode(&[0, 3, 4, 3], true).expect("decodes"), "ab ab");
	}

	#[test]
	fn unpermute_inverts_llama_cpp_permute() {
		let heads = 3;
		let hf: Vec<u32> = (0..3 * 8).collect();
		let gguf = llama_cpp_permute(&hf, heads);
		assert_ne!(gguf, hf);
		let bytes: Vec<u8> = gguf.iter().flat_map(|r| r.to_le_bytes()).collect();
		let back: Vec<u32> = unpermute_rows(&bytes, heads, 4)
			.chunks(4)
			.map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
			.collect();
		assert_eq!(back, hf);
	}
}
