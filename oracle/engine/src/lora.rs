//! Unmerged multi-LoRA: each row of a step adds its own adapter's `scale·B(A·x)`.
//!
//! The base weights are never touched. An adapter is stored per layer and per *site*, a group
//! of projections that read the same input: q|k|v (the attention input), o, gate|up (the MLP
//! input) and down. At a site, the adapter's A matrices are stacked into one `[R, in]` matrix
//! (R = the sum of the ranks of the site's targeted projections), so one product serves all of
//! them, and each projection keeps its Bᵀ (`[r, out]`), already multiplied by its scale.
//!
//! Inside a step the model orders the sequences by adapter, so the rows of one adapter are a
//! contiguous range ([`RowGroups`]). On the CPU in f32, one kernel walks the ranges and adds each
//! row's `scale·B(A·x)` into the base output in place (a gathered matrix-vector product per row,
//! BGMV-style): one pass per site and layer, whatever the number of adapters in the step. On
//! other devices and dtypes each range is `narrow`ed out and multiplied with candle ops, and the
//! pieces (zeros for rows without an adapter at that site) are joined by one `Tensor::cat`.
//!
//! Scale: `lora_alpha / r`, or `lora_alpha / √r` with rsLoRA, per projection (PEFT's
//! `rank_pattern` and `alpha_pattern` may give each projection its own r and alpha; see
//! [`crate::peft`]).

use std::collections::BTreeSet;

use candle_core::{DType, Device, Storage, StorageRef, Tensor};

use super::{
	config::{ModelConfig, Proj},
	site::{site_slice, Site},
	vecmath::{axpy, dot},
};

/// An adapter built for a base model of other dimensions than the one it is asked to run on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("adapter {adapter} was built for a base with other dimensions than this model")]
pub struct IncompatibleAdapter {
	/// The adapter's name.
	pub adapter: String,
}

/// One targeted projection of one layer, as parsed: the two halves and the scalars.
#[derive(Clone, Debug)]
pub struct LoraModule {
	/// Decoder layer index.
	pub layer: usize,
	/// Which projection.
	pub proj: Proj,
	/// `lora_A`: `[r, in]`.
	pub a: Tensor,
	/// `lora_B`: `[out, r]`, not yet scaled.
	pub b: Tensor,
	/// The module's `lora_alpha` (after `alpha_pattern`).
	pub alpha: f64,
	/// The factor applied to `B·A`: `alpha / r` or `alpha / √r` (rsLoRA).
	pub scale: f64,
}

/// The numbers of one targeted projection (its tensors are held in fused form).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModuleInfo {
	/// Decoder layer index.
	pub layer: usize,
	/// Which projection.
	pub proj: Proj,
	/// The module's rank.
	pub rank: usize,
	/// The module's `lora_alpha`.
	pub alpha: f64,
	/// The factor folded into B.
	pub scale: f64,
}

#[derive(Clone, Debug)]
struct SitePart {
	info: ModuleInfo,
	/// First row of this module's A inside the stacked A.
	r_offset: usize,
	/// First column of this module's output inside the site's fused output.
	out_offset: usize,
	/// `scale·Bᵀ`: `[r, out]`.
	bt: Tensor,
}

/// One adapter at one site of one layer.
#[derive(Clone, Debug)]
struct SiteLora {
	/// Stacked A: `[R, in]`.
	a: Tensor,
	/// The targeted projections, by output offset.
	parts: Vec<SitePart>,
}

impl SiteLora {
	/// `[rows, site out]` deltas of the rows `x` (candle ops; any device).
	fn forward(&self, x: &Tensor, site_out: usize) -> candle_core::Result<Tensor> {
		let t = x.matmul(&self.a.t()?)?;
		let rows = x.dim(0)?;
		let mut cols = Vec::with_capacity(2 * self.parts.len() + 1);
		let mut cursor = 0;
		for p in &self.parts {
			if p.out_offset > cursor {
				cols.push(Tensor::zeros((rows, p.out_offset - cursor), x.dtype(), x.device())?);
			}
			// Contiguous: cuBLAS needs the leading dimension to be the rank.
			cols.push(t.narrow(1, p.r_offset, p.info.rank)?.contiguous()?.matmul(&p.bt)?);
			cursor = p.out_offset + p.bt.dim(1)?;
		}
		if cursor < site_out {
			cols.push(Tensor::zeros((rows, site_out - cursor), x.dtype(), x.device())?);
		}
		if cols.len() == 1 {
			return Ok(cols.remove(0));
		}
		Tensor::cat(&cols, 1)
	}

