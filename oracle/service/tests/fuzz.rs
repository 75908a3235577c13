//! A property-based fuzz of the HTTP API, over raw TCP as an attacker would speak to it: bodies
//! that are not JSON or not a request, fields of the wrong type or huge, bodies beyond the limit,
//! nested past any parser's depth, malformed and oversized headers, forged and half-given payer
//! headers, request lines that are not HTTP, and slow clients that trickle or withhold bytes.
//!
//! Every case must get an answer (a status line) with a 4xx status, or a 200 where the generated
//! request happens to be valid; never a 5xx, never a dropped connection. After each property,
//! the server must still answer `/health` and serve a completion. Run with `--nocapture` for the
//! counts.
//!
//! Two servers on the tiny fixture model: an open one (standalone mode: bodies reach the
//! OpenAI handlers) and a paid one (chain mode's payer check in front: headers reach the
//! signature check, and correctly signed fuzzed bodies reach the handlers behind it).

use std::{
	collections::BTreeMap,
	net::SocketAddr,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

use lineage_chain::payer::{
	sign_request, RequestToSign, NONCE_HEADER, PAYER_HEADER, SIGNATURE_HEADER, SPEND_LIMIT_HEADER,
	TIMESTAMP_HEADER,
};
use lineage_engine::EngineConfig;
use lineage_oracle::{
	api::{
		admin::AdminAccess,
		build_state_with,
		listen::ConnectionLimits,
		payer::{PayerAuth, PayerContext},
		serve_with, ServerConfig, Services,
	},
	infer::{gate::OpenGate, usage::NoopSink},
};
use lineage_testkit::{fixture, temp_dir, TempDir};
use proptest::{
	prelude::*,
	test_runner::{Config, TestRunner},
};
use serde_json::{json, Value};
use subxt_signer::sr25519::{dev, Keypair};
use tokio::{
	io::{AsyncReadExt, AsyncWriteExt},
	net::TcpStream,
	runtime::Runtime,
};

/// The largest body either server takes.
const MAX_BODY: usize = 64 << 10;
/// The paid server's chain and operator.
const GENESIS: [u8; 32] = [7; 32];
const OPERATOR: [u8; 32] = [9; 32];
/// The connection limits both servers run under.
const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(400);
const MAX_CONNECTIONS: usize = 32;
/// The paid server's body deadline.
const BODY_TIMEOUT: Duration = Duration::from_millis(300);
/// Cases per property.
const CASES: u32 = 1_500;

/// A server on the fixture model, on 127.0.0.1.
struct Target {
	addr: SocketAddr,
	model: String,
	/// Whether generation takes only signed requests.
	paid: bool,
	_store: TempDir,
}

impl Target {
	/// Starts a server; `paid` puts chain mode's payer check in front of generation.
	async fn start(paid: bool) -> Target {
		let m = fixture();
		let store = temp_dir("fuzz-store");
		let mut config = ServerConfig::new(&m.model_dir, store.path());
		config.engine =
			EngineConfig { max_batch: 4, max_queue: 64, max_seq_len: 128, prefill_chunk: 64 };
		config.max_body_bytes = MAX_BODY;
		config.preload = vec![m.adapters[0].dir.clone()];
		config.connections = ConnectionLimits {
			header_read_timeout: HEADER_READ_TIMEOUT,
			max_connections: MAX_CONNECTIONS,
		};
		let payer_auth = paid.then(|| {
			let mut auth = PayerAuth::new(
				PayerContext::new(GENESIS, OPERATOR),
				MAX_BODY,
				|_: &[u8; 32], _, _| Ok(true),
			);
			auth.body_timeout = BODY_TIMEOUT;
			auth
		});
		let services = Services {
			sink: Arc::new(NoopSink),
			gate: Arc::new(OpenGate),
			payer_auth,
			admin: AdminAccess::Closed,
			journal: None,
		};
		let state = build_state_with(&config, services).await.expect("server state");
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
		let addr = listener.local_addr().expect("addr");
		tokio::spawn(serve_with(listener, state));
		Target { addr, model: m.model_id.clone(), paid, _store: store }
	}

	/// Checks that the server still answers `/health` and serves a greedy completion.
	async fn assert_serving(&self) {
		let health = exchange(self.addr, &request("GET", "/health", &[], b"")).await;
		assert_eq!(health.status, Some(200), "/health after the fuzz: {health:?}");
		let body = json!({"model": self.model, "prompt": "hi", "max_tokens": 2, "temperature": 0})
			.to_string();
		let (method, path) = ("POST", "/v1/completions");
		let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
		if self.paid {
			headers.extend(signed(&dev::alice(), method, path, body.as_bytes(), next_nonce()));
		}
		let answer = exchange(self.addr, &request(method, path, &headers, body.as_bytes())).await;
		assert_eq!(answer.status, Some(200), "a completion after the fuzz: {answer:?}");
	}
}

/// Nonces for signed requests: fresh for every request of the process.
fn next_nonce() -> u64 {
	static NONCE: AtomicU64 = AtomicU64::new(1);
	NONCE.fetch_add(1, Ordering::Relaxed)
}

fn now_ms() -> u64 {
	std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.expect("after 1970")
		.as_millis() as u64
}

/// The five payer headers of `body`, signed by `signer`.
fn signed(signer: &Keypair, method: &str, path: &str, body: &[u8], nonce: u64) -> Headers {
	let to_sign = RequestToSign {
		method,
		path,
		body,
		timestamp_ms: now_ms(),
		nonce,
		spend_limit: 1_000_000_000_000,
	};
	sign_request(signer, GENESIS, OPERATOR, &to_sign)
		.into_iter()
		.map(|(k, v)| (k.to_string(), v))
		.collect()
}

type Headers = Vec<(String, String)>;

/// An HTTP/1.1 request's bytes: `Connection: close` and a correct `Content-Length` are added.
fn request(method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
	let mut out = format!("{method} {path} HTTP/1.1\r\nhost: fuzz\r\nconnection: close\r\n");
	for (k, v) in headers {
		out.push_str(&format!("{k}: {v}\r\n"));
	}
	out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
	let mut out = out.into_bytes();
	out.extend_from_slice(body);
	out
}

/// What the server sent back on one connection.
#[derive(Debug)]
struct Answer {
	/// The status of the first status line, `None` when the server closed without one.
	status: Option<u16>,
	/// The start of what it sent, for failure messages.
	head: String,
}

/// Sends `bytes` on a new connection and reads until the server closes it (at most 60 s).
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Answer {
	let mut stream = TcpStream::connect(addr).await.expect("connect");
	// The server may answer (413, 400) and close before it has read everything: a failed write
	// is not a failure as long as an answer comes.
	let _ = stream.write_all(bytes).await;
	let mut got = Vec::new();
	let read = tokio::time::timeout(Duration::from_secs(60), async {
		let mut buf = [0u8; 8192];
		loop {
			match stream.read(&mut buf).await {
				Ok(0) | Err(_) => break,
				Ok(n) => got.extend_from_slice(&buf[..n]),
			}
		}
	})
	.await;
	assert!(
		read.is_ok(),
		"no answer within 60 s to {:?}",
		String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
	);
	let head = String::from_utf8_lossy(&got[..got.len().min(300)]).into_owned();
	let status = head
		.strip_prefix("HTTP/1.1 ")
		.and_then(|rest| rest.get(..3))
		.and_then(|code| code.parse().ok());
	Answer { status, head }
}

/// One generated case: the request's bytes, and whether it may be a valid request (then 200 is
/// a right answer too).
#[derive(Clone)]
struct Case {
	what: &'static str,
	bytes: Vec<u8>,
	may_succeed: bool,
}

impl std::fmt::Debug for Case {
	/// The kind, and the request as text (its first 600 bytes), for failure reports.
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		let shown = String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(600)]);
		write!(
			f,
			"{} ({} bytes, may succeed: {}): {shown:?}",
			self.what,
			self.bytes.len(),
			self.may_succeed
		)
	}
}

