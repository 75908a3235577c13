//! The forward pass for fine-tuning: the maths of [`Model::forward_batch`] written with candle
//! ops that carry gradients, with LoRA added from tensors the caller may train (`candle_core::Var`).
//!
//! Candle 0.11's fused kernels return no gradient at all: `ops::rms_norm` (and
//! `RmsNorm::forward` on contiguous input), `ops::softmax_last_dim`, `rotary_emb::rope*` and
//! quantized matmuls. From the lowest layer that holds a trainable LoRA module upwards this
//! forward uses their composed forms instead ([`rms_norm`], [`rope`], `ops::softmax`), so the
//! gradient reaches every trainable tensor; below that layer nothing is trainable, so it keeps the
//! fused kernels and records no graph at all (backward stops at the lowest trained layer).
//!
//! The base weights are frozen. A plain `matmul` in candle's backward computes the gradient of
//! both operands, and the weight's (`xᵀ·g`, as large as the forward product) would be thrown
//! away; [`frozen_linear`] is a custom op whose backward computes only the input's gradient.
//!
//! Sequences are packed: the rows of every sequence of a micro-batch are one `[N, hidden]` matrix
//! for the linears, attention runs per sequence with a causal mask, and every sequence starts at
//! position 0. Only the rows whose next token is scored reach the head ([`TrainSeq::scored`]), so
//! the `[rows, vocab]` logits are computed for the answer tokens alone.

use std::collections::HashMap;

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor, D};

use super::{
	config::Proj,
	error::ModelError,
	lora::LoraModule,
	model::{BaseLinear, Model},
};

/// One sequence of a training micro-batch.
#[derive(Clone, Debug)]
pub struct TrainSeq<'a> {
	/// The tokens, from position 0 (prompt and answer).
	pub tokens: &'a [u32],
	/// The positions whose logits are wanted (for the next token), ascending, each below
	/// `tokens.len()`.
	pub scored: &'a [usize],
}

/// Dropout on the input of each LoRA module (PEFT's `lora_dropout`): for a module at `layer`
/// and `proj` reading `rows × cols` inputs, a mask of zeros and `1 / (1 - p)`, or `None` for no
/// dropout there. The fine-tuning tool draws the masks from its seeded generator.
pub trait LoraDropout {
	/// The mask for one module's input in this forward, `[rows, cols]` in the input's dtype.
	fn mask(
		&mut self,
		layer: usize,
		proj: Proj,
		rows: usize,
		cols: usize,
	) -> candle_core::Result<Option<Tensor>>;
}

/// `x · Wᵀ` with a frozen `W`: backward gives the gradient of `x` only.
struct FrozenLinear {
	/// `[out, in]`.
	weight: Tensor,
}

/// A CPU tensor with the data of `storage` under `layout` (a copy).
fn cpu_tensor(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Tensor> {
	let Some((start, end)) = layout.contiguous_offsets() else {
		candle_core::bail!("frozen linear: the input must be contiguous");
	};
	match storage {
		CpuStorage::F32(v) => Tensor::from_slice(&v[start..end], layout.shape(), &Device::Cpu),
		CpuStorage::F64(v) => Tensor::from_slice(&v[start..end], layout.shape(), &Device::Cpu),
		_ => candle_core::bail!("frozen linear: training runs in f32 or f64"),
	}
}

/// The storage of a contiguous CPU tensor (a copy).
fn cpu_storage(t: &Tensor) -> candle_core::Result<CpuStorage> {
	let flat = t.flatten_all()?;
	Ok(match t.dtype() {
		DType::F32 => CpuStorage::F32(flat.to_vec1()?),
		DType::F64 => CpuStorage::F64(flat.to_vec1()?),
		other => candle_core::bail!("frozen linear: unexpected dtype {other:?}"),
	})
}

impl CustomOp1 for FrozenLinear {
	fn name(&self) -> &'static str {
		"frozen-linear"
	}

	fn cpu_fwd(
		&self,
		storage: &CpuStorage,
		layout: &Layout,
	) -> candle_core::Result<(CpuStorage, Shape)> {
		let x = cpu_tensor(storage, layout)?;
		let y = dense(&x, &self.weight)?;
		let shape = y.shape().clone();
		Ok((cpu_storage(&y)?, shape))
	}

	fn bwd(
		&self,
		_arg: &Tensor,
		_res: &Tensor,
		grad: &Tensor,
	) -> candle_core::Result<Option<Tensor>> {
		Ok(Some(grad.matmul(&self.weight)?))
	}
}