	fn bytes(&self) -> usize {
		let n = self.a.elem_count() + self.parts.iter().map(|p| p.bt.elem_count()).sum::<usize>();
		n * self.a.dtype().size_in_bytes()
	}
}

/// The dimensions of the base an adapter was built for, to refuse it on another base.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BaseShape {
	layers: usize,
	dims: Vec<(usize, usize)>,
}

impl BaseShape {
	fn of(c: &ModelConfig) -> Self {
		BaseShape {
			layers: c.num_hidden_layers,
			dims: Proj::ALL.iter().map(|&p| c.proj_dims(p)).collect(),
		}
	}
}

/// A LoRA adapter ready for unmerged inference on one base model.
#[derive(Clone, Debug)]
pub struct LoraAdapter {
	/// The adapter's name (the model name clients pass).
	pub name: String,
	/// The largest rank of any targeted projection.
	pub rank: usize,
	/// The projections targeted in at least one layer, in forward order.
	pub targets: Vec<Proj>,
	/// `base_model_name_or_path` from the adapter's config, when it names one.
	pub base_model: Option<String>,
	base: BaseShape,
	/// `sites[layer][site index]`.
	sites: Vec<[Option<SiteLora>; 4]>,
}

impl LoraAdapter {
	/// Builds an adapter for the base `config` from its modules, on `device` in `dtype`.
	///
	/// Each module's B is multiplied by its scale here, once. Fails when a module's layer is out
	/// of range, its shapes do not match the base, or a projection appears twice in a layer.
	pub fn new(
		name: impl Into<String>,
		base_model: Option<String>,
		config: &ModelConfig,
		modules: Vec<LoraModule>,
		device: &Device,
		dtype: DType,
	) -> candle_core::Result<LoraAdapter> {
		let mut per_layer: Vec<Vec<LoraModule>> = vec![Vec::new(); config.num_hidden_layers];
		let mut targets = BTreeSet::new();
		let mut rank = 0;
		for m in modules {
			let (inp, out) = config.proj_dims(m.proj);
			let (r, a_in) = m.a.dims2()?;
			let (b_out, b_r) = m.b.dims2()?;
			if a_in != inp || b_out != out || b_r != r || r == 0 {
				candle_core::bail!(
					"{}: A is {:?} and B is {:?}, expected [r, {inp}] and [{out}, r] with r > 0",
					m.proj.module_path(m.layer),
					m.a.dims(),
					m.b.dims()
				);
			}
			let Some(slot) = per_layer.get_mut(m.layer) else {
				candle_core::bail!(
					"layer {} out of range (the base has {})",
					m.layer,
					config.num_hidden_layers
				);
			};
			if slot.iter().any(|x| x.proj == m.proj) {
				candle_core::bail!("{} appears twice", m.proj.module_path(m.layer));
			}
			rank = rank.max(r);
			targets.insert(m.proj);
			slot.push(m);
		}
		let mut sites = Vec::with_capacity(per_layer.len());
		for mods in per_layer {
			let mut layer: [Option<SiteLora>; 4] = Default::default();
			for site in [Site::Qkv, Site::O, Site::GateUp, Site::Down] {
				let present: Vec<&LoraModule> = site
					.projs()
					.iter()
					.filter_map(|p| mods.iter().find(|m| m.proj == *p))
					.collect();
				if present.is_empty() {
					continue;
				}
				layer[site.index()] = Some(build_site(config, &present, device, dtype)?);
			}
			sites.push(layer);
		}
		Ok(LoraAdapter {
			name: name.into(),
			rank,
			targets: targets.into_iter().collect(),
			base_model,
			base: BaseShape::of(config),
			sites,
		})
	}

	/// Bytes of the tensors the adapter holds (every A and B once, in the adapter's dtype).
	pub fn weight_bytes(&self) -> usize {
		self.sites.iter().flatten().flatten().map(SiteLora::bytes).sum()
	}

	/// The dtype the adapter's tensors are held in.
	pub fn dtype(&self) -> Option<DType> {
		self.sites.iter().flatten().flatten().map(|s| s.a.dtype()).next()
	}

