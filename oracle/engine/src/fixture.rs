//! A tiny Llama with seeded random weights and PEFT adapters, for tests and benchmarks.
//!
//! [`write_fixture`] writes, under `out`:
//! - `<model id>/`: `config.json`, `model.safetensors` (f32), `tokenizer.json` (a real byte-level
//!   BPE whose merges are learnt from an embedded English text, so any text round-trips) and
//!   `tokenizer_config.json` (with a ChatML chat template);
//! - `adapters/<name>/`: `adapter_config.json` and `adapter_model.safetensors`, LoRA on
//!   q, k, v and o of every layer with `base_model_name_or_path` = the model id. Ranks alternate
//!   8 and 16; every third adapter (1, 4, 7, …) uses rsLoRA; adapter 2 has a `rank_pattern`
//!   (`q_proj` at twice the rank) and an `alpha_pattern` (the last layer's `v_proj`). B is not
//!   zero (PEFT initialises it to zero), so every adapter visibly changes the output.
//!
//! Everything is derived from the spec's seed with a portable generator (SplitMix64), each tensor
//! from its own name, so the same spec writes the same bytes on every machine.
//!
//! The special tokens (`<|endoftext|>` 0, `<|im_start|>` 1, `<|im_end|>` 2 = EOS) have zero
//! embedding and output rows: random weights never predict them under greedy decoding, so
//! generation runs to `max_tokens` (tests that need an EOS point `eos_token_id` at a token the
//! model does produce).

use std::{
	collections::{BTreeMap, HashMap},
	path::{Path, PathBuf},
};

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::peft::{peft_key, write_peft, LoraConfig};

/// What fixture to write.
#[derive(Clone, Debug, PartialEq)]
pub struct FixtureSpec {
	/// Seed of every weight.
	pub seed: u64,
	/// The model's id (`_name_or_path`, directory name and the adapters' base).
	pub model_id: String,
	/// Width of the residual stream.
	pub hidden_size: usize,
	/// Width of the MLP.
	pub intermediate_size: usize,
	/// Decoder layers.
	pub num_layers: usize,
	/// Query heads.
	pub num_heads: usize,
	/// Key/value heads.
	pub num_kv_heads: usize,
	/// Rows of the embedding (at least the tokenizer's 259 base tokens; the tokenizer learns
	/// merges up to this size or until the text runs out).
	pub vocab_size: usize,
	/// Longest sequence.
	pub max_position_embeddings: usize,
	/// Whether the output head is the embedding.
	pub tie_word_embeddings: bool,
	/// PEFT adapters to write.
	pub adapters: usize,
	/// The dtype of the adapter files (PEFT saves f32, f16 or bf16).
	pub adapter_dtype: DType,
}

impl FixtureSpec {
	/// Hidden 64, 2 layers, 4 heads / 2 kv heads, intermediate 128, vocab 512, 4 adapters in
	/// f32: the engine tests' model.
	pub fn tiny() -> Self {
		FixtureSpec {
			seed: 42,
			model_id: "lineage-tiny-llama".into(),
			hidden_size: 64,
			intermediate_size: 128,
			num_layers: 2,
			num_heads: 4,
			num_kv_heads: 2,
			vocab_size: 512,
			max_position_embeddings: 512,
			tie_word_embeddings: false,
			adapters: 4,
			adapter_dtype: DType::F32,
		}
	}

	/// Hidden 1024, 8 layers, 16 heads / 4 kv heads, intermediate 2816, vocab 4096, tied
	/// embeddings, adapters in bf16 (their number is the benchmark's to set): the benchmark's
	/// model, about 100M parameters.
	pub fn bench() -> Self {
		FixtureSpec {
			seed: 7,
			model_id: "lineage-bench-llama".into(),
			hidden_size: 1024,
			intermediate_size: 2816,
			num_layers: 8,
			num_heads: 16,
			num_kv_heads: 4,
			vocab_size: 4096,
			max_position_embeddings: 2048,
			tie_word_embeddings: true,
			adapters: 0,
			adapter_dtype: DType::BF16,
		}
	}