/// Any JSON value: scalars at their extremes, long strings, nested arrays and objects.
fn json_value() -> impl Strategy<Value = Value> {
	let leaf = prop_oneof![
		Just(Value::Null),
		any::<bool>().prop_map(Value::from),
		any::<i64>().prop_map(Value::from),
		any::<u64>().prop_map(Value::from),
		any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(Value::from),
		"\\PC{0,24}".prop_map(Value::from),
		(0usize..4_000).prop_map(|n| Value::from("é".repeat(n))),
	];
	leaf.prop_recursive(3, 24, 6, |inner| {
		prop_oneof![
			prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
			prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
				.prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect())),
		]
	})
}

/// The fields the generation routes read, and a few they do not.
const FIELDS: &[&str] = &[
	"model",
	"prompt",
	"messages",
	"max_tokens",
	"temperature",
	"top_p",
	"top_k",
	"seed",
	"stop",
	"stream",
	"n",
	"logprobs",
	"stream_options",
	"unknown_field",
];

/// A valid body of `route` (0: completions, 1: chat) for `model`, with up to three fields
/// replaced by `values` or removed.
fn mutated_body(model: &str, route: usize, edits: &[(usize, Option<Value>)]) -> Value {
	let mut body = if route == 0 {
		json!({"model": model, "prompt": "hi", "max_tokens": 3})
	} else {
		json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
	};
	for (field, value) in edits {
		let name = FIELDS[field % FIELDS.len()];
		match value {
			Some(v) => body[name] = v.clone(),
			None => {
				body.as_object_mut().expect("an object").remove(name);
			},
		}
	}
	body
}

