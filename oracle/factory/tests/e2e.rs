//! ModelFactory end to end, on a real `polkadot-omni-node` running the Lineage runtime (the dev
//! chain spec of `scripts/chain-spec`), the real record store and SmolLM2-135M-Instruct (from
//! `scripts/setup`):
//!
//! - a WordNet datanet with two frozen versions is read through the store, every byte verified;
//! - a short run trains an adapter on the real model, and it beats the base on its held-out set;
//! - `register` puts it on chain with the lineage the run measured and posts its evaluation,
//!   read back through `LineageApi`; posting again is refused;
//! - a store that serves one record with other bytes stops the run, naming the record;
//! - `verify` re-checks the manifest against the chain, the store and a fresh evaluation;
//! - the oracle's attribution reads the registered adapter's training versions from the chain
//!   and their records from the store, and credits an answer that repeats a record to that
//!   record and its contributor.

use std::{
	sync::Arc,
	time::{Duration, Instant},
};

use axum::{extract::Path as UrlPath, extract::State, routing::get, Router};
use lineage_chain::{
	lineage::{self, runtime_types::bounded_collections::bounded_vec::BoundedVec},
	submit_and_finalize,
};
use lineage_client::datanet_demo::{run_datanet_demo, DatanetDemoConfig};
use lineage_factory::{
	progress::Progress,
	register::{chain_evaluation, register, RegisterArgs},
	run::{load_base, train_run, verify_run, TrainRequest, ADAPTER_DIR},
	source::fetch_versions,
	TrainConfig,
};
use lineage_oracle::{
	chain::{
		link::ChainLink,
		registry::{load_adapters, Registry},
		trace::ChainVersions,
	},
	infer::lineage::{Lineage, TraceConfig, Tracer},
};
use lineage_store::{chain::ChainView, client::StoreClient, ServeArgs};
use lineage_testkit::{
	node::{free_port, DevNode},
	smollm2_gguf, temp_dir,
};
use lineage_trace::AttributionParams;
use subxt::utils::H256;
use subxt_signer::sr25519::dev;