/// `x · Wᵀ` for `[N, in]` rows, the faster way round on the CPU (see [`BaseLinear::forward`]).
fn dense(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
	if x.device().is_cpu() && x.dim(0)? <= 128 {
		w.matmul(&x.t()?)?.t()?.contiguous()
	} else {
		x.matmul(&w.t()?)
	}
}

/// `x · Wᵀ (+ b)` with `W` frozen. When `x` carries a graph, backward computes `x`'s gradient
/// alone (on the CPU; elsewhere candle's matmul, which also computes `W`'s, unused).
pub fn frozen_linear(x: &Tensor, lin: &BaseLinear) -> candle_core::Result<Tensor> {
	let BaseLinear::Dense { weight, bias } = lin else {
		candle_core::bail!(
			"training needs dense base weights: load the GGUF with GgufMode::Dequantized"
		);
	};
	let y = if x.track_op() && x.device().is_cpu() {
		x.contiguous()?
			.apply_op1_arc(std::sync::Arc::new(Box::new(FrozenLinear { weight: weight.clone() })))?
	} else {
		dense(x, weight)?
	};
	match bias {
		Some(b) => y.broadcast_add(b),
		None => Ok(y),
	}
}

/// RMSNorm from differentiable ops: `x / √(mean(x²) + ε) · w` over the last dimension.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
	let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
	x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)
}

/// Rotary embedding, "rotate half" form, from differentiable ops: `x` `[n, heads, d]`, `cos` and
/// `sin` `[n, 1, d/2]`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
	let half = x.dim(2)? / 2;
	let x1 = x.narrow(2, 0, half)?;
	let x2 = x.narrow(2, half, half)?;
	let a = (x1.broadcast_mul(cos)? - x2.broadcast_mul(sin)?)?;
	let b = (x2.broadcast_mul(cos)? + x1.broadcast_mul(sin)?)?;
	Tensor::cat(&[a, b], 2)
}

/// Causal attention of one sequence: `q` `[t, heads, d]` (scaled), `k`, `v` `[t, kv_heads, d]`;
/// returns `[t, heads·d]`. `differentiable` picks the composed softmax.
fn attend(
	q: &Tensor,
	k: &Tensor,
	v: &Tensor,
	mask: &Tensor,
	differentiable: bool,
) -> candle_core::Result<Tensor> {
	let (t, nh, hd) = q.dims3()?;
	let nkv = k.dim(1)?;
	let rep = nh / nkv;
	// [t, nkv, rep, hd] -> [nkv, rep·t, hd]
	let q = q.reshape((t, nkv, rep, hd))?.permute((1, 2, 0, 3))?.contiguous()?.reshape((
		nkv,
		rep * t,
		hd,
	))?;
	let k = k.transpose(0, 1)?.contiguous()?; // [nkv, t, hd]
	let v = v.transpose(0, 1)?.contiguous()?;
	let scores = q.matmul(&k.t()?)?.reshape((nkv, rep, t, t))?.broadcast_add(mask)?;
	let probs = if differentiable {
		candle_nn::ops::softmax(&scores, D::Minus1)?
	} else {
		candle_nn::ops::softmax_last_dim(&scores)?
	};
	let out = probs.reshape((nkv, rep * t, t))?.matmul(&v)?; // [nkv, rep·t, hd]
	out.reshape((nkv, rep, t, hd))?.permute((2, 0, 1, 3))?.reshape((t, nh * hd))
}

/// The LoRA modules of a forward, by `(layer, projection)`.
type ModuleMap<'a> = HashMap<(usize, Proj), &'a LoraModule>;