const ROUTES: [&str; 2] = ["/v1/completions", "/v1/chat/completions"];

/// A body for one of the generation routes: (what, route, bytes, may it be valid).
fn body_strategy(model: String) -> impl Strategy<Value = (&'static str, usize, Vec<u8>, bool)> {
	let edits =
		prop::collection::vec((any::<usize>(), prop::option::weighted(0.8, json_value())), 1..4);
	let m = model.clone();
	let mutated = (0usize..2, edits).prop_map(move |(route, edits)| {
		(
			"a field of the wrong type or value",
			route,
			mutated_body(&m, route, &edits).to_string().into_bytes(),
			true,
		)
	});
	let m = model.clone();
	let truncated = (0usize..2, any::<prop::sample::Index>()).prop_map(move |(route, at)| {
		let full = mutated_body(&m, route, &[]).to_string().into_bytes();
		let cut = at.index(full.len());
		("JSON cut short", route, full[..cut].to_vec(), false)
	});
	let bytes = (0usize..2, prop::collection::vec(any::<u8>(), 0..2048))
		.prop_map(|(route, b)| ("random bytes", route, b, false));
	let nested = (0usize..2, 1usize..20_000).prop_map(|(route, depth)| {
		(
			"arrays nested deep",
			route,
			["[".repeat(depth), "]".repeat(depth)].concat().into_bytes(),
			false,
		)
	});
	let huge = (0usize..2, MAX_BODY + 1..2 * MAX_BODY).prop_map(move |(route, n)| {
		let body = json!({"model": model, "prompt": "x".repeat(n)}).to_string().into_bytes();
		("a body beyond the limit", route, body, false)
	});
	prop_oneof![4 => mutated, 2 => truncated, 2 => bytes, 1 => nested, 1 => huge]
}

/// Header names and values: a content type or not, odd names, long and non-ASCII values.
fn headers_strategy() -> impl Strategy<Value = Headers> {
	let content_type = prop_oneof![
		Just(Some("application/json".to_string())),
		Just(Some("application/json; charset=utf-8".to_string())),
		Just(Some("text/plain".to_string())),
		Just(None),
		"[ -~]{0,40}".prop_map(Some),
	];
	let extra = prop::collection::vec(
		(
			"[a-zA-Z0-9-]{1,24}",
			prop_oneof!["[ -~]{0,64}", (0usize..30_000).prop_map(|n| "v".repeat(n))],
		),
		0..8,
	);
	(content_type, extra).prop_map(|(ct, extra)| {
		let mut h: Headers = ct.map(|c| ("content-type".to_string(), c)).into_iter().collect();
		// A header called content-length or connection would make the request ambiguous on
		// purpose: keep those for the raw cases.
		h.extend(extra.into_iter().filter(|(k, _)| {
			let k = k.to_ascii_lowercase();
			k != "content-length" && k != "connection" && k != "transfer-encoding" && k != "host"
		}));
		h
	})
}