/// Starts the record store in this process on a free port; returns its URL once it answers.
async fn start_store(chain_url: &str, db: std::path::PathBuf) -> String {
	let port = free_port();
	let args = ServeArgs {
		chain_url: chain_url.to_string(),
		db,
		host: "127.0.0.1".into(),
		port,
		window_secs: 600,
		sweep_ms: 200,
		tokenizer: Some(smollm2_gguf()),
	};
	tokio::spawn(async move {
		if let Err(e) = lineage_store::serve(args).await {
			panic!("the record store stopped: {e:#}");
		}
	});
	let url = format!("http://127.0.0.1:{port}");
	let started = Instant::now();
	while reqwest::get(format!("{url}/health")).await.is_err() {
		assert!(started.elapsed() < Duration::from_secs(60), "the record store did not start");
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
	url
}

/// A store in front of `upstream` that serves the record `victim` (a CID) with other bytes.
async fn lying_store(upstream: String, victim: String) -> String {
	async fn serve(
		State((upstream, victim)): State<(String, String)>,
		UrlPath(cid): UrlPath<String>,
	) -> Vec<u8> {
		if cid == victim {
			return b"{\"prompt\":\"forged\",\"completion\":\"forged\"}\n".to_vec();
		}
		reqwest::get(format!("{upstream}/ipfs/{cid}"))
			.await
			.unwrap()
			.bytes()
			.await
			.unwrap()
			.to_vec()
	}
	let app = Router::new().route("/ipfs/{cid}", get(serve)).with_state((upstream, victim));
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
	let url = format!("http://{}", listener.local_addr().unwrap());
	tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
	url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_trained_from_a_datanet_is_registered_with_its_measured_lineage() {
	let gguf = smollm2_gguf();
	let (node, client) = DevNode::start().await;
	let dir = temp_dir("factory-e2e");
	let store = start_store(&node.url, dir.path().join("store.redb")).await;
	let report = run_datanet_demo(
		&client,
		&DatanetDemoConfig {
			store: store.clone(),
			corpus: lineage_client::corpus::WORDNET_DIR.into(),
			records: 160,
		},
	)
	.await
	.expect("the datanet demo fills two versions");
	let datanet = report.datanet;
	let chain = ChainView::new(client.clone());
	let reader = StoreClient::new(&store);
	let versions = fetch_versions(&reader, &chain, &[(datanet, 1), (datanet, 2)])
		.await
		.expect("both versions verify");
	assert_eq!(versions.iter().map(|v| v.records.len()).sum::<usize>(), 160);

	// A store that lies about one record stops the run before any training, naming it.
	let victim = versions[1].records[5].clone();
	let cid = lineage_store::cid::record_cid_string(&victim.at.content_hash);
	let liar = lying_store(store.clone(), cid.clone()).await;
	let err = fetch_versions(&StoreClient::new(&liar), &chain, &[(datanet, 1), (datanet, 2)])
		.await
		.expect_err("forged bytes are refused");
	let text = err.to_string();
	assert!(
		text.contains("v2")
			&& text.contains("record 5")
			&& text.contains(&cid)
			&& text.contains(&format!("contribution {}", victim.at.contribution)),
		"the refusal names the record: {text}"
	);

	// Train: the top 2 layers, q and v, a few steps (a budget CI affords).
	let (model, base) = tokio::task::spawn_blocking(move || load_base(&gguf))
		.await
		.unwrap()
		.expect("SmolLM2 loads");
	let cfg = TrainConfig {
		targets: vec!["q_proj".into(), "v_proj".into()],
		rank: 4,
		top_layers: Some(2),
		learning_rate: 2e-3,
		warmup_steps: 1,
		micro_batch: 4,
		grad_accum: 1,
		max_steps: Some(8),
		heldout_permille: 60,
		exact_match_limit: 2,
		..Default::default()
	};
	let runs = dir.path().join("runs");
	let (model, outcome) = {
		let (cfg, versions, runs, base) =
			(cfg.clone(), versions.clone(), runs.clone(), base.clone());
		tokio::task::spawn_blocking(move || {
			let out = train_run(TrainRequest {
				model: &model,
				base,
				versions,
				parent: None,
				config: cfg,
				runs_dir: runs,
				resume: true,
				force: false,
				progress: Progress::Quiet,
			});
			(model, out)
		})
		.await
		.unwrap()
	};
	let outcome = outcome.expect("the run finishes");
	let m = outcome.manifest.clone();
	assert_eq!(m.run.steps, 8);
	assert!(
		m.evaluation.adapter_beats_base,
		"held-out loss: adapter {} vs base {}",
		m.evaluation.adapter.loss, m.evaluation.base.loss
	);
	assert_eq!(m.datanets.iter().map(|d| d.records).sum::<u32>(), 160);

	// Register the base model (Charlie), then the adapter (Dave) with the measured lineage.
	let base_hash = {
		let mut h = [0u8; 32];
		hex::decode_to_slice(m.base_model.artifact_hash.trim_start_matches("0x"), &mut h).unwrap();
		H256(h)
	};
	let bytes = |s: &str| BoundedVec(s.as_bytes().to_vec());
	submit_and_finalize(
		&client,
		&lineage::tx().models().register_model(
			base_hash,
			bytes("llama"),
			bytes("Apache-2.0"),
			bytes("file://smollm2"),
		),
		&dev::charlie(),
	)
	.await
	.expect("register_model");
	let adapter_dir = outcome.dir.join(ADAPTER_DIR);
	let args = RegisterArgs {
		manifest: &m,
		manifest_hash: outcome.manifest_hash,
		adapter_dir: &adapter_dir,
		price: (1_000, 2_000),
		license: "Apache-2.0",
		uri: "file://adapter",
	};
	let done = register(&client, &dev::dave(), &args).await.expect("register");
	let weights = m.lineage_weights().unwrap();
	assert_eq!(done.training, weights.iter().map(|&((d, v), w)| (d, v, w)).collect::<Vec<_>>());

	let at = client.at_current_block().await.unwrap();
	let lineage_read = at
		.runtime_apis()
		.call(lineage::runtime_apis().lineage_api().adapter_lineage(done.adapter))
		.await
		.expect("LineageApi_adapter_lineage")
		.expect("the adapter is registered");
	let on_chain: Vec<(u32, u32, u32)> = lineage_read.ancestors[0]
		.training
		.iter()
		.map(|(r, w)| (r.datanet, r.version, w.0))
		.collect();
	assert_eq!(on_chain, done.training, "the chain holds the measured weights");
	let total: u64 = m.datanets.iter().map(|d| d.tokens_consumed).sum();
	for (d, v, w) in &on_chain {
		let t =
			m.datanets.iter().find(|x| (x.datanet, x.version) == (*d, *v)).unwrap().tokens_consumed;
		assert!((f64::from(*w) / 1e9 - t as f64 / total as f64).abs() < 1e-8);
	}
	let posted = lineage_chain::evaluation::adapter_evaluation(&client, done.adapter)
		.await
		.expect("LineageApi_adapter_evaluation")
		.expect("the evaluation is posted");
	assert_eq!(
		format!("{posted:?}"),
		format!("{:?}", chain_evaluation(&m, outcome.manifest_hash).unwrap())
	);
	assert!(posted.adapter_loss < posted.base_loss);

	// Attribution in chain mode: the adapter's versions from the chain, their records from the
	// store, every byte checked; an answer that repeats a record credits its contributor.
	let (adapters, block) = load_adapters(&client).await.expect("the registry loads");
	let registry = Arc::new(Registry::new());
	registry.replace(adapters, block);
	let tracer = Arc::new(
		Tracer::new(
			&TraceConfig {
				cache_dir: dir.path().join("spans"),
				params: AttributionParams::default(),
			},
			Arc::new(model.tokenizer.clone()),
		)
		.expect("the span cache opens"),
	);
	let link = Arc::new(ChainLink::default());
	link.set(Some(client.clone()));
	tracer.set_source(Arc::new(ChainVersions::new(link, registry, &store)));
	let artifact = {
		let mut h = [0u8; 32];
		hex::decode_to_slice(m.adapter.artifact_hash.trim_start_matches("0x"), &mut h).unwrap();
		lineage_primitives::Hash::from(h)
	};
	let indexes = tracer.wait_ready(artifact, Duration::from_secs(120)).await.expect("indexed");
	assert_eq!(
		indexes.versions.iter().map(|(v, _)| (v.datanet, v.version)).collect::<Vec<_>>(),
		vec![(datanet, 1), (datanet, 2)]
	);
	// A record whose answer is long and said by no other record.
	let completion = |bytes: &[u8]| -> String {
		let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
		v["completion"].as_str().unwrap().to_string()
	};
	let all: Vec<_> = versions.iter().flat_map(|v| v.records.iter()).collect();
	let (record, answer) = all
		.iter()
		.map(|r| (r, completion(&r.bytes)))
		.find(|(r, text)| {
			text.split_whitespace().count() >= 6
				&& all.iter().all(|o| o.at == r.at || !completion(&o.bytes).contains(text.as_str()))
		})
		.expect("a record with a long answer of its own");
	let Lineage::Attributed(traced) = tracer.attribute(&indexes, &[], &answer) else {
		panic!("attributed")
	};
	assert_eq!(traced.records[0].record.contribution, record.at.contribution, "{traced:?}");
	let contributor = chain
		.contribution(datanet, record.at.contribution)
		.await
		.unwrap()
		.expect("on chain")
		.contributor;
	assert_eq!(traced.contributors[0].contributor, contributor);
	assert_eq!(
		traced.credited_tokens, traced.completion_tokens,
		"the whole answer is the record's"
	);

	// An evaluation is posted once.
	let again = lineage_chain::evaluation::post_evaluation(
		&client,
		&dev::dave(),
		done.adapter,
		chain_evaluation(&m, outcome.manifest_hash).unwrap(),
	)
	.await;
	assert!(again.is_err_and(|e| e.to_string().contains("AlreadyEvaluated")));

	// Anyone re-checks the manifest: hashes, versions, a fresh evaluation.
	let checks = tokio::task::spawn_blocking(move || {
		verify_run(&m, &model, &base, &adapter_dir, versions, None)
	})
	.await
	.unwrap()
	.expect("verify runs");
	for c in &checks {
		assert!(c.ok, "{}: {}", c.what, c.detail);
	}
	drop(node);
}
