//! Per-answer attribution through the HTTP API, in process: the tiny fixture model and its
//! adapters served with a tracer whose training versions hold records written from the
//! adapter's own answers, spoken to with reqwest as a client would.

use std::{
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc, Mutex,
	},
	time::Duration,
};

use futures::{future::BoxFuture, StreamExt};
use lineage_engine::EngineConfig;
use lineage_oracle::{
	api::{build_state, serve_with, ServerConfig},
	infer::{
		lineage::{CreditedPart, TraceConfig, VersionRecord, VersionRef, VersionSource},
		usage::{FinishedRequest, SinkError, UsageSink},
		Infer,
	},
};
use lineage_primitives::Hash;
use lineage_testkit::{fixture, temp_dir, TempDir};
use lineage_trace::{AttributionParams, RecordMeta};
use serde_json::{json, Value};

#[derive(Default)]
struct Sink(Mutex<Vec<FinishedRequest>>);

impl UsageSink for Sink {
	fn record(&self, rec: &FinishedRequest) -> Result<(), SinkError> {
		self.0.lock().expect("lock").push(rec.clone());
		Ok(())
	}
}

/// Training versions held in memory: adapter hash → versions, version root → records. Counts
/// how often records are read (an index on disk is not rebuilt).
#[derive(Default)]
struct Versions {
	training: Mutex<Vec<(Hash, Vec<VersionRef>)>>,
	records: Mutex<Vec<(VersionRef, Vec<VersionRecord>)>>,
	reads: AtomicUsize,
}

impl VersionSource for Versions {
	fn training(&self, adapter: Hash) -> BoxFuture<'_, Result<Vec<VersionRef>, String>> {
		let found = self.training.lock().expect("lock").iter().find(|t| t.0 == adapter).cloned();
		Box::pin(async move { found.map(|f| f.1).ok_or_else(|| "not registered".to_string()) })
	}

	fn records(&self, v: VersionRef) -> BoxFuture<'_, Result<Vec<VersionRecord>, String>> {
		self.reads.fetch_add(1, Ordering::SeqCst);
		let found = self.records.lock().expect("lock").iter().find(|r| r.0 == v).cloned();
		Box::pin(async move { found.map(|f| f.1).ok_or_else(|| "no such version".to_string()) })
	}
}

fn record(contribution: u32, who: u8, prompt: &str, completion: &str) -> VersionRecord {
	VersionRecord {
		meta: RecordMeta {
			datanet: 0,
			version: 1,
			index: contribution,
			contribution,
			content_hash: [contribution as u8; 32],
			contributor: [who; 32],
		},
		bytes: serde_json::to_vec(&json!({"prompt": prompt, "completion": completion})).unwrap(),
	}
}

struct Server {
	base: String,
	client: reqwest::Client,
	infer: Infer,
	sink: Arc<Sink>,
	_store: TempDir,
}

async fn start(trace: Option<TraceConfig>) -> Server {
	let m = fixture();
	let store = temp_dir("lineage-store");
	let mut config = ServerConfig::new(&m.model_dir, store.path());
	config.engine =
		EngineConfig { max_batch: 8, max_queue: 16, max_seq_len: 128, prefill_chunk: 64 };
	config.preload = vec![m.adapters[0].dir.clone(), m.adapters[1].dir.clone()];
	config.trace = trace;
	let sink = Arc::new(Sink::default());
	let state = build_state(&config, sink.clone()).await.expect("server state");
	let infer = state.infer().clone();
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
	let addr = listener.local_addr().expect("addr");
	tokio::spawn(serve_with(listener, state));
	let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
	Server { base: format!("http://{addr}"), client, infer, sink, _store: store }
}

impl Server {
	async fn complete(&self, model: &str, prompt: &str) -> Value {
		let resp = self
			.client
			.post(format!("{}/v1/completions", self.base))
			.json(&json!({"model": model, "prompt": prompt, "max_tokens": 24, "temperature": 0}))
			.send()
			.await
			.expect("sends");
		assert_eq!(resp.status().as_u16(), 200);
		resp.json().await.expect("JSON")
	}