impl Model {
	/// Logits `[M, vocab]` (in the model's dtype) of the scored positions of every sequence, in
	/// order, with `lora`'s modules added to the frozen base (`scale · B·A(dropout(x))`, as PEFT
	/// computes it unmerged). When the modules' A and B are `Var`s, backward from a loss on these
	/// logits reaches them, and stops at the lowest layer that has a module.
	///
	/// Fails on an empty batch, a token outside the vocabulary, a sequence beyond
	/// `max_position_embeddings`, a scored position outside its sequence, a module whose layer or
	/// shapes do not fit, or a quantized base.
	pub fn train_logits(
		&self,
		seqs: &[TrainSeq<'_>],
		lora: &[LoraModule],
		mut dropout: Option<&mut dyn LoraDropout>,
	) -> Result<Tensor, ModelError> {
		let c = &self.config;
		if seqs.is_empty() {
			return Err(ModelError::Input("a training micro-batch needs a sequence".into()));
		}
		let mut modules: ModuleMap<'_> = HashMap::new();
		for m in lora {
			let (inp, out) = c.proj_dims(m.proj);
			if m.layer >= c.num_hidden_layers
				|| m.a.dims2()?.1 != inp
				|| m.b.dims2()?.0 != out
				|| m.a.dim(0)? != m.b.dim(1)?
			{
				return Err(ModelError::Input(format!(
					"LoRA module {} does not fit this base (A {:?}, B {:?})",
					m.proj.module_path(m.layer),
					m.a.dims(),
					m.b.dims()
				)));
			}
			if modules.insert((m.layer, m.proj), m).is_some() {
				return Err(ModelError::Input(format!(
					"LoRA module {} appears twice",
					m.proj.module_path(m.layer)
				)));
			}
		}
		let lowest = lora.iter().map(|m| m.layer).min().unwrap_or(c.num_hidden_layers);
		let mut tokens = Vec::new();
		let mut positions = Vec::new();
		let mut spans = Vec::with_capacity(seqs.len());
		let mut scored = Vec::new();
		for (i, s) in seqs.iter().enumerate() {
			let t = s.tokens.len();
			if t == 0 {
				return Err(ModelError::Input(format!("sequence {i} is empty")));
			}
			if t > c.max_position_embeddings {
				return Err(ModelError::Input(format!(
					"sequence {i} has {t} tokens, beyond max_position_embeddings {}",
					c.max_position_embeddings
				)));
			}
			if let Some(bad) = s.tokens.iter().find(|&&x| x as usize >= c.vocab_size) {
				return Err(ModelError::Input(format!(
					"token id {bad} is outside the vocabulary (size {})",
					c.vocab_size
				)));
			}
			if s.scored.iter().any(|&p| p >= t) || s.scored.windows(2).any(|w| w[0] >= w[1]) {
				return Err(ModelError::Input(format!(
					"sequence {i}: scored positions must ascend and stay below {t}"
				)));
			}
			let start = tokens.len();
			scored.extend(s.scored.iter().map(|&p| (start + p) as u32));
			tokens.extend_from_slice(s.tokens);
			positions.extend(0..t as u32);
			spans.push((start, t));
		}
		if scored.is_empty() {
			return Err(ModelError::Input("no position of the micro-batch is scored".into()));
		}
		let n = tokens.len();
		let dev = &self.device;
		let ids = Tensor::from_vec(tokens, n, dev)?;
		let pos = Tensor::from_vec(positions, n, dev)?;
		let half = c.head_dim / 2;
		let cos = self.cos.index_select(&pos, 0)?.reshape((n, 1, half))?;
		let sin = self.sin.index_select(&pos, 0)?.reshape((n, 1, half))?;
		let masks = spans
			.iter()
			.map(|&(_, t)| {
				let m: Vec<f32> = (0..t)
					.flat_map(|j| (0..t).map(move |k| if k > j { f32::NEG_INFINITY } else { 0.0 }))
					.collect();
				Tensor::from_vec(m, (t, t), dev)?.to_dtype(self.dtype)
			})
			.collect::<candle_core::Result<Vec<_>>>()?;

		let (nh, nkv, hd) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
		let (q_out, kv_out) = (nh * hd, nkv * hd);
		let eps = c.rms_norm_eps;
		let scale = 1.0 / (hd as f64).sqrt();
		let inter = c.intermediate_size;
		// `scale·B·A(dropout(x))` of a module, when the layer has one for `proj`.
		let mut delta =
			|li: usize, proj: Proj, x: &Tensor| -> candle_core::Result<Option<Tensor>> {
				let Some(m) = modules.get(&(li, proj)) else { return Ok(None) };
				let x = match dropout.as_mut() {
					Some(d) => match d.mask(li, proj, x.dim(0)?, x.dim(1)?)? {
						Some(mask) => (x * mask)?,
						None => x.clone(),
					},
					None => x.clone(),
				};
				let down = x.matmul(&m.a.t()?)?;
				Ok(Some((down.matmul(&m.b.t()?)? * m.scale)?))
			};
		let plus = |y: Tensor, d: Option<Tensor>| match d {
			Some(d) => y + d,
			None => Ok(y),
		};

		let mut x = self.embed.index_select(&ids, 0)?;
		for (li, layer) in self.layers.iter().enumerate() {
			let diff = li >= lowest;
			let norm = |x: &Tensor, w: &Tensor| {
				if diff {
					rms_norm(x, w, eps)
				} else {
					candle_nn::ops::rms_norm(x, w, eps as f32)
				}
			};
			let h = norm(&x, &layer.input_norm)?;
			let qkv = frozen_linear(&h, &layer.qkv)?;
			let q = plus(qkv.narrow(1, 0, q_out)?, delta(li, Proj::Q, &h)?)?;
			let k = plus(qkv.narrow(1, q_out, kv_out)?, delta(li, Proj::K, &h)?)?;
			let v = plus(qkv.narrow(1, q_out + kv_out, kv_out)?, delta(li, Proj::V, &h)?)?;
			let (q, k) = if diff {
				(
					rope(&q.reshape((n, nh, hd))?, &cos, &sin)?,
					rope(&k.reshape((n, nkv, hd))?, &cos, &sin)?,
				)
			} else {
				(
					candle_nn::rotary_emb::rope_thd(&q.reshape((n, 1, nh, hd))?, &cos, &sin)?
						.reshape((n, nh, hd))?,
					candle_nn::rotary_emb::rope_thd(&k.reshape((n, 1, nkv, hd))?, &cos, &sin)?
						.reshape((n, nkv, hd))?,
				)
			};
			let q = (q * scale)?;
			let v = v.reshape((n, nkv, hd))?;
			let mut outs = Vec::with_capacity(spans.len());
			for (&(start, t), mask) in spans.iter().zip(&masks) {
				outs.push(attend(
					&q.narrow(0, start, t)?,
					&k.narrow(0, start, t)?,
					&v.narrow(0, start, t)?,
					mask,
					diff,
				)?);
			}
			let attn = if outs.len() == 1 { outs.remove(0) } else { Tensor::cat(&outs, 0)? };
			let o = plus(frozen_linear(&attn, &layer.o)?, delta(li, Proj::O, &attn)?)?;
			x = (x + o)?;
			let h = norm(&x, &layer.post_norm)?;
			let gu = frozen_linear(&h, &layer.gate_up)?;
			let gate = plus(gu.narrow(1, 0, inter)?, delta(li, Proj::Gate, &h)?)?;
			let up = plus(gu.narrow(1, inter, inter)?, delta(li, Proj::Up, &h)?)?;
			let act = (gate.silu()? * up)?;
			let down = plus(frozen_linear(&act, &layer.down)?, delta(li, Proj::Down, &act)?)?;
			x = (x + down)?;
		}
		let scored = Tensor::from_vec(scored.clone(), scored.len(), dev)?;
		let x = x.index_select(&scored, 0)?;
		let x = if lowest < c.num_hidden_layers {
			rms_norm(&x, &self.norm, eps)?
		} else {
			candle_nn::ops::rms_norm(&x, &self.norm, eps as f32)?
		};
		Ok(frozen_linear(&x, &self.lm_head)?)
	}
}

/// Per scored row: the log-probability of `targets[i]` under `logits[i]` (`[M, vocab]` →
/// `[M]`, f32 or f64 as the logits), differentiable.
pub fn target_log_probs(logits: &Tensor, targets: &[u32]) -> candle_core::Result<Tensor> {
	let m = logits.dim(0)?;
	if targets.len() != m {
		candle_core::bail!("{} targets for {m} scored rows", targets.len());
	}
	let lsm = candle_nn::ops::log_softmax(logits, D::Minus1)?;
	let idx = Tensor::from_slice(targets, (m, 1), logits.device())?;
	lsm.gather(&idx, 1)?.squeeze(1)
}
