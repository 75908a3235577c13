//! A run end to end: verified versions in, the adapter, its evaluation and the manifest out
//! ([`train_run`]); and the check of a manifest by anyone ([`verify_run`]).
//!
//! A run folder is named by its *run key*: the sha-256 of the tool, the base model's artifact
//! hash, each version's datanet, number and Merkle root, the parent's artifact hash and every
//! hyper-parameter. Asking again for a run whose folder holds a finished manifest reuses it; an
//! interrupted run resumes from its checkpoint.

use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
};

use lineage_engine::{gguf::GgufMode, peft::load_peft, AdapterLimits, LoadOptions, Model};
use sha2::{Digest, Sha256};

use crate::{
	config::TrainConfig,
	data::{build_dataset, Dataset, Formatter, SourceRecord},
	eval::{evaluate, Evaluation},
	lora::TrainableLora,
	manifest::{
		AdapterArtifact, BaseModel, DatanetInput, Manifest, Parent, RunReport, FORMAT,
		MANIFEST_FILE,
	},
	plot::write_loss_curve,
	progress::Progress,
	source::VersionData,
	trainer::{self, version_key, RunOptions},
	TOOL,
};

/// The adapter's folder inside a run folder.
pub const ADAPTER_DIR: &str = "adapter";

fn hex0x(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// The base model, loaded for training (GGUF dequantized to f32 on the CPU), and its manifest
/// entry.
pub fn load_base(path: &Path) -> anyhow::Result<(Model, BaseModel)> {
	let model = Model::load_gguf(
		path,
		&candle_core::Device::Cpu,
		candle_core::DType::F32,
		GgufMode::Dequantized,
	)
	.map_err(|e| anyhow::anyhow!("{e} (scripts/setup downloads SmolLM2-135M-Instruct)"))?;
	let file = path
		.file_name()
		.map(|n| n.to_string_lossy().into_owned())
		.ok_or_else(|| anyhow::anyhow!("{} has no file name", path.display()))?;
	let digest = lineage_adapters::store::sha256_file(path)?;
	let hash = lineage_primitives::artifact_hash(&[(file.as_str(), digest)]);
	let info = BaseModel {
		id: model.id.clone(),
		file,
		artifact_hash: hex0x(hash.as_bytes()),
		weights: "gguf-dequantized-f32".into(),
	};
	Ok((model, info))
}

/// The artifact hash and per-file sha-256 of the PEFT files in `dir`.
pub fn adapter_artifact(dir: &Path, cfg: &TrainConfig) -> anyhow::Result<AdapterArtifact> {
	let hash = lineage_adapters::store::hash_dir(dir)?;
	let mut files = BTreeMap::new();
	for f in lineage_adapters::store::ADAPTER_FILES {
		files.insert(f.to_string(), hex0x(&lineage_adapters::store::sha256_file(&dir.join(f))?));
	}
	Ok(AdapterArtifact {
		artifact_hash: hex0x(hash.as_bytes()),
		files,
		rank: cfg.rank,
		target_modules: cfg.targets.clone(),
	})
}

/// The run key of these inputs and settings (see the module doc).
pub fn run_key(
	base: &BaseModel,
	versions: &[VersionData],
	parent: Option<&str>,
	cfg: &TrainConfig,
) -> anyhow::Result<String> {
	let inputs = serde_json::json!({
		"tool": TOOL,
		"base": base.artifact_hash,
		"versions": versions.iter().map(|v| (v.datanet, v.version, hex0x(&v.merkle_root))).collect::<Vec<_>>(),
		"parent": parent,
		"config": cfg,
	});
	Ok(hex::encode(Sha256::digest(serde_json::to_vec(&inputs)?)))
}

/// What [`train_run`] is asked.
pub struct TrainRequest<'a> {
	/// The base model, loaded.
	pub model: &'a Model,
	/// Its manifest entry.
	pub base: BaseModel,
	/// The verified versions.
	pub versions: Vec<VersionData>,
	/// The parent adapter's PEFT folder, when continuing one.
	pub parent: Option<PathBuf>,
	/// Every hyper-parameter.
	pub config: TrainConfig,
	/// Where run folders live (`~/.cache/lineage/runs`).
	pub runs_dir: PathBuf,
	/// Resume an interrupted run from its checkpoint (else start over).
	pub resume: bool,
	/// Train again even when a finished manifest is there.
	pub force: bool,
	/// Where progress goes.
	pub progress: Progress,
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
	/// The run folder.
	pub dir: PathBuf,
	/// Its manifest.
	pub manifest: Manifest,
	/// The manifest's sha-256.
	pub manifest_hash: [u8; 32],
	/// Whether a finished run was found and reused.
	pub reused: bool,
}

/// The dataset of a run's versions.
pub fn dataset(
	model: &Model,
	versions: &[VersionData],
	cfg: &TrainConfig,
) -> anyhow::Result<Dataset> {
	let formatter = Formatter::new(model)?;
	let records: Vec<SourceRecord> =
		versions.iter().flat_map(|v| v.records.iter().cloned()).collect();
	Ok(build_dataset(
		&records,
		&formatter,
		cfg.heldout_permille,
		cfg.max_train_records,
		cfg.max_seq_len,
	))
}