/// Cases against the open server: fuzzed bodies and headers on every route.
fn open_cases(model: String) -> impl Strategy<Value = Case> {
	let generation = (body_strategy(model), headers_strategy()).prop_map(
		|((what, route, body, valid), headers)| {
			// The generation routes read the body as JSON whatever its content type says.
			Case {
				what,
				bytes: request("POST", ROUTES[route], &headers, &body),
				may_succeed: valid,
			}
		},
	);
	let other_routes = (
		prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
		prop_oneof![
			prop::sample::select(vec![
				"/health",
				"/metrics",
				"/v1/models",
				"/v1/usage/chatcmpl-1",
				"/v1/load_lora_adapter",
				"/v1/unload_lora_adapter",
				"/v1/completions",
			])
			.prop_map(str::to_string),
			"/[a-zA-Z0-9/%._~-]{0,300}",
			"/v1/usage/[ -~&&[^ ]]{0,200}".prop_map(|p| p.replace(['#', '?'], "")),
		],
		headers_strategy(),
		prop::collection::vec(any::<u8>(), 0..512),
	)
		.prop_map(|(method, path, headers, body)| Case {
			what: "a route, method and path",
			bytes: request(method, &path, &headers, &body),
			may_succeed: matches!(method, "GET" | "HEAD"),
		});
	let raw = prop_oneof![
		prop::collection::vec(any::<u8>(), 0..1024).prop_map(|mut b| {
			b.extend_from_slice(b"\r\n\r\n");
			b
		}),
		("[A-Z]{0,12}", "[ -~]{0,64}", "[ -~]{0,12}")
			.prop_map(|(m, t, v)| format!("{m} {t} {v}\r\nhost: x\r\n\r\n").into_bytes()),

		prop::sample::select(vec![
			"POST /v1/completions HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
			"POST /v1/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n",
			"POST /v1/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
			"POST /v1/completions HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
			"POST /v1/completions HTTP/1.1\r\ncontent-length: 99999999999999999999999\r\n\r\n",
			"GET /health HTTP/1.1\r\nbad header line\r\n\r\n",
			"GET /health HTTP/1.1\r\n: empty-name\r\n\r\n",
			"GET /health HTTP/9.9\r\n\r\n",
			"\r\n\r\n\r\n",
		])
		.prop_map(|s| s.as_bytes().to_vec()),
	]
	.prop_map(|bytes| Case { what: "bytes that are not HTTP", bytes, may_succeed: false });
	// One header of any size: fine up to hyper's limit on the head, a 431 beyond.
	let big_header = (0usize..600_000).prop_map(|n| Case {
		what: "a header of any size",
		bytes: format!(
			"GET /health HTTP/1.1\r\nconnection: close\r\nx-big: {}\r\n\r\n",
			"a".repeat(n)
		)
		.into_bytes(),
		may_succeed: true,
	});
	prop_oneof![6 => generation, 2 => other_routes, 2 => raw, 1 => big_header]
}

/// The payer headers, each either right, missing, or replaced by something else.
fn payer_header_values() -> impl Strategy<Value = String> {
	prop_oneof![
		"[0-9]{1,30}",
		"-[0-9]{1,5}",
		"0x[0-9a-f]{0,140}",
		"[1-9A-HJ-NP-Za-km-z]{40,52}",
		"[ -~]{0,80}",
		(0usize..20_000).prop_map(|n| "9".repeat(n)),
	]
}

