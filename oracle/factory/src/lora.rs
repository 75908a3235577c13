//! The trainable LoRA modules: initialisation (PEFT's), continuation from a parent adapter,
//! and the PEFT files they are written as.
//!
//! As PEFT initialises them: A from `U(-1/√in, 1/√in)` (Kaiming-uniform with `a = √5`), B zero,
//! so a fresh adapter starts as the base model. A and B are `f32` `Var`s of PEFT's shapes (A
//! `[r, in]`, B `[out, r]`); the written adapter has PEFT's key layout
//! (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`) in `f32`.

use std::{collections::HashMap, path::Path};

use candle_core::{DType, Device, Tensor, Var};
use lineage_engine::{
	peft::{peft_key, write_peft, LoraConfig},
	LoraAdapter, LoraModule, ModelConfig, Proj,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::TrainConfig;

/// One trainable module.
pub struct Module {
	/// Decoder layer.
	pub layer: usize,
	/// Projection.
	pub proj: Proj,
	/// `[r, in]`.
	pub a: Var,
	/// `[out, r]`.
	pub b: Var,
}

/// The modules of a run, in `(layer, projection)` order.
pub struct TrainableLora {
	/// The modules.
	pub modules: Vec<Module>,
	/// `alpha / r` or `alpha / √r`.
	pub scale: f64,
	/// The LoRA config written with the adapter.
	pub config: LoraConfig,
}

impl TrainableLora {
	/// Fresh modules for `cfg` on a base of `base` shape, drawn from `cfg.seed`.
	pub fn init(
		base: &ModelConfig,
		base_id: &str,
		cfg: &TrainConfig,
		device: &Device,
	) -> anyhow::Result<Self> {
		let projs = cfg.projections()?;
		let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
		let mut modules = Vec::new();
		for layer in cfg.layers(base.num_hidden_layers) {
			for &proj in &projs {
				let (inp, out) = base.proj_dims(proj);
				let bound = 1.0 / (inp as f32).sqrt();
				let a: Vec<f32> =
					(0..cfg.rank * inp).map(|_| rng.gen_range(-bound..bound)).collect();
				let a = Var::from_tensor(&Tensor::from_vec(a, (cfg.rank, inp), device)?)?;
				let b = Var::zeros((out, cfg.rank), DType::F32, device)?;
				modules.push(Module { layer, proj, a, b });
			}
		}
		Ok(TrainableLora { modules, scale: cfg.scale(), config: lora_config(base, base_id, cfg) })
	}

	/// Modules that continue from a parent adapter (PEFT files in `dir`): its tensors as the
	/// starting point. The run's targets, rank and layers must be the parent's.
	pub fn from_parent(
		dir: &Path,
		base: &ModelConfig,
		base_id: &str,
		cfg: &TrainConfig,
		device: &Device,
	) -> anyhow::Result<Self> {
		let mut fresh = Self::init(base, base_id, cfg, device)?;
		let path = dir.join(lineage_engine::peft::WEIGHTS_FILE);
		let tensors = candle_core::safetensors::load(&path, device)
			.map_err(|e| anyhow::anyhow!("reading the parent adapter {}: {e}", path.display()))?;
		let expected: usize = fresh.modules.len() * 2;
		if tensors.len() != expected {
			anyhow::bail!(
				"the parent adapter in {} has {} tensors; this run's targets, rank and layers make \
				 {expected}: continue with the parent's settings",
				dir.display(),
				tensors.len()
			);
		}
		for m in &mut fresh.modules {
			let path = m.proj.module_path(m.layer);
			for (half, var) in [('A', &m.a), ('B', &m.b)] {
				let key = peft_key(&path, half);
				let t = tensors.get(&key).ok_or_else(|| {
					anyhow::anyhow!(
						"the parent adapter has no {key}: continue with the parent's targets, \
						 rank and layers"
					)
				})?;
				if t.dims() != var.dims() {
					anyhow::bail!(
						"the parent's {key} is {:?}, this run's is {:?}: use the parent's rank",
						t.dims(),
						var.dims()
					);
				}
				var.set(&t.to_dtype(DType::F32)?)?;
			}
		}
		Ok(fresh)
	}

	/// The modules as the engine's [`LoraModule`]s (sharing the `Var`s' storage: a forward with
	/// them records the graph to the `Var`s).
	pub fn engine_modules(&self) -> Vec<LoraModule> {
		self.modules
			.iter()
			.map(|m| LoraModule {
				layer: m.layer,
				proj: m.proj,
				a: m.a.as_tensor().clone(),
				b: m.b.as_tensor().clone(),
				alpha: self.config.lora_alpha,
				scale: self.scale,
			})
			.collect()
	}

	/// Detached copies of the modules (for evaluation: no graph).
	pub fn frozen_modules(&self) -> Vec<LoraModule> {
		self.engine_modules()
			.into_iter()
			.map(|mut m| {
				m.a = m.a.detach();
				m.b = m.b.detach();
				m
			})
			.collect()
	}

	/// Every `Var`, A then B per module.
	pub fn vars(&self) -> Vec<&Var> {
		self.modules.iter().flat_map(|m| [&m.a, &m.b]).collect()
	}

	/// The tensors under their PEFT keys.
	pub fn peft_tensors(&self) -> HashMap<String, Tensor> {
		let mut out = HashMap::new();
		for m in &self.modules {
			let path = m.proj.module_path(m.layer);
			out.insert(peft_key(&path, 'A'), m.a.as_tensor().detach());
			out.insert(peft_key(&path, 'B'), m.b.as_tensor().detach());
		}
		out
	}

	/// Writes `adapter_config.json` and `adapter_model.safetensors` into `dir`.
	pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
		write_peft(dir, &self.config, &self.peft_tensors())?;
		Ok(())
	}

	/// The adapter as the engine serves it, built from these tensors.
	pub fn serving_adapter(
		&self,
		name: &str,
		base: &ModelConfig,
		device: &Device,
		dtype: DType,
	) -> anyhow::Result<LoraAdapter> {
		Ok(LoraAdapter::new(
			name,
			Some(self.config.base_model_name_or_path.clone()),
			base,
			self.frozen_modules(),
			device,
			dtype,
		)?)
	}
}

/// The PEFT config of a run.
fn lora_config(base: &ModelConfig, base_id: &str, cfg: &TrainConfig) -> LoraConfig {
	let layers = cfg.layers(base.num_hidden_layers);
	let all = layers.start == 0;
	LoraConfig {
		base_model_name_or_path: base_id.to_string(),
		r: cfg.rank,
		lora_alpha: cfg.alpha,
		lora_dropout: cfg.dropout,
		target_modules: cfg.targets.clone(),
		use_rslora: cfg.rslora,
		rank_pattern: Default::default(),
		alpha_pattern: Default::default(),
		layers_to_transform: if all { None } else { Some(layers.collect()) },
	}
}