	/// The shapes of SmolLM2-135M-Instruct (hidden 576, 30 layers, 9 heads / 3 kv heads,
	/// intermediate 1536, vocab 49152, tied embeddings), for adapters that apply to the real
	/// model ([`write_adapters`]; the model itself comes from `scripts/setup`), 2 adapters in f32.
	pub fn smollm2() -> Self {
		FixtureSpec {
			seed: 135,
			model_id: "HuggingFaceTB/SmolLM2-135M-Instruct".into(),
			hidden_size: 576,
			intermediate_size: 1536,
			num_layers: 30,
			num_heads: 9,
			num_kv_heads: 3,
			vocab_size: 49152,
			max_position_embeddings: 8192,
			tie_word_embeddings: true,
			adapters: 2,
			adapter_dtype: DType::F32,
		}
	}

	/// The rank of adapter `i`.
	pub fn adapter_rank(i: usize) -> usize {
		if i.is_multiple_of(2) {
			8
		} else {
			16
		}
	}

	fn fingerprint(&self) -> String {
		format!("{self:?}")
	}
}

/// One written adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixtureAdapter {
	/// Its name (the directory's).
	pub name: String,
	/// Its directory.
	pub dir: PathBuf,
	/// Its `r` (the largest rank unless it has a `rank_pattern`, whose `q_proj` rank is 2·r).
	pub rank: usize,
	/// Whether it uses rsLoRA.
	pub use_rslora: bool,
	/// Whether it has a `rank_pattern` and an `alpha_pattern`.
	pub patterns: bool,
}

/// What [`write_fixture`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixtureManifest {
	/// The model directory (load with [`super::Model::load_hf`]).
	pub model_dir: PathBuf,
	/// The model's id.
	pub model_id: String,
	/// The adapters.
	pub adapters: Vec<FixtureAdapter>,
	/// The spec it was written from (its `Debug` text).
	pub spec: String,
}

/// The `lora_alpha` of every fixture adapter.
pub const LORA_ALPHA: f64 = 16.0;

/// Writes the fixture under `out` (see the module doc) and returns what it wrote.
pub fn write_fixture(out: &Path, spec: &FixtureSpec) -> anyhow::Result<FixtureManifest> {
	anyhow::ensure!(
		spec.num_heads.is_multiple_of(spec.num_kv_heads.max(1)),
		"heads must be a multiple of kv heads"
	);
	anyhow::ensure!(
		spec.hidden_size.is_multiple_of(spec.num_heads),
		"hidden size must split into heads"
	);
	anyhow::ensure!(spec.vocab_size >= BASE_TOKENS, "vocab_size must be at least {BASE_TOKENS}");
	let model_dir = out.join(&spec.model_id);
	std::fs::create_dir_all(&model_dir)
		.with_context(|| format!("creating {}", model_dir.display()))?;
	write_model(&model_dir, spec)?;
	let mut adapters = Vec::with_capacity(spec.adapters);
	for i in 0..spec.adapters {
		adapters.push(write_adapter(out, spec, i)?);
	}
	let manifest = FixtureManifest {
		model_dir,
		model_id: spec.model_id.clone(),
		adapters,
		spec: spec.fingerprint(),
	};
	std::fs::write(out.join("manifest.json"), serde_json::to_vec_pretty(&manifest)?)?;
	Ok(manifest)
}

/// Writes only the spec's PEFT adapters, under `out/adapters/<name>/` (for a base model that
/// is not generated, such as [`FixtureSpec::smollm2`]'s).
pub fn write_adapters(out: &Path, spec: &FixtureSpec) -> anyhow::Result<Vec<FixtureAdapter>> {
	anyhow::ensure!(
		spec.num_heads > 0 && spec.hidden_size.is_multiple_of(spec.num_heads),
		"hidden size must split into heads"
	);
	(0..spec.adapters).map(|i| write_adapter(out, spec, i)).collect()
}

