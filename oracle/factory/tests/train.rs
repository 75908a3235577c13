//! The fine-tuning maths on the fixture model: gradients against finite differences, the loss
//! falling on a tiny set, resume against an uninterrupted run, the written adapter against what
//! the engine serves (unmerged and merged), and a whole run's manifest.

use candle_core::{DType, Device, Tensor, Var, D};
use lineage_engine::{
	autograd::target_log_probs, peft::load_peft, AdapterLimits, LoadOptions, LoraAdapter,
	LoraModule, Model, Proj, SeqInput, TrainSeq,
};
use lineage_factory::{
	data::{Example, RecordRef, SourceRecord},
	lora::TrainableLora,
	manifest::{BaseModel, Manifest, MANIFEST_FILE},
	progress::Progress,
	run::{train_run, TrainRequest, ADAPTER_DIR},
	source::VersionData,
	trainer::{self, RunOptions},
	TrainConfig,
};
use lineage_testkit::{fixture, temp_dir};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn model(dtype: DType) -> Model {
	Model::load_hf(&fixture().model_dir, &Device::Cpu, dtype).expect("the fixture model loads")
}

/// `n` examples of random tokens: a prompt of 5..9 tokens and an answer of 3..6.
fn examples(n: usize, seed: u64, vocab: u32) -> Vec<Example> {
	let mut rng = ChaCha8Rng::seed_from_u64(seed);
	(0..n)
		.map(|i| {
			let p = rng.gen_range(5..9);
			let a = rng.gen_range(3..6);
			Example {
				at: RecordRef {
					datanet: 0,
					version: 1,
					index: i as u32,
					contribution: i as u32,
					content_hash: [i as u8; 32],
				},
				prompt: String::new(),
				completion: String::new(),
				prompt_tokens: (0..p).map(|_| rng.gen_range(0..vocab)).collect(),
				answer_tokens: (0..a).map(|_| rng.gen_range(0..vocab)).collect(),
			}
		})
		.collect()
}

/// Mean negative log-likelihood of the answers of `batch` with `modules`.
fn loss(model: &Model, batch: &[Example], modules: &[LoraModule]) -> Tensor {
	let inputs: Vec<Vec<u32>> = batch.iter().map(|e| e.input()).collect();
	let scored: Vec<Vec<usize>> = batch.iter().map(|e| e.scored()).collect();
	let seqs: Vec<TrainSeq<'_>> =
		inputs.iter().zip(&scored).map(|(t, s)| TrainSeq { tokens: t, scored: s }).collect();
	let targets: Vec<u32> = batch.iter().flat_map(|e| e.answer_tokens.clone()).collect();
	let logits = model.train_logits(&seqs, modules, None).expect("forward");
	let lp = target_log_probs(&logits, &targets).expect("log probs");
	(lp.sum(D::Minus1).unwrap() * (-1.0 / targets.len() as f64)).unwrap()
}