	fn hash(&self, model: &str) -> Hash {
		self.infer.resolve_model(model).expect("served").expect("an adapter")
	}
}

fn text(body: &Value) -> String {
	body["choices"][0]["text"].as_str().expect("text").to_string()
}

const PROMPT: &str = "the quick brown fox";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_names_the_records_it_repeats_and_their_contributors() {
	// The adapter's greedy answer, from a server that does not trace.
	let plain = start(None).await;
	let answer = text(&plain.complete("adapter-0", PROMPT).await);
	assert!(answer.len() > 8, "the fixture answers with some text: {answer:?}");
	drop(plain);

	let cache = temp_dir("lineage-spans");
	let trace = TraceConfig {
		cache_dir: cache.path().to_path_buf(),
		params: AttributionParams { min_span: 4, ..Default::default() },
	};
	let s = start(Some(trace.clone())).await;
	let v1 = VersionRef { datanet: 0, version: 1, root: [7; 32] };
	let v2 = VersionRef { datanet: 0, version: 2, root: [8; 32] };
	let versions = Arc::new(Versions::default());
	// Adapter 0 was trained on v1: record 0 (contributor 1) holds the answer, record 1
	// (contributor 2) unrelated text. Adapter 1 on v2, which holds nothing it says.
	*versions.training.lock().unwrap() =
		vec![(s.hash("adapter-0"), vec![v1]), (s.hash("adapter-1"), vec![v2])];
	*versions.records.lock().unwrap() = vec![
		(v1, vec![record(0, 1, "a question", &answer), record(1, 2, "other", "nothing alike")]),
		(v2, vec![record(2, 3, "x", "zzzz zzzz zzzz zzzz")]),
	];
	let tracer = s.infer.tracer().expect("tracing").clone();
	tracer.set_source(versions.clone());

	// The first answer starts indexing and is not attributed.
	let first = s.complete("adapter-0", PROMPT).await;
	assert_eq!(text(&first), answer);
	assert_eq!(first["lineage"]["status"], "indexing", "{first}");
	tracer.wait_ready(s.hash("adapter-0"), Duration::from_secs(30)).await.expect("indexed");

	let body = s.complete("adapter-0", PROMPT).await;
	let lineage = &body["lineage"];
	assert_eq!(lineage["status"], "attributed", "{body}");
	let spans = lineage["spans"].as_array().expect("spans");
	assert!(!spans.is_empty(), "{lineage}");
	for span in spans {
		let (start, end) = (span["start"].as_u64().unwrap(), span["end"].as_u64().unwrap());
		assert_eq!(span["text"], answer[start as usize..end as usize], "{span}");
		assert!(answer.contains(span["text"].as_str().unwrap()));
		assert_eq!(span["records"], json!([0]), "{span}");
	}
	assert_eq!(lineage["records"][0]["contribution"], 0, "{lineage}");
	let contributors = lineage["contributors"].as_array().unwrap();
	assert_eq!(contributors.len(), 1, "only the contributor of the answer's record: {lineage}");
	assert_eq!(contributors[0]["contributor"], format!("0x{}", hex::encode([1u8; 32])));
	let credited = lineage["credited_tokens"].as_u64().unwrap();
	assert!(credited >= 4 && credited <= lineage["completion_tokens"].as_u64().unwrap());
	assert!((contributors[0]["score"].as_f64().unwrap() - credited as f64).abs() < 1e-9);
	assert_eq!(lineage["prompt_spans"], json!([]), "the prompt is in no record");

	// The usage record keeps the same attribution, and what it pays: the contributor's part of
	// the answer, their credited tokens over its tokens, in parts of a billion.
	let kept = s.sink.0.lock().unwrap().last().cloned().expect("recorded");
	let kept = kept.lineage.expect("kept");
	assert_eq!(serde_json::to_value(&kept).unwrap(), *lineage);
	let tokens = lineage["completion_tokens"].as_u64().unwrap();
	assert_eq!(
		kept.credited_parts(),
		vec![CreditedPart {
			datanet: 0,
			version: 1,
			contributor: [1; 32],
			parts: (credited * 1_000_000_000 / tokens) as u32,
		}]
	);

	// Streaming: the last chunk carries it.
	let resp = s
		.client
		.post(format!("{}/v1/completions", s.base))
		.json(&json!({"model": "adapter-0", "prompt": PROMPT, "max_tokens": 24,
			"temperature": 0, "stream": true}))
		.send()
		.await
		.unwrap();
	let raw =
		String::from_utf8(resp.bytes_stream().map(|b| b.unwrap().to_vec()).concat().await).unwrap();
	let chunks: Vec<Value> = raw
		.lines()
		.filter_map(|l| l.strip_prefix("data: "))
		.filter(|d| *d != "[DONE]")
		.map(|d| serde_json::from_str(d).unwrap())
		.collect();
	let (last, before) = chunks.split_last().unwrap();
	assert_eq!(last["lineage"]["contributors"], lineage["contributors"]);
	assert!(before.iter().all(|c| c.get("lineage").is_none()));

	// An answer that repeats nothing of its adapter's versions is attributed to nobody: its fee
	// follows the lineage weights alone.
	tracer.wait_ready(s.hash("adapter-1"), Duration::from_secs(30)).await.expect("indexed");
	let other = s.complete("adapter-1", PROMPT).await;
	assert_eq!(other["lineage"]["status"], "attributed", "{other}");
	assert_eq!(other["lineage"]["contributors"], json!([]), "{other}");
	assert_eq!(other["lineage"]["credited_tokens"], 0);
	let kept = s.sink.0.lock().unwrap().last().cloned().expect("recorded");
	assert_eq!(kept.lineage.expect("kept").credited_parts(), vec![], "no match pays no one");

	// The base model has no lineage to trace.
	let base = s.complete(&fixture().model_id, PROMPT).await;
	assert!(base.get("lineage").is_none(), "{base}");
	let reads = versions.reads.load(Ordering::SeqCst);
	assert_eq!(reads, 2, "each version read once");
	drop(s);

	// A restarted oracle opens the indexes on disk instead of reading the records again.
	let s = start(Some(trace)).await;
	let again = Arc::new(Versions::default());
	*again.training.lock().unwrap() = vec![(s.hash("adapter-0"), vec![v1])];
	let tracer = s.infer.tracer().unwrap().clone();
	tracer.set_source(again.clone());
	tracer.wait_ready(s.hash("adapter-0"), Duration::from_secs(30)).await.expect("opened");
	assert_eq!(again.reads.load(Ordering::SeqCst), 0, "no record read after a restart");
	let body = s.complete("adapter-0", PROMPT).await;
	assert_eq!(body["lineage"]["contributors"], lineage["contributors"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexing_that_fails_says_why_and_answers_still_flow() {
	let cache = temp_dir("lineage-spans-fail");
	let s = start(Some(TraceConfig {
		cache_dir: cache.path().to_path_buf(),
		params: AttributionParams::default(),
	}))
	.await;
	// No source yet: unavailable, naming the flag.
	let body = s.complete("adapter-0", PROMPT).await;
	assert_eq!(body["lineage"]["status"], "unavailable", "{body}");
	assert!(body["lineage"]["reason"].as_str().unwrap().contains("--record-store"), "{body}");
	// A source that cannot read the version: unavailable with its reason, answers still 200.
	let versions = Arc::new(Versions::default());
	*versions.training.lock().unwrap() =
		vec![(s.hash("adapter-0"), vec![VersionRef { datanet: 4, version: 9, root: [1; 32] }])];
	let tracer = s.infer.tracer().unwrap().clone();
	tracer.set_source(versions);
	let err = tracer.wait_ready(s.hash("adapter-0"), Duration::from_secs(30)).await.unwrap_err();
	let body = s.complete("adapter-0", PROMPT).await;
	assert_eq!(serde_json::to_value(&err).unwrap(), body["lineage"], "{body}");
	assert!(body["lineage"]["reason"].as_str().unwrap().contains("datanet 4 v9"), "{body}");
	assert!(!text(&body).is_empty());
}
