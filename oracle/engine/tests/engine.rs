//! Engine tests on the tiny fixture model: unmerged LoRA equals merged weights, a mixed batch
//! equals each row alone, determinism, continuous batching, PEFT rejects, the queue bound.

use std::{
	path::{Path, PathBuf},
	sync::{Arc, OnceLock},
	time::{Duration, Instant},
};

use candle_core::{DType, Device, Tensor};
use lineage_engine::{
	fixture::{write_fixture, FixtureManifest, FixtureSpec, LORA_ALPHA},
	load_peft, AdapterError, AdapterErrorKind, AdapterLimits, Engine, EngineConfig, EngineHandle,
	FinishReason, GenerateEvent, GenerateRequest, KvCache, LoadOptions, LoraAdapter, Model, Proj,
	SamplingParams, SeqInput, SubmitError,
};
use lineage_testkit::{fixture, temp_dir, TempDir};

fn model() -> Arc<Model> {
	static M: OnceLock<Arc<Model>> = OnceLock::new();
	M.get_or_init(|| {
		Arc::new(
			Model::load_hf(&fixture().model_dir, &Device::Cpu, DType::F32).expect("load model"),
		)
	})
	.clone()
}

fn opts(model: &Model) -> LoadOptions<'_> {
	LoadOptions::for_model(model, AdapterLimits::default())
}

fn adapter(i: usize) -> Arc<LoraAdapter> {
	let m = model();
	Arc::new(load_peft(&fixture().adapters[i].dir, &opts(&m)).expect("load adapter"))
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
	(a - b).and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()).expect("diff")
}

/// Logits of the last token of `tokens` run alone from an empty cache.
fn alone(model: &Model, tokens: &[u32], adapter: Option<&LoraAdapter>) -> Tensor {
	let mut cache = model.new_cache();
	let mut seqs = [SeqInput { tokens, cache: &mut cache, adapter }];
	model.forward_batch(&mut seqs).expect("forward").get(0).expect("row")
}

fn prompt(seed: u32, len: usize) -> Vec<u32> {
	(0..len as u32).map(|i| 3 + (seed * 97 + i * 31) % 400).collect()
}

#[test]
fn tokenizer_round_trips_text() {
	let m = model();
	for text in ["Hello, world!", "The operator serves adapters.\n  Indented ✓ 42", "ünïcödé"]
	{
		let enc = m.tokenizer.encode(text, false).expect("encode");
		assert_eq!(m.tokenizer.decode(enc.get_ids(), false).expect("decode"), text);
	}
	assert_eq!(m.eos_token_ids(), vec![2]);
	assert_eq!(m.id, "lineage-tiny-llama");
}