fn scalar(t: &Tensor) -> f64 {
	t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

#[test]
fn gradients_match_finite_differences() {
	// f64, so central differences are exact to ~1e-9; every projection of both layers.
	let model = model(DType::F64);
	let c = &model.config;
	let batch = examples(3, 1, c.vocab_size as u32);
	let mut rng = ChaCha8Rng::seed_from_u64(9);
	let mut vars = Vec::new();
	let mut modules = Vec::new();
	for layer in 0..c.num_hidden_layers {
		for proj in Proj::ALL {
			let (inp, out) = c.proj_dims(proj);
			let r = 2;
			let mut rand =
				|n: usize| -> Vec<f64> { (0..n).map(|_| rng.gen_range(-0.3..0.3)).collect() };
			let a =
				Var::from_tensor(&Tensor::from_vec(rand(r * inp), (r, inp), &Device::Cpu).unwrap())
					.unwrap();
			let b =
				Var::from_tensor(&Tensor::from_vec(rand(out * r), (out, r), &Device::Cpu).unwrap())
					.unwrap();
			modules.push(LoraModule {
				layer,
				proj,
				a: a.as_tensor().clone(),
				b: b.as_tensor().clone(),
				alpha: 4.0,
				scale: 2.0,
			});
			vars.push((layer, proj, a, b));
		}
	}
	let grads = loss(&model, &batch, &modules).backward().expect("backward");
	let h = 1e-5;
	let mut checked = 0;
	for (layer, proj, a, b) in &vars {
		for (name, var) in [("A", a), ("B", b)] {
			let g = grads.get(var.as_tensor()).unwrap_or_else(|| {
				panic!("no gradient reached {name} of layer {layer} {proj:?}: a fused op without backward?")
			});
			let g = g.flatten_all().unwrap().to_vec1::<f64>().unwrap();
			let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
			for &k in &[0usize, base.len() / 2, base.len() - 1] {
				let at = |delta: f64| {
					let mut v = base.clone();
					v[k] += delta;
					var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap()).unwrap();
					scalar(&loss(&model, &batch, &modules))
				};
				let numeric = (at(h) - at(-h)) / (2.0 * h);
				var.set(&Tensor::from_vec(base.clone(), var.shape(), &Device::Cpu).unwrap())
					.unwrap();
				let err = (numeric - g[k]).abs() / numeric.abs().max(g[k].abs()).max(1e-4);
				assert!(err < 1e-5, "layer {layer} {proj:?} {name}[{k}]: backward {} vs finite difference {numeric}", g[k]);
				checked += 1;
			}
		}
	}
	assert_eq!(checked, c.num_hidden_layers * 7 * 2 * 3);
}

#[test]
fn training_forward_equals_the_serving_engine_unmerged_and_merged() {
	let model = model(DType::F32);
	let cfg = TrainConfig {
		targets: Proj::ALL.iter().map(|p| p.hf_name().to_string()).collect(),
		rank: 4,
		seed: 3,
		..Default::default()
	};
	let lora = TrainableLora::init(&model.config, &model.id, &cfg, &Device::Cpu).unwrap();
	// B starts at zero; give it values so the adapter changes the output.
	let mut rng = ChaCha8Rng::seed_from_u64(4);
	for m in &lora.modules {
		let n = m.b.elem_count();
		let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-0.2..0.2)).collect();
		m.b.set(&Tensor::from_vec(v, m.b.shape(), &Device::Cpu).unwrap()).unwrap();
	}
	let dir = temp_dir("factory-peft");
	let adapter_dir = dir.path().join("adapter");
	lora.write(&adapter_dir).unwrap();
	let served = load_peft(&adapter_dir, &LoadOptions::for_model(&model, AdapterLimits::default()))
		.expect("the engine loads the written adapter");
	let tokens: Vec<u32> = (0..12).map(|i| (i * 37 % 500) as u32).collect();
	let last = [tokens.len() - 1];
	let train = model
		.train_logits(&[TrainSeq { tokens: &tokens, scored: &last }], &lora.frozen_modules(), None)
		.unwrap();
	let serve = |m: &Model, a: Option<&LoraAdapter>| {
		let mut cache = m.new_cache();
		m.forward_batch(&mut [SeqInput { tokens: &tokens, cache: &mut cache, adapter: a }]).unwrap()
	};
	let unmerged = serve(&model, Some(&served));
	let merged_model = model.with_deltas(|l, p| served.delta(l, p)).unwrap();
	let merged = serve(&merged_model, None);
	let base = serve(&model, None);
	let diff = |a: &Tensor, b: &Tensor| scalar(&(a - b).unwrap().abs().unwrap().max_all().unwrap());
	assert!(
		diff(&train, &unmerged) < 1e-4,
		"training forward vs served unmerged: {}",
		diff(&train, &unmerged)
	);
	assert!(diff(&unmerged, &merged) < 1e-4, "unmerged vs merged: {}", diff(&unmerged, &merged));
	assert!(diff(&base, &unmerged) > 1e-2, "the adapter must change the logits");
	// The written tensors are PEFT's keys, shapes and dtype.
	let st =
		candle_core::safetensors::load(adapter_dir.join("adapter_model.safetensors"), &Device::Cpu)
			.unwrap();
	let a = &st["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"];
	assert_eq!((a.dims(), a.dtype()), (&[4usize, model.config.hidden_size][..], DType::F32));
	let cfg_json: serde_json::Value =
		serde_json::from_slice(&std::fs::read(adapter_dir.join("adapter_config.json")).unwrap())
			.unwrap();
	assert_eq!(cfg_json["peft_type"], "LORA");
	assert_eq!(cfg_json["r"], 4);
}

