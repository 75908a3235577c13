//! The HTTP API end to end, in process: the tiny fixture model served on 127.0.0.1:0, spoken to
//! with reqwest as a client would.

use std::{
	sync::{Arc, Condvar, Mutex},
	time::Duration,
};

use futures::StreamExt;
use lineage_engine::EngineConfig;
use lineage_oracle::{
	api::{
		admin::AdminAccess,
		build_state, build_state_with,
		payer::{PayerAuth, PayerContext},
		serve_with, ServerConfig, Services,
	},
	infer::{
		gate::OpenGate,
		usage::{FinishedRequest, SinkError, UsageSink},
	},
};
use lineage_testkit::{fixture, temp_dir, TempDir};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The fixture, written once per test process into a unique temp folder.
#[derive(Default)]
struct RecordingSink {
	records: Mutex<Vec<FinishedRequest>>,
	closed: Mutex<bool>,
	opened: Condvar,
	failing: Mutex<bool>,
}

impl RecordingSink {
	fn set_closed(&self, closed: bool) {
		*self.closed.lock().expect("lock") = closed;
		self.opened.notify_all();
	}

	fn records(&self) -> Vec<FinishedRequest> {
		self.records.lock().expect("lock").clone()
	}
}

impl UsageSink for RecordingSink {
	fn record(&self, rec: &FinishedRequest) -> Result<(), SinkError> {
		let mut closed = self.closed.lock().expect("lock");
		while *closed {
			closed = self.opened.wait(closed).expect("wait");
		}
		drop(closed);
		if *self.failing.lock().expect("lock") {
			return Err("the disk is full".into());
		}
		self.records.lock().expect("lock").push(rec.clone());
		Ok(())
	}
}

struct Server {
	base: String,
	client: reqwest::Client,
	sink: Arc<RecordingSink>,
	model: String,
	/// The store's folder, removed when the server is dropped.
	_store: TempDir,
}

impl Server {
	async fn start() -> Self {
		Self::start_with(|_| {}).await
	}

	/// A server on the tiny fixture with adapters 0 and 1 preloaded (as `adapter-0/1`).
	async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
		let m = fixture();
		let store = temp_dir("api-store");
		let mut config = ServerConfig::new(&m.model_dir, store.path());
		config.engine =
			EngineConfig { max_batch: 8, max_queue: 16, max_seq_len: 128, prefill_chunk: 64 };
		config.preload = vec![m.adapters[0].dir.clone(), m.adapters[1].dir.clone()];
		config.max_body_bytes = 256 << 10;
		configure(&mut config);
		let sink = Arc::new(RecordingSink::default());
		let state = build_state(&config, sink.clone()).await.expect("server state");
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
		let addr = listener.local_addr().expect("addr");
		tokio::spawn(serve_with(listener, state));
		let client =
			reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
		Server {
			base: format!("http://{addr}"),
			client,
			sink,
			model: m.model_id.clone(),
			_store: store,
		}
	}

	async fn post(&self, path: &str, body: Value) -> (u16, Value) {
		let resp = self
			.client
			.post(format!("{}{path}", self.base))
			.json(&body)
			.send()
			.await
			.expect("sends");
		let status = resp.status().as_u16();
		let text = resp.text().await.expect("body");
		(status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
	}

	async fn get(&self, path: &str) -> (u16, String) {
		let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("sends");
		(resp.status().as_u16(), resp.text().await.expect("body"))
	}

	/// A greedy completion's text (asserting success).
	async fn greedy(&self, model: &str, prompt: Value, max_tokens: usize, stop: Value) -> Value {
		let (status, body) = self
			.post(
				"/v1/completions",
				json!({"model": model, "prompt": prompt, "max_tokens": max_tokens,
					"temperature": 0, "stop": stop}),
			)
			.await;
		assert_eq!(status, 200, "{body}");
		body
	}

	/// POST with `stream: true` and parse the server-sent events one by one: the JSON chunks
	/// before `[DONE]` (asserting that `[DONE]` ends the stream).
	async fn stream(&self, path: &str, body: Value) -> Vec<Value> {
		let resp = self
			.client
			.post(format!("{}{path}", self.base))
			.json(&body)
			.send()
			.await
			.expect("sends");
		assert_eq!(resp.status().as_u16(), 200);
		let content_type = resp.headers()["content-type"].to_str().expect("ascii").to_string();
		assert!(content_type.starts_with("text/event-stream"), "{content_type}");
		let mut bytes = resp.bytes_stream();
		let mut buf = String::new();
		let mut chunks = Vec::new();
		let mut done = false;
		while let Some(piece) = bytes.next().await {
			buf.push_str(std::str::from_utf8(&piece.expect("chunk")).expect("utf-8"));
			while let Some(end) = buf.find("\n\n") {
				let event: String = buf.drain(..end + 2).collect();
				for line in event.lines() {
					let Some(data) = line.strip_prefix("data: ") else { continue };
					assert!(!done, "nothing may follow [DONE]");
					if data == "[DONE]" {
						done = true;
					} else {
						chunks.push(serde_json::from_str(data).expect("chunk is JSON"));
					}
				}
			}
		}
		assert!(done, "the stream ends with [DONE]");
		chunks
	}
}