/// Trains (or reuses, or resumes) the run `req` describes, evaluates it and writes its
/// adapter, manifest and loss curve.
pub fn train_run(req: TrainRequest<'_>) -> anyhow::Result<RunOutcome> {
	let cfg = &req.config;
	cfg.check()?;
	let model = req.model;
	let parent_hash = match &req.parent {
		Some(dir) => Some(hex0x(lineage_adapters::store::hash_dir(dir)?.as_bytes())),
		None => None,
	};
	let key = run_key(&req.base, &req.versions, parent_hash.as_deref(), cfg)?;
	let dir = req.runs_dir.join(&key[..16]);
	std::fs::create_dir_all(&dir)?;
	let manifest_path = dir.join(MANIFEST_FILE);
	if manifest_path.is_file() && !req.force {
		let (manifest, hash) = Manifest::read(&manifest_path)?;
		let files_ok = lineage_adapters::store::hash_dir(&dir.join(ADAPTER_DIR))
			.map(|h| hex0x(h.as_bytes()) == manifest.adapter.artifact_hash)
			.unwrap_or(false);
		if manifest.run_key == key && files_ok {
			tracing::info!(dir = %dir.display(), "this run is finished already: reusing its manifest");
			return Ok(RunOutcome { dir, manifest, manifest_hash: hash, reused: true });
		}
	}
	let data = dataset(model, &req.versions, cfg)?;
	tracing::info!(
		train = data.train.len(),
		heldout = data.heldout.len(),
		skipped = data.skipped.len(),
		"dataset built"
	);
	if data.heldout.is_empty() {
		anyhow::bail!(
			"no record of these versions is held out ({} records, heldout_permille {}): the adapter \
			 could not be judged; use more records or raise heldout_permille",
			data.train.len(),
			cfg.heldout_permille
		);
	}
	let lora = match &req.parent {
		Some(p) => TrainableLora::from_parent(p, &model.config, &model.id, cfg, &model.device)?,
		None => TrainableLora::init(&model.config, &model.id, cfg, &model.device)?,
	};
	let trained = trainer::train(
		model,
		cfg,
		&data.train,
		lora,
		RunOptions {
			dir: &dir,
			run_key: key.clone(),
			resume: req.resume,
			stop_after: None,
			progress: req.progress,
		},
	)?;
	write_loss_curve(&dir, &trained.log, None)?;
	let adapter_dir = dir.join(ADAPTER_DIR);
	trained.lora.write(&adapter_dir)?;
	let artifact = adapter_artifact(&adapter_dir, cfg)?;
	let evaluation = evaluate_written(model, &trained.lora, &adapter_dir, &data, cfg)?;
	write_loss_curve(&dir, &trained.log, Some((evaluation.base.loss, evaluation.adapter.loss)))?;
	let datanets = req
		.versions
		.iter()
		.map(|v| DatanetInput {
			datanet: v.datanet,
			version: v.version,
			merkle_root: hex0x(&v.merkle_root),
			records: v.records.len() as u32,
			train_records: data
				.train
				.iter()
				.filter(|e| (e.at.datanet, e.at.version) == (v.datanet, v.version))
				.count() as u32,
			heldout_records: data
				.heldout
				.iter()
				.filter(|e| (e.at.datanet, e.at.version) == (v.datanet, v.version))
				.count() as u32,
			tokens_consumed: trained
				.tokens_consumed
				.get(&version_key(v.datanet, v.version))
				.copied()
				.unwrap_or(0),
		})
		.collect();
	let manifest = Manifest {
		format: FORMAT.into(),
		tool: TOOL.into(),
		run_key: key,
		base_model: req.base.clone(),
		parent: parent_hash.map(|artifact_hash| Parent { artifact_hash }),
		datanets,
		config: cfg.clone(),
		run: RunReport {
			steps: trained.log.len(),
			tokens: trained.log.iter().map(|l| l.tokens).sum(),
			answer_tokens: trained.log.iter().map(|l| l.answer_tokens).sum(),
			log: trained.log.clone(),
			skipped: data.skipped.clone(),
			over_budget: data.over_budget,
			threads: candle_core::utils::get_num_threads(),
			seconds: trained.seconds,
			resumed_after: trained.resumed_after,
		},
		evaluation,
		adapter: artifact,
	};
	let manifest_hash = manifest.write(&dir)?;
	Ok(RunOutcome { dir, manifest, manifest_hash, reused: false })
}

/// Evaluates the adapter as written: the PEFT files are read back through the engine's loader
/// (what the oracle serves) for generation, the trained tensors give the teacher-forced scores.
pub fn evaluate_written(
	model: &Model,
	lora: &TrainableLora,
	adapter_dir: &Path,
	data: &Dataset,
	cfg: &TrainConfig,
) -> anyhow::Result<Evaluation> {
	let served = load_peft(adapter_dir, &LoadOptions::for_model(model, AdapterLimits::default()))?;
	evaluate(model, &lora.frozen_modules(), &served, &data.heldout, cfg.exact_match_limit)
}