fn quick_config() -> TrainConfig {
	TrainConfig {
		targets: ["q_proj", "v_proj", "o_proj", "down_proj"].map(String::from).to_vec(),
		rank: 4,
		learning_rate: 2e-2,
		warmup_steps: 2,
		micro_batch: 2,
		grad_accum: 2,
		epochs: 12,
		checkpoint_every: 100,
		..Default::default()
	}
}

#[test]
fn loss_falls_on_a_tiny_set() {
	let model = model(DType::F32);
	let train = examples(8, 5, model.config.vocab_size as u32);
	let cfg = quick_config();
	let before = scalar(&loss(&model, &train, &[]));
	let lora = TrainableLora::init(&model.config, &model.id, &cfg, &Device::Cpu).unwrap();
	let dir = temp_dir("factory-loss");
	let out = trainer::train(
		&model,
		&cfg,
		&train,
		lora,
		RunOptions {
			dir: dir.path(),
			run_key: "loss".into(),
			resume: false,
			stop_after: None,
			progress: Progress::Quiet,
		},
	)
	.unwrap();
	assert_eq!(out.log.len(), 24);
	let after = scalar(&loss(&model, &train, &out.lora.frozen_modules()));
	assert!(after < 0.5 * before, "loss {before:.3} -> {after:.3}: training did not learn the set");
	// B starts at zero: the first steps see the base's loss, the last ones far less.
	let mean = |l: &[trainer::StepLog]| l.iter().map(|s| s.loss).sum::<f64>() / l.len() as f64;
	let (head, tail) = (mean(&out.log[..3]), mean(&out.log[21..]));
	assert!((head - before).abs() < 0.5 && tail < 0.6 * head, "step losses {head:.3} -> {tail:.3}");
}

#[test]
fn resume_after_an_interruption_ends_with_the_same_adapter() {
	let model = model(DType::F32);
	let train = examples(10, 6, model.config.vocab_size as u32);
	let cfg = TrainConfig { epochs: 2, dropout: 0.1, checkpoint_every: 2, ..quick_config() };
	let run = |dir: &std::path::Path, resume: bool, stop_after: Option<usize>| {
		let lora = TrainableLora::init(&model.config, &model.id, &cfg, &Device::Cpu).unwrap();
		trainer::train(
			&model,
			&cfg,
			&train,
			lora,
			RunOptions { dir, run_key: "k".into(), resume, stop_after, progress: Progress::Quiet },
		)
		.unwrap()
	};
	let whole = temp_dir("factory-whole");
	let a = run(whole.path(), false, None);
	assert!(a.finished);
	let broken = temp_dir("factory-broken");
	// Three steps run; the checkpoint holds two (the third is lost, as in a kill -9).
	let cut = run(broken.path(), false, Some(3));
	assert!(!cut.finished);
	let b = run(broken.path(), true, None);
	assert_eq!(b.resumed_after, Some(2));
	assert_eq!(a.log, b.log, "the resumed run's steps are the uninterrupted run's");
	let (ta, tb) = (a.lora.peft_tensors(), b.lora.peft_tensors());
	assert_eq!(ta.len(), tb.len());
	for (k, t) in &ta {
		let d = scalar(&(t - &tb[k]).unwrap().abs().unwrap().max_all().unwrap());
		assert_eq!(d, 0.0, "{k} differs by {d} after resuming");
	}
	// A checkpoint of other settings is refused by name.
	let other = TrainConfig { seed: 1, ..cfg.clone() };
	let lora = TrainableLora::init(&model.config, &model.id, &other, &Device::Cpu).unwrap();
	let err = trainer::train(
		&model,
		&other,
		&train,
		lora,
		RunOptions {
			dir: broken.path(),
			run_key: "other".into(),
			resume: true,
			stop_after: None,
			progress: Progress::Quiet,
		},
	)
	.err()
	.expect("another run's checkpoint is refused");
	assert!(err.to_string().contains("another run"), "{err}");
}