#[test]
fn fixture_is_deterministic() {
	let a_guard = temp_dir("det-a");
	let a = a_guard.path().to_path_buf();
	let b_guard = temp_dir("det-b");
	let b = b_guard.path().to_path_buf();
	let spec = FixtureSpec { adapters: 3, ..FixtureSpec::tiny() };
	let ma = write_fixture(&a, &spec).expect("fixture a");
	let mb = write_fixture(&b, &spec).expect("fixture b");
	let files = |m: &FixtureManifest| {
		let mut v: Vec<PathBuf> =
			["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
				.iter()
				.map(|f| m.model_dir.join(f))
				.collect();
		for ad in &m.adapters {
			v.push(ad.dir.join("adapter_config.json"));
			v.push(ad.dir.join("adapter_model.safetensors"));
		}
		v
	};
	for (fa, fb) in files(&ma).iter().zip(files(&mb)) {
		assert_eq!(
			std::fs::read(fa).expect("read a"),
			std::fs::read(&fb).expect("read b"),
			"{fa:?}"
		);
	}
	let c_guard = temp_dir("det-c");
	let c = c_guard.path().to_path_buf();
	let other = write_fixture(&c, &FixtureSpec { seed: 43, ..spec }).expect("fixture c");
	assert_ne!(
		std::fs::read(other.model_dir.join("model.safetensors")).expect("read"),
		std::fs::read(ma.model_dir.join("model.safetensors")).expect("read")
	);
	for d in [a, b, c] {
		let _ = std::fs::remove_dir_all(d);
	}
}

#[test]
fn unmerged_adapter_equals_merged_weights() {
	let m = model();
	let tokens = prompt(1, 9);
	let base = alone(&m, &tokens, None);
	for i in 0..fixture().adapters.len() {
		let a = adapter(i);
		let unmerged = alone(&m, &tokens, Some(&*a));
		let merged_model = a.merged_into(&m).expect("merge");
		let merged = alone(&merged_model, &tokens, None);
		let d = max_diff(&unmerged, &merged);
		assert!(d < 1e-4, "adapter {i}: unmerged and merged differ by {d}");
		assert!(max_diff(&unmerged, &base) > 1e-2, "adapter {i} has no visible effect");
	}
}

#[test]
fn mlp_and_attention_targets_merge_alike() {
	let m = model();
	let c = &m.config;
	// An adapter on all seven projections of every layer, rank 4 (rank 6 on down_proj).
	let dir_guard = temp_dir("peft-all-targets");
	let dir = dir_guard.path().to_path_buf();
	let mut tensors = std::collections::HashMap::new();
	for layer in 0..c.num_hidden_layers {
		for (i, proj) in Proj::ALL.into_iter().enumerate() {
			let (inp, out) = c.proj_dims(proj);
			let r = if proj == Proj::Down { 6 } else { 4 };
			let key = format!("base_model.model.{}", proj.module_path(layer));
			let seed = (layer * 7 + i) as f32;
			let a = Tensor::rand(-0.3f32 - seed * 0.01, 0.3, (r, inp), &Device::Cpu).expect("a");
			let b = Tensor::rand(-0.2f32, 0.2 + seed * 0.01, (out, r), &Device::Cpu).expect("b");
			tensors.insert(format!("{key}.lora_A.weight"), a);
			tensors.insert(format!("{key}.lora_B.weight"), b);
		}
	}
	candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors")).expect("save");
	let config = serde_json::json!({
		"peft_type": "LORA", "r": 4, "lora_alpha": 8, "rank_pattern": {"down_proj": 6},
		"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
		"base_model_name_or_path": m.id, "bias": "none",
	});
	std::fs::write(dir.join("adapter_config.json"), config.to_string()).expect("write");
	let a = load(&dir).expect("load");
	assert_eq!(a.targets, Proj::ALL.to_vec());
	assert_eq!(a.rank, 6);
	let tokens = prompt(50, 7);
	let unmerged = alone(&m, &tokens, Some(&a));
	let merged = alone(&a.merged_into(&m).expect("merge"), &tokens, None);
	let d = max_diff(&unmerged, &merged);
	assert!(d < 1e-4, "unmerged and merged differ by {d}");
	assert!(max_diff(&unmerged, &alone(&m, &tokens, None)) > 1e-2);
	let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn merged_weight_is_w_plus_scaled_ba() {
	let m = model();
	let a = adapter(3);
	let merged = a.merged_into(&m).expect("merge");
	let info = a.module(1, Proj::K).expect("targets k");
	let dir = &fixture().adapters[3].dir;
	let st = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu)
		.expect("load file");
	let key = |h: &str| format!("base_model.model.model.layers.1.self_attn.k_proj.lora_{h}.weight");
	let (la, lb) = (&st[&key("A")], &st[&key("B")]);
	let expected = (m.base_weight(1, Proj::K).expect("w")
		+ (lb.matmul(la).expect("ba") * info.scale).expect("s"))
	.expect("sum");
	assert!(max_diff(&merged.base_weight(1, Proj::K).expect("w'"), &expected) < 1e-6);
	assert!(
		max_diff(
			&merged.base_weight(1, Proj::Gate).expect("g'"),
			&m.base_weight(1, Proj::Gate).expect("g")
		) == 0.0
	);
}

#[test]
fn mixed_batch_equals_each_row_alone() {
	let m = model();
	let adapters = [adapter(0), adapter(1), adapter(2)];
	// (adapter, prefix already cached, new tokens)
	let cases: Vec<(Option<&LoraAdapter>, Vec<u32>, Vec<u32>)> = vec![
		(None, vec![], prompt(1, 5)),
		(Some(&*adapters[0]), prompt(2, 4), prompt(3, 3)),
		(Some(&*adapters[1]), vec![], prompt(4, 7)),
		(Some(&*adapters[0]), prompt(5, 6), prompt(6, 1)),
		(None, prompt(7, 2), prompt(8, 1)),
		(Some(&*adapters[2]), prompt(9, 3), prompt(10, 4)),
	];
	let prefill = |adapter: Option<&LoraAdapter>, prefix: &[u32]| -> KvCache {
		let mut cache = m.new_cache();
		if !prefix.is_empty() {
			m.forward_batch(&mut [SeqInput { tokens: prefix, cache: &mut cache, adapter }])
				.expect("prefix");
		}
		cache
	};
	let mut batch_caches: Vec<KvCache> = cases.iter().map(|(a, p, _)| prefill(*a, p)).collect();
	let mut alone_caches: Vec<KvCache> =
		batch_caches.iter().map(|c| c.fork().expect("fork")).collect();
	// Step 1: mixed prefill chunks at different offsets.
	let mut seqs: Vec<SeqInput<'_>> = cases
		.iter()
		.zip(batch_caches.iter_mut())
		.map(|((a, _, t), cache)| SeqInput { tokens: t, cache, adapter: *a })
		.collect();
	let batched = m.forward_batch(&mut seqs).expect("batched step");
	drop(seqs);
	assert_eq!(batched.dims(), &[cases.len(), m.config.vocab_size]);
	let mut next = Vec::new();
	for (i, ((a, _, t), cache)) in cases.iter().zip(alone_caches.iter_mut()).enumerate() {
		let mut one = [SeqInput { tokens: t, cache, adapter: *a }];
		let row = m.forward_batch(&mut one).expect("alone").get(0).expect("row");
		let b = batched.get(i).expect("row");
		let d = max_diff(&row, &b);
		assert!(d < 1e-4, "row {i} differs from running alone by {d} (prefill)");
		next.push(row.argmax(0).expect("argmax").to_scalar::<u32>().expect("id"));
	}
	// Step 2: one decode token per sequence, batched against alone.
	let decode: Vec<[u32; 1]> = next.iter().map(|&t| [t]).collect();
	let mut seqs: Vec<SeqInput<'_>> = cases
		.iter()
		.zip(batch_caches.iter_mut())
		.zip(&decode)
		.map(|(((a, _, _), cache), t)| SeqInput { tokens: t, cache, adapter: *a })
		.collect();
	let batched = m.forward_batch(&mut seqs).expect("decode step");
	drop(seqs);
	for (i, (((a, _, _), cache), t)) in
		cases.iter().zip(alone_caches.iter_mut()).zip(&decode).enumerate()
	{
		let mut one = [SeqInput { tokens: t, cache, adapter: *a }];
		let row = m.forward_batch(&mut one).expect("alone").get(0).expect("row");
		let d = max_diff(&row, &batched.get(i).expect("row"));
		assert!(d < 1e-4, "row {i} differs from running alone by {d} (decode)");
	}
	for (c, (_, p, t)) in batch_caches.iter().zip(&cases) {
		assert_eq!(c.len(), p.len() + t.len() + 1);
	}
}

#[test]
fn chunked_prefill_equals_whole_prefill() {
	let m = model();
	let a = adapter(1);
	let tokens = prompt(11, 12);
	let whole = alone(&m, &tokens, Some(&*a));
	let mut cache = m.new_cache();
	let mut last = None;
	for chunk in tokens.chunks(5) {
		let out = m.forward_batch(&mut [SeqInput {
			tokens: chunk,
			cache: &mut cache,
			adapter: Some(&*a),
		}]);
		last = Some(out.expect("chunk").get(0).expect("row"));
	}
	assert!(max_diff(&whole, &last.expect("ran")) < 1e-4);
}

fn engine(config: EngineConfig) -> EngineHandle {
	Engine::start(model(), config)
}

fn request(
	id: &str,
	prompt: Vec<u32>,
	adapter: Option<Arc<LoraAdapter>>,
	sampling: SamplingParams,
	max_tokens: usize,
) -> GenerateRequest {
	GenerateRequest {
		id: id.into(),
		prompt,
		adapter,
		sampling,
		max_tokens,
		submitted_at: Instant::now(),
	}
}

/// How a request ended: `(reason, prompt tokens, completion tokens)`, or the failure message.
type End = Result<(FinishReason, usize, usize), String>;

/// All tokens of a request and how it finished.
fn collect(mut rx: tokio::sync::mpsc::UnboundedReceiver<GenerateEvent>) -> (Vec<u32>, End) {
	let mut tokens = Vec::new();
	while let Some(ev) = rx.blocking_recv() {
		match ev {
			GenerateEvent::Token { id } => tokens.push(id),
			GenerateEvent::Finished { reason, prompt_tokens, completion_tokens, .. } => {
				return (tokens, Ok((reason, prompt_tokens, completion_tokens)))
			},
			GenerateEvent::Failed { message } => return (tokens, Err(message)),
		}
	}
	(tokens, Err("channel closed without an end event".into()))
}

fn run_alone(req: GenerateRequest) -> Vec<u32> {
	let e = engine(EngineConfig::default());
	let (tokens, end) = collect(e.submit(req).expect("submit"));
	end.expect("finished");
	tokens
}

#[test]
fn greedy_is_deterministic_and_seeded_sampling_reproducible() {
	let e = engine(EngineConfig::default());
	let p = prompt(12, 6);
	let greedy = || {
		collect(
			e.submit(request("g", p.clone(), None, SamplingParams::greedy(), 12)).expect("submit"),
		)
	};
	let (g1, end) = greedy();
	assert_eq!(end.expect("finished"), (FinishReason::Length, 6, 12));
	assert_eq!(g1.len(), 12);
	assert_eq!(greedy().0, g1);
	let sampled = |seed| {
		let s = SamplingParams {
			temperature: 1.0,
			top_p: Some(0.9),
			top_k: Some(50),
			seed,
			ignore_eos: false,
		};
		collect(e.submit(request("s", p.clone(), Some(adapter(0)), s, 16)).expect("submit")).0
	};
	let s1 = sampled(5);
	assert_eq!(s1, sampled(5), "the same seed samples the same tokens");
	assert_ne!(s1, sampled(6), "another seed samples other tokens");
}

#[test]
fn request_joining_mid_decode_gets_the_same_tokens() {
	let p_a = prompt(20, 5);
	let p_b = prompt(21, 9);
	let p_c = prompt(22, 3);
	let ad = adapter(1);
	let solo_a = run_alone(request("a", p_a.clone(), None, SamplingParams::greedy(), 40));
	let solo_b =
		run_alone(request("b", p_b.clone(), Some(ad.clone()), SamplingParams::greedy(), 10));
	let sampling_c =
		SamplingParams { temperature: 0.8, top_p: None, top_k: None, seed: 9, ignore_eos: false };
	let solo_c = run_alone(request("c", p_c.clone(), Some(adapter(2)), sampling_c.clone(), 10));

	let e = engine(EngineConfig { prefill_chunk: 4, ..EngineConfig::default() });
	let mut rx_a =
		e.submit(request("a", p_a, None, SamplingParams::greedy(), 40)).expect("submit a");
	let mut got_a = Vec::new();
	// Wait until A is decoding, then let B and C join.
	while got_a.len() < 5 {
		match rx_a.blocking_recv() {
			Some(GenerateEvent::Token { id }) => got_a.push(id),
			other => panic!("unexpected event {other:?}"),
		}
	}
	let rx_b =
		e.submit(request("b", p_b, Some(ad), SamplingParams::greedy(), 10)).expect("submit b");
	let rx_c = e.submit(request("c", p_c, Some(adapter(2)), sampling_c, 10)).expect("submit c");
	let (b, end_b) = collect(rx_b);
	let (c, end_c) = collect(rx_c);
	let (rest_a, end_a) = collect(rx_a);
	got_a.extend(rest_a);
	assert!(end_a.is_ok() && end_b.is_ok() && end_c.is_ok());
	assert_eq!(b, solo_b, "B joined mid-decode and must match B alone");
	assert_eq!(c, solo_c, "C (sampled) joined mid-decode and must match C alone");
	assert_eq!(got_a, solo_a, "A must not change when others join");
	assert!(e.stats().steps > 0);
	assert_eq!(e.stats().tokens_generated, 60);
}

#[test]
fn queue_full_is_refused() {
	let e = engine(EngineConfig { max_batch: 1, max_queue: 2, ..EngineConfig::default() });
	let mut receivers = Vec::new();
	let mut refused = None;
	for i in 0..10 {
		match e.submit(request(&format!("q{i}"), prompt(i, 4), None, SamplingParams::greedy(), 200))
		{
			Ok(rx) => receivers.push(rx),
			Err(err) => {
				refused = Some((i, err));
				break;
			},
		}
	}
	let (i, err) = refused.expect("the queue must fill up");
	assert_eq!(err, SubmitError::QueueFull);
	assert!(
		(2..=3).contains(&i),
		"refused after {i} accepted requests; expected 2 queued + at most 1 running"
	);
	// At most `max_batch + max_queue` requests are waiting or running.
	let stats = e.stats();
	assert!(stats.queued + stats.running <= 3, "{stats:?}");
}

#[test]
fn bad_submissions_are_refused() {
	let e = engine(EngineConfig { max_seq_len: 16, ..EngineConfig::default() });
	let err = e.submit(request("e", vec![], None, SamplingParams::greedy(), 4)).expect_err("empty");
	assert_eq!(err, SubmitError::EmptyPrompt);
	let err =
		e.submit(request("l", prompt(1, 16), None, SamplingParams::greedy(), 4)).expect_err("long");
	assert_eq!(err, SubmitError::PromptTooLong { len: 16, max: 15 });
	// A prompt that fits but leaves little room finishes by length at max_seq_len.
	let (tokens, end) = collect(
		e.submit(request("f", prompt(1, 13), None, SamplingParams::greedy(), 50)).expect("fits"),
	);
	assert_eq!(tokens.len(), 3);
	assert_eq!(end.expect("finished").0, FinishReason::Length);
}

#[test]
fn a_bad_request_fails_alone() {
	let e = engine(EngineConfig::default());
	let good =
		e.submit(request("ok", prompt(3, 4), None, SamplingParams::greedy(), 8)).expect("submit");
	let bad = e
		.submit(request("bad", vec![5, 100_000], None, SamplingParams::greedy(), 8))
		.expect("submit");
	let (_, end) = collect(bad);
	assert!(end.expect_err("must fail").contains("vocabulary"));
	let (tokens, end) = collect(good);
	assert!(end.is_ok());
	assert_eq!(tokens.len(), 8);
}

#[test]
fn dropping_the_receiver_cancels() {
	let e = engine(EngineConfig::default());
	let mut rx =
		e.submit(request("c", prompt(4, 4), None, SamplingParams::greedy(), 400)).expect("submit");
	for _ in 0..3 {
		assert!(matches!(rx.blocking_recv(), Some(GenerateEvent::Token { .. })));
	}
	assert_eq!(e.stats().running, 1);
	drop(rx);
	let deadline = Instant::now() + Duration::from_secs(10);
	loop {
		let s = e.stats();
		if s.running == 0 && s.queued == 0 {
			break;
		}
		assert!(Instant::now() < deadline, "cancelled request still running");
		std::thread::sleep(Duration::from_millis(5));
	}
	assert!(e.stats().tokens_generated < 400);
}

#[test]
fn eos_stops_generation() {
	let p = prompt(30, 5);
	let first = run_alone(request("x", p.clone(), None, SamplingParams::greedy(), 1))[0];
	// The same model with its end token set to the token it produces first.
	let dir_guard = temp_dir("eos");
	let dir = dir_guard.path().to_path_buf();
	for f in ["model.safetensors", "tokenizer.json"] {
		std::fs::copy(fixture().model_dir.join(f), dir.join(f)).expect("copy");
	}
	let mut config: serde_json::Value = serde_json::from_slice(
		&std::fs::read(fixture().model_dir.join("config.json")).expect("read"),
	)
	.expect("json");
	config["eos_token_id"] = serde_json::json!([2, first]);
	std::fs::write(dir.join("config.json"), config.to_string()).expect("write");
	let m = Arc::new(Model::load_hf(&dir, &Device::Cpu, DType::F32).expect("load"));
	let e = Engine::start(m, EngineConfig::default());
	let (tokens, end) =
		collect(e.submit(request("x", p, None, SamplingParams::greedy(), 10)).expect("submit"));
	assert!(tokens.is_empty());
	assert_eq!(end.expect("finished"), (FinishReason::Stop, 5, 0));
	let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn scales_follow_rslora_and_patterns() {
	let layers = model().config.num_hidden_layers;
	// adapter-0: r 8, plain: 16 / 8.
	let a0 = adapter(0);
	assert_eq!(a0.rank, 8);
	assert_eq!(a0.targets, vec![Proj::Q, Proj::K, Proj::V, Proj::O]);
	assert_eq!(a0.module(0, Proj::Q).expect("q").scale, LORA_ALPHA / 8.0);
	assert!(a0.module(0, Proj::Gate).is_none());
	// adapter-1: r 16, rsLoRA: 16 / √16.
	let a1 = adapter(1);
	assert_eq!(a1.module(1, Proj::V).expect("v").scale, LORA_ALPHA / 4.0);
	// adapter-2: r 8 with rank_pattern q_proj → 16 and alpha_pattern on the last layer's v_proj.
	let a2 = adapter(2);
	assert_eq!(a2.rank, 16);
	let q = a2.module(0, Proj::Q).expect("q");
	assert_eq!((q.rank, q.scale), (16, LORA_ALPHA / 16.0));
	let k = a2.module(0, Proj::K).expect("k");
	assert_eq!((k.rank, k.scale), (8, LORA_ALPHA / 8.0));
	let v_last = a2.module(layers - 1, Proj::V).expect("v");
	assert_eq!((v_last.alpha, v_last.scale), (4.0 * LORA_ALPHA, 4.0 * LORA_ALPHA / 8.0));
	let v0 = a2.module(0, Proj::V).expect("v0");
	assert_eq!(v0.alpha, LORA_ALPHA);
	// adapter-3: r 16, plain.
	assert_eq!(adapter(3).module(0, Proj::O).expect("o").scale, 1.0);
}

#[test]
fn adapter_bytes_and_device_copy() {
	let a = adapter(0);
	let c = model().config.clone();
	// Every A ([8, in]) and B ([out, 8]) of q, k, v, o once, per layer, in f32.
	let (h, q, kv) = (c.hidden_size, c.proj_dims(Proj::Q).1, c.proj_dims(Proj::K).1);
	let per_layer = 8 * (3 * h + q) + 8 * (q + 2 * kv + h);
	assert_eq!(a.weight_bytes(), c.num_hidden_layers * per_layer * 4);
	let half = a.to_device(&Device::Cpu, DType::F16).expect("to f16");
	assert_eq!(half.weight_bytes() * 2, a.weight_bytes());
	assert_eq!(half.dtype(), Some(DType::F16));
}

#[test]
fn pattern_keys_match_dotted_suffixes() {
	use lineage_engine::peft::pattern_matches;
	let path = "model.layers.3.self_attn.q_proj";
	for key in [
		"q_proj",
		"self_attn.q_proj",
		"layers.3.self_attn.q_proj",
		path,
		"base_model.model.model.layers.3.self_attn.q_proj",
	] {
		assert!(pattern_matches(key, path), "{key}");
	}
	for key in ["proj", "_proj", "k_proj", "layers.13.self_attn.q_proj", "3.self_attn.q"] {
		assert!(!pattern_matches(key, path), "{key}");
	}
}

/// A copy of adapter-0's files in a fresh directory, for breaking.
fn adapter_copy(name: &str) -> TempDir {
	let dir = temp_dir(&format!("peft-{name}"));
	for f in ["adapter_config.json", "adapter_model.safetensors"] {
		std::fs::copy(fixture().adapters[0].dir.join(f), dir.path().join(f)).expect("copy");
	}
	dir
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
	let path = dir.join("adapter_config.json");
	let mut v: serde_json::Value =
		serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
	f(&mut v);
	std::fs::write(path, v.to_string()).expect("write");
}

fn edit_tensors(dir: &Path, f: impl FnOnce(&mut std::collections::HashMap<String, Tensor>)) {
	let path = dir.join("adapter_model.safetensors");
	let mut t = candle_core::safetensors::load(&path, &Device::Cpu).expect("load");
	f(&mut t);
	candle_core::safetensors::save(&t, &path).expect("save");
}

fn load(dir: &Path) -> Result<LoraAdapter, AdapterError> {
	let m = model();
	load_peft(dir, &opts(&m))
}

const KEY: &str = "base_model.model.model.layers.0.self_attn.q_proj";

#[test]
fn peft_rejects_what_it_cannot_serve() {
	let m = model();
	let check = |name: &str,
	             kind: AdapterErrorKind,
	             prep: &dyn Fn(&Path),
	             is: &dyn Fn(&AdapterError) -> bool| {
		let dir_guard = adapter_copy(name);
		let dir = dir_guard.path().to_path_buf();
		prep(&dir);
		let err = load(&dir).expect_err(name);
		assert!(is(&err), "{name}: unexpected error {err:?}");
		assert_eq!(err.kind(), kind, "{name}: {err}");
		assert!(!err.to_string().is_empty());
		let _ = std::fs::remove_dir_all(dir);
	};
	use AdapterError as E;
	use AdapterErrorKind as K;
	check("dora", K::Unsupported, &|d| edit_config(d, |c| c["use_dora"] = true.into()), &|e| {
		matches!(e, E::Dora)
	});
	check(
		"dora-tensor",
		K::Unsupported,
		&|d| {
			edit_tensors(d, |t| {
				t.insert(
					format!("{KEY}.lora_magnitude_vector"),
					Tensor::ones(64, DType::F32, &Device::Cpu).expect("t"),
				);
			})
		},
		&|e| matches!(e, E::Dora),
	);
	check(
		"modules-to-save",
		K::Unsupported,
		&|d| edit_config(d, |c| c["modules_to_save"] = serde_json::json!(["lm_head"])),
		&|e| matches!(e, E::ModulesToSave(_)),
	);
	check(
		"embedding-target",
		K::Unsupported,
		&|d| {
			edit_config(d, |c| c["target_modules"] = serde_json::json!(["q_proj", "embed_tokens"]))
		},
		&|e| matches!(e, E::EmbeddingLora(_)),
	);
	check(
		"embedding-tensor",
		K::Unsupported,
		&|d| {
			edit_tensors(d, |t| {
				t.insert(
					"base_model.model.model.embed_tokens.lora_embedding_A".into(),
					Tensor::ones((8, 512), DType::F32, &Device::Cpu).expect("t"),
				);
			})
		},
		&|e| matches!(e, E::EmbeddingLora(_)),
	);
	check("bias", K::Unsupported, &|d| edit_config(d, |c| c["bias"] = "lora_only".into()), &|e| {
		matches!(e, E::Bias(_))
	});
	check(
		"fan-in-fan-out",
		K::Unsupported,
		&|d| edit_config(d, |c| c["fan_in_fan_out"] = true.into()),
		&|e| matches!(e, E::FanInFanOut),
	);
	check(
		"not-lora",
		K::Unsupported,
		&|d| edit_config(d, |c| c["peft_type"] = "IA3".into()),
		&|e| matches!(e, E::NotLora(_)),
	);
	check(
		"regex-pattern",
		K::Unsupported,
		&|d| {
			edit_config(d, |c| {
				c["rank_pattern"] = serde_json::json!({"layers\\.[0-9]+\\.q_proj": 4})
			})
		},
		&|e| matches!(e, E::UnsupportedPattern { .. }),
	);
	check(
		"other-base",
		K::Incompatible,
		&|d| edit_config(d, |c| c["base_model_name_or_path"] = "meta-llama/Llama-3.2-1B".into()),
		&|e| matches!(e, E::BaseMismatch { .. }),
	);
	check(
		"no-base",
		K::Incompatible,
		&|d| edit_config(d, |c| c["base_model_name_or_path"] = serde_json::Value::Null),
		&|e| matches!(e, E::BaseMismatch { found: None, .. }),
	);
	check(
		"rank-config-mismatch",
		K::Incompatible,
		&|d| edit_config(d, |c| c["r"] = 4.into()),
		&|e| matches!(e, E::ShapeMismatch { .. }),
	);
	check(
		"shape",
		K::Incompatible,
		&|d| {
			edit_tensors(d, |t| {
				t.insert(
					format!("{KEY}.lora_A.weight"),
					Tensor::ones((8, 63), DType::F32, &Device::Cpu).expect("t"),
				);
			})
		},
		&|e| matches!(e, E::ShapeMismatch { .. }),
	);
	check(
		"layer",
		K::Incompatible,
		&|d| {
			edit_tensors(d, |t| {
				let a = t[&format!("{KEY}.lora_A.weight")].clone();
				let b = t[&format!("{KEY}.lora_B.weight")].clone();
				t.insert(
					"base_model.model.model.layers.99.self_attn.q_proj.lora_A.weight".into(),
					a,
				);
				t.insert(
					"base_model.model.model.layers.99.self_attn.q_proj.lora_B.weight".into(),
					b,
				);
			})
		},
		&|e| matches!(e, E::LayerOutOfRange { layer: 99, .. }),
	);
	check(
		"missing-b",
		K::InvalidFiles,
		&|d| {
			edit_tensors(d, |t| {
				t.remove(&format!("{KEY}.lora_B.weight"));
			})
		},
		&|e| matches!(e, E::MissingHalf { missing: "lora_B", .. }),
	);
	check(
		"missing-a",
		K::InvalidFiles,
		&|d| {
			edit_tensors(d, |t| {
				t.remove(&format!("{KEY}.lora_A.weight"));
			})
		},
		&|e| matches!(e, E::MissingHalf { missing: "lora_A", .. }),
	);
	check(
		"stray-tensor",
		K::InvalidFiles,
		&|d| {
			edit_tensors(d, |t| {
				t.insert(
					"base_model.model.model.layers.0.self_attn.rotary.weight".into(),
					Tensor::ones(4, DType::F32, &Device::Cpu).expect("t"),
				);
			})
		},
		&|e| matches!(e, E::UnexpectedTensor(_)),
	);
	check(
		"lora-bias",
		K::Unsupported,
		&|d| {
			edit_tensors(d, |t| {
				t.insert(
					format!("{KEY}.lora_B.bias"),
					Tensor::ones(64, DType::F32, &Device::Cpu).expect("t"),
				);
			})
		},
		&|e| matches!(e, E::Bias(_)),
	);
	check("empty", K::InvalidFiles, &|d| edit_tensors(d, |t| t.clear()), &|e| {
		matches!(e, E::Empty)
	});
	check(
		"bad-json",
		K::InvalidFiles,
		&|d| std::fs::write(d.join("adapter_config.json"), b"{ not json").expect("w"),
		&|e| matches!(e, E::InvalidConfig(_)),
	);
	check(
		"truncated",
		K::InvalidFiles,
		&|d| {
			let p = d.join("adapter_model.safetensors");
			let bytes = std::fs::read(&p).expect("read");
			std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("write");
		},
		&|e| matches!(e, E::InvalidSafetensors(_)),
	);
	check(
		"garbage",
		K::InvalidFiles,
		&|d| {
			std::fs::write(d.join("adapter_model.safetensors"), b"\x08\0\0\0\0\0\0\0garbage!")
				.expect("w")
		},
		&|e| matches!(e, E::InvalidSafetensors(_)),
	);
	check(
		"missing-file",
		K::InvalidFiles,
		&|d| std::fs::remove_file(d.join("adapter_model.safetensors")).expect("rm"),
		&|e| matches!(e, E::MissingFile(_)),
	);

	let none_guard = temp_dir("peft-none");
	let none = none_guard.path().to_path_buf();
	let missing = load(&none.join("nope")).expect_err("no dir");
	let _ = std::fs::remove_dir_all(none);
	assert_eq!(missing.kind(), AdapterErrorKind::NotFound);
	assert_eq!(missing.kind().http_status(), 404);

	// Over the operator's rank limit.
	let limited = LoadOptions { limits: AdapterLimits { max_rank: 4 }, ..opts(&m) };
	let err = load_peft(&fixture().adapters[0].dir, &limited).expect_err("rank");
	assert!(matches!(err, E::RankTooLarge { rank: 8, max: 4, .. }), "{err:?}");
	assert_eq!(err.kind().http_status(), 422);
	// Without a base check the foreign base loads.
	let dir_guard = adapter_copy("no-check");
	let dir = dir_guard.path().to_path_buf();
	edit_config(&dir, |c| c["base_model_name_or_path"] = "someone/else".into());
	assert!(load_peft(&dir, &LoadOptions { expected_base: None, ..opts(&m) }).is_ok());
	let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn peft_accepts_key_variants() {
	let m = model();
	let tokens = prompt(40, 6);
	let reference = alone(&m, &tokens, Some(&*adapter(0)));
	type Rename = fn(&str) -> String;
	let variants: [(&str, Rename); 2] = [
		("no-prefix", |k| k.trim_start_matches("base_model.model.").to_string()),
		("default-infix", |k| k.replace(".weight", ".default.weight")),
	];
	for (name, rename) in variants {
		let dir_guard = adapter_copy(name);
		let dir = dir_guard.path().to_path_buf();
		edit_tensors(&dir, |t| {
			let old = std::mem::take(t);
			*t = old.into_iter().map(|(k, v)| (rename(&k), v)).collect();
		});
		edit_config(&dir, |c| c["base_model_name_or_path"] = "SomeOrg/lineage-tiny-llama".into());
		let a = load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
		assert!(max_diff(&alone(&m, &tokens, Some(&a)), &reference) < 1e-6, "{name}");
		let _ = std::fs::remove_dir_all(dir);
	}
}