	/// The device the adapter's tensors live on.
	pub fn device(&self) -> Option<Device> {
		self.sites.iter().flatten().flatten().map(|s| s.a.device().clone()).next()
	}

	/// A copy on `device` in `dtype` (host → GPU, or a dtype change).
	pub fn to_device(&self, device: &Device, dtype: DType) -> candle_core::Result<LoraAdapter> {
		let mut out = self.clone();
		for s in out.sites.iter_mut().flatten().flatten() {
			s.a = s.a.to_device(device)?.to_dtype(dtype)?;
			for p in &mut s.parts {
				p.bt = p.bt.to_device(device)?.to_dtype(dtype)?;
			}
		}
		Ok(out)
	}

	/// Every targeted projection with its rank, alpha and scale, by layer.
	pub fn modules(&self) -> Vec<ModuleInfo> {
		let mut out: Vec<ModuleInfo> = self
			.sites
			.iter()
			.flatten()
			.flatten()
			.flat_map(|s| s.parts.iter().map(|p| p.info))
			.collect();
		out.sort_by_key(|m| (m.layer, m.proj));
		out
	}

	/// The numbers of one targeted projection, if the adapter targets it.
	pub fn module(&self, layer: usize, proj: Proj) -> Option<ModuleInfo> {
		let site = self.sites.get(layer)?[Site::of(proj).index()].as_ref()?;
		site.parts.iter().find(|p| p.info.proj == proj).map(|p| p.info)
	}

	/// `scale·B·A` (`[out, in]`) of one projection, if the adapter targets it.
	pub fn delta(&self, layer: usize, proj: Proj) -> candle_core::Result<Option<Tensor>> {
		let Some(site) = self.sites.get(layer).and_then(|s| s[Site::of(proj).index()].as_ref())
		else {
			return Ok(None);
		};
		let Some(part) = site.parts.iter().find(|p| p.info.proj == proj) else {
			return Ok(None);
		};
		let a = site.a.narrow(0, part.r_offset, part.info.rank)?;
		Ok(Some(part.bt.t()?.matmul(&a)?))
	}

	/// Whether the adapter fits the base `config`; the error says why not.
	pub fn check_compatible(&self, config: &ModelConfig) -> Result<(), IncompatibleAdapter> {
		if self.base != BaseShape::of(config) {
			return Err(IncompatibleAdapter { adapter: self.name.clone() });
		}
		Ok(())
	}

	fn site(&self, layer: usize, site: Site) -> Option<&SiteLora> {
		self.sites.get(layer)?[site.index()].as_ref()
	}
}

/// Stacks the A's of one site and keeps each projection's scaled Bᵀ.
fn build_site(
	config: &ModelConfig,
	present: &[&LoraModule],
	device: &Device,
	dtype: DType,
) -> candle_core::Result<SiteLora> {
	let mut a_parts = Vec::with_capacity(present.len());
	let mut parts = Vec::with_capacity(present.len());
	let mut r_offset = 0;
	for m in present {
		let r = m.a.dim(0)?;
		let (_, out_offset, _) = site_slice(config, m.proj);
		a_parts.push(m.a.to_device(device)?.to_dtype(DType::F32)?);
		let bt = (m.b.to_device(device)?.to_dtype(DType::F32)? * m.scale)?.t()?;
		parts.push(SitePart {
			info: ModuleInfo {
				layer: m.layer,
				proj: m.proj,
				rank: r,
				alpha: m.alpha,
				scale: m.scale,
			},
			r_offset,
			out_offset,
			bt: bt.to_dtype(dtype)?.contiguous()?,
		});
		r_offset += r;
	}
	Ok(SiteLora { a: Tensor::cat(&a_parts, 0)?.to_dtype(dtype)?.contiguous()?, parts })
}

/// The adapters of one step's rows: `(first row, rows, adapter)` ranges, in row order.
pub(crate) struct RowGroups<'a> {
	groups: Vec<(usize, usize, &'a LoraAdapter)>,
	rows: usize,
}