/// Cases against the paid server: forged, partial and stale payer headers; signatures over
/// another body; correctly signed fuzzed bodies.
fn paid_cases(model: String) -> impl Strategy<Value = Case> {
	let forged = (
		0usize..2,
		prop::collection::vec((0usize..5, prop::option::of(payer_header_values())), 0..6),
	)
		.prop_map(|(route, edits)| {
			let body = json!({"prompt": "hi", "max_tokens": 2}).to_string();
			let path = ROUTES[route];
			let mut headers = signed(&dev::bob(), "POST", path, body.as_bytes(), next_nonce());
			let names = [
				PAYER_HEADER,
				TIMESTAMP_HEADER,
				NONCE_HEADER,
				SPEND_LIMIT_HEADER,
				SIGNATURE_HEADER,
			];
			// No edit at all would be a valid request: always tamper with one header.
			let mut edits = edits;
			if edits.is_empty() {
				edits.push((4, Some("0x00".into())));
			}
			for (which, value) in edits {
				headers.retain(|(k, _)| k != names[which]);
				if let Some(v) = value {
					headers.push((names[which].to_string(), v));
				}
			}
			headers.push(("content-type".into(), "application/json".into()));
			Case {
				what: "forged or partial payer headers",
				bytes: request("POST", path, &headers, body.as_bytes()),
				may_succeed: false,
			}
		});
	let m = model.clone();
	let other_body = (0usize..2, "\\PC{1,64}").prop_map(move |(route, prompt)| {
		let path = ROUTES[route];
		let signed_body = json!({"model": m, "prompt": "hi", "max_tokens": 2}).to_string();
		let sent = json!({"model": m, "prompt": prompt, "max_tokens": 2}).to_string();
		let mut headers =
			signed(&dev::charlie(), "POST", path, signed_body.as_bytes(), next_nonce());
		headers.push(("content-type".into(), "application/json".into()));
		let may_succeed = sent == signed_body;
		Case {
			what: "a signature over another body",
			bytes: request("POST", path, &headers, sent.as_bytes()),
			may_succeed,
		}
	});
	let behind =
		(body_strategy(model), headers_strategy()).prop_map(|((_, route, body, valid), extra)| {
			let path = ROUTES[route];
			let mut headers = signed(&dev::dave(), "POST", path, &body, next_nonce());
			headers.extend(extra.into_iter().filter(|(k, _)| !k.starts_with("x-lineage-")));
			Case {
				what: "a correctly signed fuzzed body",
				bytes: request("POST", path, &headers, &body),
				may_succeed: valid,
			}
		});
	prop_oneof![3 => forged, 2 => other_body, 5 => behind]
}

/// Outcomes by kind: (4xx, 2xx, closed without a request line).
type Tally = Mutex<BTreeMap<&'static str, (u32, u32, u32)>>;

/// Runs `CASES` cases of `strategy` against `target`, asserting each answer.
fn fuzz(rt: &Runtime, target: &Target, strategy: impl Strategy<Value = Case>, name: &str) {
	let tally: Tally = Mutex::new(BTreeMap::new());
	let mut runner =
		TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
	let result = runner.run(&strategy, |case| {
		let answer = rt.block_on(exchange(target.addr, &case.bytes));
		if case.bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
			// Nothing but empty lines: RFC 9112 §2.2 has a server skip empty lines before the
			// request line, so hyper waits for one and closes the connection at the header
			// read timeout, answering nothing (there is no request to answer).
			prop_assert!(
				answer.head.is_empty(),
				"{}: empty lines only, yet an answer: {:?}",
				case.what,
				answer.head
			);
			tally.lock().expect("lock").entry(case.what).or_default().2 += 1;
			return Ok(());
		}
		let status = answer.status;
		prop_assert!(status.is_some(), "{}: no status line, got {:?}", case.what, answer.head);
		let status = status.expect("checked");
		let client_error = (400..500).contains(&status);
		let ok = case.may_succeed && (200..300).contains(&status);
		prop_assert!(
			client_error || ok,
			"{}: status {status} (may succeed: {}): {}",
			case.what,
			case.may_succeed,
			answer.head
		);
		let mut t = tally.lock().expect("lock");
		let entry = t.entry(case.what).or_default();
		if client_error {
			entry.0 += 1;
		} else {
			entry.1 += 1;
		}
		Ok(())
	});
	if let Err(e) = result {
		panic!("{name}: {e}");
	}
	rt.block_on(target.assert_serving());
	let t = tally.into_inner().expect("lock");
	let (all_4xx, all_2xx, all_closed) =
		t.values().fold((0, 0, 0), |(a, b, c), (d, e, f)| (a + d, b + e, c + f));
	let all = all_4xx + all_2xx + all_closed;
	eprintln!(
		"{name}: {all} cases, {all_4xx} answered 4xx, {all_2xx} answered 2xx, \
		 {all_closed} had no request line; then /health 200",
	);
	for (what, (c, d, e)) in &t {
		eprintln!("  {what}: {c} × 4xx, {d} × 2xx, {e} × no request line");
	}
	// Shrinking reruns cases, so at least CASES ran; each was answered and counted.
	assert!(all >= CASES, "{name}: only {all} cases ran");
	assert!(
		all_4xx > all_2xx,
		"{name}: most generated cases are malformed, yet most succeeded: {t:?}"
	);
}