/// One check of a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
	/// What was checked.
	pub what: String,
	/// Whether it matched.
	pub ok: bool,
	/// What was found.
	pub detail: String,
}

/// Re-checks a manifest against the base model file, the adapter files, the versions (fetched
/// and verified again) and a fresh evaluation; with `retrain`, trains again into a scratch
/// folder and compares the adapter's artifact hash (the same on the same machine, where the
/// run is deterministic).
pub fn verify_run(
	manifest: &Manifest,
	model: &Model,
	base: &BaseModel,
	adapter_dir: &Path,
	versions: Vec<VersionData>,
	retrain: Option<&Path>,
) -> anyhow::Result<Vec<Check>> {
	let mut checks = Vec::new();
	let mut check =
		|what: &str, ok: bool, detail: String| checks.push(Check { what: what.into(), ok, detail });
	check(
		"base model artifact hash",
		base.artifact_hash == manifest.base_model.artifact_hash,
		format!("file {} (manifest {})", base.artifact_hash, manifest.base_model.artifact_hash),
	);
	let files = adapter_artifact(adapter_dir, &manifest.config)?;
	check(
		"adapter artifact hash",
		files.artifact_hash == manifest.adapter.artifact_hash,
		format!("files {} (manifest {})", files.artifact_hash, manifest.adapter.artifact_hash),
	);
	for d in &manifest.datanets {
		let found = versions.iter().find(|v| (v.datanet, v.version) == (d.datanet, d.version));
		let (ok, detail) = match found {
			Some(v) => (
				hex0x(&v.merkle_root) == d.merkle_root && v.records.len() as u32 == d.records,
				format!(
					"root {} with {} records, every record verified",
					hex0x(&v.merkle_root),
					v.records.len()
				),
			),
			None => (false, "not fetched".into()),
		};
		check(&format!("datanet {} v{}", d.datanet, d.version), ok, detail);
	}
	let data = dataset(model, &versions, &manifest.config)?;
	let served = load_peft(adapter_dir, &LoadOptions::for_model(model, AdapterLimits::default()))?;
	// The written tensors, read back, give the teacher-forced scores.
	let lora = TrainableLora::from_parent(
		adapter_dir,
		&model.config,
		&model.id,
		&manifest.config,
		&model.device,
	)?;
	let fresh = evaluate(
		model,
		&lora.frozen_modules(),
		&served,
		&data.heldout,
		manifest.config.exact_match_limit,
	)?;
	let posted = &manifest.evaluation;
	let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(1.0);
	check(
		"held-out split",
		fresh.heldout_records == posted.heldout_records && fresh.base.tokens == posted.base.tokens,
		format!("{} records, {} answer tokens", fresh.heldout_records, fresh.base.tokens),
	);
	check(
		"evaluation: losses",
		close(fresh.base.loss, posted.base.loss) && close(fresh.adapter.loss, posted.adapter.loss),
		format!(
			"base {:.6} (manifest {:.6}), adapter {:.6} (manifest {:.6})",
			fresh.base.loss, posted.base.loss, fresh.adapter.loss, posted.adapter.loss
		),
	);
	check(
		"evaluation: accuracy and exact match",
		fresh.base.correct_tokens == posted.base.correct_tokens
			&& fresh.adapter.correct_tokens == posted.adapter.correct_tokens
			&& fresh.base.exact_matches == posted.base.exact_matches
			&& fresh.adapter.exact_matches == posted.adapter.exact_matches,
		format!(
			"tokens right base {}/adapter {}, exact base {}/adapter {} of {}",
			fresh.base.correct_tokens,
			fresh.adapter.correct_tokens,
			fresh.base.exact_matches,
			fresh.adapter.exact_matches,
			fresh.adapter.questions
		),
	);
	check(
		"adapter beats base on its held-out set",
		fresh.adapter_beats_base,
		format!(
			"held-out loss {:.4} against the base's {:.4}",
			fresh.adapter.loss, fresh.base.loss
		),
	);
	if let Some(scratch) = retrain {
		if manifest.parent.is_some() {
			check(
				"retraining",
				false,
				"a continued run needs its parent's files: retrain from the parent's run".into(),
			);
		} else {
			let lora =
				TrainableLora::init(&model.config, &model.id, &manifest.config, &model.device)?;
			std::fs::create_dir_all(scratch)?;
			let trained = trainer::train(
				model,
				&manifest.config,
				&data.train,
				lora,
				RunOptions {
					dir: scratch,
					run_key: manifest.run_key.clone(),
					resume: false,
					stop_after: None,
					progress: Progress::Bar { every: 10 },
				},
			)?;
			let out = scratch.join(ADAPTER_DIR);
			trained.lora.write(&out)?;
			let again = adapter_artifact(&out, &manifest.config)?;
			check(
				"retraining gives the same adapter",
				again.artifact_hash == manifest.adapter.artifact_hash,
				format!(
					"retrained {} (manifest {})",
					again.artifact_hash, manifest.adapter.artifact_hash
				),
			);
		}
	}
	Ok(checks)
}