fn text_of(body: &Value) -> String {
	body["choices"][0]["text"].as_str().expect("text").to_string()
}

fn assert_error(body: &Value, kind: &str, code: Option<&str>) {
	let err = &body["error"];
	assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
	assert_eq!(err["type"], kind, "{body}");
	if let Some(code) = code {
		assert_eq!(err["code"], code, "{body}");
	}
	assert!(err.get("param").is_some(), "{body}");
}

/// The value of the first sample line that starts with `prefix` followed by a space.
fn metric(text: &str, prefix: &str) -> f64 {
	text.lines()
		.find_map(|l| l.strip_prefix(prefix).and_then(|rest| rest.strip_prefix(' ')))
		.unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"))
		.trim()
		.parse()
		.expect("a number")
}

/// A request whose usage cannot be recorded fails instead of answering unrecorded, and the server
/// keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrecorded_usage_fails_the_request() {
	let s = Server::start().await;
	*s.sink.failing.lock().expect("lock") = true;
	let (status, body) = s
		.post(
			"/v1/completions",
			json!({"model": s.model, "prompt": "hello", "max_tokens": 4, "temperature": 0}),
		)
		.await;
	assert_eq!(status, 500, "{body}");
	let message = body["error"]["message"].as_str().expect("message");
	assert!(message.contains("usage record could not be saved"), "{message}");
	assert!(s.sink.records().is_empty());
	*s.sink.failing.lock().expect("lock") = false;
	s.greedy(&s.model, json!("hello"), 4, Value::Null).await;
	assert_eq!(s.sink.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_returns_text_usage_and_records_usage() {
	let s = Server::start().await;
	let body = s.greedy(&s.model, json!("The quick brown fox"), 8, Value::Null).await;
	assert!(body["id"].as_str().expect("id").starts_with("cmpl-"));
	assert_eq!(body["object"], "text_completion");
	assert!(body["created"].as_u64().expect("created") > 1_600_000_000);
	assert_eq!(body["model"], s.model.as_str());
	// The fixture never samples EOS: generation runs to max_tokens.
	assert_eq!(body["choices"][0]["finish_reason"], "length");
	let usage = &body["usage"];
	let prompt = usage["prompt_tokens"].as_u64().expect("prompt_tokens");
	assert!(prompt > 0);
	assert_eq!(usage["completion_tokens"], 8);
	assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + 8));

	// The usage sink saw it, before the response completed.
	let records = s.sink.records();
	assert_eq!(records.len(), 1);
	let rec = &records[0];
	assert_eq!(rec.id, body["id"].as_str().expect("id"));
	assert_eq!(rec.model, s.model);
	assert_eq!(rec.adapter, None);
	assert_eq!((rec.prompt_tokens as u64, rec.completion_tokens), (prompt, 8));
	let digest: [u8; 32] = Sha256::digest(text_of(&body).as_bytes()).into();
	assert_eq!(rec.response_sha256, digest);

	// Token-id prompts work too, and greedy decoding is deterministic.
	let ids = s.greedy(&s.model, json!([5, 6, 7, 8]), 6, Value::Null).await;
	assert_eq!(ids["usage"]["prompt_tokens"], 4);
	let again = s.greedy(&s.model, json!([[5, 6, 7, 8]]), 6, Value::Null).await;
	assert_eq!(text_of(&ids), text_of(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completion_uses_the_model_template() {
	let s = Server::start().await;
	let messages = json!([
		{"role": "system", "content": "You are terse."},
		{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}
	]);
	let (status, body) = s
		.post(
			"/v1/chat/completions",
			json!({"model": "adapter-0", "messages": messages, "max_tokens": 5, "temperature": 0}),
		)
		.await;
	assert_eq!(status, 200, "{body}");
	assert!(body["id"].as_str().expect("id").starts_with("chatcmpl-"));
	assert_eq!(body["object"], "chat.completion");
	assert_eq!(body["model"], "adapter-0");
	assert_eq!(body["choices"][0]["message"]["role"], "assistant");
	assert!(body["choices"][0]["message"]["content"].is_string());
	assert_eq!(body["usage"]["completion_tokens"], 5);
	// The ChatML template of the fixture: the prompt is longer than the bare contents.
	assert!(body["usage"]["prompt_tokens"].as_u64().expect("prompt") > 8);
	let records = s.sink.records();
	assert!(records[0].adapter.is_some(), "the record names the adapter's hash");

	// Streaming chat: a role chunk first, content deltas, a last chunk with usage.
	let chunks = s
		.stream(
			"/v1/chat/completions",
			json!({"model": "adapter-0", "messages": messages, "max_tokens": 5,
				"temperature": 0, "stream": true}),
		)
		.await;
	assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
	let streamed: String =
		chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
	assert_eq!(streamed, body["choices"][0]["message"]["content"].as_str().expect("content"));
	let last = chunks.last().expect("chunks");
	assert_eq!(last["object"], "chat.completion.chunk");
	assert_eq!(last["choices"][0]["finish_reason"], "length");
	assert_eq!(last["usage"], body["usage"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_completion_sends_chunks_then_usage_then_done() {
	let s = Server::start().await;
	let whole = s.greedy("adapter-1", json!("Once upon a time"), 12, Value::Null).await;
	let chunks = s
		.stream(
			"/v1/completions",
			json!({"model": "adapter-1", "prompt": "Once upon a time", "max_tokens": 12,
				"temperature": 0, "stream": true}),
		)
		.await;
	assert!(chunks.len() >= 3, "several chunks: {chunks:?}");
	let id = chunks[0]["id"].clone();
	let (last, rest) = chunks.split_last().expect("chunks");
	for c in rest {
		assert_eq!(c["id"], id);
		assert_eq!(c["object"], "text_completion");
		assert!(c["choices"][0]["finish_reason"].is_null(), "{c}");
		assert!(c.get("usage").is_none(), "{c}");
	}
	let streamed: String = chunks.iter().map(text_of).collect();
	assert_eq!(streamed, text_of(&whole));
	assert_eq!(last["choices"][0]["finish_reason"], "length");
	assert_eq!(last["usage"], whole["usage"]);
	assert_eq!(s.sink.records().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_changes_the_greedy_completion() {
	let s = Server::start().await;
	let prompt = json!("In the beginning there was");
	let base = s.greedy(&s.model, prompt.clone(), 16, Value::Null).await;
	let tuned = s.greedy("adapter-0", prompt.clone(), 16, Value::Null).await;
	let other = s.greedy("adapter-1", prompt, 16, Value::Null).await;
	assert_ne!(text_of(&base), text_of(&tuned));
	assert_ne!(text_of(&tuned), text_of(&other));
	assert_eq!(tuned["model"], "adapter-0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_the_base_then_adapters_with_their_parent() {
	let s = Server::start().await;
	let (status, text) = s.get("/v1/models").await;
	assert_eq!(status, 200);
	let body: Value = serde_json::from_str(&text).expect("json");
	assert_eq!(body["object"], "list");
	let data = body["data"].as_array().expect("data");
	assert_eq!(data[0]["id"], s.model.as_str());
	assert!(data[0]["parent"].is_null());
	let ids: Vec<&str> = data.iter().filter_map(|m| m["id"].as_str()).collect();
	assert_eq!(ids, vec![s.model.as_str(), "adapter-0", "adapter-1"]);
	for adapter in &data[1..] {
		assert_eq!(adapter["object"], "model");
		assert_eq!(adapter["parent"], s.model.as_str());
		assert!(adapter["root"].as_str().expect("root").starts_with("0x"));
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_then_unload_an_adapter() {
	let s = Server::start().await;
	let dir = fixture().adapters[3].dir.to_string_lossy().into_owned();
	let (status, body) =
		s.post("/v1/load_lora_adapter", json!({"lora_name": "mine", "lora_path": dir})).await;
	assert_eq!(status, 200, "{body}");
	let hash = body["artifact_hash"].as_str().expect("hash").to_string();
	assert_eq!(hash.len(), 66);
	let (_, models) = s.get("/v1/models").await;
	assert!(models.contains("\"mine\""), "{models}");

	// Served by name and by artifact hash, the same bytes.
	let by_name = s.greedy("mine", json!("Hello"), 4, Value::Null).await;
	let by_hash = s.greedy(&hash, json!("Hello"), 4, Value::Null).await;
	assert_eq!(text_of(&by_name), text_of(&by_hash));

	// The name is taken until unloaded.
	let (status, body) =
		s.post("/v1/load_lora_adapter", json!({"lora_name": "mine", "lora_path": dir})).await;
	assert_eq!(status, 400, "{body}");
	assert_error(&body, "invalid_request_error", Some("adapter_exists"));

	// Unloading makes the name unknown (as vLLM): requests get 404.
	let (status, body) = s.post("/v1/unload_lora_adapter", json!({"lora_name": "mine"})).await;
	assert_eq!(status, 200, "{body}");
	for model in ["mine", hash.as_str()] {
		let (status, body) = s
			.post("/v1/completions", json!({"model": model, "prompt": "Hello", "max_tokens": 2}))
			.await;
		assert_eq!(status, 404, "{body}");
		assert_error(&body, "not_found_error", Some("model_not_found"));
	}
	let (status, body) = s.post("/v1/unload_lora_adapter", json!({"lora_name": "mine"})).await;
	assert_eq!(status, 404, "{body}");
	let (_, models) = s.get("/v1/models").await;
	assert!(!models.contains("\"mine\""), "{models}");

	// Loading it again under a new name works (the bytes are still in the store).
	let (status, body) =
		s.post("/v1/load_lora_adapter", json!({"lora_name": "mine-again", "lora_path": dir})).await;
	assert_eq!(status, 200, "{body}");
	assert_eq!(body["artifact_hash"], hash.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_adapter_is_refused_and_the_server_keeps_serving() {
	let s = Server::start().await;
	let good = &fixture().adapters[2].dir;
	let bad_dir = temp_dir("api-corrupt");
	let bad = bad_dir.path().to_path_buf();
	std::fs::copy(good.join("adapter_config.json"), bad.join("adapter_config.json"))
		.expect("config");
	let weights = std::fs::read(good.join("adapter_model.safetensors")).expect("weights");
	std::fs::write(bad.join("adapter_model.safetensors"), &weights[..weights.len() / 2])
		.expect("truncated weights");
	let (status, body) = s
		.post(
			"/v1/load_lora_adapter",
			json!({"lora_name": "broken", "lora_path": bad.to_string_lossy()}),
		)
		.await;
	assert_eq!(status, 400, "{body}");
	assert_error(&body, "invalid_request_error", Some("invalid_adapter"));

	let (status, body) = s
		.post(
			"/v1/load_lora_adapter",
			json!({"lora_name": "nowhere", "lora_path": "/no/such/adapter"}),
		)
		.await;
	assert_eq!(status, 400, "{body}");
	assert_error(&body, "invalid_request_error", None);

	let (_, models) = s.get("/v1/models").await;
	assert!(!models.contains("broken"), "{models}");
	let (status, body) = s
		.post("/v1/completions", json!({"model": "broken", "prompt": "Hi", "max_tokens": 2}))
		.await;
	assert_eq!(status, 404, "{body}");
	// The server still answers.
	s.greedy("adapter-1", json!("Still there?"), 3, Value::Null).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_openai_errors() {
	let s = Server::start().await;
	let url = format!("{}/v1/completions", s.base);
	// Not JSON at all: axum's rejection is mapped to the same body.
	let resp = s.client.post(&url).body("{not json").send().await.expect("sends");
	assert_eq!(resp.status().as_u16(), 400);
	let body: Value = resp.json().await.expect("json error body");
	assert_error(&body, "invalid_request_error", Some("invalid_json"));
	// JSON of the wrong shape.
	let (status, body) = s.post("/v1/completions", json!({"model": s.model})).await;
	assert_eq!(status, 400, "{body}");
	assert_error(&body, "invalid_request_error", Some("invalid_json"));
	// Too large a body.
	let big = "x".repeat(300 << 10);
	let (status, body) = s.post("/v1/completions", json!({"model": s.model, "prompt": big})).await;
	assert_eq!(status, 413, "{body}");
	assert_error(&body, "invalid_request_error", Some("body_too_large"));

	let cases = [
		(json!({"model": "nope", "prompt": "Hi"}), 404, Some("model_not_found")),
		(json!({"model": s.model, "prompt": "Hi", "n": 2}), 400, None),
		(json!({"model": s.model, "prompt": "Hi", "temperature": -1}), 400, None),
		(json!({"model": s.model, "prompt": "Hi", "top_p": 1.5}), 400, None),
		(json!({"model": s.model, "prompt": "Hi", "max_tokens": 0}), 400, None),
		(json!({"model": s.model, "prompt": ""}), 400, None),
		(json!({"model": s.model, "prompt": [100000]}), 400, None),
		(json!({"model": s.model, "prompt": ["a", "b"]}), 400, None),
		// The context is 128 tokens in these tests.
		(
			json!({"model": s.model, "prompt": vec![5u32; 200]}),
			400,
			Some("context_length_exceeded"),
		),
		(
			json!({"model": s.model, "prompt": "word ".repeat(400)}),
			400,
			Some("context_length_exceeded"),
		),
		(
			json!({"model": s.model, "prompt": "Hi", "max_tokens": 500}),
			400,
			Some("context_length_exceeded"),
		),
	];
	for (request, want, code) in cases {
		let (status, body) = s.post("/v1/completions", request.clone()).await;
		assert_eq!(status, want, "{request} → {body}");
		let kind = if want == 404 { "not_found_error" } else { "invalid_request_error" };
		assert_error(&body, kind, code);
	}
	let (status, body) = s
		.post("/v1/completions", json!({"model": s.model, "prompt": "Hi", "max_tokens": 500}))
		.await;
	assert_eq!(status, 400);
	assert_eq!(body["error"]["param"], "max_tokens");
	let (status, body) =
		s.post("/v1/chat/completions", json!({"model": s.model, "messages": []})).await;
	assert_eq!(status, 400, "{body}");
	let (status, text) = s.get("/v1/nothing-here").await;
	assert_eq!(status, 404);
	assert_error(&serde_json::from_str(&text).expect("json"), "not_found_error", None);
	// After all that, the server still serves.
	s.greedy(&s.model, json!("ok"), 2, Value::Null).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_a_429() {
	// Two admission permits (batch 1 + queue 1); the sink holds finished requests open, so the
	// first two requests keep their permits while the others arrive.
	let s = Arc::new(
		Server::start_with(|c| {
			c.engine =
				EngineConfig { max_batch: 1, max_queue: 1, max_seq_len: 128, prefill_chunk: 64 };
		})
		.await,
	);
	s.sink.set_closed(true);
	let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
	for i in 0..6 {
		let (s, tx) = (s.clone(), tx.clone());
		tokio::spawn(async move {
			let req = json!({"model": s.model, "prompt": format!("request {i}"), "max_tokens": 4});
			let _ = tx.send(s.post("/v1/completions", req).await);
		});
	}
	for _ in 0..4 {
		let (status, body) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
			.await
			.expect("in time")
			.expect("answer");
		assert_eq!(status, 429, "{body}");
		assert_error(&body, "rate_limit_error", Some("overloaded"));
	}
	s.sink.set_closed(false);
	for _ in 0..2 {
		let (status, body) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
			.await
			.expect("in time")
			.expect("answer");
		assert_eq!(status, 200, "{body}");
	}
	// Permits are back: the next request is admitted.
	s.greedy(&s.model, json!("after"), 2, Value::Null).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_strings_trim_the_output() {
	let s = Server::start().await;
	let prompt = json!("It was a bright cold day in April");
	let full = text_of(&s.greedy(&s.model, prompt.clone(), 24, Value::Null).await);
	let chars: Vec<char> = full.chars().collect();
	assert!(chars.len() >= 8, "{full:?}");
	let stop: String = chars[chars.len() / 2..chars.len() / 2 + 2].iter().collect();
	let expected = &full[..full.find(&stop).expect("present")];

	let body = s.greedy(&s.model, prompt.clone(), 24, json!([stop, "\u{1F600}never"])).await;
	assert_eq!(text_of(&body), expected);
	assert_eq!(body["choices"][0]["finish_reason"], "stop");
	assert!(body["usage"]["completion_tokens"].as_u64().expect("tokens") < 24);

	// The same when streaming: the stop string never reaches the client.
	let chunks = s
		.stream(
			"/v1/completions",
			json!({"model": s.model, "prompt": prompt, "max_tokens": 24, "temperature": 0,
				"stop": stop, "stream": true}),
		)
		.await;
	let streamed: String = chunks.iter().map(text_of).collect();
	assert_eq!(streamed, expected);
	assert_eq!(chunks.last().expect("last")["choices"][0]["finish_reason"], "stop");
	// The record's hash is of the trimmed text.
	let records = s.sink.records();
	let digest: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
	assert_eq!(records.last().expect("record").response_sha256, digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health() {
	let s = Server::start().await;
	let (status, health) = s.get("/health").await;
	assert_eq!(status, 200);
	assert!(health.contains("\"ok\""), "{health}");
	s.greedy(&s.model, json!("one"), 4, Value::Null).await;
	s.greedy("adapter-0", json!("two"), 4, Value::Null).await;
	s.greedy("adapter-0", json!("three"), 4, Value::Null).await;
	let (status, _) = s.post("/v1/completions", json!({"model": "nope", "prompt": "Hi"})).await;
	assert_eq!(status, 404);

	let (status, text) = s.get("/metrics").await;
	assert_eq!(status, 200);
	assert!(
		metric(&text, r#"lineage_requests_total{endpoint="/v1/completions",status="200"}"#) >= 3.0
	);
	assert!(
		metric(&text, r#"lineage_requests_total{endpoint="/v1/completions",status="404"}"#) >= 1.0
	);
	assert!(metric(&text, "lineage_prompt_tokens_total") > 0.0);
	assert_eq!(metric(&text, "lineage_generation_tokens_total"), 12.0);
	assert_eq!(metric(&text, "lineage_queue_time_seconds_count"), 3.0);
	assert_eq!(metric(&text, "lineage_time_per_output_token_seconds_count"), 3.0);
	assert!(metric(&text, r#"lineage_adapter_cache_hits_total{tier="host"}"#) >= 2.0);
	assert!(metric(&text, r#"lineage_adapter_cache_misses_total{tier="host"}"#) >= 2.0);
	assert!(metric(&text, r#"lineage_adapter_cache_bytes{tier="host"}"#) > 0.0);
	assert!(metric(&text, "lineage_adapter_load_seconds_count") >= 2.0);
	for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
		assert!(line.starts_with("lineage_"), "{line}");
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_refuses_before_checking_signatures_or_writing_nonces() {
	let m = fixture();
	let store = temp_dir("api-admission");
	let mut config = ServerConfig::new(&m.model_dir, store.path());
	config.engine =
		EngineConfig { max_batch: 1, max_queue: 1, max_seq_len: 128, prefill_chunk: 64 };
	config.max_concurrent = Some(1);
	let nonce_checks = Arc::new(Mutex::new(0u32));
	let counted = nonce_checks.clone();
	let auth =
		PayerAuth::new(PayerContext::new([7; 32], [9; 32]), 1 << 16, move |_: &[u8; 32], _, _| {
			*counted.lock().expect("lock") += 1;
			Ok(true)
		});
	let services = Services {
		sink: Arc::new(RecordingSink::default()),
		gate: Arc::new(OpenGate),
		payer_auth: Some(auth),
		admin: AdminAccess::Closed,
		journal: None,
	};
	let state = build_state_with(&config, services).await.expect("server state");
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
	let base = format!("http://{}", listener.local_addr().expect("addr"));
	// The one permit is taken (a request running).
	let running = state.infer().admit().expect("a permit");
	tokio::spawn(serve_with(listener, state));
	let client = reqwest::Client::new();
	let body = json!({"model": m.model_id, "prompt": "hi", "max_tokens": 2});
	let post = || client.post(format!("{base}/v1/completions")).json(&body).send();
	let resp = post().await.expect("sends");
	assert_eq!(resp.status().as_u16(), 429, "refused before the payer check");
	assert_eq!(*nonce_checks.lock().expect("lock"), 0);
	// Once the permit is back, the same unsigned request reaches the payer check.
	drop(running);
	let resp = post().await.expect("sends");
	assert_eq!(resp.status().as_u16(), 401);
	// Adapter management is closed on a paid server without a token.
	let resp = client
		.post(format!("{base}/v1/load_lora_adapter"))
		.json(&json!({"lora_name": "x", "lora_path": "/etc"}))
		.send()
		.await
		.expect("sends");
	assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_route_returns_a_record_its_authorisation_and_proof() {
	use lineage_oracle::journal::{BatchLimits, Journal};
	use lineage_primitives::{
		payer::{sr25519_signature, Voucher},
		usage::{verify_record, UsageRecord},
		AccountId, Hash,
	};
	let m = fixture();
	let store = temp_dir("api-usage");
	let journal = Arc::new(Journal::open(&store.path().join("journal.redb")).expect("journal"));
	let payer = AccountId::new([5; 32]);
	let record = |n: u64| UsageRecord {
		request_id: lineage_oracle::chain::gate::request_id(&format!("chatcmpl-{n}")),
		payer: payer.clone(),
		adapter: 1,
		input_tokens: 10 + n,
		output_tokens: 5,
		response_hash: Hash::repeat_byte(n as u8),
		finished_at_ms: n,
		served_at: 7,
		matched: vec![],
	};
	let voucher = Voucher {
		payer: payer.clone(),
		timestamp_ms: 1,
		nonce: 1,
		spend_limit: 77,
		target_sha256: [1; 32],
		body_sha256: [2; 32],
		wrapped: false,
		signature: sr25519_signature([3; 64]),
	};
	for n in 0..3 {
		journal.append(&record(n), &voucher).expect("append");
	}
	let limits = BatchLimits {
		max_entries: 9,
		max_adapters: 9,
		max_payers: 9,
		max_records: 9,
		max_matched_per_adapter: 9,
	};
	let stored =
		journal.cut_batch(&payer, 0, limits, |_| None, |_| [0; 64]).expect("cut").expect("batch");
	let config = ServerConfig::new(&m.model_dir, store.path().join("store"));
	let mut services = Services::with_sink(Arc::new(RecordingSink::default()));
	services.journal = Some(journal);
	let state = build_state_with(&config, services).await.expect("server state");
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
	let base = format!("http://{}", listener.local_addr().expect("addr"));
	tokio::spawn(serve_with(listener, state));
	let get = |id: String| reqwest::get(format!("{base}/v1/usage/{id}"));

	let body: Value = get("chatcmpl-1".into()).await.expect("get").json().await.expect("json");
	assert_eq!(body["record"]["input_tokens"], 11);
	assert_eq!(body["authorization"]["spend_limit"], "77");
	let batch = &body["batch"];
	assert_eq!(batch["records_root"], format!("0x{}", hex::encode(stored.batch.records_root)));
	let h = |v: &Value| {
		let mut out = [0u8; 32];
		hex::decode_to_slice(v.as_str().expect("hex").trim_start_matches("0x"), &mut out)
			.expect("hex");
		Hash::from(out)
	};
	let proof: Vec<Hash> = batch["proof"].as_array().expect("proof").iter().map(h).collect();
	let (leaves, index) =
		(batch["leaves"].as_u64().unwrap() as u32, batch["index"].as_u64().unwrap() as u32);
	assert!(verify_record(&h(&batch["records_root"]), &proof, leaves, index, &record(1)));
	// By request id too; an unknown id is a 404, a malformed one a 400; the server stays up.
	let by_hash = format!("0x{}", hex::encode(record(2).request_id));
	assert_eq!(get(by_hash).await.expect("get").status().as_u16(), 200);
	assert_eq!(get("chatcmpl-9".into()).await.expect("get").status().as_u16(), 404);
	assert_eq!(get("0x12zz".into()).await.expect("get").status().as_u16(), 400);
	assert_eq!(get("chatcmpl-0".into()).await.expect("get").status().as_u16(), 200);
}