fn runtime() -> Runtime {
	tokio::runtime::Builder::new_multi_thread()
		.worker_threads(2)
		.enable_all()
		.build()
		.expect("a tokio runtime")
}

#[test]
fn the_open_server_answers_every_malformed_request_with_a_4xx_and_stays_up() {
	let rt = runtime();
	let target = rt.block_on(Target::start(false));
	let model = target.model.clone();
	fuzz(&rt, &target, open_cases(model), "open server");
}

#[test]
fn the_paid_server_answers_every_forged_or_malformed_request_with_a_4xx_and_stays_up() {
	let rt = runtime();
	let target = rt.block_on(Target::start(true));
	let model = target.model.clone();
	fuzz(&rt, &target, paid_cases(model), "paid server");
}

/// Slow clients cannot hold the server: a client that sends nothing, or trickles its headers,
/// is cut off after the header read timeout; beyond `MAX_CONNECTIONS` connections, new ones
/// are closed at once; a paid request whose body stalls gets 408; and throughout and after, the
/// server answers others.
#[test]
fn slow_clients_are_cut_off_and_others_are_still_served() {
	let rt = runtime();
	let target = rt.block_on(Target::start(true));
	rt.block_on(async {
		let addr = target.addr;
		// Clients that connect and send nothing, as many as the server serves at once.
		let mut idle = Vec::new();
		for _ in 0..MAX_CONNECTIONS {
			idle.push(TcpStream::connect(addr).await.expect("connect"));
		}
		tokio::time::sleep(Duration::from_millis(50)).await;
		// One more is closed at once, with nothing sent back.
		let extra = exchange(addr, &request("GET", "/health", &[], b"")).await;
		assert_eq!(extra.status, None, "a connection beyond the limit is closed: {extra:?}");
		// The idle ones are closed by the server once the header read timeout passes.
		let started = Instant::now();
		for mut c in idle {
			let mut buf = [0u8; 64];
			let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
				.await
				.expect("the server closes an idle connection within 5 s")
				.unwrap_or(0);
			assert!(n == 0 || buf.starts_with(b"HTTP/1.1 408"), "{:?}", &buf[..n]);
		}
		let waited = started.elapsed();
		assert!(waited < Duration::from_secs(3), "idle connections held for {waited:?}");
		target.assert_serving().await;

		// A client that trickles its headers a byte at a time is cut off too, although it
		// keeps sending.
		let mut trickle = TcpStream::connect(addr).await.expect("connect");
		let started = Instant::now();
		let line = b"GET /health HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
		let mut cut_off = false;
		for b in line {
			if trickle.write_all(&[*b]).await.is_err() {
				cut_off = true;
				break;
			}
			let mut buf = [0u8; 64];
			match tokio::time::timeout(Duration::from_millis(50), trickle.read(&mut buf)).await {
				Ok(Ok(0)) | Ok(Err(_)) => {
					cut_off = true;
					break;
				},
				Ok(Ok(n)) => {
					assert!(buf[..n].starts_with(b"HTTP/1.1 408"), "{:?}", &buf[..n]);
					cut_off = true;
					break;
				},
				Err(_) => {},
			}
		}
		assert!(cut_off, "a client trickling its headers for {:?} was not cut off", started.elapsed());
		assert!(started.elapsed() < Duration::from_secs(3));

		// A signed request whose body stalls after 10 of its 1,000 bytes: 408 at the body
		// deadline.
		let body = vec![b' '; 1000];
		let headers = signed(&dev::eve(), "POST", "/v1/completions", &body, next_nonce());
		let full = request("POST", "/v1/completions", &headers, &body);
		let head_len = full.len() - body.len();
		let mut stalled = TcpStream::connect(addr).await.expect("connect");
		stalled.write_all(&full[..head_len + 10]).await.expect("write");
		let started = Instant::now();
		let mut got = Vec::new();
		let _ = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut got)).await;
		let head = String::from_utf8_lossy(&got);
		assert!(head.starts_with("HTTP/1.1 408"), "a stalled body gets 408, got {head:?}");
		assert!(started.elapsed() < Duration::from_secs(3), "after {:?}", started.elapsed());
		target.assert_serving().await;
	});
}