impl<'a> RowGroups<'a> {
	/// Groups over a step of `rows` rows; rows outside every range use no adapter.
	pub(crate) fn new(groups: Vec<(usize, usize, &'a LoraAdapter)>, rows: usize) -> Self {
		RowGroups { groups, rows }
	}

	/// Adds each group's `scale·B(A·x)` at `site` of `layer` to the base output `y` (`[N, out]`).
	pub(crate) fn apply(
		&self,
		layer: usize,
		site: Site,
		x: &Tensor,
		y: Tensor,
	) -> candle_core::Result<Tensor> {
		let active: Vec<(usize, usize, &SiteLora)> = self
			.groups
			.iter()
			.filter_map(|&(start, len, a)| Some((start, len, a.site(layer, site)?)))
			.collect();
		if active.is_empty() {
			return Ok(y);
		}
		let cpu_f32 = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32;
		if cpu_f32(x) && cpu_f32(&y) && active.iter().all(|(_, _, s)| cpu_f32(&s.a)) {
			return bgmv_cpu(&active, x, y);
		}
		self.apply_ops(&active, x, y)
	}

	/// The device-generic path: candle ops per row range, joined by one `cat`.
	fn apply_ops(
		&self,
		active: &[(usize, usize, &SiteLora)],
		x: &Tensor,
		y: Tensor,
	) -> candle_core::Result<Tensor> {
		let out = y.dim(1)?;
		let mut pieces = Vec::new();
		let mut cursor = 0;
		for &(start, len, lora) in active {
			if start > cursor {
				pieces.push(Tensor::zeros((start - cursor, out), y.dtype(), y.device())?);
			}
			pieces.push(lora.forward(&x.narrow(0, start, len)?, out)?);
			cursor = start + len;
		}
		if cursor < self.rows {
			pieces.push(Tensor::zeros((self.rows - cursor, out), y.dtype(), y.device())?);
		}
		let delta = if pieces.len() == 1 { pieces.remove(0) } else { Tensor::cat(&pieces, 0)? };
		y + delta
	}
}

/// A read view of a contiguous f32 CPU tensor.
struct CpuView<'a> {
	guard: StorageRef<'a>,
	start: usize,
	end: usize,
}

impl<'a> CpuView<'a> {
	fn new(t: &'a Tensor) -> candle_core::Result<Self> {
		let (guard, layout) = t.storage_and_layout();
		let Some((start, end)) = layout.contiguous_offsets() else {
			candle_core::bail!("lora kernel: tensor is not contiguous");
		};
		Ok(CpuView { guard, start, end })
	}

	fn slice(&self) -> candle_core::Result<&[f32]> {
		match &*self.guard {
			Storage::Cpu(cpu) => Ok(&cpu.as_slice::<f32>()?[self.start..self.end]),
			_ => candle_core::bail!("lora kernel: tensor is not on the cpu"),
		}
	}
}

/// The CPU kernel: for every row of every range, `y[row] += Σ_parts Bᵀ_partᵀ·(A·x[row])`.
fn bgmv_cpu(
	active: &[(usize, usize, &SiteLora)],
	x: &Tensor,
	y: Tensor,
) -> candle_core::Result<Tensor> {
	let x = x.contiguous()?;
	let (rows, inp) = x.dims2()?;
	let out_w = y.dim(1)?;
	let mut out: Vec<f32> = y.flatten_all()?.to_vec1()?;
	let xv = CpuView::new(&x)?;
	let xs = xv.slice()?;
	let mut t = Vec::new();
	for &(start, len, site) in active {
		let av = CpuView::new(&site.a)?;
		let views = site
			.parts
			.iter()
			.map(|p| CpuView::new(&p.bt))
			.collect::<candle_core::Result<Vec<_>>>()?;
		let mut parts = Vec::with_capacity(views.len());
		for (p, v) in site.parts.iter().zip(&views) {
			parts.push(Part {
				r_offset: p.r_offset,
				out_offset: p.out_offset,
				rank: p.info.rank,
				bt: v.slice()?,
			});
		}
		let job = Rows {
			xs,
			inp,
			a: av.slice()?,
			parts: &parts,
			rows: start..(start + len).min(rows),
			out_w,
		};
		run_rows(&job, &mut out, &mut t);
	}
	drop(xv);
	Tensor::from_vec(out, (rows, out_w), y.device())
}

/// One projection of a site, as slices.
struct Part<'a> {
	r_offset: usize,
	out_offset: usize,
	rank: usize,
	/// `[rank, out]`.
	bt: &'a [f32],
}

/// One range of rows sharing an adapter, as slices.
struct Rows<'a> {
	xs: &'a [f32],
	inp: usize,
	/// `[R, inp]`.
	a: &'a [f32],
	parts: &'a [Part<'a>],
	rows: std::ops::Range<usize>,
	out_w: usize,
}

