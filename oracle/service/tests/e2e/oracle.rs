//! Steps 4–7 for real: the `lineage-oracle` binary in chain mode on the tiny fixture model,
//! against a real node. The demo path with the split checked exactly; kill -9 of the oracle while
//! a batch is in flight, twice, with nothing lost and nothing counted twice; a batch another
//! signer put on chain under the oracle's sequence number, with another records root, set aside
//! rather than taken for the oracle's own or billed again; a revoked adapter, a payer without
//! escrow and an unsigned request refused.

use std::{
	fs::File,
	path::{Path, PathBuf},
	process::{Child, Command},
	time::{Duration, Instant},
};

use lineage_chain::{keys::keypair_from_suri, lineage, LineageClient};
use lineage_client::demo::{
	demo_fee, escrow_of, open_batches, run_demo, setup_chain, DemoConfig, PayerClient, UNIT,
};
use lineage_engine::fixture::{write_fixture, FixtureSpec};
use lineage_testkit::{temp_dir, TempDir};
use subxt_signer::sr25519::{dev, Keypair};

use crate::{
	id,
	node::{free_port, DevNode},
};

const OPERATOR: &str = "//LineageOracle";

/// The tiny fixture with two adapters, in a fresh folder.
pub(crate) struct Fixture {
	/// The folder holding the model, the store, the journal and the logs.
	pub(crate) dir: PathBuf,
	model: PathBuf,
	adapters: Vec<PathBuf>,
	/// Removes `dir` when the fixture is dropped.
	_guard: TempDir,
}

impl Fixture {
	pub(crate) fn write(tag: &str) -> Fixture {
		let guard = temp_dir(&format!("e2e-oracle-{tag}"));
		let dir = guard.path().to_path_buf();
		let spec = FixtureSpec { adapters: 2, ..FixtureSpec::tiny() };
		let m = write_fixture(&dir, &spec).expect("fixture written");
		Fixture {
			model: m.model_dir,
			adapters: m.adapters.iter().map(|a| a.dir.clone()).collect(),
			dir,
			_guard: guard,
		}
	}
}

/// The real oracle binary serving in chain mode.
pub(crate) struct Oracle {
	child: Child,
	url: String,
	port: u16,
	log: PathBuf,
	restarts: usize,
}

impl Oracle {
	/// Starts the binary on a free port without waiting for it (it waits for the operator's
	/// registration before it listens).
	fn launch(node: &DevNode, fx: &Fixture) -> Oracle {
		let port = free_port();
		let log = fx.dir.join("oracle-0.log");
		let child = Self::spawn(node, fx, port, &log);
		Oracle { child, url: format!("http://127.0.0.1:{port}"), port, log, restarts: 0 }
	}

	fn spawn(node: &DevNode, fx: &Fixture, port: u16, log: &Path) -> Child {
		let out = File::create(log).expect("oracle log");
		let mut cmd = Command::new(env!("CARGO_BIN_EXE_lineage-oracle"));
		cmd.arg("serve")
			.arg("--model")
			.arg(&fx.model)
			.arg("--adapters-dir")
			.arg(fx.dir.join("store"))
			.args(["--port", &port.to_string(), "--chain-url", &node.url, "--suri", OPERATOR])
			.arg("--journal")
			.arg(fx.dir.join("journal.redb"))
			.args(["--batch-interval-ms", "500", "--preload"])
			.args(&fx.adapters)
			.env("RUST_LOG", "info")
			.stdout(out.try_clone().expect("oracle log"))
			.stderr(out);
		cmd.spawn().expect("cannot start the lineage-oracle binary")
	}

	pub(crate) fn log_text(&self) -> String {
		std::fs::read_to_string(&self.log).unwrap_or_default()
	}