/// Returns the spec's adapters under `out` (as [`write_adapters`]), writing them only when
/// `out/adapters.json` is missing or was written from another spec.
pub fn ensure_adapters(out: &Path, spec: &FixtureSpec) -> anyhow::Result<Vec<FixtureAdapter>> {
	#[derive(Serialize, Deserialize)]
	struct Written {
		spec: String,
		adapters: Vec<FixtureAdapter>,
	}
	let path = out.join("adapters.json");
	if let Ok(bytes) = std::fs::read(&path) {
		if let Ok(w) = serde_json::from_slice::<Written>(&bytes) {
			if w.spec == spec.fingerprint() {
				return Ok(w.adapters);
			}
		}
	}
	let adapters = write_adapters(out, spec)?;
	let written = Written { spec: spec.fingerprint(), adapters };
	std::fs::write(&path, serde_json::to_vec_pretty(&written)?)?;
	Ok(written.adapters)
}

/// Returns the fixture under `out`, writing it only when `out/manifest.json` is missing or
/// was written from another spec.
pub fn ensure_fixture(out: &Path, spec: &FixtureSpec) -> anyhow::Result<FixtureManifest> {
	if let Ok(bytes) = std::fs::read(out.join("manifest.json")) {
		if let Ok(m) = serde_json::from_slice::<FixtureManifest>(&bytes) {
			if m.spec == spec.fingerprint() {
				return Ok(m);
			}
		}
	}
	write_fixture(out, spec)
}

/// SplitMix64: a tiny portable generator, the same numbers everywhere.
struct SplitMix(u64);

impl SplitMix {
	fn next(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
		z ^ (z >> 31)
	}