/// Prompt/completion records a fixture model can learn: "say N" → N in words.
fn records(n: usize) -> Vec<SourceRecord> {
	let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
	(0..n)
		.map(|i| {
			let bytes = serde_json::to_vec(&serde_json::json!({
				"prompt": format!("spell {} {}", i % 10, i / 10),
				"completion": format!("{} {}", words[i % 10], words[(i / 10) % 10]),
			}))
			.unwrap();
			let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes).into();
			SourceRecord {
				at: RecordRef {
					datanet: 3,
					version: 1 + (i % 2) as u32,
					index: (i / 2) as u32,
					contribution: i as u32,
					content_hash: hash,
				},
				bytes,
			}
		})
		.collect()
}

#[test]
fn a_run_writes_an_adapter_a_manifest_and_a_curve_and_is_reused() {
	let model = model(DType::F32);
	let all = records(80);
	let mut bad = all[0].clone();
	bad.bytes = b"not json".to_vec();
	let versions: Vec<VersionData> = [1u32, 2]
		.iter()
		.map(|&v| VersionData {
			datanet: 3,
			version: v,
			merkle_root: [v as u8; 32],
			records: std::iter::once(bad.clone())
				.filter(|_| v == 1)
				.chain(all.iter().filter(|r| r.at.version == v).cloned())
				.collect(),
		})
		.collect();
	let base = BaseModel {
		id: model.id.clone(),
		file: "fixture".into(),
		artifact_hash: "0x00".into(),
		weights: "safetensors-f32".into(),
	};
	let runs = temp_dir("factory-runs");
	let cfg =
		TrainConfig { heldout_permille: 200, epochs: 3, exact_match_limit: 4, ..quick_config() };
	let req = || TrainRequest {
		model: &model,
		base: base.clone(),
		versions: versions.clone(),
		parent: None,
		config: cfg.clone(),
		runs_dir: runs.path().to_path_buf(),
		resume: true,
		force: false,
		progress: Progress::Quiet,
	};
	let out = train_run(req()).expect("the run finishes");
	assert!(!out.reused);
	let m = &out.manifest;
	assert!(m.evaluation.adapter_beats_base, "{:?}", m.evaluation);
	assert_eq!(m.run.skipped.len(), 1, "the non-JSON record is skipped and named");
	assert_eq!(m.datanets.len(), 2);
	assert_eq!(
		m.evaluation.heldout_records,
		m.datanets.iter().map(|d| d.heldout_records).sum::<u32>()
	);
	// The lineage weights follow the tokens consumed.
	let weights = m.lineage_weights().unwrap();
	assert_eq!(weights.iter().map(|w| u64::from(w.1)).sum::<u64>(), 1_000_000_000);
	let total: u64 = m.datanets.iter().map(|d| d.tokens_consumed).sum();
	assert_eq!(total, m.run.tokens);
	for ((d, v), w) in &weights {
		let t =
			m.datanets.iter().find(|x| (x.datanet, x.version) == (*d, *v)).unwrap().tokens_consumed;
		assert!((*w as f64 / 1e9 - t as f64 / total as f64).abs() < 1e-8);
	}
	// Round trip: the file reads back as the same manifest, and hashes as reported.
	let (back, hash) = Manifest::read(&out.dir.join(MANIFEST_FILE)).unwrap();
	assert_eq!(&back, m);
	assert_eq!(hash, out.manifest_hash);
	assert_eq!(back.hash().unwrap(), hash);
	let png = std::fs::read(out.dir.join("loss.png")).unwrap();
	assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
	assert_eq!(
		format!(
			"0x{}",
			hex::encode(
				lineage_adapters::store::hash_dir(&out.dir.join(ADAPTER_DIR)).unwrap().as_bytes()
			)
		),
		m.adapter.artifact_hash
	);
	// Asking again reuses the finished run.
	let again = train_run(req()).unwrap();
	assert!(again.reused);
	assert_eq!(again.manifest_hash, out.manifest_hash);
}