	/// Waits until the oracle accepts connections (it first waits for the operator's
	/// registration, then loads the model).
	fn wait_listening(&mut self) {
		let started = Instant::now();
		while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
			if let Ok(Some(status)) = self.child.try_wait() {
				panic!("the oracle exited ({status}):\n{}", self.log_text());
			}
			// Not listening before the operator is registered: the caller registers it.
			if started.elapsed() > Duration::from_secs(240) {
				panic!("the oracle did not listen within 240 s:\n{}", self.log_text());
			}
			std::thread::sleep(Duration::from_millis(200));
		}
	}

	/// kill -9, then the same command again (same journal).
	pub(crate) fn kill9_and_restart(&mut self, node: &DevNode, fx: &Fixture) {
		self.kill9();
		self.restart(node, fx);
	}

	/// kill -9 (the journal is closed once this returns).
	fn kill9(&mut self) {
		self.child.kill().expect("SIGKILL");
		let _ = self.child.wait();
	}

	/// Starts the same command again after [`Oracle::kill9`] (same journal), logging to a new
	/// file.
	fn restart(&mut self, node: &DevNode, fx: &Fixture) {
		self.restarts += 1;
		self.log = fx.dir.join(format!("oracle-{}.log", self.restarts));
		self.child = Self::spawn(node, fx, self.port, &self.log);
		self.wait_listening();
	}
}