	/// Uniform in `[-1, 1)`.
	fn uniform(&mut self) -> f32 {
		((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
	}
}

/// A generator for one named tensor.
fn rng_for(seed: u64, name: &str) -> SplitMix {
	// FNV-1a of the name, mixed with the seed.
	let mut h: u64 = 0xcbf2_9ce4_8422_2325;
	for b in name.bytes() {
		h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
	}
	let mut r = SplitMix(seed ^ h);
	r.next();
	r
}

/// `[rows, cols]` uniform in `±amp`, from the tensor's name.
fn uniform(
	seed: u64,
	name: &str,
	rows: usize,
	cols: usize,
	amp: f32,
) -> candle_core::Result<Tensor> {
	let mut rng = rng_for(seed, name);
	let data: Vec<f32> = (0..rows * cols).map(|_| rng.uniform() * amp).collect();
	Tensor::from_vec(data, (rows, cols), &Device::Cpu)
}

/// `[n]` norm weights around 1.
fn norm_weight(seed: u64, name: &str, n: usize) -> candle_core::Result<Tensor> {
	let mut rng = rng_for(seed, name);
	let data: Vec<f32> = (0..n).map(|_| 1.0 + 0.1 * rng.uniform()).collect();
	Tensor::from_vec(data, n, &Device::Cpu)
}

/// The number of special tokens (ids 0..3).
const SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
/// Special tokens plus the 256 byte tokens.
const BASE_TOKENS: usize = SPECIALS.len() + 256;

/// `[vocab, hidden]` with the special tokens' rows zeroed.
fn vocab_matrix(spec: &FixtureSpec, name: &str, amp: f32) -> candle_core::Result<Tensor> {
	let t = uniform(spec.seed, name, spec.vocab_size, spec.hidden_size, amp)?;
	let zeros = Tensor::zeros((SPECIALS.len(), spec.hidden_size), DType::F32, &Device::Cpu)?;
	Tensor::cat(&[zeros, t.narrow(0, SPECIALS.len(), spec.vocab_size - SPECIALS.len())?], 0)
}

fn write_model(dir: &Path, spec: &FixtureSpec) -> anyhow::Result<()> {
	let (h, inter) = (spec.hidden_size, spec.intermediate_size);
	let hd = h / spec.num_heads;
	let (q_out, kv_out) = (spec.num_heads * hd, spec.num_kv_heads * hd);
	let mut t: HashMap<String, Tensor> = HashMap::new();
	t.insert("model.embed_tokens.weight".into(), vocab_matrix(spec, "embed", 1.0)?);
	let lin = |name: &str, out: usize, inp: usize| {
		uniform(spec.seed, name, out, inp, 1.0 / (inp as f32).sqrt())
	};
	for l in 0..spec.num_layers {
		let p = format!("model.layers.{l}");
		for (n, out, inp) in [
			("self_attn.q_proj", q_out, h),
			("self_attn.k_proj", kv_out, h),
			("self_attn.v_proj", kv_out, h),
			("self_attn.o_proj", h, q_out),
			("mlp.gate_proj", inter, h),
			("mlp.up_proj", inter, h),
			("mlp.down_proj", h, inter),
		] {
			let name = format!("{p}.{n}.weight");
			t.insert(name.clone(), lin(&name, out, inp)?);
		}
		for n in ["input_layernorm", "post_attention_layernorm"] {
			let name = format!("{p}.{n}.weight");
			t.insert(name.clone(), norm_weight(spec.seed, &name, h)?);
		}
	}
	t.insert("model.norm.weight".into(), norm_weight(spec.seed, "model.norm.weight", h)?);
	if !spec.tie_word_embeddings {
		t.insert("lm_head.weight".into(), vocab_matrix(spec, "lm_head", 2.0 / (h as f32).sqrt())?);
	}
	candle_core::safetensors::save(&t, dir.join("model.safetensors"))?;

	let config = json!({
		"_name_or_path": spec.model_id,
		"architectures": ["LlamaForCausalLM"],
		"model_type": "llama",
		"hidden_size": h,
		"intermediate_size": inter,
		"num_hidden_layers": spec.num_layers,
		"num_attention_heads": spec.num_heads,
		"num_key_value_heads": spec.num_kv_heads,
		"head_dim": hd,
		"hidden_act": "silu",
		"rms_norm_eps": 1e-5,
		"rope_theta": 10000.0,
		"rope_scaling": null,
		"max_position_embeddings": spec.max_position_embeddings,
		"vocab_size": spec.vocab_size,
		"tie_word_embeddings": spec.tie_word_embeddings,
		"attention_bias": false,
		"bos_token_id": 1,
		"eos_token_id": 2,
		"torch_dtype": "float32",
	});
	std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
	let tokenizer = build_tokenizer(spec.vocab_size)?;
	std::fs::write(dir.join("tokenizer.json"), tokenizer)?;
	let tok_config = json!({
		"add_bos_token": false,
		"bos_token": "<|im_start|>",
		"eos_token": "<|im_end|>",
		"pad_token": "<|im_end|>",
		"unk_token": "<|endoftext|>",
		"model_max_length": spec.max_position_embeddings,
		"tokenizer_class": "GPT2Tokenizer",
		"chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
	});
	std::fs::write(dir.join("tokenizer_config.json"), serde_json::to_vec_pretty(&tok_config)?)?;
	Ok(())
}

fn write_adapter(out: &Path, spec: &FixtureSpec, i: usize) -> anyhow::Result<FixtureAdapter> {
	let name = format!("adapter-{i}");
	let dir = out.join("adapters").join(&name);
	std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
	let r = FixtureSpec::adapter_rank(i);
	let use_rslora = i % 3 == 1;
	let patterns = i == 2;
	let last = spec.num_layers.saturating_sub(1);
	let rank_pattern: BTreeMap<String, usize> =
		if patterns { [("q_proj".to_string(), 2 * r)].into() } else { BTreeMap::new() };
	let alpha_pattern: BTreeMap<String, f64> = if patterns {
		[(format!("model.layers.{last}.self_attn.v_proj"), 4.0 * LORA_ALPHA)].into()
	} else {
		BTreeMap::new()
	};
	let hd = spec.hidden_size / spec.num_heads;
	let (h, q_out, kv_out) = (spec.hidden_size, spec.num_heads * hd, spec.num_kv_heads * hd);
	let seed = spec.seed.wrapping_add(1 + i as u64);
	let mut t: HashMap<String, Tensor> = HashMap::new();
	for l in 0..spec.num_layers {
		for (m, out_f, in_f) in [
			("q_proj", q_out, h),
			("k_proj", kv_out, h),
			("v_proj", kv_out, h),
			("o_proj", h, q_out),
		] {
			let rm = rank_pattern.get(m).copied().unwrap_or(r);
			let module = format!("model.layers.{l}.self_attn.{m}");
			let (a_name, b_name) = (peft_key(&module, 'A'), peft_key(&module, 'B'));
			let a = uniform(seed, &a_name, rm, in_f, 1.0 / (in_f as f32).sqrt())?;
			let b = uniform(seed, &b_name, out_f, rm, 0.5 / (rm as f32).sqrt())?;
			t.insert(a_name, a.to_dtype(spec.adapter_dtype)?);
			t.insert(b_name, b.to_dtype(spec.adapter_dtype)?);
		}
	}
	let config = LoraConfig {
		base_model_name_or_path: spec.model_id.clone(),
		r,
		lora_alpha: LORA_ALPHA,
		lora_dropout: 0.0,
		target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"].map(String::from).to_vec(),
		use_rslora,
		rank_pattern,
		alpha_pattern,
		layers_to_transform: None,
	};
	write_peft(&dir, &config, &t)?;
	Ok(FixtureAdapter { name, dir, rank: r, use_rslora, patterns })
}

/// An English text the tokenizer's merges are learnt from.
const CORPUS: &str =
	"Lineage records who made an AI model useful: the people who contributed data, \
the authors of models and adapters, and the operators who serve them. It pays them from usage. \
A contributor adds a record to a datanet, a curator accepts it, and a version freezes the \
accepted contributions under one root. An author registers a base model and a LoRA adapter on \
it, with the datanets it was trained on and the weight of each. A payer deposits into escrow \
for an operator. The operator runs the oracle, which serves only adapters that are registered \
and whose bytes hash to the registered artifact. Each finished request becomes a usage record \
before the response ends. The oracle aggregates the records into a batch, signs it and submits \
it to the chain. After the dispute window the payer is charged and the fee is split between \
the adapter author, the owner of the base model, the datanets, the operator and the treasury. \
Each contributor can then claim a share of the reward, however many batches there were. \
The quick brown fox jumps over the lazy dog. Hello, world! How are you today? I am fine, thank \
you, and how is the weather where you are? It is sunny and warm here, with a light wind from \
the sea. Numbers such as 1, 2, 3, 10, 42, 100 and 2026 appear in text too, as do questions, \
answers, lists, names and places. The model reads the prompt, predicts the next token, and \
repeats until it reaches the end of its answer or the limit on the number of tokens.";

/// GPT-2's byte-to-character table: printable bytes map to themselves, others above 255.
fn byte_chars() -> Vec<char> {
	let mut out = vec!['\0'; 256];
	let mut extra = 0u32;
	for b in 0..256u32 {
		let printable =
			(33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
		let c = if printable {
			b
		} else {
			extra += 1;
			255 + extra
		};
		out[b as usize] = char::from_u32(c).unwrap_or('?');
	}
	out
}

/// Splits text roughly as the byte-level pre-tokenizer does: an optional leading space, then a
/// run of letters, of digits, or of other symbols.
fn words(text: &str) -> Vec<String> {
	let class = |c: char| {
		if c.is_alphabetic() {
			0
		} else if c.is_numeric() {
			1
		} else if c.is_whitespace() {
			2
		} else {
			3
		}
	};
	let mut out = Vec::new();
	let mut cur = String::new();
	let mut cur_class = None;
	for c in text.chars() {
		let k = class(c);
		let continues = match cur_class {
			Some(prev) => prev == k && k != 2,
			None => false,
		};
		let after_space = cur == " " && k != 2;
		if continues || after_space {
			cur.push(c);
			cur_class = Some(k);
		} else {
			if !cur.is_empty() {
				out.push(std::mem::take(&mut cur));
			}
			cur.push(c);
			cur_class = Some(k);
		}
	}
	if !cur.is_empty() {
		out.push(cur);
	}
	out
}

/// A byte-level BPE `tokenizer.json` with merges learnt from [`CORPUS`], at most `vocab` tokens.
fn build_tokenizer(vocab: usize) -> anyhow::Result<String> {
	let table = byte_chars();
	let mut vocab_ids: BTreeMap<String, u32> = BTreeMap::new();
	let mut next = 0u32;
	for s in SPECIALS {
		vocab_ids.insert(s.to_string(), next);
		next += 1;
	}
	for &c in &table {
		vocab_ids.insert(c.to_string(), next);
		next += 1;
	}
	// Words as sequences of symbols, with their counts (sorted, so the result is deterministic).
	let mut counts: BTreeMap<Vec<String>, usize> = BTreeMap::new();
	for w in words(CORPUS) {
		let syms: Vec<String> = w.bytes().map(|b| table[b as usize].to_string()).collect();
		*counts.entry(syms).or_default() += 1;
	}
	let mut merges: Vec<(String, String)> = Vec::new();
	while (next as usize) < vocab {
		let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
		for (w, n) in &counts {
			for p in w.windows(2) {
				*pairs.entry((p[0].clone(), p[1].clone())).or_default() += n;
			}
		}
		// The most frequent pair; ties go to the smallest pair.
		let Some((best, n)) = pairs.into_iter().fold(
			None,
			|acc: Option<((String, String), usize)>, (p, n)| match acc {
				Some((_, m)) if m >= n => acc,
				_ => Some((p, n)),
			},
		) else {
			break;
		};
		if n < 2 {
			break;
		}
		let joined = format!("{}{}", best.0, best.1);
		counts = counts
			.into_iter()
			.map(|(w, n)| {
				let mut out = Vec::with_capacity(w.len());
				let mut i = 0;
				while i < w.len() {
					if i + 1 < w.len() && w[i] == best.0 && w[i + 1] == best.1 {
						out.push(joined.clone());
						i += 2;
					} else {
						out.push(w[i].clone());
						i += 1;
					}
				}
				(out, n)
			})
			.fold(BTreeMap::new(), |mut m, (w, n)| {
				*m.entry(w).or_default() += n;
				m
			});
		if let std::collections::btree_map::Entry::Vacant(e) = vocab_ids.entry(joined) {
			e.insert(next);
			next += 1;
		}
		merges.push(best);
	}
	let added: Vec<serde_json::Value> = SPECIALS
		.iter()
		.enumerate()
		.map(|(id, s)| {
			json!({"id": id, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
				"normalized": false, "special": true})
		})
		.collect();
	let doc = json!({
		"version": "1.0",
		"truncation": null,
		"padding": null,
		"added_tokens": added,
		"normalizer": null,
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": {
			"type": "BPE",
			"dropout": null,
			"unk_token": null,
			"continuing_subword_prefix": null,
			"end_of_word_suffix": null,
			"fuse_unk": false,
			"byte_fallback": false,
			"ignore_merges": false,
			"vocab": vocab_ids,
			"merges": merges.iter().map(|(a, b)| vec![a.clone(), b.clone()]).collect::<Vec<_>>(),
		},
	});
	// Round-trip through the tokenizers crate: it checks the document and writes it canonically.
	let tokenizer: tokenizers::Tokenizer =
		doc.to_string().parse().map_err(|e| anyhow::anyhow!("fixture tokenizer: {e}"))?;
	tokenizer.to_string(true).map_err(|e| anyhow::anyhow!("fixture tokenizer: {e}"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tokenizer_round_trips_text() {
		let json = build_tokenizer(512).expect("builds");
		let tok: tokenizers::Tokenizer = json.parse().expect("parses");
		for text in
			["Hello, world! The fox jumps.", "über 42 ünïcödé ✓ <|im_end|> tabs\tand\nlines", ""]
		{
			let enc = tok.encode(text, false).expect("encodes");
			let back = tok.decode(enc.get_ids(), false).expect("decodes");
			assert_eq!(back, text);
		}
		let enc = tok.encode("the operator", false).expect("encodes");
		assert!(enc.get_ids().len() < "the operator".len(), "merges shorten common words");
		assert_eq!(tok.token_to_id("<|im_end|>"), Some(2));
		assert!(tok.get_vocab_size(true) <= 512);
	}

	#[test]
	fn same_seed_same_numbers() {
		let a =
			uniform(1, "x", 4, 4, 1.0).and_then(|t| t.flatten_all()?.to_vec1::<f32>()).expect("t");
		let b =
			uniform(1, "x", 4, 4, 1.0).and_then(|t| t.flatten_all()?.to_vec1::<f32>()).expect("t");
		let c =
			uniform(2, "x", 4, 4, 1.0).and_then(|t| t.flatten_all()?.to_vec1::<f32>()).expect("t");
		assert_eq!(a, b);
		assert_ne!(a, c);
		assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
	}
}