/// Runs the kernel with AVX2 where the CPU has it.
fn run_rows(job: &Rows<'_>, out: &mut [f32], t: &mut Vec<f32>) {
	#[cfg(target_arch = "x86_64")]
	if std::arch::is_x86_feature_detected!("avx2") {
		// SAFETY: the CPU supports AVX2, checked just above.
		unsafe { rows_avx2(job, out, t) };
		return;
	}
	rows_kernel(job, out, t);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rows_avx2(job: &Rows<'_>, out: &mut [f32], t: &mut Vec<f32>) {
	rows_kernel(job, out, t)
}

#[inline(always)]
fn rows_kernel(job: &Rows<'_>, out: &mut [f32], t: &mut Vec<f32>) {
	let inp = job.inp;
	t.clear();
	t.resize(job.a.len() / inp.max(1), 0.0);
	for row in job.rows.clone() {
		let xr = &job.xs[row * inp..(row + 1) * inp];
		for (tj, aj) in t.iter_mut().zip(job.a.chunks_exact(inp)) {
			*tj = dot(aj, xr);
		}
		let yr = &mut out[row * job.out_w..(row + 1) * job.out_w];
		for p in job.parts {
			let n = p.bt.len() / p.rank.max(1);
			let dst = &mut yr[p.out_offset..p.out_offset + n];
			for (j, brow) in p.bt.chunks_exact(n).enumerate() {
				axpy(t[p.r_offset + j], brow, dst);
			}
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn config() -> ModelConfig {
		ModelConfig::from_json(
			r#"{"hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,
			"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":64}"#,
		)
		.expect("config")
	}

	fn adapter(c: &ModelConfig, projs: &[(Proj, usize)], seed: f64) -> LoraAdapter {
		let dev = &Device::Cpu;
		let modules = (0..c.num_hidden_layers)
			.flat_map(|layer| {
				projs.iter().map(move |&(proj, r)| {
					let (inp, out) = c.proj_dims(proj);
					LoraModule {
						layer,
						proj,
						a: Tensor::randn(seed, 1.0f64, (r, inp), dev)
							.and_then(|t| t.to_dtype(DType::F32))
							.expect("a"),
						b: Tensor::randn(-seed, 1.0f64, (out, r), dev)
							.and_then(|t| t.to_dtype(DType::F32))
							.expect("b"),
						alpha: 2.0 * r as f64,
						scale: 2.0,
					}
				})
			})
			.collect();
		LoraAdapter::new("t", None, c, modules, dev, DType::F32).expect("adapter")
	}

	#[test]
	fn cpu_kernel_equals_candle_ops() {
		let c = config();
		let a1 = adapter(&c, &[(Proj::Q, 4), (Proj::V, 2), (Proj::O, 3), (Proj::Down, 2)], 0.1);
		let a2 = adapter(&c, &Proj::ALL.map(|p| (p, 5)), 0.2);
		let groups = RowGroups::new(vec![(0, 2, &a1), (3, 3, &a2), (7, 1, &a1)], 9);
		for site in [Site::Qkv, Site::O, Site::GateUp, Site::Down] {
			let inp = c.proj_dims(site.projs()[0]).0;
			let out: usize = site.projs().iter().map(|&p| c.proj_dims(p).1).sum();
			let x = Tensor::randn(0f32, 1.0, (9, inp), &Device::Cpu).expect("x");
			let y = Tensor::randn(0f32, 1.0, (9, out), &Device::Cpu).expect("y");
			let kernel = groups.apply(1, site, &x, y.clone()).expect("kernel");
			let active: Vec<_> = groups
				.groups
				.iter()
				.filter_map(|&(s, l, a)| Some((s, l, a.site(1, site)?)))
				.collect();
			let ops = groups.apply_ops(&active, &x, y.clone()).expect("ops");
			let diff = (kernel - &ops)
				.and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
				.expect("diff");
			assert!(diff < 1e-4, "{site:?}: {diff}");
			// Rows 2, 6 and 8 have no adapter.
			for row in [2, 6, 8] {
				let d = (ops.get(row).expect("r") - y.get(row).expect("r"))
					.and_then(|d| d.abs()?.max(0)?.to_scalar::<f32>())
					.expect("d");
				assert_eq!(d, 0.0);
			}
		}
	}
}