impl Drop for Oracle {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

fn config(node: &DevNode, fx: &Fixture, oracle_url: &str) -> DemoConfig {
	DemoConfig {
		url: node.url.clone(),
		oracle: oracle_url.to_string(),
		operator: keypair_from_suri(OPERATOR).expect("dev key"),
		base_model: fx.model.clone(),
		adapters: fx.adapters.clone(),
		requests: 2,
		max_tokens: 8,
		escrow: 50 * UNIT,
		timeout: Duration::from_secs(240),
	}
}

/// The oracle starts before the operator is registered (it waits for it), as in scripts/dev;
/// this registers everything with the oracle process already running.
pub(crate) async fn start_with_setup(
	node: &DevNode,
	client: &LineageClient,
	fx: &Fixture,
) -> (Oracle, lineage_client::demo::Setup) {
	let mut o = Oracle::launch(node, fx);
	let setup = setup_chain(client, &config(node, fx, &o.url)).await.expect("chain setup");
	o.wait_listening();
	(o, setup)
}

/// The fee of one answer at the demo's prices (1 and 2 LIN per 1,000 tokens: no rounding).
fn fee(body: &serde_json::Value) -> u128 {
	let input = body["usage"]["prompt_tokens"].as_u64().expect("usage");
	let output = body["usage"]["completion_tokens"].as_u64().expect("usage");
	demo_fee(input, output)
}

/// Eve's signed chat completion, retried while the oracle's registry catches up (403).
async fn eve_asks(
	client: &LineageClient,
	oracle: &Oracle,
	setup: &lineage_client::demo::Setup,
	who: &Keypair,
	adapter: &str,
) -> (u16, serde_json::Value) {
	let payers = PayerClient::new(
		reqwest::Client::new(),
		oracle.url.clone(),
		client.genesis_hash().0,
		setup.operator,
	);
	let deadline = Instant::now() + Duration::from_secs(60);
	loop {
		let (status, body) = payers.chat(who, adapter, "What is 2 + 2?", 8).await.expect("HTTP");
		if status == 403 && Instant::now() < deadline {
			tokio::time::sleep(Duration::from_millis(300)).await;
			continue;
		}
		return (status, body);
	}
}

/// Waits until Eve's escrow is `expected` and the operator has no open batch.
async fn wait_settled(
	client: &LineageClient,
	setup: &lineage_client::demo::Setup,
	expected: u128,
	oracle: &Oracle,
) {
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		let left = escrow_of(client, &id(&dev::eve()), &setup.operator).await.expect("escrow");
		let open = open_batches(client, &setup.operator).await.expect("operator");
		if left == expected && open == 0 {
			return;
		}
		assert!(left >= expected, "Eve paid more than her answers cost: {left} < {expected}");
		if Instant::now() > deadline {
			panic!(
				"not settled: escrow {left}, expected {expected}, {open} open batches; oracle log:\n{}",
				oracle.log_text()
			);
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

#[tokio::test]
async fn the_demo_path_pays_everyone_their_exact_share() {
	let (node, _client) = DevNode::start().await;
	let fx = Fixture::write("demo");
	let oracle = Oracle::launch(&node, &fx);
	let report = run_demo(&config(&node, &fx, &oracle.url))
		.await
		.unwrap_or_else(|e| panic!("demo failed: {e:#}\noracle log:\n{}", oracle.log_text()));
	println!("{report}");
	assert_eq!(report.answers.len(), 4);
	assert_eq!(report.refused.0, 402, "Ferdie has no escrow: {}", report.refused.1);
	assert!(report.refused.1.contains("deposit"), "{}", report.refused.1);
	let fee = report.total_fee;
	assert!(fee > 0);
	assert_eq!(report.escrow.0 - report.escrow.1, fee);
	// Every token costs a multiple of 10^7 units, so every share is exact: author 40%, base
	// owner 15%, datanets 30% (Bob weight 10 of 40, Ferdie 30: 20 tokens at 150% quality),
	// operator 10%, treasury 5%.
	let by_name = |n: &str| report.earners.iter().find(|e| e.name == n).expect(n).amount;
	assert_eq!(by_name("Dave"), fee * 40 / 100);
	assert_eq!(by_name("Charlie"), fee * 15 / 100);
	assert_eq!(by_name("Bob"), fee * 30 / 100 / 4);
	assert_eq!(by_name("Ferdie"), fee * 30 / 100 * 3 / 4);
	assert_eq!(by_name("operator"), fee * 10 / 100);
	assert_eq!(by_name("treasury"), fee * 5 / 100);
	assert_eq!(report.earners.iter().map(|e| e.amount).sum::<u128>(), fee);
	// The chain side's metrics (the oracle's bookkeeping may trail the chain by a round).
	let settled = format!("lineage_usage_batches_total{{outcome=\"settled\"}} {}", report.batches);
	let want = [
		"lineage_chain_connected 1",
		"lineage_registry_adapters 2",
		"lineage_usage_records_pending 0",
		settled.as_str(),
	];
	let deadline = Instant::now() + Duration::from_secs(20);
	loop {
		let metrics = reqwest::get(format!("{}/metrics", oracle.url))
			.await
			.expect("GET /metrics")
			.text()
			.await
			.expect("metrics text");
		if want.iter().all(|line| metrics.contains(line)) {
			break;
		}
		assert!(Instant::now() < deadline, "metrics lack one of {want:?}:\n{metrics}");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

#[tokio::test]
async fn kill_9_mid_batch_loses_nothing_and_counts_nothing_twice() {
	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("crash");
	let (mut oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let eve = dev::eve();
	let mut paid = 0u128;
	let mut succeeded = 0;
	for round in 0..3 {
		for i in 0..3 {
			let adapter = &setup.adapters[(round + i) % 2].0;
			let (status, body) = eve_asks(&client, &oracle, &setup, &eve, adapter).await;
			assert_eq!(status, 200, "{body}\n{}", oracle.log_text());
			paid += fee(&body);
			succeeded += 1;
		}
		if round == 2 {
			break;
		}
		// Kill while the batch holding these requests is being submitted.
		let deadline = Instant::now() + Duration::from_secs(30);
		let before = oracle.log_text().matches("batch cut and signed").count();
		while oracle.log_text().matches("batch cut and signed").count() == before {
			assert!(Instant::now() < deadline, "no batch cut:\n{}", oracle.log_text());
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
		oracle.kill9_and_restart(&node, &fx);
	}
	wait_settled(&client, &setup, setup.escrow - paid, &oracle).await;
	// Every request the client saw succeed was charged once: the escrow paid exactly their
	// fees, and the chain's batches count exactly these requests.
	let at = client.at_current_block().await.expect("block");
	let batches: u64 = at
		.storage()
		.fetch(lineage::storage().usage().next_sequence(), (setup.operator,))
		.await
		.expect("NextSequence")
		.decode()
		.expect("decode");
	assert!(batches >= 2, "expected several batches, got {batches}");
	// Each restart found the batch it was killed in the middle of: already on chain (marked
	// finalized, not sent again) or not yet (sent again with the same sequence number).
	for restart in 1..=2 {
		let log = std::fs::read_to_string(fx.dir.join(format!("oracle-{restart}.log")))
			.expect("restart log");
		let reconciled = log.contains("batch already on chain: marked finalized");
		let resent = log.contains("sending a signed batch again");
		assert!(reconciled || resent, "restart {restart} found no batch in flight:\n{log}");
		println!(
			"restart {restart}: {}",
			if reconciled { "batch was on chain: marked finalized" } else { "batch sent again" }
		);
	}
	println!("{succeeded} requests, {batches} batches, {paid} units charged, 2 kill -9");
}

#[tokio::test]
async fn revoked_adapters_and_payers_without_escrow_are_refused() {
	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("refuse");
	let (oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let (name, adapter) = setup.adapters[1].clone();

	// Served while active.
	let (status, body) = eve_asks(&client, &oracle, &setup, &dev::eve(), &name).await;
	assert_eq!(status, 200, "{body}");

	// Ferdie has no escrow: 402 before any inference.
	let (status, body) = eve_asks(&client, &oracle, &setup, &dev::ferdie(), &name).await;
	assert_eq!(status, 402, "{body}");
	assert!(body["error"]["message"].as_str().unwrap_or_default().contains("deposit"), "{body}");

	// An unsigned request: 401.
	let resp = reqwest::Client::new()
		.post(format!("{}/v1/chat/completions", oracle.url))
		.json(&serde_json::json!({"model": name, "messages": [{"role": "user", "content": "hi"}]}))
		.send()
		.await
		.expect("HTTP");
	assert_eq!(resp.status().as_u16(), 401);

	// Root revokes the adapter: the oracle stops serving it (410) within a few blocks.
	let revoke =
		lineage::tx().sudo().sudo(lineage::runtime_types::lineage_runtime::RuntimeCall::Models(
			lineage::runtime_types::pallet_models::pallet::Call::revoke_adapter { adapter },
		));
	submit!(node, client, revoke, &dev::alice());
	let deadline = Instant::now() + Duration::from_secs(30);
	loop {
		let (status, body) = eve_asks(&client, &oracle, &setup, &dev::eve(), &name).await;
		if status == 410 {
			assert!(
				body["error"]["message"].as_str().unwrap_or_default().contains("revoked"),
				"{body}"
			);
			break;
		}
		assert_eq!(status, 200, "{body}");
		assert!(Instant::now() < deadline, "still served 30 s after revocation");
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	// The other adapter is still served.
	let (status, body) =
		eve_asks(&client, &oracle, &setup, &dev::eve(), &setup.adapters[0].0).await;
	assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_oracle_reconnects_after_the_node_restarts() {
	let (mut node, client) = DevNode::start().await;
	let fx = Fixture::write("reconnect");
	let (oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let eve = dev::eve();
	let name = setup.adapters[0].0.clone();
	let (status, body) = eve_asks(&client, &oracle, &setup, &eve, &name).await;
	assert_eq!(status, 200, "{body}");
	let mut paid = fee(&body);

	// The node goes away for a few seconds and comes back with its database.
	let client = node.restart(Duration::from_secs(3)).await;
	let deadline = Instant::now() + Duration::from_secs(60);
	loop {
		let (status, body) = eve_asks(&client, &oracle, &setup, &eve, &name).await;
		if status == 200 {
			paid += fee(&body);
			break;
		}
		// Escrow cannot be read while the oracle reconnects: 503, never an answer unbilled.
		assert_eq!(status, 503, "{body}");
		assert!(
			Instant::now() < deadline,
			"no answer 60 s after the node came back:\n{}",
			oracle.log_text()
		);
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	wait_settled(&client, &setup, setup.escrow - paid, &oracle).await;
	assert!(oracle.log_text().contains("reconnected to the node"), "{}", oracle.log_text());
}

#[tokio::test]
async fn a_batch_under_our_sequence_with_another_root_is_set_aside_not_billed_twice() {
	use lineage_chain::{
		payer::{authorization, RequestToSign},
		time::unix_time_ms,
	};
	use lineage_oracle::{
		chain::proofs::{to_wire, vouchers_to_wire},
		journal::{BatchLimits, Journal},
	};
	use lineage_primitives::{
		payer::{sr25519_signature, Voucher},
		usage::{signing_payload, UsageRecord},
		AccountId, Hash,
	};

	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("root-mismatch");
	let (mut oracle, setup) = start_with_setup(&node, &client, &fx).await;
	oracle.kill9();
	let key = keypair_from_suri(OPERATOR).expect("dev key");
	let genesis = client.genesis_hash();
	let eve = dev::eve();
	let operator = AccountId::new(setup.operator.0);
	let sequence: u64 = client
		.at_current_block()
		.await
		.expect("block")
		.storage()
		.fetch(lineage::storage().usage().next_sequence(), (setup.operator,))
		.await
		.expect("NextSequence")
		.decode()
		.expect("decode");

	// The journal holds a signed batch of one request Eve paid for, as if the oracle had died
	// right after cutting it.
	let journal = Journal::open(&fx.dir.join("journal.redb")).expect("journal");
	let request = RequestToSign {
		method: "POST",
		path: "/v1/completions",
		body: b"{}",
		timestamp_ms: unix_time_ms(),
		nonce: 1,
		spend_limit: UNIT,
	};
	let auth = authorization(genesis.0, setup.operator.0, eve.public_key().0, &request);
	let voucher = Voucher::signed(auth, false, sr25519_signature(eve.sign(&auth.message()).0));
	let record = UsageRecord {
		request_id: Hash::repeat_byte(7),
		payer: AccountId::new(eve.public_key().0),
		adapter: setup.adapters[0].1,
		input_tokens: 10,
		output_tokens: 5,
		response_hash: Hash::repeat_byte(8),
		finished_at_ms: unix_time_ms(),
		served_at: client.at_current_block().await.expect("block").block_number() as u32,
		matched: vec![],
	};
	journal.append(&record, &voucher).expect("append");
	let limits = BatchLimits {
		max_entries: 16,
		max_adapters: 16,
		max_payers: 16,
		max_records: 100,
		max_matched_per_adapter: 16,
	};
	let ours = journal
		.cut_batch(
			&operator,
			sequence,
			limits,
			|_| None,
			|b| key.sign(&signing_payload(&genesis, b)).0,
		)
		.expect("cut")
		.expect("a batch");
	drop(journal);

	// Another oracle signing with the same key got a batch with other records in under that
	// number first.
	let mut theirs = ours.batch.clone();
	theirs.records_root = Hash::repeat_byte(0xab);
	let signature = key.sign(&signing_payload(&genesis, &theirs)).0;
	let call = lineage::tx().usage().submit_usage(
		to_wire(&theirs),
		signature,
		vouchers_to_wire(&ours.vouchers),
	);
	submit!(node, client, call, &key);

	// The restarted oracle sees the sequence used, reads the chain's root, and does not take
	// that batch for its own.
	oracle.restart(&node, &fx);
	let deadline = Instant::now() + Duration::from_secs(60);
	while !oracle.log_text().contains("different batch under this sequence number") {
		assert!(Instant::now() < deadline, "no root mismatch found:\n{}", oracle.log_text());
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
	let log = oracle.log_text();
	assert!(!log.contains("batch already on chain: marked finalized"), "{log}");
	let chain_root = format!("{:?}", theirs.records_root);
	let journal_root = format!("{:?}", ours.batch.records_root);
	assert!(log.contains(&chain_root) && log.contains(&journal_root), "both roots named:\n{log}");
	tokio::time::sleep(Duration::from_secs(2)).await;
	oracle.kill9();

	// The records are kept, as rejected with the reason; nothing is pending or cut again, so
	// the chain's batch is the only one that billed them.
	let journal = Journal::open(&fx.dir.join("journal.redb")).expect("journal");
	let rejected = journal.rejected().expect("rejected");
	assert_eq!(rejected.len(), 1);
	assert_eq!(rejected[0].record, record);
	assert!(rejected[0].reason.contains("root mismatch"), "{}", rejected[0].reason);
	assert!(journal.unfinalized().expect("unfinalized").is_empty());
	assert_eq!(journal.pending_count().expect("pending"), 0);
	assert_eq!(journal.batch(sequence).expect("batch"), None);
	let next: u64 = client
		.at_current_block()
		.await
		.expect("block")
		.storage()
		.fetch(lineage::storage().usage().next_sequence(), (setup.operator,))
		.await
		.expect("NextSequence")
		.decode()
		.expect("decode");
	assert_eq!(next, sequence + 1, "no other batch was submitted");
	println!(
		"sequence {sequence}: chain root {chain_root}, journal root {journal_root}: set aside"
	);
}
